import { App } from "cdktf";
import * as fs from "fs";
import * as path from "path";
import { loadAllEnvs } from "./envs";
import { ConfigError } from "./modules/errors";
import { LambdaStack } from "./modules/stack";

/** Builds the app: one stack per environment in envs/. Throws a ConfigError before anything is synthesized. */
export function buildApp(options: { outdir?: string; projectRoot?: string; stateDir?: string } = {}): App {
  const projectRoot = options.projectRoot ?? path.resolve(__dirname, path.basename(__dirname) === "dist" ? ".." : ".");
  const envs = loadAllEnvs();
  const outdir = options.outdir ?? process.env.CDKTF_OUTDIR ?? "cdktf.out";
  fs.mkdirSync(outdir, { recursive: true });
  // cdktf's validations would spawn `terraform version` for every import block (hundreds of ms, and a
  // failure where the engine is tofu or lives outside PATH); setup enforces the engine version instead.
  const app = new App({ outdir, skipValidation: true });
  for (const env of envs) new LambdaStack(app, { env, projectRoot, stateDir: options.stateDir ?? process.env.LAMBDASHIP_STATE_DIR });
  return app;
}

/** The warnings constructs recorded (Annotations), as `<construct path>: <message>`. */
export function warningsOf(app: App): string[] {
  return app.node
    .findAll()
    .flatMap((c) => c.node.metadata.filter((m) => m.type === "@cdktf/warn").map((m) => `${c.node.path}: ${String(m.data)}`));
}

/** Synthesizes the app and prints its warnings (an x86_64 fallback, a referenced function's role) to stderr. */
export function synthesize(app: App): void {
  app.synth();
  for (const w of warningsOf(app)) process.stderr.write(`Warning: ${w}\n`);
}

if (require.main === module) {
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
