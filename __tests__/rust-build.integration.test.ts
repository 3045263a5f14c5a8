import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { readElfFile } from "../build/elf";
import { cacheRoot } from "../build/util";
import { binsFromMetadata, buildFunctions, cargoMetadata, chooseToolchain, defaultArtifactCache, defaultCargoTargetDir, functionInputs, inputHash, RustToolchain } from "../build/rust";
import { PROJECT_ROOT } from "./helpers";

/**
 * Real builds of lambda-src/rust with the real compilers: arm64 through the cross toolchain and
 * x86_64 natively. Each build runs in a copy of the workspace sources at a fixed path in the cache
 * (cargo's fingerprints include a crate's path, so a fresh clone at a new path would recompile the
 * workspace's crates with link-time optimisation, minutes per architecture). When the sources have
 * not changed since the last run, the builder skips and the checks read the artifacts of that real
 * build; when they have, everything is compiled again. A missing toolchain fails with the command
 * that installs it.
 */
jest.setTimeout(45 * 60 * 1000);

const WORKSPACE = path.join(PROJECT_ROOT, "lambda-src", "rust");

/** The workspace's current sources at `<cache>/rust-it/<name>/rust`, keeping that copy's target/. */
function stableCopy(name: string): string {
  const dir = path.join(cacheRoot(), "rust-it", name, "rust");
  fs.mkdirSync(dir, { recursive: true });
  for (const entry of fs.readdirSync(dir)) if (entry !== "target") fs.rmSync(path.join(dir, entry), { recursive: true, force: true });
  fs.cpSync(WORKSPACE, dir, { recursive: true, filter: (src) => !(path.basename(src) === "target" && path.dirname(src) === WORKSPACE) });
  return dir;
}

/** Builds every function; `store` also shares the results through the machine's artifact store (read and write). */
function build(workspaceDir: string, toolchain: RustToolchain, store = false) {
  const meta = cargoMetadata(workspaceDir);
  const bins = binsFromMetadata(meta);
  const hashes = Object.fromEntries(bins.map((b) => [b.name, inputHash(meta.workspace_root, functionInputs(meta, b, bins), toolchain.target, "release")]));
  return buildFunctions({ workspaceDir, functions: bins, toolchain, hashes, cargoTargetDir: defaultCargoTargetDir(), artifactCache: store ? defaultArtifactCache() : undefined });
}

describe.each(["arm64", "x86_64"] as const)("real %s build of the Rust workspace", (arch) => {
  let toolchain: RustToolchain;
  beforeAll(() => {
    toolchain = chooseToolchain(arch, true).toolchain;
  });

  it("builds every function for the architecture, executable, and says so in the ELF header", () => {
    const workspace = stableCopy(`${arch}-a`);
    const built = build(workspace, toolchain, true);
    expect(built.map((b) => b.name)).toEqual(["backend", "ws-broadcast", "ws-connect", "ws-default", "ws-disconnect"]);
    for (const b of built) {
      expect(readElfFile(b.bootstrap).architecture).toBe(arch);
      expect(fs.statSync(b.bootstrap).mode & 0o777).toBe(0o755);
      const listing = execFileSync("python3", ["-c", "import sys,zipfile; z=zipfile.ZipFile(sys.argv[1]); print(*[f'{i.filename} {oct(i.external_attr>>16)}' for i in z.infolist()])", b.zipPath]).toString().trim();
      expect(listing).toBe("bootstrap 0o100755");
    }
    const again = build(workspace, toolchain);
    expect(again.every((b) => b.status === "skipped")).toBe(true);
  });
});

// Once, for arm64, the architecture the stacks deploy: the check recompiles the workspace's crates
// with link-time optimisation, which takes minutes per architecture.
describe("reproducible Rust builds", () => {
  it("gives byte-identical arm64 zips from two copies at different paths, each compiled on its own", () => {
    const toolchain = chooseToolchain("arm64", true).toolchain;
    // arm64-a may come from the artifact store (built by an earlier run or another clone); arm64-b
    // never does: it is always compiled here, at its own path.
    const first = build(stableCopy("arm64-a"), toolchain, true);
    const second = build(stableCopy("arm64-b"), toolchain);
    expect(second.every((b) => b.status !== "cached")).toBe(true);
    expect(second.map((b) => [b.name, path.basename(b.zipPath), b.zipSha256])).toEqual(first.map((b) => [b.name, path.basename(b.zipPath), b.zipSha256]));
  });
});
