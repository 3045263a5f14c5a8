import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { binsFromMetadata, buildFunctions, cargoMetadata, chooseToolchain, functionHashes, reproducibleRustflags, RustToolchain } from "../build/rust";
import { formatBytes, table } from "../build/util";
import { PROJECT_ROOT } from "../lib/toolchain";

/**
 * The Rust part of `npm run bench`, on a copy of lambda-src/rust with fresh cargo target folders
 * (nothing from earlier builds, nothing from the artifact store):
 *   1. ours: every function in one cargo invocation (the builder the stacks run), cold;
 *   2. baseline: each bin in its own cargo invocation, one after the other, the way per-function
 *      builders (one build step per function) do, cold, sharing one target folder;
 *   3. no-op rebuild: ours (input-hash skip) next to the baseline's per-bin `cargo build` runs;
 *   4. each function's zip size (target: backend under 4 MB).
 */

const BACKEND_ZIP_TARGET = 4e6;
const NOOP_TARGET_SECONDS = 0.5;

function copyWorkspace(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lambdaship-bench-rust-"));
  const src = path.join(PROJECT_ROOT, "lambda-src", "rust");
  fs.cpSync(src, path.join(dir, "rust"), { recursive: true, filter: (p) => !(path.basename(p) === "target" && path.dirname(p) === src) });
  return path.join(dir, "rust");
}

function cargoPerBin(workspace: string, toolchain: RustToolchain, bins: string[], targetDir: string): number {
  const started = Date.now();
  for (const bin of bins) {
    const r = spawnSync(toolchain.cargo, ["build", "--release", "--locked", "--target", toolchain.target, "--bin", bin], {
      cwd: workspace,
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, ...toolchain.env, CARGO_TARGET_DIR: targetDir, RUSTFLAGS: reproducibleRustflags(), SOURCE_DATE_EPOCH: "315532800" },
    });
    if (r.status !== 0) throw new Error(`cargo build --bin ${bin} failed:\n${r.stderr}`);
  }
  return (Date.now() - started) / 1000;
}

export function benchRust(): void {
  const { toolchain, fallbackWarning } = chooseToolchain("arm64", false);
  if (fallbackWarning) process.stdout.write(`WARNING: ${fallbackWarning}\n`);
  const workspace = copyWorkspace();
  const scratch = path.dirname(workspace);
  try {
    const meta = cargoMetadata(workspace);
    const bins = binsFromMetadata(meta);
    const hashes = functionHashes(meta, bins, toolchain.target);
    process.stdout.write(
      `\nRust workspace build: ${bins.length} functions for ${toolchain.target} (${toolchain.kind} ${toolchain.version}), ${os.cpus().length} cores; cold = empty target folder\n`,
    );
    const build = (targetDir: string) => {
      const started = Date.now();
      const out = buildFunctions({ workspaceDir: workspace, functions: bins, toolchain, hashes, cargoTargetDir: targetDir });
      return { out, seconds: (Date.now() - started) / 1000 };
    };

    const ours = build(path.join(scratch, "target-ours"));
    process.stdout.write(`  ours, one cargo invocation, cold            ${ours.seconds.toFixed(1).padStart(7)} s\n`);
    const perBinDir = path.join(scratch, "target-per-bin");
    const perBin = cargoPerBin(workspace, toolchain, bins.map((b) => b.name), perBinDir);
    process.stdout.write(`  baseline, one cargo invocation per bin, cold ${perBin.toFixed(1).padStart(7)} s\n`);
    process.stdout.write(`  cold: ours takes ${((ours.seconds / perBin) * 100).toFixed(0)}% of the baseline's time (${(perBin / ours.seconds).toFixed(2)}x)\n`);

    const noop = Array.from({ length: 5 }, () => build(path.join(scratch, "target-ours")).seconds).sort((a, b) => a - b)[2];
    const noopBaseline = Array.from({ length: 3 }, () => cargoPerBin(workspace, toolchain, bins.map((b) => b.name), perBinDir)).sort((a, b) => a - b)[1];
    process.stdout.write(
      `  no-op rebuild, all functions: ours ${noop.toFixed(3)} s (hash skip; target < ${NOOP_TARGET_SECONDS} s), baseline ${noopBaseline.toFixed(2)} s ` +
        `(${bins.length} cargo runs), ${(noopBaseline / noop).toFixed(0)}x\n\n`,
    );
    const rows = ours.out.map((b) => [b.name, b.architecture, formatBytes(fs.statSync(b.bootstrap).size), formatBytes(b.zipBytes)]);
    process.stdout.write(`${table(["function", "arch", "bootstrap", "zip"], rows)}\n`);
    const backend = ours.out.find((b) => b.name === "backend");
    if (backend) process.stdout.write(`  backend zip ${formatBytes(backend.zipBytes)} (target < ${formatBytes(BACKEND_ZIP_TARGET)}): ${backend.zipBytes < BACKEND_ZIP_TARGET ? "met" : "MISSED"}\n`);
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}
