import { App, TerraformStack } from "cdktf";
import * as fs from "fs";
import * as path from "path";
import { ENV_NAMES, envFile, loadAllEnvs, loadEnv } from "./envs";
import { ConfigError } from "./modules/errors";
import { LambdaStack, stackName } from "./modules/stack";
import { cdktfCommandOfAncestors, cdktfEngineProblem } from "./lib/cdktf-guard";
import { restoreLocks } from "./lib/providers";

const PROJECT_ROOT = path.resolve(__dirname, path.basename(__dirname) === "dist" ? ".." : ".");

/**
 * Runs `fn` with cdktf's token stack traces left empty. cdktf captures a full stack trace into a plain
 * object for every token it creates (each reference to a resource attribute), for messages about a
 * token that fails to resolve; formatting them was a fifth of a 200-function synth (measured with
 * --cpu-prof). Errors keep their stack traces; only those plain objects get none.
 */
export function withoutTokenStackTraces<T>(fn: () => T): T {
  const previous = Error.prepareStackTrace;
  Error.prepareStackTrace = (target: unknown, frames: NodeJS.CallSite[]) =>
    target instanceof Error ? (previous ? previous(target, frames) : `${String(target)}\n${frames.map((f) => `    at ${f}`).join("\n")}`) : "";
  try {
    return fn();
  } finally {
    Error.prepareStackTrace = previous;
  }
}

/** Builds the app: one stack per environment in envs/. Throws a ConfigError before anything is synthesized. */
export function buildApp(options: { outdir?: string; projectRoot?: string; stateDir?: string; only?: string } = {}): App {
  const projectRoot = options.projectRoot ?? PROJECT_ROOT;
  const envs = options.only ? [loadEnv(options.only)] : loadAllEnvs();
  if (options.only) {
    // Another env's config error does not stop a command for this one; it is named, not hidden.
    for (const name of ENV_NAMES.filter((n) => n !== options.only)) {
      try {
        loadEnv(name);
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        process.stderr.write(`note: ${envFile(name)} is broken (${e.problems.length} problem${e.problems.length > 1 ? "s" : ""}, the first: ${e.problems[0]}); only ${stackName(options.only)} was synthesized\n`);
      }
    }
  }
  const outdir = options.outdir ?? process.env.CDKTF_OUTDIR ?? "cdktf.out";
  fs.mkdirSync(outdir, { recursive: true });
  // cdktf's validations would spawn `terraform version` for every import block (hundreds of ms, and a
  // failure where the engine is tofu or lives outside PATH); setup enforces the engine version instead.
  const app = new App({ outdir, skipValidation: true });
  withoutTokenStackTraces(() => {
    for (const env of envs) new LambdaStack(app, { env, projectRoot, stateDir: options.stateDir ?? process.env.LAMBDASHIP_STATE_DIR });
  });
  return app;
}

/** The warnings constructs recorded (Annotations), as `<construct path>: <message>`. */
export function warningsOf(app: App): string[] {
  return app.node
    .findAll()
    .flatMap((c) => c.node.metadata.filter((m) => m.type === "@cdktf/warn").map((m) => `${c.node.path}: ${String(m.data)}`));
}

/**
 * Synthesizes the app, restores the provider lock setup derived into each stack's folder (so any init,
 * ours or `npx cdktf`'s, installs what it pins), and prints the warnings (an x86_64 fallback, a
 * referenced function's role) to stderr.
 */
export function synthesize(app: App, projectRoot = PROJECT_ROOT): void {
  withoutTokenStackTraces(() => app.synth());
  const stacks = app.node.children.filter((c): c is TerraformStack => c instanceof TerraformStack).map((c) => c.node.id);
  restoreLocks(projectRoot, path.join(app.outdir, "stacks"), stacks, recordedLocks(projectRoot));
  // Under the cdktf CLI (which sets CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS for the app), cdktf
  // prints the annotations itself, as WARN lines, and would show ours a second time as [ERROR] lines.
  if (process.env.CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS === undefined) for (const w of warningsOf(app)) process.stderr.write(`Warning: ${w}\n`);
}

/** The derived lock files `npm run setup` recorded, if it ran. */
function recordedLocks(projectRoot: string): Record<string, string> | undefined {
  try {
    return (JSON.parse(fs.readFileSync(path.join(projectRoot, ".build", "toolchain.json"), "utf8")) as { locks?: Record<string, string> }).locks;
  } catch {
    return undefined; // no setup yet: the engine cannot init anyway, and says so
  }
}

if (require.main === module) {
  // Run by `npx cdktf diff|deploy` without the CLI config: stop before the engine asks the public registry.
  const toolchainFile = path.join(__dirname, ".build", "toolchain.json");
  let cliConfigFile: string | undefined;
  try {
    const recorded = JSON.parse(fs.readFileSync(toolchainFile, "utf8")) as { cliConfigFile?: string; providerSource?: string };
    // From the registry, the engine installs what the lock pins with or without setup's CLI config.
    cliConfigFile = recorded.providerSource === "registry" ? undefined : recorded.cliConfigFile;
  } catch {
    cliConfigFile = undefined; // no setup yet: nothing to point at, and cdktf's own error says what is missing
  }
  const ancestor = process.env.CDKTF_OUTDIR !== undefined ? cdktfCommandOfAncestors() : undefined;
  const problem = ancestor && cdktfEngineProblem(ancestor.command, process.env, cliConfigFile, ancestor.args.join(" "));
  if (problem) {
    process.stderr.write(`${problem}\n`);
    process.exit(1);
  }
  try {
    synthesize(buildApp());
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`\n${e.message}\n\nNothing was synthesized.\n`);
      process.exit(1);
    }
    throw e;
  }
}
