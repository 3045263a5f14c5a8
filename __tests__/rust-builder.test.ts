import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { readElfHeader } from "../build/elf";
import { parseArgs } from "../build/cli";
import {
  binsFromMetadata, buildFunctions, CargoMetadata, chooseToolchain, functionInputs, inputHash, Probe, reproducibleRustflags, RustToolchain, zipPathFor,
} from "../build/rust";

/** A workspace on disk shaped like lambda-src/rust: a library, a package with one bin, a package with two. */
function workspace(): { root: string; meta: CargoMetadata } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "lambdaship-rs-"));
  const files: Record<string, string> = {
    "Cargo.toml": "[workspace]\nmembers = ['crates/*']\n",
    "Cargo.lock": "# lock\n",
    "crates/common/Cargo.toml": "[package]\nname = 'common'\n",
    "crates/common/src/lib.rs": "pub fn shared() {}\n",
    "crates/backend/Cargo.toml": "[package]\nname = 'backend'\n",
    "crates/backend/src/main.rs": "fn main() {}\n",
    "crates/backend/tests/routes.rs": "#[test] fn t() {}\n",
    "crates/backend/README.md": "docs\n",
    "crates/ws/Cargo.toml": "[package]\nname = 'ws'\n",
    "crates/ws/src/lib.rs": "pub fn logic() {}\n",
    "crates/ws/src/bin/ws-connect.rs": "fn main() {}\n",
    "crates/ws/src/bin/ws-default.rs": "fn main() {}\n",
  };
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  }
  const pkg = (name: string, deps: string[], targets: Array<[string, string, string]>) => ({
    id: `${name} 0.1.0 (path+file://${root}/crates/${name})`,
    name,
    manifest_path: path.join(root, "crates", name, "Cargo.toml"),
    dependencies: deps.map((d) => ({ name: d, path: path.join(root, "crates", d) })),
    targets: targets.map(([n, kind, src]) => ({ name: n, kind: [kind], src_path: path.join(root, "crates", name, src) })),
  });
  const packages = [
    pkg("common", [], [["common", "lib", "src/lib.rs"]]),
    pkg("backend", ["common"], [["backend", "bin", "src/main.rs"], ["routes", "test", "tests/routes.rs"]]),
    pkg("ws", ["common"], [["ws", "lib", "src/lib.rs"], ["ws-connect", "bin", "src/bin/ws-connect.rs"], ["ws-default", "bin", "src/bin/ws-default.rs"]]),
  ];
  return { root, meta: { workspace_root: root, workspace_members: packages.map((p) => p.id), packages } };
}

function hashes(ws: { root: string; meta: CargoMetadata }, target = "aarch64-unknown-linux-gnu"): Record<string, string> {
  const bins = binsFromMetadata(ws.meta);
  return Object.fromEntries(bins.map((b) => [b.name, inputHash(ws.root, functionInputs(ws.meta, b, bins), target, "release")]));
}

/** A fake machine for toolchain detection. */
function probe(opts: { rustupTargets?: string[]; debianArm64?: boolean; crossGcc?: boolean }): Probe {
  return {
    which: (cmd) =>
      cmd === "rustup" || cmd === "cargo" ? `/root/.cargo/bin/${cmd}` : cmd === "aarch64-linux-gnu-gcc" && opts.crossGcc ? "/usr/bin/aarch64-linux-gnu-gcc" : undefined,
    run: (cmd, args) => {
      if (cmd === "rustup") return ["x86_64-unknown-linux-gnu", ...(opts.rustupTargets ?? [])].join("\n");
      if (args[0] === "--version") return cmd === "rustc" ? "rustc 1.95.0" : "rustc 1.96.0 (debian)";
      if (args[0] === "--print") return "/usr";
      return undefined;
    },
    exists: (p) =>
      p === "/usr/bin/cargo" || p === "/usr/bin/rustc" || (p === "/usr/lib/rustlib/aarch64-unknown-linux-gnu/lib" && !!opts.debianArm64) || p === "/usr/lib/rustlib/x86_64-unknown-linux-gnu/lib",
  };
}

describe("Rust builder: discovery", () => {
  it("finds every [[bin]] of the workspace members, sorted, and nothing else", () => {
    expect(binsFromMetadata(workspace().meta).map((b) => [b.name, b.package])).toEqual([
      ["backend", "backend"],
      ["ws-connect", "ws"],
      ["ws-default", "ws"],
    ]);
  });

  it("refuses two bins with the same name", () => {
    const { meta } = workspace();
    const dup = { ...meta, packages: meta.packages.map((p) => (p.name === "ws" ? { ...p, targets: [...p.targets, { name: "backend", kind: ["bin"], src_path: "x.rs" }] } : p)) };
    expect(() => binsFromMetadata(dup)).toThrow("two packages define the bin backend");
  });
});

describe("Rust builder: input hashes", () => {
  it("covers the function's package, its path dependencies and the lock file, not tests, docs or other bins", () => {
    const ws = workspace();
    const bins = binsFromMetadata(ws.meta);
    expect(functionInputs(ws.meta, bins[0], bins)).toEqual([
      "Cargo.lock", "Cargo.toml", "crates/backend/Cargo.toml", "crates/backend/src/main.rs", "crates/common/Cargo.toml", "crates/common/src/lib.rs",
    ]);
    expect(functionInputs(ws.meta, bins[1], bins)).toEqual([
      "Cargo.lock", "Cargo.toml", "crates/common/Cargo.toml", "crates/common/src/lib.rs", "crates/ws/Cargo.toml", "crates/ws/src/bin/ws-connect.rs", "crates/ws/src/lib.rs",
    ]);
  });

  it("changes only the edited function's hash; a shared crate changes all; mtimes change none", () => {
    const ws = workspace();
    const before = hashes(ws);
    const later = new Date(Date.now() + 86400_000);
    fs.utimesSync(path.join(ws.root, "crates/common/src/lib.rs"), later, later);
    fs.writeFileSync(path.join(ws.root, "crates/backend/tests/routes.rs"), "// edited test\n");
    expect(hashes(ws)).toEqual(before);
    fs.appendFileSync(path.join(ws.root, "crates/ws/src/bin/ws-connect.rs"), "// edit\n");
    const one = hashes(ws);
    expect(Object.keys(one).filter((k) => one[k] !== before[k])).toEqual(["ws-connect"]);
    fs.appendFileSync(path.join(ws.root, "crates/common/src/lib.rs"), "// edit\n");
    const all = hashes(ws);
    expect(Object.keys(all).filter((k) => all[k] !== one[k])).toEqual(["backend", "ws-connect", "ws-default"]);
  });

  it("depends on the target, so an x86_64 build never reuses an arm64 artifact", () => {
    const ws = workspace();
    expect(hashes(ws, "x86_64-unknown-linux-gnu").backend).not.toEqual(hashes(ws).backend);
  });
});

describe("Rust builder: architecture from the ELF header", () => {
  const header = (machine: number, cls = 2, data = 1) => {
    const b = Buffer.alloc(64);
    b.writeUInt32BE(0x7f454c46, 0);
    b[4] = cls;
    b[5] = data;
    b.writeUInt16LE(machine, 18);
    return b;
  };

  it("reads aarch64 as arm64 and x86-64 as x86_64", () => {
    expect(readElfHeader(header(0xb7)).architecture).toBe("arm64");
    expect(readElfHeader(header(0x3e)).architecture).toBe("x86_64");
  });

  it("gives no Lambda architecture for other machines and 32-bit files", () => {
    expect(readElfHeader(header(0x28)).architecture).toBeUndefined(); // 32-bit ARM machine
    expect(readElfHeader(header(0xb7, 1)).architecture).toBeUndefined();
  });

  it("refuses a file that is not ELF, naming it", () => {
    expect(() => readElfHeader(Buffer.from("#!/bin/sh\necho hi\n"), "bootstrap")).toThrow("bootstrap is not an ELF binary");
  });
});

describe("Rust builder: toolchains, fallback and a required architecture", () => {
  it("prefers rustup when it has the aarch64 target and a cross linker", () => {
    const c = chooseToolchain("arm64", true, probe({ rustupTargets: ["aarch64-unknown-linux-gnu"], debianArm64: true, crossGcc: true }));
    expect(c.toolchain).toMatchObject({ kind: "rustup", target: "aarch64-unknown-linux-gnu", architecture: "arm64" });
    expect(c.fallbackWarning).toBeUndefined();
  });

  it("uses Debian's rustc-web with its arm64 standard library, linker and C compiler for crates with C", () => {
    const c = chooseToolchain("arm64", true, probe({ debianArm64: true, crossGcc: true }));
    expect(c.toolchain).toMatchObject({
      kind: "debian",
      cargo: "/usr/bin/cargo",
      env: { RUSTC: "/usr/bin/rustc", CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER: "aarch64-linux-gnu-gcc", CC_aarch64_unknown_linux_gnu: "aarch64-linux-gnu-gcc" },
    });
  });

  it("falls back to x86_64 with a visible warning when nothing can build arm64", () => {
    const c = chooseToolchain("arm64", false, probe({ debianArm64: true, crossGcc: false }));
    expect(c.toolchain).toMatchObject({ architecture: "x86_64", target: "x86_64-unknown-linux-gnu" });
    expect(c.fallbackWarning).toMatch(/building x86_64 instead, and the functions are deployed as x86_64/);
  });

  it("makes the fallback an error, with the fix, when the env requires arm64", () => {
    expect(() => chooseToolchain("arm64", true, probe({}))).toThrow(/this env requires arm64: install an arm64 Rust toolchain: `npm run setup -- --only rust`/);
  });
});

describe("Rust builder: skipping", () => {
  it("skips a function whose zip for its input hash and toolchain exists, without running cargo", () => {
    const ws = workspace();
    const bins = binsFromMetadata(ws.meta);
    const h = hashes(ws);
    const toolchain: RustToolchain = { kind: "debian", cargo: "/nonexistent/cargo", env: {}, target: "aarch64-unknown-linux-gnu", architecture: "arm64", version: "rustc 1.96.0" };
    const elf = Buffer.alloc(64);
    elf.writeUInt32BE(0x7f454c46, 0);
    elf[4] = 2;
    elf[5] = 1;
    elf.writeUInt16LE(0xb7, 18);
    for (const b of bins) {
      const zip = zipPathFor(ws.root, b.name, h[b.name]);
      fs.mkdirSync(path.dirname(zip), { recursive: true });
      fs.writeFileSync(zip, "zip");
      fs.writeFileSync(`${zip}.toolchain`, `${toolchain.version}\n${toolchain.target}\n${reproducibleRustflags()}\n`);
      fs.writeFileSync(path.join(path.dirname(zip), "bootstrap"), elf);
    }
    const out = buildFunctions({ workspaceDir: ws.root, functions: bins, toolchain, hashes: h, cargoTargetDir: path.join(ws.root, "t") });
    expect(out.map((o) => [o.name, o.status, o.architecture])).toEqual([
      ["backend", "skipped", "arm64"],
      ["ws-connect", "skipped", "arm64"],
      ["ws-default", "skipped", "arm64"],
    ]);
    // A different compiler makes the same sources stale: cargo would run (and here fails, not found).
    expect(() => buildFunctions({ workspaceDir: ws.root, functions: bins, toolchain: { ...toolchain, version: "rustc 1.97.0" }, hashes: h, cargoTargetDir: path.join(ws.root, "t") })).toThrow(
      /could not run \/nonexistent\/cargo .*no function was packaged/,
    );
  });
});

describe("build:lambda CLI options", () => {
  it("parses --clean, --bin, --arch and --require-arch, and rejects the rest", () => {
    expect(parseArgs(["--clean", "--bin", "backend", "--arch", "x86_64", "--require-arch"], "/p")).toMatchObject({
      clean: true, bins: ["backend"], arch: "x86_64", requireArch: true, workspace: "/p/lambda-src/rust",
    });
    expect(() => parseArgs(["--arch", "arm"], "/p")).toThrow('--arch is "arm"; use arm64 or x86_64');
    expect(() => parseArgs(["--fast"], "/p")).toThrow("unknown option --fast");
  });

  it("takes the plan's hashes with --expect and turns the artifact store off with --no-cache", () => {
    expect(parseArgs(["--expect", "backend=0123456789abcdef", "--no-cache"], "/p")).toMatchObject({ expect: { backend: "0123456789abcdef" }, cache: false });
    expect(() => parseArgs(["--expect", "backend"], "/p")).toThrow('--expect is "backend"; write NAME=HASH');
  });
});

describe("the machine's artifact store", () => {
  const toolchain: RustToolchain = { kind: "debian", cargo: "/nonexistent/cargo", env: {}, target: "aarch64-unknown-linux-gnu", architecture: "arm64", version: "rustc 1.96.0" };
  const arm64Elf = () => {
    const elf = Buffer.alloc(64);
    elf.writeUInt32BE(0x7f454c46, 0);
    elf[4] = 2;
    elf[5] = 1;
    elf.writeUInt16LE(0xb7, 18);
    return elf;
  };

  it("gives a fresh clone the artifacts another clone built from the same inputs, without compiling", () => {
    // GIVEN a function built in one clone, with its artifacts stored
    const first = workspace();
    const bins = binsFromMetadata(first.meta).filter((b) => b.name === "backend");
    const cache = path.join(first.root, "store");
    const target = path.join(first.root, "cargo-target");
    fs.mkdirSync(path.join(target, toolchain.target, "release"), { recursive: true });
    fs.writeFileSync(path.join(target, toolchain.target, "release", "backend"), arm64Elf());
    const fakeCargo = path.join(first.root, "fake-cargo");
    fs.writeFileSync(fakeCargo, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    const built = buildFunctions({ workspaceDir: first.root, functions: bins, toolchain: { ...toolchain, cargo: fakeCargo }, hashes: hashes(first), cargoTargetDir: target, artifactCache: cache });
    expect(built[0].status).toBe("built");

    // WHEN a second clone with the same sources builds, with a cargo that cannot run
    const second = workspace();
    const again = buildFunctions({ workspaceDir: second.root, functions: bins, toolchain, hashes: hashes(second), cargoTargetDir: target, artifactCache: cache });

    // THEN it copies the same bytes, executable, and records the toolchain
    expect(again[0]).toMatchObject({ status: "cached", architecture: "arm64", zipSha256: built[0].zipSha256 });
    expect(path.basename(again[0].zipPath)).toBe(path.basename(built[0].zipPath));
    expect(fs.statSync(again[0].bootstrap).mode & 0o777).toBe(0o755);
    // ... but not for another compiler, nor without the store
    expect(() => buildFunctions({ workspaceDir: second.root, functions: bins, toolchain: { ...toolchain, version: "rustc 1.97.0" }, hashes: hashes(second), cargoTargetDir: target, artifactCache: cache })).toThrow(/could not run/);
  });
});
