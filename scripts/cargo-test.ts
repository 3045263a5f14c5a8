import { spawnSync } from "child_process";
import * as path from "path";
import { cargoMetadata, cleanForCheckout, defaultCargoTargetDir, memberNames, recordCheckout } from "../build/rust";
import { PROJECT_ROOT } from "../lib/toolchain";

/** Runs the unit tests of the Rust workspaces (functions, extensions) on this machine's architecture (`cargo test --locked`). */
for (const workspace of ["rust", "extensions"].map((w) => path.join(PROJECT_ROOT, "lambda-src", w))) {
  // The target folder is shared with other checkouts: test this one's sources (see cleanForCheckout).
  const log = (line: string) => process.stderr.write(`cargo test: ${line}\n`);
  const packages = memberNames(cargoMetadata(workspace));
  cleanForCheckout({ cargo: "cargo", env: {}, workspaceDir: workspace, targetDir: defaultCargoTargetDir(), profile: "dev", packages, log });
  const r = spawnSync("cargo", ["test", "--locked", "--quiet", ...process.argv.slice(2)], {
    cwd: workspace,
    stdio: "inherit",
    env: { ...process.env, CARGO_TARGET_DIR: defaultCargoTargetDir() },
  });
  if (r.error) {
    process.stderr.write("cargo test: cargo is not on PATH; install Rust (https://rustup.rs, or apt-get install cargo), then `npm test` again.\n");
    process.exit(1);
  }
  if (r.status !== 0) process.exit(r.status ?? 1);
  recordCheckout(defaultCargoTargetDir(), undefined, "dev", workspace, packages);
}
