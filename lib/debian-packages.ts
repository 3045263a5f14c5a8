import { spawnSync } from "child_process";
import { log } from "./toolchain";

/** Debian packages setup installs: the arm64 Rust toolchain (./rust-setup), Chromium for the browser test. */

function installed(pkg: string): boolean {
  const r = spawnSync("dpkg-query", ["-W", "-f=${Status}", pkg], { encoding: "utf8" });
  return r.status === 0 && r.stdout.includes("install ok installed");
}

function sh(cmd: string, args: string[]): void {
  log(`$ ${cmd} ${args.join(" ")}`);
  const r = spawnSync(cmd, args, { stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (exit ${r.status})`);
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
