// npm run synth: every env into cdktf.out, and a table of stacks and functions (lib/synth.ts).
import { stackName } from "../modules/stack";
import { formatBytes, table } from "../build/util";
import { EXIT, exitCodesHelp, parseCommandLine, runMain } from "../lib/cli";
import { functionsOf, resourceCount, synthAll } from "../lib/synth";

const HELP = `Usage: npm run synth

Synthesizes every env's stack into cdktf.out/stacks (nothing is built or deployed: builders run at
apply) and prints a table of stacks and functions: resources, mode, runtime, handler, architecture,
package size.
${exitCodesHelp()}`;

runMain("npm run synth", () => {
  if (parseCommandLine(process.argv.slice(2), {}, 0).help) {
    process.stdout.write(`${HELP}\n`);
    return EXIT.ok;
  }
  const started = Date.now();
  synthAll();
  const { ENV_NAMES } = require("../envs") as typeof import("../envs");
  const rows: string[][] = [];
  for (const env of ENV_NAMES) {
    for (const f of functionsOf(env)) {
      rows.push([stackName(env), String(resourceCount(env)), f.name, f.mode, f.runtime ?? "-", f.handler ?? "-", f.architecture ?? "-", formatBytes(f.packageBytes)]);
    }
  }
  process.stdout.write(`Synthesized ${ENV_NAMES.length} stacks into cdktf.out/stacks in ${Date.now() - started} ms\n\n`);
  process.stdout.write(`${table(["stack", "resources", "function", "mode", "runtime", "handler", "arch", "package"], rows)}\n`);
  process.stdout.write("\nRuntimes and handlers of functions from folders are detected unless their entry sets them (README: functions).\n");
  return EXIT.ok;
});
