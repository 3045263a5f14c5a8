import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LambdaArchitecture } from "../build/elf";
import { buildLayer, LayerSource } from "../build/layer";
import { formatBytes, table } from "../build/util";
import { PROJECT_ROOT } from "../lib/toolchain";

/**
 * The layer part of `npm run bench`: each layer the envs build, for each architecture,
 *   cold:   a fresh project folder, no layer store, and (extensions) an empty cargo target folder;
 *           pip's own download cache is left as it is, so this is "cold build", not "cold network";
 *   store:  a second clone on the same machine (the layer comes from the machine's store);
 *   no-op:  the same folder again (the input hash matches: skipped), median of 5;
 * next to the baseline, rebuilding on every deploy (what a build step without an input hash does):
 * the cold figure again. Then each zip's size, zipped and unzipped.
 */
export function benchLayers(): void {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "lambdaship-bench-layers-"));
  const python = path.join(PROJECT_ROOT, ".venv", "bin", "python");
  const layers: Array<[LayerSource, LambdaArchitecture[]]> = [
    [{ name: "websocket-deps", kind: "dependencies", dir: path.join(PROJECT_ROOT, "lambda-src", "layers", "websocket-deps"), runtime: "python3.12" }, ["arm64", "x86_64"]],
    [{ name: "runtime-proxy", kind: "extension", dir: path.join(PROJECT_ROOT, "lambda-src", "extensions", "runtime-proxy") }, ["arm64", "x86_64"]],
  ];
  process.stdout.write(`\nLayer builds (${os.cpus().length} cores): cold = fresh folder, no store, empty cargo target; no-op = inputs unchanged (median of 5)\n`);
  const rows: string[][] = [];
  try {
    for (const [src, archs] of layers) {
      for (const arch of archs) {
        const root = path.join(scratch, `${src.name}-${arch}`);
        const store = path.join(scratch, "store");
        const cargoTargetDir = path.join(scratch, `target-${arch}`);
        const timed = (projectRoot: string) => {
          const started = process.hrtime.bigint();
          const built = buildLayer(src, arch, { projectRoot, store, python, cargoTargetDir });
          return { built, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
        };
        const cold = timed(root);
        if (cold.built.status !== "built") throw new Error(`${src.name} ${arch}: expected a cold build, got ${cold.built.status}`);
        const fromStore = timed(path.join(scratch, `${src.name}-${arch}-clone`));
        const noop = Array.from({ length: 5 }, () => timed(root).seconds).sort((a, b) => a - b)[2];
        rows.push([
          src.name,
          arch,
          `${cold.seconds.toFixed(2)} s`,
          `${fromStore.seconds.toFixed(3)} s`,
          `${noop.toFixed(4)} s`,
          `${(cold.seconds / noop).toFixed(0)}x`,
          formatBytes(cold.built.zipBytes),
          formatBytes(cold.built.unzippedBytes),
        ]);
      }
    }
    process.stdout.write(`${table(["layer", "arch", "cold (= baseline, every deploy)", "other clone (store)", "no-op", "no-op vs baseline", "zip", "unzipped"], rows)}\n`);
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}
