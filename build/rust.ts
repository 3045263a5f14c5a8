import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LambdaArchitecture, readElfFile, readElfHeader, RUST_TARGETS } from "./elf";
import { artifactStoreRoot, cacheRoot, which, withLock } from "./util";
import { base64Sha256, createZip, readZip, writeFileAtomic } from "./zip";
import type { SharedStore } from "./shared-store";

/**
 * The Rust builder: discovers `[[bin]]` targets with `cargo metadata`, picks a toolchain that has the
 * target's standard library, builds every selected function in one cargo invocation, checks each
 * binary's real architecture in its ELF header, and packages `bootstrap` into a deterministic zip
 * whose path carries the function's input hash. Pure parts take their inputs as arguments and are
 * unit-tested without a compiler.
 */

export interface RustFunction {
  /** The bin target's name: the function's name in the workspace. */
  readonly name: string;
  readonly package: string;
  /** The bin's main source file. */
  readonly srcPath: string;
}

/** The subset of `cargo metadata --no-deps --format-version 1` the builder reads. */
export interface CargoMetadata {
  readonly workspace_root: string;
  readonly workspace_members: readonly string[];
  readonly packages: ReadonlyArray<{
    readonly id: string;
    readonly name: string;
    readonly manifest_path: string;
    readonly dependencies: ReadonlyArray<{ readonly name: string; readonly path?: string }>;
    readonly targets: ReadonlyArray<{ readonly name: string; readonly kind: readonly string[]; readonly src_path: string }>;
  }>;
}

/** Every bin target of the workspace's members, sorted by name; duplicates are an error. */
export function binsFromMetadata(meta: CargoMetadata): RustFunction[] {
  const members = new Set(meta.workspace_members);
  const bins: RustFunction[] = [];
  for (const pkg of meta.packages) {
    if (!members.has(pkg.id)) continue;
    for (const t of pkg.targets) if (t.kind.includes("bin")) bins.push({ name: t.name, package: pkg.name, srcPath: t.src_path });
  }
  bins.sort((a, b) => a.name.localeCompare(b.name));
  for (let i = 1; i < bins.length; i++) {
    if (bins[i].name === bins[i - 1].name) throw new Error(`two packages define the bin ${bins[i].name}; Lambda function names must be unique`);
  }
  return bins;
}

export function cargoMetadata(workspaceDir: string, cargo = "cargo"): CargoMetadata {
  const r = spawnSync(cargo, ["metadata", "--no-deps", "--format-version", "1", "--offline"], { cwd: workspaceDir, encoding: "utf8" });
  if (r.error) throw new Error(`cargo is needed to read ${workspaceDir}'s functions and is not on PATH: install Rust (https://rustup.rs or apt-get install cargo)`);
  if (r.status !== 0) throw new Error(`cargo metadata failed in ${workspaceDir}:\n${r.stderr}`);
  return JSON.parse(r.stdout) as CargoMetadata;
}

// ---------------------------------------------------------------------------------------------------
// Input hashes

/** Files that can change a binary: manifests, the lock file, Rust sources, build scripts, cargo config. */
function isBuildInput(rel: string): boolean {
  const base = path.posix.basename(rel);
  return base === "Cargo.toml" || base === "Cargo.lock" || rel.endsWith(".rs") || /^\.cargo\/config(\.toml)?$/.test(rel) || /^rust-toolchain(\.toml)?$/.test(base);
}

function listFiles(dir: string, rel = ""): string[] {
  const out: string[] = [];
  for (const name of fs.readdirSync(path.join(dir, rel)).sort()) {
    const r = rel ? `${rel}/${name}` : name;
    if (name === "target" || (name.startsWith(".") && name !== ".cargo")) continue;
    const st = fs.statSync(path.join(dir, r));
    if (st.isDirectory()) out.push(...listFiles(dir, r));
    else if (st.isFile()) out.push(r);
  }
  return out;
}

/**
 * The input files of each function: the workspace's Cargo.toml and Cargo.lock, and the sources of its
 * package and of the path dependencies it reaches, without tests, benches, examples, and without the
 * main files of the package's other bins (so editing one bin changes only that function's hash).
 */
export function functionInputs(meta: CargoMetadata, fn: RustFunction, allBins: readonly RustFunction[]): string[] {
  const root = meta.workspace_root;
  const byName = new Map(meta.packages.map((p) => [p.name, p]));
  const dirs = new Set<string>();
  const visit = (name: string) => {
    const pkg = byName.get(name);
    if (!pkg) return;
    const dir = path.dirname(pkg.manifest_path);
    if (dirs.has(dir)) return;
    dirs.add(dir);
    for (const d of pkg.dependencies) if (d.path) visit(byName.has(d.name) ? d.name : path.basename(d.path));
  };
  visit(fn.package);
  const otherBins = new Set(allBins.filter((b) => b.name !== fn.name).map((b) => path.resolve(b.srcPath)));
  const files = new Set<string>();
  for (const top of ["Cargo.toml", "Cargo.lock", ".cargo/config.toml", ".cargo/config", "rust-toolchain", "rust-toolchain.toml"]) {
    if (fs.existsSync(path.join(root, top))) files.add(top);
  }
  for (const dir of dirs) {
    for (const rel of listFiles(dir)) {
      const first = rel.split("/")[0];
      if (first === "tests" || first === "benches" || first === "examples") continue;
      const abs = path.join(dir, rel);
      if (!isBuildInput(rel) || otherBins.has(path.resolve(abs))) continue;
      files.add(path.relative(root, abs).split(path.sep).join("/"));
    }
  }
  return [...files].sort();
}

/**
 * A function's input hash (hex SHA-256): its input files' paths and bytes, the target and the profile.
 * The same on every machine for the same checkout: this is what the plan carries.
 */
export function inputHash(root: string, files: readonly string[], target: string, profile: string): string {
  const h = crypto.createHash("sha256").update(`lambdaship-rust-v1\0${target}\0${profile}\0`);
  for (const rel of files) {
    const data = fs.readFileSync(path.join(root, rel));
    h.update(`${rel}\0${data.length}\0`).update(data);
  }
  return h.digest("hex");
}

/** The input hash of each selected function for `target` (release profile): what synth and the builder agree on. */
export function functionHashes(meta: CargoMetadata, selected: readonly RustFunction[], target: string): Record<string, string> {
  const all = binsFromMetadata(meta);
  return Object.fromEntries(selected.map((f) => [f.name, inputHash(meta.workspace_root, functionInputs(meta, f, all), target, "release")]));
}

// ---------------------------------------------------------------------------------------------------
// Toolchains

export interface RustToolchain {
  /** Where the standard library for the target comes from. */
  readonly kind: "rustup" | "debian";
  readonly cargo: string;
  /** Extra environment for cargo (RUSTC, linker, C compiler for crates with C inside). */
  readonly env: Readonly<Record<string, string>>;
  readonly target: string;
  readonly architecture: LambdaArchitecture;
  /** `rustc --version` */
  readonly version: string;
}

/** What toolchain detection needs to ask the machine; swapped for a fake in unit tests. */
export interface Probe {
  which(cmd: string): string | undefined;
  run(cmd: string, args: string[], env?: Record<string, string>): string | undefined;
  exists(p: string): boolean;
}

export const realProbe: Probe = {
  which,
  run(cmd, args, env) {
    const r = spawnSync(cmd, args, { encoding: "utf8", env: { ...process.env, ...env } });
    return r.status === 0 ? r.stdout.trim() : undefined;
  },
  exists: (p) => fs.existsSync(p),
};

const ARM64_GCC = "aarch64-linux-gnu-gcc";
const ARM64_ENV = {
  CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER: ARM64_GCC,
  CC_aarch64_unknown_linux_gnu: ARM64_GCC,
  AR_aarch64_unknown_linux_gnu: "aarch64-linux-gnu-ar",
};

export const ARM64_FIX =
  "install an arm64 Rust toolchain: `npm run setup -- --only rust` (Debian: rustc-web, cargo-web, libstd-rust-web-dev:arm64, " +
  "gcc-aarch64-linux-gnu), or `rustup target add aarch64-unknown-linux-gnu` plus a gcc-aarch64-linux-gnu cross linker";

/** Toolchains that can build `arch`, best first: rustup with the target installed, then Debian's rustc-web. */
export function toolchainsFor(arch: LambdaArchitecture, probe: Probe = realProbe): RustToolchain[] {
  const target = RUST_TARGETS[arch];
  const found: RustToolchain[] = [];
  const linkerOk = arch === "x86_64" || probe.which(ARM64_GCC) !== undefined;
  const env = arch === "arm64" ? ARM64_ENV : {};
  const rustup = probe.which("rustup");
  const cargo = probe.which("cargo");
  if (rustup && cargo && linkerOk) {
    const installed = probe.run("rustup", ["target", "list", "--installed"]) ?? "";
    const version = probe.run("rustc", ["--version"]);
    if (installed.split("\n").includes(target) && version) found.push({ kind: "rustup", cargo, env, target, architecture: arch, version });
  }
  if (probe.exists("/usr/bin/cargo") && probe.exists("/usr/bin/rustc") && linkerOk) {
    const sysroot = probe.run("/usr/bin/rustc", ["--print", "sysroot"]);
    const version = probe.run("/usr/bin/rustc", ["--version"]);
    if (sysroot && version && probe.exists(path.join(sysroot, "lib", "rustlib", target, "lib"))) {
      found.push({ kind: "debian", cargo: "/usr/bin/cargo", env: { ...env, RUSTC: "/usr/bin/rustc" }, target, architecture: arch, version });
    }
  }
  return found;
}

export interface ToolchainChoice {
  readonly toolchain: RustToolchain;
  /** Set when the wanted architecture could not be built and the native one is used instead. */
  readonly fallbackWarning?: string;
}

/**
 * The toolchain for `want`. Without one, falls back to x86_64 with a warning, or, when the env
 * requires the architecture, throws with the fix.
 */
export function chooseToolchain(want: LambdaArchitecture, requireArchitecture: boolean, probe: Probe = realProbe): ToolchainChoice {
  const exact = toolchainsFor(want, probe)[0];
  if (exact) return { toolchain: exact };
  const why = `no Rust toolchain here can build ${RUST_TARGETS[want]} (its standard library or linker is missing)`;
  if (requireArchitecture) throw new Error(`${why}, and this env requires ${want}: ${ARM64_FIX}.`);
  const native = want === "x86_64" ? undefined : toolchainsFor("x86_64", probe)[0];
  if (!native) throw new Error(`${why}, nor for x86_64: install Rust (https://rustup.rs or apt-get install cargo)`);
  return {
    toolchain: native,
    fallbackWarning: `${why}; building x86_64 instead, and the functions are deployed as x86_64. To build ${want}: ${ARM64_FIX}.`,
  };
}

/**
 * The architecture a build for `want` produces on this machine, decided as cheaply as possible (synth
 * runs this): Debian's toolchain is recognised from its files without running anything; otherwise
 * the full detection of chooseToolchain runs. Throws as chooseToolchain does.
 */
export function buildableArchitecture(want: LambdaArchitecture, requireArchitecture: boolean, probe: Probe = realProbe): { architecture: LambdaArchitecture; warning?: string } {
  const debianStd = path.join("/usr/lib/rustlib", RUST_TARGETS[want], "lib");
  const linkerOk = want === "x86_64" || probe.which(ARM64_GCC) !== undefined;
  if (linkerOk && probe.exists("/usr/bin/cargo") && probe.exists("/usr/bin/rustc") && probe.exists(debianStd)) return { architecture: want };
  const choice = chooseToolchain(want, requireArchitecture, probe);
  return { architecture: choice.toolchain.architecture, warning: choice.fallbackWarning };
}

// ---------------------------------------------------------------------------------------------------
// Building

export interface BuildRequest {
  readonly workspaceDir: string;
  readonly functions: readonly RustFunction[];
  readonly toolchain: RustToolchain;
  /** Hex input hash per function name. */
  readonly hashes: Readonly<Record<string, string>>;
  readonly profile?: "release";
  /** cargo's own output folder (kept outside the clone so CI reuses it). */
  readonly cargoTargetDir: string;
  /**
   * Content-addressed store of finished artifacts, keyed by input hash and toolchain, shared by every
   * clone on the machine: a function already built from the same inputs by the same compiler is
   * copied from it instead of compiled (the builds are reproducible, so the bytes are the same).
   * @default - no store: only this workspace's own target/lambda counts
   */
  readonly artifactCache?: string;
  /** Rebuild everything, ignoring target/lambda and the artifact store (which is then refreshed). */
  readonly clean?: boolean;
  readonly log?: (line: string) => void;
}

export type BuildStatus = "built" | "cached" | "skipped";

export interface BuiltFunction {
  readonly name: string;
  readonly architecture: LambdaArchitecture;
  readonly bootstrap: string;
  readonly zipPath: string;
  readonly zipBytes: number;
  /** base64 SHA-256 of the zip bytes. */
  readonly zipSha256: string;
  /** built: compiled now; cached: copied from the artifact store; skipped: already in target/lambda. */
  readonly status: BuildStatus;
  readonly seconds: number;
}

/** `target/lambda/<bin>/<bin>-<hash16>.zip`: the path the stacks reference. */
export function zipPathFor(workspaceDir: string, name: string, hash: string): string {
  return path.join(workspaceDir, "target", "lambda", name, `${name}-${hash.slice(0, 16)}.zip`);
}

/**
 * cargo's output folder, shared by every clone on the machine (outside the clone, so a fresh CI clone
 * reuses compiled dependencies; cargo locks it between concurrent builds).
 */
export function defaultCargoTargetDir(): string {
  return path.join(cacheRoot(), "cargo-target");
}

/** The machine's store of finished Rust artifacts (see BuildRequest.artifactCache). */
export function defaultArtifactCache(): string {
  return path.join(artifactStoreRoot(), "rust-artifacts");
}

/**
 * rustc flags that keep machine-specific paths out of the binaries: registry sources live under
 * CARGO_HOME, which differs between users and machines. Workspace crates are compiled with paths
 * relative to the workspace root already.
 */
export function reproducibleRustflags(): string {
  const cargoHome = process.env.CARGO_HOME ?? path.join(os.homedir(), ".cargo");
  return [`--remap-path-prefix=${path.join(cargoHome, "registry", "src")}=/cargo/registry/src`, `--remap-path-prefix=${path.join(cargoHome, "git", "checkouts")}=/cargo/git/checkouts`].join(" ");
}

/** What an artifact was built by; an artifact counts only with the toolchain that built it. */
function toolchainStamp(t: RustToolchain, rustflags: string): string {
  return `${t.version}\n${t.target}\n${rustflags}\n`;
}

/** The artifact store's folder for one function, input hash and toolchain. */
function cacheEntry(cache: string, name: string, hash: string, stamp: string): string {
  const key = crypto.createHash("sha256").update(`${hash}\0${stamp}`).digest("hex").slice(0, 24);
  return path.join(cache, name, key);
}

/** Entries the artifact store keeps per function: the newest ones, enough for a few branches and toolchains. */
export const STORE_KEEP = 8;

function pruneStore(fnDir: string): void {
  const entries = fs
    .readdirSync(fnDir)
    .filter((e) => !e.includes(".tmp-"))
    .map((e) => ({ e, t: fs.statSync(path.join(fnDir, e)).mtimeMs }))
    .sort((a, b) => b.t - a.t);
  for (const { e } of entries.slice(STORE_KEEP)) fs.rmSync(path.join(fnDir, e), { recursive: true, force: true });
}

/** Writes bootstrap (0755), the zip and its toolchain stamp into `dir`, removing older zips there. */
function installArtifact(dir: string, name: string, hash: string, data: Buffer, zip: Buffer, stamp: string): void {
  fs.mkdirSync(dir, { recursive: true });
  const zipName = path.basename(zipPathFor("", name, hash));
  for (const old of fs.readdirSync(dir)) {
    if ((old.endsWith(".zip") || old.endsWith(".toolchain")) && !old.startsWith(zipName)) fs.rmSync(path.join(dir, old));
  }
  writeFileAtomic(path.join(dir, "bootstrap"), data);
  fs.chmodSync(path.join(dir, "bootstrap"), 0o755);
  writeFileAtomic(path.join(dir, zipName), zip);
  writeFileAtomic(path.join(dir, `${zipName}.toolchain`), Buffer.from(stamp));
}

/** Puts an artifact into the machine's store: into a fresh folder, then renamed, so a reader never sees half an entry. */
function storeInMachine(cache: string, name: string, hash: string, stamp: string, data: Buffer, zip: Buffer): void {
  const entry = cacheEntry(cache, name, hash, stamp);
  const tmp = `${entry}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  installArtifact(tmp, name, hash, data, zip, stamp);
  fs.rmSync(entry, { recursive: true, force: true });
  fs.renameSync(tmp, entry);
  pruneStore(path.dirname(entry));
}

/** The shared store's key of a function's artifact: the machine store's key (input hash and toolchain), under the target. */
function sharedKey(req: BuildRequest, name: string, stamp: string): string {
  // The remapped paths' local side (this user's CARGO_HOME) leaves no trace in the binary: machines
  // with another CARGO_HOME build the same bytes, so it is not part of the shared key.
  const portable = stamp.replace(/--remap-path-prefix=[^=\s]+=/g, "--remap-path-prefix=");
  return `rust/${req.toolchain.target}/${name}/${path.basename(cacheEntry("", name, req.hashes[name], portable))}.zip`;
}

/** Whether this workspace or the machine's store already has the function's artifact for these inputs. */
function haveLocally(req: BuildRequest, name: string, stamp: string): boolean {
  const zip = zipPathFor(req.workspaceDir, name, req.hashes[name]);
  const current = (z: string) => fs.existsSync(z) && fs.existsSync(`${z}.toolchain`) && fs.readFileSync(`${z}.toolchain`, "utf8") === stamp;
  if (current(zip) && fs.existsSync(path.join(path.dirname(zip), "bootstrap"))) return true;
  return Boolean(req.artifactCache) && current(path.join(cacheEntry(req.artifactCache as string, name, req.hashes[name], stamp), path.basename(zip)));
}

/**
 * The second level: functions neither this workspace nor the machine's store has are looked up in
 * the shared store, verified (object hash, zip CRCs, a re-zip that gives the same bytes, the ELF
 * architecture) and put into the machine's store, from which buildFunctions then copies them. What
 * does not verify is ignored and built. Returns the names fetched.
 */
export async function fetchFromSharedStore(req: BuildRequest, shared: SharedStore): Promise<string[]> {
  if (req.clean || !req.artifactCache) return [];
  const log = req.log ?? (() => undefined);
  const stamp = toolchainStamp(req.toolchain, reproducibleRustflags());
  const fetched: string[] = [];
  for (const f of req.functions) {
    if (haveLocally(req, f.name, stamp)) continue;
    const key = sharedKey(req, f.name, stamp);
    const zip = await shared.get(key);
    if (!zip) continue;
    let problem: string | undefined;
    let data: Buffer | undefined;
    try {
      const entries = readZip(zip);
      data = entries.length === 1 && entries[0].name === "bootstrap" && entries[0].executable ? entries[0].data : undefined;
      if (!data) problem = "it is not a one-bootstrap package";
      else if (!createZip([{ name: "bootstrap", data, executable: true }]).equals(zip)) problem = "it is not the package this builder writes for that binary";
      else if (readElfHeader(data).architecture !== req.toolchain.architecture) problem = `its bootstrap is not ${req.toolchain.architecture}`;
    } catch (e) {
      problem = (e as Error).message;
    }
    if (problem || !data) {
      log(`${f.name}: ${shared.url}/${key} ignored (${problem}); building instead`);
      continue;
    }
    storeInMachine(req.artifactCache, f.name, req.hashes[f.name], stamp, data, zip);
    fetched.push(f.name);
    log(`${f.name}: inputs unchanged since a build elsewhere; fetched from ${shared.url}/${key} (${zip.length} bytes, verified)`);
  }
  return fetched;
}

/** Uploads what the shared store lacks: every artifact built now, and any it has not seen yet. */
export async function publishToSharedStore(req: BuildRequest, built: readonly BuiltFunction[], shared: SharedStore): Promise<void> {
  const stamp = toolchainStamp(req.toolchain, reproducibleRustflags());
  for (const b of built) {
    if (b.architecture !== req.toolchain.architecture) continue;
    const key = sharedKey(req, b.name, stamp);
    if (b.status !== "built" && (await shared.has(key))) continue;
    await shared.put(key, fs.readFileSync(b.zipPath));
  }
}

/**
 * cargo tells what is fresh by modification times, and names a workspace member's build output the
 * same in every checkout of the workspace (its metadata hash takes paths relative to the workspace
 * root). In a target folder shared by clones (CI's, worktrees, the end-to-end tests' copies), a build
 * in one checkout can therefore take another checkout's build of a member whose sources differ, when
 * that build is newer than this checkout's files: an artifact stored under this checkout's input
 * hash would hold the other sources' code (seen here: a handler deployed without its change). So
 * when the checkout building is not the one that built last in `targetDir` for this target and
 * profile, its own packages (never their dependencies) are cleaned first. Call it under the target
 * folder's lock; `recordCheckout` after a successful build.
 */
export function cleanForCheckout(opts: { cargo: string; env: Readonly<Record<string, string>>; workspaceDir: string; targetDir: string; target?: string; profile: "release" | "dev"; packages: readonly string[]; log?: (line: string) => void }): void {
  const profileDir = profileFolder(opts.targetDir, opts.target, opts.profile);
  const marker = path.join(profileDir, checkoutMarker(opts.packages));
  const last = fs.existsSync(marker) ? fs.readFileSync(marker, "utf8") : undefined;
  if (!fs.existsSync(profileDir) || last === fs.realpathSync(opts.workspaceDir)) return;
  opts.log?.(`the shared cargo target folder was last built in by ${last ?? "another checkout"}: cleaning this checkout's own packages (${opts.packages.join(", ")}) so cargo builds them from these sources`);
  const r = spawnSync(opts.cargo, ["clean", ...(opts.profile === "dev" ? [] : ["--release"]), ...(opts.target ? ["--target", opts.target] : []), ...opts.packages.flatMap((p) => ["-p", p])], {
    cwd: opts.workspaceDir,
    encoding: "utf8",
    env: { ...process.env, ...opts.env, CARGO_TARGET_DIR: opts.targetDir },
  });
  if (r.error) throw new Error(`could not run ${opts.cargo} (${r.error.message}); nothing was built`);
  if (r.status !== 0) throw new Error(`cargo clean of ${opts.packages.join(", ")} in ${opts.targetDir} failed (exit ${r.status}): ${(r.stderr ?? "").trim()}; nothing was built`);
  fs.rmSync(marker, { force: true });
}

/** Notes which checkout built last in the target folder (see cleanForCheckout); `target` undefined: a build for the host without --target. */
export function recordCheckout(targetDir: string, target: string | undefined, profile: "release" | "dev", workspaceDir: string, packages: readonly string[]): void {
  const profileDir = profileFolder(targetDir, target, profile);
  fs.mkdirSync(profileDir, { recursive: true });
  fs.writeFileSync(path.join(profileDir, checkoutMarker(packages)), fs.realpathSync(workspaceDir));
}

/** One marker per workspace (by its packages): two different workspaces in one folder do not clean each other. */
function checkoutMarker(packages: readonly string[]): string {
  return `.lambdaship-checkout-${crypto.createHash("sha256").update([...packages].sort().join("\0")).digest("hex").slice(0, 12)}`;
}

/** cargo's output folder of a profile: `<target dir>[/<target>]/debug|release`. */
function profileFolder(targetDir: string, target: string | undefined, profile: "release" | "dev"): string {
  return path.join(targetDir, ...(target ? [target] : []), profile === "dev" ? "debug" : profile);
}

/** The names of a workspace's own packages. */
export function memberNames(meta: CargoMetadata): string[] {
  const members = new Set(meta.workspace_members);
  return meta.packages.filter((p) => members.has(p.id)).map((p) => p.name).sort();
}

/**
 * Builds the functions whose zip for their input hash is missing, in one cargo invocation, then
 * checks each binary's ELF machine against the toolchain's target and packages it. A binary of the
 * wrong architecture is an error: nothing is packaged for it.
 */
export function buildFunctions(req: BuildRequest): BuiltFunction[] {
  const log = req.log ?? (() => undefined);
  const profile = req.profile ?? "release";
  const lambdaDir = path.join(req.workspaceDir, "target", "lambda");
  if (req.clean) {
    fs.rmSync(lambdaDir, { recursive: true, force: true });
    fs.rmSync(path.join(req.cargoTargetDir, req.toolchain.target, profile), { recursive: true, force: true });
  }
  const rustflags = reproducibleRustflags();
  const stamp = toolchainStamp(req.toolchain, rustflags);
  const zipOf = (f: RustFunction) => zipPathFor(req.workspaceDir, f.name, req.hashes[f.name]);
  const isCurrent = (zip: string, bootstrap: string) =>
    fs.existsSync(zip) && fs.existsSync(bootstrap) && fs.existsSync(`${zip}.toolchain`) && fs.readFileSync(`${zip}.toolchain`, "utf8") === stamp;
  const status = new Map<string, BuildStatus>();
  const store = (f: RustFunction, data: Buffer, zip: Buffer) => {
    if (req.artifactCache) storeInMachine(req.artifactCache, f.name, req.hashes[f.name], stamp, data, zip);
  };
  for (const f of req.functions) {
    if (!req.clean && isCurrent(zipOf(f), path.join(lambdaDir, f.name, "bootstrap"))) {
      status.set(f.name, "skipped");
      // An artifact built before the store existed (or with it off) is shared from now on.
      if (req.artifactCache && !fs.existsSync(cacheEntry(req.artifactCache, f.name, req.hashes[f.name], stamp))) {
        store(f, fs.readFileSync(path.join(lambdaDir, f.name, "bootstrap")), fs.readFileSync(zipOf(f)));
      }
      continue;
    }
    if (req.clean || !req.artifactCache) continue;
    const entry = cacheEntry(req.artifactCache, f.name, req.hashes[f.name], stamp);
    const cachedZip = path.basename(zipOf(f));
    if (!isCurrent(path.join(entry, cachedZip), path.join(entry, "bootstrap"))) continue;
    const data = fs.readFileSync(path.join(entry, "bootstrap"));
    if (readElfHeader(data).architecture !== req.toolchain.architecture) continue;
    installArtifact(path.join(lambdaDir, f.name), f.name, req.hashes[f.name], data, fs.readFileSync(path.join(entry, cachedZip)), stamp);
    status.set(f.name, "cached");
    const now = new Date();
    fs.utimesSync(entry, now, now); // recently used: kept by pruning
    log(`${f.name}: inputs unchanged since a build on this machine; copied from ${entry}`);
  }
  const todo = req.functions.filter((f) => !status.has(f.name));
  const started = Date.now();
  // The cargo target folder is shared by every clone on the machine, and cargo releases it when it
  // finishes: the binaries are read under a lock of our own, so no other clone's build replaces
  // them in between (an artifact stored under a hash is the one built from those inputs).
  const checked: Array<{ f: RustFunction; data: Buffer }> = todo.length === 0 ? [] : withLock(path.join(req.cargoTargetDir, ".lambdaship-build.lock"), "another build in the shared cargo target folder", () => {
    {
      const packages = memberNames(cargoMetadata(req.workspaceDir));
      cleanForCheckout({ cargo: req.toolchain.cargo, env: req.toolchain.env, workspaceDir: req.workspaceDir, targetDir: req.cargoTargetDir, target: req.toolchain.target, profile, packages, log });
      const args = ["build", `--${profile}`, "--locked", "--target", req.toolchain.target, ...todo.flatMap((f) => ["--bin", f.name])];
      log(`building ${todo.map((f) => f.name).join(", ")} for ${req.toolchain.architecture}: cargo ${args.join(" ")}  (${req.toolchain.kind} ${req.toolchain.version})`);
      const r = spawnSync(req.toolchain.cargo, args, {
        cwd: req.workspaceDir,
        stdio: ["ignore", "inherit", "inherit"],
        env: { ...process.env, ...req.toolchain.env, CARGO_TARGET_DIR: req.cargoTargetDir, RUSTFLAGS: rustflags, SOURCE_DATE_EPOCH: "315532800" },
      });
      if (r.error) throw new Error(`could not run ${req.toolchain.cargo} (${r.error.message}); no function was packaged. ${ARM64_FIX}.`);
      if (r.status !== 0) throw new Error(`cargo build for ${req.toolchain.target} failed (exit ${r.status}); its output is above. No function was packaged.`);
      recordCheckout(req.cargoTargetDir, req.toolchain.target, profile, req.workspaceDir, packages);
    }
    // Check every new binary before packaging any: a wrong architecture leaves nothing half-done.
    return todo.map((f) => {
      const bin = path.join(req.cargoTargetDir, req.toolchain.target, profile, f.name);
      const data = fs.readFileSync(bin);
      const elf = readElfHeader(data);
      if (elf.architecture !== req.toolchain.architecture) {
        throw new Error(`${bin} is ${elf.architecture ?? `ELF machine 0x${elf.machine.toString(16)}`}, not ${req.toolchain.architecture} as built for ${req.toolchain.target}; nothing was packaged.`);
      }
      return { f, data };
    });
  }, log);
  const buildSeconds = (Date.now() - started) / 1000;
  for (const { f, data } of checked) {
    const zip = createZip([{ name: "bootstrap", data, executable: true }]);
    installArtifact(path.join(lambdaDir, f.name), f.name, req.hashes[f.name], data, zip, stamp);
    status.set(f.name, "built");
    store(f, data, zip);
  }
  return req.functions.map((f) => {
    const zipPath = zipOf(f);
    const zip = fs.readFileSync(zipPath);
    const bootstrap = path.join(lambdaDir, f.name, "bootstrap");
    const s = status.get(f.name)!;
    return {
      name: f.name,
      architecture: s === "built" ? req.toolchain.architecture : (readElfFile(bootstrap).architecture ?? req.toolchain.architecture),
      bootstrap,
      zipPath,
      zipBytes: zip.length,
      zipSha256: base64Sha256(zip),
      status: s,
      seconds: s === "built" ? buildSeconds : 0,
    };
  });
}
