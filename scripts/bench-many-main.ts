import { App } from "cdktf";
import * as fs from "fs";
import * as path from "path";
import { loadAllEnvs } from "../envs";
import { withoutTokenStackTraces } from "../main";
import { LambdaStack } from "../modules/stack";

/**
 * The app with many functions, for `npm run bench -- --only functions`: every env of envs/ plus
 * BENCH_FUNCTIONS generated entries spread across them (`lambda-src/functions/gen-<n>` under
 * BENCH_PROJECT_ROOT, made by the bench), synthesized into CDKTF_OUTDIR. Run by the bench as it is,
 * and in the template copy through ts-node with package-root imports.
 */
const n = Number(process.env.BENCH_FUNCTIONS ?? "0");
const projectRoot = path.resolve(process.env.BENCH_PROJECT_ROOT ?? path.join(__dirname, ".."));
const outdir = process.env.CDKTF_OUTDIR ?? path.join(projectRoot, "cdktf.out");
fs.mkdirSync(outdir, { recursive: true });
const envs = loadAllEnvs();
for (let k = 0; k < n; k++) {
  const env = envs[k % envs.length];
  env.functions = { ...env.functions, [`gen-${k}`]: { source: `lambda-src/functions/gen-${k}`, memoryMiB: 128 + (k % 8) * 64 } };
}
const app = new App({ outdir, skipValidation: true });
// The app's own synth path (main.ts), so the bench measures what cdktf synth runs.
withoutTokenStackTraces(() => {
  for (const env of envs) new LambdaStack(app, { env, projectRoot, stateDir: "/tmp" });
  app.synth();
});
