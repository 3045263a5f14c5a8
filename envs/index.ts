import * as path from "path";
import { ConfigError } from "../modules/errors";
import { EnvConfig, EnvInput, validateEnv } from "./schema";

/** Every environment this app synthesizes, one stack each. */
export const ENV_NAMES = ["dev", "staging", "prod", "local"] as const;
export type EnvName = (typeof ENV_NAMES)[number];

/** The file a user edits for an env, as shown in error messages. */
export function envFile(name: string): string {
  return path.posix.join("envs", `${name}.ts`);
}

function loadRaw(name: EnvName): EnvInput {
  // Static requires keep the loader fast and let bundlers and tsc see every env file.
  switch (name) {
    case "dev":
      return require("./dev").default;
    case "staging":
      return require("./staging").default;
    case "prod":
      return require("./prod").default;
    case "local":
      return require("./local").default;
  }
}

/** Loads and validates one env; throws a ConfigError naming the file, field, value and fix. */
export function loadEnv(name: string): EnvConfig {
  if (!(ENV_NAMES as readonly string[]).includes(name)) {
    throw new ConfigError([`unknown environment "${name}"; choose one of ${ENV_NAMES.join(", ")} (files in envs/)`]);
  }
  return validateEnv(loadRaw(name as EnvName), envFile(name), name);
}

/** Loads every env, reporting the problems of all of them at once rather than the first only. */
export function loadAllEnvs(): EnvConfig[] {
  const envs: EnvConfig[] = [];
  const problems: string[] = [];
  for (const name of ENV_NAMES) {
    try {
      envs.push(loadEnv(name));
    } catch (e) {
      if (e instanceof ConfigError) problems.push(...e.problems);
      else throw e;
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return envs;
}
