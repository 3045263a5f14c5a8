import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { binsFromMetadata, cargoMetadata, cleanForCheckout, defaultCargoTargetDir, memberNames, recordCheckout } from "./rust";

/**
 * A Rust bin built for the loop on this machine rather than for a deploy: natively (x86_64 here),
 * with cargo's dev profile (incremental, no LTO), into the machine's shared target folder, never
 * into the release artifact store. Used by `npm run invoke -- --source`, `npm run runtime -- --source`
 * and `npm run live`.
 */

/** The bin of `workspace` to build: `bin` when given (and there), else its only bin; errors name the bins and the fix. */
export function chooseBin(workspace: string, bin: string | undefined, flag = "--bin"): string {
  const bins = binsFromMetadata(cargoMetadata(workspace)).map((b) => b.name);
  if (bin !== undefined) {
    if (!bins.includes(bin)) throw new Error(`${flag} is ${bin}, which ${workspace} does not build; its bins are ${bins.join(", ") || "none"}`);
    return bin;
  }
  if (bins.length === 1) return bins[0];
  throw new Error(bins.length === 0 ? `${workspace} builds no bin: a Rust function is a bin (src/main.rs or [[bin]])` : `${workspace} builds ${bins.length} bins (${bins.join(", ")}): say which with ${flag} NAME`);
}

/**
 * Builds `bin` natively with the dev profile and resolves to the binary's path; rejects with the
 * end of cargo's output. Says every 10 s how far it is (a first build compiles the dependencies).
 * `rerun` is the command to name when cargo is missing.
 *
 * The target folder is shared with other checkouts, whose builds replace the binary and whose
 * cleans remove it; so with `pinTo` the binary is hard-linked there (copied across filesystems) at
 * once and that path is the result: what a bootstrap runs stays as built. A clean that removed it
 * between cargo's end and the link means one more build.
 */
export async function cargoDevBuild(workspace: string, bin: string, log: (line: string) => void, rerun = "the command again", pinTo?: string): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const binary = await cargoDevBuildOnce(workspace, bin, log, rerun);
    if (!pinTo) return binary;
    try {
      pinBinary(binary, pinTo);
      return pinTo;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT" || attempt === 2) throw e;
      log(`  ${binary} was removed by another checkout's build as this one ended: building again`);
    }
  }
}

/** A hard link of `binary` at `to` (a copy across filesystems), executable. */
export function pinBinary(binary: string, to: string): void {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.rmSync(to, { force: true });
  try {
    fs.linkSync(binary, to);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") throw e;
    fs.copyFileSync(binary, to);
    fs.chmodSync(to, 0o755);
  }
}

function cargoDevBuildOnce(workspace: string, bin: string, log: (line: string) => void, rerun: string): Promise<string> {
  const targetDir = defaultCargoTargetDir();
  // The target folder is shared with other checkouts: build this one's sources (see cleanForCheckout).
  const packages = memberNames(cargoMetadata(workspace));
  cleanForCheckout({ cargo: "cargo", env: {}, workspaceDir: workspace, targetDir, profile: "dev", packages, log });
  return new Promise((resolve, reject) => {
    const child = spawn("cargo", ["build", "--locked", "--bin", bin, "--message-format", "short"], { cwd: workspace, env: { ...process.env, CARGO_TARGET_DIR: targetDir }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    let last = "";
    const started = Date.now();
    const progress = setInterval(() => log(`  cargo build --bin ${bin}: ${((Date.now() - started) / 1000).toFixed(0)} s${last ? `, ${last}` : ""}`), 10_000);
    const take = (d: Buffer) => {
      output += d.toString();
      const lines = output.trimEnd().split("\n");
      last = lines[lines.length - 1].trim();
    };
    child.stdout.on("data", take);
    child.stderr.on("data", take);
    child.on("error", (e) => (clearInterval(progress), reject(new Error(`cargo is not on PATH (${e.message}): install Rust (https://rustup.rs), then ${rerun}`))));
    child.on("close", (code) => {
      clearInterval(progress);
      if (code === 0) {
        recordCheckout(targetDir, undefined, "dev", workspace, packages);
        resolve(path.join(targetDir, "debug", bin));
      } else reject(new Error(`cargo build --bin ${bin} failed:\n${output.trim().split("\n").slice(-30).join("\n")}`));
    });
  });
}
