import { spawnSync } from "child_process";
import * as path from "path";
import { ENV_NAMES, loadAllEnvs } from "../envs";
import { ConfigError } from "../modules/errors";
import { stackName } from "../modules/stack";
import { engineEnv, PROJECT_ROOT, readToolchain } from "./toolchain";

const HELP = `Usage: npm run deploy -- <env> [cdktf deploy flags]
       npm run diff -- <env> [cdktf diff flags]

Wraps \`cdktf deploy\` / \`cdktf diff\` for one env's stack (${ENV_NAMES.map(stackName).join(", ")}), with the
engine and provider mirror that \`npm run setup\` prepared (TERRAFORM_BINARY_NAME, TF_CLI_CONFIG_FILE).
These talk to real AWS with your usual credentials (AWS_PROFILE, AWS_REGION, ...); the env's config is
validated first. For the local emulator use \`npm start\`.`;

function main(argv: string[]): number {
  const [command, env, ...rest] = argv;
  if (!env || env === "--help" || env === "-h") {
    process.stdout.write(`${HELP}\n`);
    return env ? 0 : 2;
  }
  if (!(ENV_NAMES as readonly string[]).includes(env)) {
    process.stderr.write(`unknown environment "${env}"; choose one of ${ENV_NAMES.join(", ")}\n`);
    return 2;
  }
  try {
    loadAllEnvs();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n\nNothing was deployed.\n`);
      return 1;
    }
    throw e;
  }
  const t = readToolchain();
  const cli = path.join(PROJECT_ROOT, "node_modules", ".bin", "cdktf");
  const r = spawnSync(cli, [command, stackName(env), ...rest], { cwd: PROJECT_ROOT, stdio: "inherit", env: engineEnv(t) });
  return r.status ?? 1;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exitCode = 1;
}
