import { spawnSync } from "child_process";
import { log } from "./toolchain";

/**
 * The arm64 Rust toolchain, from Debian's packages: rustc-web and cargo-web (a Rust that ships
 * other targets' standard libraries as packages), the arm64 standard library, the cross linker and
 * C compiler (crates such as ring compile C), and qemu-user to run arm64 binaries here.
 */
export const DEBIAN_PACKAGES = [
  "rustc-web",
  "cargo-web",
  "libstd-rust-web-dev:arm64",
  "gcc-aarch64-linux-gnu",
  "libc6-dev-arm64-cross",
  "qemu-user",
];

function installed(pkg: string): boolean {
  const r = spawnSync("dpkg-query", ["-W", "-f=${Status}", pkg], { encoding: "utf8" });
  return r.status === 0 && r.stdout.includes("install ok installed");
}

function sh(cmd: string, args: string[]): void {
  log(`$ ${cmd} ${args.join(" ")}`);
  const r = spawnSync(cmd, args, { stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (exit ${r.status})`);
}

/** Installs the Debian packages when missing (as root), or stops with the exact command to run. */
export function ensureRustToolchain(): void {
  if (spawnSync("dpkg-query", ["--version"]).status !== 0) {
    throw new Error(
      "the arm64 Rust toolchain is installed from Debian packages, and this is not a Debian-like system. Install instead: " +
        "`rustup target add aarch64-unknown-linux-gnu` and an aarch64-linux-gnu cross gcc (macOS: a cross toolchain from Homebrew), " +
        "then put aarch64-linux-gnu-gcc on PATH. Without it, builds fall back to x86_64 with a warning.",
    );
  }
  ensureDebianPackages("rust: arm64 toolchain", "the arm64 Rust toolchain", DEBIAN_PACKAGES, "arm64");
}

/**
 * Debian packages, installed when missing (as root: apt-get; otherwise an error with the exact
 * commands). `foreignArch` is added to dpkg first when a package needs it.
 */
export function ensureDebianPackages(label: string, what: string, packages: readonly string[], foreignArch?: string): void {
  const missing = packages.filter((p) => !installed(p));
  if (missing.length === 0) {
    log(`${label} packages are installed`);
    return;
  }
  const arch = spawnSync("dpkg", ["--print-foreign-architectures"], { encoding: "utf8" }).stdout.split("\n");
  const steps: Array<[string, string[]]> = [
    ...(!foreignArch || arch.includes(foreignArch) ? [] : [["dpkg", ["--add-architecture", foreignArch]] as [string, string[]]]),
    ["apt-get", ["update", "-qq"]],
    ["apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missing]],
  ];
  if (process.getuid?.() !== 0) {
    throw new Error(`${what} needs Debian packages (${missing.join(", ")}). Run as root:\n  ${steps.map(([c, a]) => `sudo ${c} ${a.join(" ")}`).join(" && \\\n  ")}\nthen \`npm run setup\` again.`);
  }
  log(`${label}: installing ${missing.join(", ")}`);
  for (const [cmd, args] of steps) sh(cmd, args);
}

/** Debian's Chromium, run headless by the chat page's browser test. */
export const CHROMIUM_PACKAGES = ["chromium"];

export function ensureChromium(): void {
  if (spawnSync("dpkg-query", ["--version"]).status !== 0) {
    if (spawnSync("chromium", ["--version"]).status === 0) return;
    throw new Error("the browser test runs Chromium headless: install it (it must be on PATH as chromium), then `npm run setup` again");
  }
  ensureDebianPackages("browser: chromium", "the chat page's browser test", CHROMIUM_PACKAGES);
}
