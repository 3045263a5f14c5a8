import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { readElfFile } from "../build/elf";
import { binsFromMetadata, buildFunctions, cargoMetadata, chooseToolchain, defaultCargoTargetDir, functionInputs, inputHash, RustToolchain } from "../build/rust";
import { PROJECT_ROOT } from "./helpers";

/**
 * Real builds of lambda-src/rust with the real compilers: arm64 through the cross toolchain and
 * x86_64 natively. Slow when cold (minutes per architecture); cargo's output is cached outside the
 * clone. A missing toolchain fails with the command that installs it.
 */
jest.setTimeout(45 * 60 * 1000);

const WORKSPACE = path.join(PROJECT_ROOT, "lambda-src", "rust");

/** A copy of the workspace sources at another path, as a second machine or clone would have them. */
function copyWorkspace(): string {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "lambdaship-rs-clone-")), "rust");
  fs.cpSync(WORKSPACE, dir, { recursive: true, filter: (src) => path.basename(src) !== "target" });
  return dir;
}

function build(workspaceDir: string, toolchain: RustToolchain) {
  const meta = cargoMetadata(workspaceDir);
  const bins = binsFromMetadata(meta);
  const hashes = Object.fromEntries(bins.map((b) => [b.name, inputHash(meta.workspace_root, functionInputs(meta, b, bins), toolchain.target, "release")]));
  return buildFunctions({ workspaceDir, functions: bins, toolchain, hashes, cargoTargetDir: defaultCargoTargetDir() });
}

describe.each(["arm64", "x86_64"] as const)("real %s build of the Rust workspace", (arch) => {
  let toolchain: RustToolchain;
  beforeAll(() => {
    toolchain = chooseToolchain(arch, true).toolchain;
  });

  it("builds every function for the architecture, executable, and says so in the ELF header", () => {
    const built = build(WORKSPACE, toolchain);
    expect(built.map((b) => b.name)).toEqual(["backend", "ws-broadcast", "ws-connect", "ws-default", "ws-disconnect"]);
    for (const b of built) {
      expect(readElfFile(b.bootstrap).architecture).toBe(arch);
      expect(fs.statSync(b.bootstrap).mode & 0o777).toBe(0o755);
      const listing = execFileSync("python3", ["-c", "import sys,zipfile; z=zipfile.ZipFile(sys.argv[1]); print(*[f'{i.filename} {oct(i.external_attr>>16)}' for i in z.infolist()])", b.zipPath]).toString().trim();
      expect(listing).toBe("bootstrap 0o100755");
    }
    const again = build(WORKSPACE, toolchain);
    expect(again.every((b) => b.skipped)).toBe(true);
  });
});

// Once, for arm64, the architecture the stacks deploy: the check recompiles the workspace's crates
// with link-time optimisation, which takes minutes per architecture.
describe("reproducible Rust builds", () => {
  it("gives byte-identical arm64 zips from a second copy at another path, its crates compiled anew", () => {
    const toolchain = chooseToolchain("arm64", true).toolchain;
    const first = build(WORKSPACE, toolchain);
    const clone = copyWorkspace();
    try {
      const second = build(clone, toolchain);
      expect(second.every((b) => !b.skipped)).toBe(true);
      expect(second.map((b) => [b.name, path.basename(b.zipPath), b.zipSha256])).toEqual(first.map((b) => [b.name, path.basename(b.zipPath), b.zipSha256]));
    } finally {
      fs.rmSync(path.dirname(clone), { recursive: true, force: true });
    }
  });
});
