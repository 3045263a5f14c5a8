import { spawnSync } from "child_process";
import * as path from "path";
import { defaultCargoTargetDir } from "../build/rust";
import { PROJECT_ROOT } from "./toolchain";

/** Runs the Rust workspace's unit tests on this machine's architecture (`cargo test --locked`). */
const workspace = path.join(PROJECT_ROOT, "lambda-src", "rust");
const r = spawnSync("cargo", ["test", "--locked", "--quiet", ...process.argv.slice(2)], {
  cwd: workspace,
  stdio: "inherit",
  env: { ...process.env, CARGO_TARGET_DIR: defaultCargoTargetDir() },
});
if (r.error) {
  process.stderr.write("cargo test: cargo is not on PATH; install Rust (https://rustup.rs, or apt-get install cargo), then `npm test` again.\n");
  process.exit(1);
}
process.exit(r.status ?? 1);
