import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { isStaticElf, LambdaArchitecture, readElfHeader, RUST_TARGETS } from "./elf";
import { ARM64_FIX, binsFromMetadata, CargoMetadata, cargoMetadata, cleanForCheckout, functionInputs, inputHash, memberNames, recordCheckout, reproducibleRustflags, RustFunction, RustToolchain, toolchainsFor } from "./rust";
import { artifactStoreRoot, cacheRoot, withLock } from "./util";
import { ArtifactStatus, materializeZip } from "./artifact";
import { base64Sha256, collectFiles, ZipEntry } from "./zip";

/**
 * Layers (seeds 001 and 004), built once per input hash:
 * - dependency layers: the runtime is read from the dependency files present, and the production
 *   dependencies are installed for the layer's architecture and runtime, laid out where Lambda looks
 *   (`python/`, `nodejs/node_modules/`);
 * - extension layers: a cargo package built statically for the architecture, laid out as
 *   `extensions/<bin>`, with its `wrapper.sh` as `/opt/<bin>-wrapper`.
 * Zips are deterministic and named by input hash; a zip already built here, or in the machine's
 * store, is not built again. Pure parts take their inputs as arguments and are tested without tools.
 */

export type LayerRuntime = "python" | "nodejs" | "java";

/** Dependency files that name a layer's runtime, in the order they are reported. */
export const RUNTIME_MARKERS: ReadonlyArray<{ file: string; runtime: LayerRuntime; needs?: readonly string[] }> = [
  { file: "requirements.txt", runtime: "python" },
  { file: "Pipfile.lock", runtime: "python" },
  { file: "poetry.lock", runtime: "python" },
  { file: "package.json", runtime: "nodejs", needs: ["package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml"] },
  { file: "pom.xml", runtime: "java" },
];

export class LayerError extends Error {}

/** The runtime of a dependency layer's folder, from its files; an error naming the folder when none or several match. */
export function detectLayerRuntime(dir: string, files: readonly string[] = fs.existsSync(dir) ? fs.readdirSync(dir) : []): { runtime: LayerRuntime; manifest: string } {
  if (!fs.existsSync(dir)) throw new LayerError(`layer folder ${dir} does not exist; create it with a requirements.txt (Python) or a package.json and its lock file (Node.js)`);
  const found = RUNTIME_MARKERS.filter((m) => files.includes(m.file));
  const node = found.find((m) => m.runtime === "nodejs");
  if (node && !node.needs!.some((lock) => files.includes(lock))) {
    throw new LayerError(`layer folder ${dir} has package.json but no lock file (${node.needs!.join(", ")}): commit one so the layer installs the same versions every time`);
  }
  const runtimes = [...new Set(found.map((m) => m.runtime))];
  if (runtimes.length === 0) {
    throw new LayerError(`layer folder ${dir} has no dependency file: add requirements.txt, Pipfile.lock or poetry.lock (Python), package.json with its lock file (Node.js), or pom.xml (Java)`);
  }
  if (runtimes.length > 1) {
    throw new LayerError(`layer folder ${dir} has dependency files of several runtimes (${found.map((m) => m.file).join(", ")}): keep one runtime per layer folder`);
  }
  const pyManifests = found.filter((m) => m.runtime === "python");
  if (pyManifests.length > 1) {
    throw new LayerError(`layer folder ${dir} has several Python dependency files (${pyManifests.map((m) => m.file).join(", ")}): keep one, so it is clear which versions the layer holds`);
  }
  return { runtime: runtimes[0], manifest: found[0].file };
}

/** PEP 503's normalised form of a Python package name. */
export function normalisePackage(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, "-");
}

/**
 * The packages a requirements file pins, by normalised name. A requirement without an exact `==`
 * version is an error naming it: the layer's input hash covers the file, so an unpinned requirement
 * would let the layer change without a new hash.
 */
export function pinnedRequirements(text: string, file: string): Map<string, string> {
  const pins = new Map<string, string>();
  for (const raw of text.split("\n")) {
    const line = raw.replace(/(^|\s)#.*$/, "").trim();
    if (!line || line.startsWith("-")) continue;
    const m = /^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*==\s*([A-Za-z0-9.+!_-]+)\s*(;.*)?$/.exec(line.replace(/\s*\\$/, ""));
    if (!m) throw new LayerError(`${file}: ${JSON.stringify(line)} is not pinned to one version; write it as name==version (pip freeze or pip-compile print them), so the layer is the same wherever and whenever it is built`);
    pins.set(normalisePackage(m[1]), m[3]);
  }
  return pins;
}

/** pip's platform tag for a Lambda architecture (Amazon Linux 2023's glibc is 2.34; manylinux2014 wheels run there). */
export function pythonPlatform(arch: LambdaArchitecture): string {
  return arch === "arm64" ? "manylinux2014_aarch64" : "manylinux2014_x86_64";
}

/** The package pip could not find a wheel for, from its error output. */
export function missingWheel(pipStderr: string): string | undefined {
  return /No matching distribution found for ([^\s]+)/.exec(pipStderr)?.[1] ?? /Could not find a version that satisfies the requirement ([^\s]+)/.exec(pipStderr)?.[1];
}

/** Files pip leaves that differ between installs (caches, record files with absolute paths, installer). */
function isNoise(rel: string): boolean {
  return rel.split("/").includes("__pycache__") || rel.endsWith(".pyc") || /\.dist-info\/(RECORD|INSTALLER|REQUESTED|direct_url\.json)$/.test(rel) || rel.startsWith("bin/") || rel.startsWith("python/bin/");
}

// ---------------------------------------------------------------------------------------------------
// Layer specs, input hashes and limits (synth reads these; the builder builds from them)

/** Lambda's limits: a zip uploaded directly in the request, and a function plus all its layers unzipped. */
export const DIRECT_UPLOAD_MAX_BYTES = 50 * 1024 * 1024;
export const UNZIPPED_MAX_BYTES = 250 * 1024 * 1024;

export type LayerKind = "dependencies" | "extension";

/** What a layer is built from. */
export interface LayerSource {
  /** The layer's name in the env (`websocket-deps`): names the zip and the store entries. */
  readonly name: string;
  readonly kind: LayerKind;
  /** Absolute folder: the dependency files' folder, or the extension's cargo package. */
  readonly dir: string;
  /** Dependency layers: the Lambda runtime they are installed for (`python3.12`, `nodejs20.x`). */
  readonly runtime?: string;
}

/** What synth knows about a layer for one architecture, without building it. */
export interface LayerPlan {
  /** Hex SHA-256 of everything that goes into the layer for this architecture. */
  readonly inputHash: string;
  /** `<name>-<arch>-<hash16>.zip` */
  readonly zipName: string;
  readonly architecture: LambdaArchitecture;
  /** `compatible_runtimes`: the dependency layer's runtime; none for extensions (they work with any). */
  readonly compatibleRuntimes: readonly string[];
  /** Extension layers: the files under `extensions/`. */
  readonly extensions: readonly string[];
  /** Extension layers with a `wrapper.sh`: the wrapper's path in the function (`/opt/<bin>-wrapper`). */
  readonly wrapper?: string;
}

function sha256(...parts: Array<string | Buffer>): string {
  const h = crypto.createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest("hex");
}

/** A layer's zip name: the env's layer name, the architecture and the input hash. */
export function layerZipName(name: string, arch: LambdaArchitecture, hash: string): string {
  return `${name}-${arch}-${hash.slice(0, 16)}.zip`;
}

/** Lock files the Node.js builders install from: npm's, then pnpm's (yarn's is recognised, and refused with the fix). */
const NODE_INSTALL_LOCKS = ["package-lock.json", "npm-shrinkwrap.json", "pnpm-lock.yaml"];
const NODE_LOCK_FIX =
  "this builder installs Node.js dependencies with npm ci (package-lock.json or npm-shrinkwrap.json) or pnpm (pnpm-lock.yaml); for a yarn project, run npm install --package-lock-only (or pnpm import) there and commit the lock file";

function dependencyPlan(src: LayerSource, arch: LambdaArchitecture): LayerPlan {
  const { runtime, manifest } = detectLayerRuntime(src.dir);
  const wanted = src.runtime ?? "";
  if (!wanted.startsWith(runtime)) {
    const [label, example] = runtime === "python" ? ["Python", "python3.12"] : runtime === "nodejs" ? ["Node.js", "nodejs22.x"] : ["Java", "java21"];
    throw new LayerError(`layer ${src.name}: ${path.join(src.dir, manifest)} makes it a ${label} layer, but its runtime is ${JSON.stringify(wanted)}; set runtime to a ${runtime} runtime such as ${example}`);
  }
  let files: string[];
  if (runtime === "java") {
    files = ["pom.xml"];
  } else if (runtime === "python") {
    if (manifest !== "requirements.txt") {
      throw new LayerError(`layer folder ${src.dir}: ${manifest} is recognised as Python, but this builder installs from requirements.txt; export one (pipenv requirements > requirements.txt, or poetry export -f requirements.txt)`);
    }
    files = [manifest];
  } else {
    const lock = NODE_INSTALL_LOCKS.find((f) => fs.existsSync(path.join(src.dir, f)));
    if (!lock) throw new LayerError(`layer folder ${src.dir}: no lock file to install from; ${NODE_LOCK_FIX}`);
    files = ["package.json", lock];
  }
  const h = crypto.createHash("sha256").update(`lambdaship-layer-v1\0${wanted}\0${arch}\0`);
  for (const f of files) {
    const data = fs.readFileSync(path.join(src.dir, f));
    if (f === "requirements.txt") pinnedRequirements(data.toString("utf8"), path.join(src.dir, f)); // refuses loose pins before anything hashes them
    h.update(`${f}\0`).update(data);
  }
  const inputHash = h.digest("hex");
  return { inputHash, zipName: layerZipName(src.name, arch, inputHash), architecture: arch, compatibleRuntimes: [wanted], extensions: [] };
}

const metadataCache = new Map<string, CargoMetadata>();

/** The extension package's bins and the files that can change them (cargo metadata is read once per folder and process). */
function extensionPackage(dir: string): { meta: CargoMetadata; bins: RustFunction[]; wrapper?: string } {
  let meta = metadataCache.get(dir);
  if (!meta) {
    if (!fs.existsSync(path.join(dir, "Cargo.toml"))) throw new LayerError(`extension layer folder ${dir} has no Cargo.toml: point source at the extension's cargo package, e.g. lambda-src/extensions/runtime-proxy`);
    meta = cargoMetadata(dir);
    metadataCache.set(dir, meta);
  }
  const manifest = path.join(dir, "Cargo.toml");
  const pkg = meta.packages.find((p) => path.resolve(p.manifest_path) === path.resolve(manifest));
  if (!pkg) throw new LayerError(`extension layer folder ${dir} is not a package of its cargo workspace ${meta.workspace_root}; add it to [workspace] members`);
  const bins = binsFromMetadata(meta).filter((b) => b.package === pkg.name);
  if (bins.length === 0) throw new LayerError(`extension package ${dir} has no [[bin]]: an extension is an executable, laid out as extensions/<bin>`);
  const wrapper = fs.existsSync(path.join(dir, "wrapper.sh")) ? path.join(dir, "wrapper.sh") : undefined;
  if (wrapper && bins.length > 1) throw new LayerError(`extension package ${dir} has a wrapper.sh and several bins (${bins.map((b) => b.name).join(", ")}); the wrapper is named after the bin, so keep one bin in a package with a wrapper`);
  return { meta, bins, wrapper };
}

function extensionPlan(src: LayerSource, arch: LambdaArchitecture): LayerPlan {
  const { meta, bins, wrapper } = extensionPackage(src.dir);
  const all = binsFromMetadata(meta);
  const files = new Set<string>();
  for (const b of bins) for (const f of functionInputs(meta, b, all)) files.add(f);
  if (wrapper) files.add(path.relative(meta.workspace_root, wrapper).split(path.sep).join("/"));
  const hash = inputHash(meta.workspace_root, [...files].sort(), RUST_TARGETS[arch], "release-static");
  return {
    inputHash: hash,
    zipName: layerZipName(src.name, arch, hash),
    architecture: arch,
    compatibleRuntimes: [],
    extensions: bins.map((b) => b.name),
    wrapper: wrapper ? `/opt/${bins[0].name}-wrapper` : undefined,
  };
}

/** What a layer will be for `arch`, read from its sources (no build). Errors name the folder and the fix. */
export function planLayer(src: LayerSource, arch: LambdaArchitecture): LayerPlan {
  return src.kind === "extension" ? extensionPlan(src, arch) : dependencyPlan(src, arch);
}

/** Where built layers go: `<projectRoot>/.build/layers/<name>/<zip>`. */
export function layerZipPath(projectRoot: string, plan: LayerPlan, name: string): string {
  return path.join(projectRoot, ".build", "layers", name, plan.zipName);
}

/** The machine's store of finished layers, shared by every clone (a clean CI clone skips builds it has done). */
export function defaultLayerStore(): string {
  return path.join(artifactStoreRoot(), "layer-artifacts");
}

export function formatMiB(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/**
 * Lambda's 250 MB limit on a function and its layers unzipped, checked with the sizes known here.
 * Returns the error, naming each layer and its size, or undefined.
 */
export function unzippedLimitError(fn: string, functionBytes: number | undefined, layers: ReadonlyArray<{ name: string; unzippedBytes?: number }>): string | undefined {
  const known = layers.filter((l) => l.unzippedBytes !== undefined);
  const total = (functionBytes ?? 0) + known.reduce((n, l) => n + l.unzippedBytes!, 0);
  if (total <= UNZIPPED_MAX_BYTES) return undefined;
  const parts = [...(functionBytes !== undefined ? [`its own package ${formatMiB(functionBytes)}`] : []), ...known.map((l) => `layer ${l.name} ${formatMiB(l.unzippedBytes!)}`)];
  return `${fn} is ${parts.join(" + ")} = ${formatMiB(total)} unzipped, over Lambda's 250 MB limit for a function and its layers; move dependencies out of the largest layer (or use a container image for this function)`;
}

// ---------------------------------------------------------------------------------------------------
// Building

export type LayerStatus = ArtifactStatus;

export interface BuiltLayerArtifact {
  readonly name: string;
  readonly architecture: LambdaArchitecture;
  readonly zipPath: string;
  readonly zipBytes: number;
  readonly unzippedBytes: number;
  /** base64 SHA-256 of the zip. */
  readonly zipSha256: string;
  readonly inputHash: string;
  readonly status: LayerStatus;
  readonly seconds: number;
}

export interface LayerBuildOptions {
  readonly projectRoot: string;
  /** A Python with pip, for Python layers. @default <projectRoot>/.venv/bin/python */
  readonly python?: string;
  /** The machine's store (undefined: not used). @default defaultLayerStore() */
  readonly store?: string;
  /** cargo's output folder for extensions (static builds, kept apart from the functions' dynamic ones). */
  readonly cargoTargetDir?: string;
  readonly log?: (line: string) => void;
}

/** Builds one folder of files for a layer, into `work`; returns the zip entries. */
type Producer = (work: string) => ZipEntry[];

function extensionToolchainKey(arch: LambdaArchitecture): { toolchain: RustToolchain; key: string } {
  const toolchain = toolchainsFor(arch)[0];
  if (!toolchain) throw new LayerError(`extension layers are built for ${arch} too, and no Rust toolchain here can build ${RUST_TARGETS[arch]}: ${ARM64_FIX}`);
  return { toolchain, key: sha256(toolchain.version, "\0", toolchain.target).slice(0, 12) };
}

const STATIC_RUSTFLAGS = "-C target-feature=+crt-static";

function extensionProducer(src: LayerSource, plan: LayerPlan, toolchain: RustToolchain, opts: LayerBuildOptions): Producer {
  return () => {
    const { meta, bins, wrapper } = extensionPackage(src.dir);
    const targetDir = opts.cargoTargetDir ?? path.join(cacheRoot(), "cargo-target-static");
    const args = ["build", "--release", "--locked", "--target", toolchain.target, ...bins.flatMap((b) => ["--bin", b.name])];
    // The target folder is shared by every clone on the machine: one build at a time, from this
    // checkout's own sources (see cleanForCheckout), and its binaries read before another begins.
    const built = withLock(path.join(targetDir, ".lambdaship-build.lock"), "another build in the shared cargo target folder", () => {
      const packages = memberNames(meta);
      cleanForCheckout({ cargo: toolchain.cargo, env: toolchain.env, workspaceDir: meta.workspace_root, targetDir, target: toolchain.target, profile: "release", packages, log: opts.log });
      opts.log?.(`building ${bins.map((b) => b.name).join(", ")} for ${plan.architecture}, statically linked: cargo ${args.join(" ")}  (${toolchain.kind} ${toolchain.version})`);
      const r = spawnSync(toolchain.cargo, args, {
        cwd: meta.workspace_root,
        stdio: ["ignore", "inherit", "inherit"],
        env: { ...process.env, ...toolchain.env, CARGO_TARGET_DIR: targetDir, RUSTFLAGS: `${reproducibleRustflags()} ${STATIC_RUSTFLAGS}`, SOURCE_DATE_EPOCH: "315532800" },
      });
      if (r.error) throw new LayerError(`could not run ${toolchain.cargo} (${r.error.message}); no layer was written`);
      if (r.status !== 0) throw new LayerError(`cargo build of extension layer ${src.name} for ${toolchain.target} failed (exit ${r.status}); its output is above. No layer was written.`);
      recordCheckout(targetDir, toolchain.target, "release", meta.workspace_root, packages);
      return new Map(bins.map((b) => [b.name, fs.readFileSync(path.join(targetDir, toolchain.target, "release", b.name))]));
    }, opts.log);
    const entries: ZipEntry[] = [];
    for (const b of bins) {
      const file = path.join(targetDir, toolchain.target, "release", b.name);
      const data = built.get(b.name)!;
      const elf = readElfHeader(data, file);
      if (elf.architecture !== plan.architecture) throw new LayerError(`${file} is ${elf.architecture ?? "of another machine"}, not ${plan.architecture}; no layer was written`);
      if (!isStaticElf(data)) throw new LayerError(`${file} is dynamically linked (it has an ELF interpreter), so it would depend on the function's OS libraries; no layer was written`);
      entries.push({ name: `extensions/${b.name}`, data, executable: true });
    }
    if (wrapper) entries.push({ name: plan.wrapper!.slice("/opt/".length), data: fs.readFileSync(wrapper), executable: true });
    return entries;
  };
}

/**
 * Installs a pinned requirements file with pip into `target`, as wheels for the architecture and
 * Python version (no build here), then checks that every package pip brought is pinned. Errors name
 * the package and the file; on an error the caller writes nothing.
 */
export function pipInstall(what: string, manifest: string, target: string, arch: LambdaArchitecture, version: string, python: string, noun: "layer" | "package" = "layer"): void {
  const args = [
    "-m", "pip", "install", "--disable-pip-version-check", "--no-compile", "--quiet",
    "--target", target, "--platform", pythonPlatform(arch), "--implementation", "cp",
    "--python-version", version, "--only-binary=:all:", "-r", manifest,
  ];
  const r = spawnSync(python, args, { encoding: "utf8" });
  if (r.error) throw new LayerError(`${what}: could not run ${python} (${r.error.message}); npm run setup -- --only python creates it`);
  if (r.status !== 0) {
    const pkg = missingWheel(r.stderr);
    throw new LayerError(
      pkg
        ? `${what}: ${pkg} (from ${manifest}) has no wheel for ${pythonPlatform(arch)} and Python ${version}; pin a version that publishes one, or drop it from the ${noun}. Nothing was written.`
        : `${what}: pip failed (exit ${r.status}); nothing was written:\n${r.stderr.trim()}`,
    );
  }
  // Everything pip brought must be pinned, or the next build (another day, another machine) may differ.
  const pins = pinnedRequirements(fs.readFileSync(manifest, "utf8"), manifest);
  const installed = fs
    .readdirSync(target)
    .map((d) => /^(.+)-([^-]+)\.dist-info$/.exec(d))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ name: normalisePackage(m[1]), version: m[2] }));
  const unpinned = installed.filter((p) => !pins.has(p.name));
  if (unpinned.length > 0) {
    throw new LayerError(
      `${what}: pip also installed ${unpinned.map((p) => `${p.name}==${p.version}`).join(", ")}, which ${manifest} does not pin; add ${unpinned.length > 1 ? "these lines" : "this line"} so the ${noun} is the same wherever and whenever it is built. Nothing was written.`,
    );
  }
}

/** Files pip leaves that differ between installs, or that Lambda never loads. */
export function isPipNoise(rel: string): boolean {
  return isNoise(rel);
}

function pythonProducer(src: LayerSource, plan: LayerPlan, opts: LayerBuildOptions): Producer {
  return (work) => {
    const python = opts.python ?? path.join(opts.projectRoot, ".venv", "bin", "python");
    pipInstall(`layer ${src.name}`, path.join(src.dir, "requirements.txt"), path.join(work, "python"), plan.architecture, src.runtime!.slice("python".length), python);
    return collectFiles(work, { exclude: isNoise, executable: (rel) => rel.endsWith(".so") || /\.so\./.test(rel) });
  };
}

/** npm's name for a Lambda architecture (`--cpu`). */
export function npmCpu(arch: LambdaArchitecture): string {
  return arch === "arm64" ? "arm64" : "x64";
}

/**
 * `npm ci` of a package.json and its npm lock file, copied into `dest`: production dependencies only,
 * for Linux on the architecture's CPU (optional native packages), no install scripts.
 */
export function npmCiInto(what: string, dir: string, dest: string, arch: LambdaArchitecture): string {
  fs.mkdirSync(dest, { recursive: true });
  const lock = NODE_INSTALL_LOCKS.find((f) => fs.existsSync(path.join(dir, f)));
  if (!lock) throw new LayerError(`${what}: ${dir} has no lock file to install from; ${NODE_LOCK_FIX}`);
  for (const f of ["package.json", lock]) fs.copyFileSync(path.join(dir, f), path.join(dest, f));
  const pnpm = lock === "pnpm-lock.yaml";
  // pnpm (pinned in package.json) with a flat node_modules, as Lambda's NODE_PATH expects, and its
  // own store under the machine's cache; both pick packages for Lambda's os and cpu, not this machine's.
  const [cmd, args] = pnpm
    ? [process.execPath, [path.join(path.dirname(require.resolve("pnpm")), "bin", "pnpm.cjs"), "install", "--prod", "--frozen-lockfile", "--ignore-scripts", "--config.node-linker=hoisted", `--store-dir=${path.join(cacheRoot(), "pnpm-store")}`, "--os=linux", `--cpu=${npmCpu(arch)}`, "--libc=glibc", "--reporter=append-only"]]
    : ["npm", ["ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund", "--os=linux", `--cpu=${npmCpu(arch)}`]];
  const r = spawnSync(cmd, args, { cwd: dest, encoding: "utf8", env: { ...process.env, CI: "true" } });
  if (r.error) throw new LayerError(`${what}: ${pnpm ? "pnpm" : "npm"} could not start (${r.error.message}); install Node.js with npm${pnpm ? ", and run npm ci here for pnpm" : ""}`);
  if (r.status !== 0) throw new LayerError(`${what}: ${pnpm ? "pnpm" : "npm"} ${args.slice(pnpm ? 1 : 0).join(" ")} failed in a copy of ${dir} (exit ${r.status}); nothing was written:\n${(r.stderr || r.stdout).trim()}`);
  return lock;
}

/** What `npm ci` and `pnpm install` leave beside the packages, which no function loads. */
export function isNpmNoise(rel: string): boolean {
  const parts = rel.split("/");
  return parts.includes(".bin") || parts.includes(".pnpm") || rel.endsWith("node_modules/.package-lock.json") || rel.endsWith("node_modules/.modules.yaml") || /node_modules\/\.pnpm-workspace-state[^/]*$/.test(rel);
}

function nodeProducer(src: LayerSource, plan: LayerPlan): Producer {
  return (work) => {
    const lock = npmCiInto(`layer ${src.name}`, src.dir, path.join(work, "nodejs"), plan.architecture);
    return collectFiles(work, {
      exclude: (rel) => rel === "nodejs/package.json" || rel === `nodejs/${lock}` || isNpmNoise(rel),
      executable: (rel) => rel.endsWith(".node"),
    });
  };
}

/**
 * The runtime dependencies of a Maven project (`pom.xml`: compile and runtime scopes, not test or
 * provided), copied as jars into `dest` by maven-dependency-plugin. The jars are Maven Central's
 * bytes, so the same pom gives the same files everywhere.
 */
export function mavenDependenciesInto(what: string, pomDir: string, dest: string): void {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "lambdaship-mvn-"));
  try {
    fs.copyFileSync(path.join(pomDir, "pom.xml"), path.join(work, "pom.xml"));
    const args = ["-B", "-q", "dependency:copy-dependencies", "-DincludeScope=runtime", `-DoutputDirectory=${dest}`];
    const r = spawnSync("mvn", args, { cwd: work, encoding: "utf8" });
    if (r.error) throw new LayerError(`${what}: mvn is not on PATH (${r.error.message}); install Maven >= 3.8 (apt-get install maven) to build Java functions`);
    if (r.status !== 0) throw new LayerError(`${what}: mvn ${args.join(" ")} failed for ${path.join(pomDir, "pom.xml")} (exit ${r.status}); nothing was written:\n${(r.stdout + r.stderr).trim().split("\n").slice(-20).join("\n")}`);
    fs.mkdirSync(dest, { recursive: true });
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

function javaProducer(src: LayerSource): Producer {
  return (work) => {
    mavenDependenciesInto(`layer ${src.name}`, src.dir, path.join(work, "java", "lib"));
    return collectFiles(work);
  };
}

/** The machine store's name for a layer's zip: an extension binary counts only with the compiler that built it. */
export function layerStoreKey(src: LayerSource, plan: LayerPlan, arch: LambdaArchitecture): string {
  return src.kind === "extension" ? `${plan.zipName.slice(0, -4)}-rustc-${extensionToolchainKey(arch).key}.zip` : plan.zipName;
}

/**
 * Builds a layer for one architecture into `<projectRoot>/.build/layers/<name>/<zipName>` (plus a
 * `.unzipped` size file), unless that zip exists (skipped) or the machine's store has it (cached).
 * The zip is deterministic. Over 250 MB unzipped is an error and nothing is written.
 */
export function buildLayer(src: LayerSource, arch: LambdaArchitecture, opts: LayerBuildOptions, plan: LayerPlan = planLayer(src, arch)): BuiltLayerArtifact {
  const started = Date.now();
  const store = opts.store === undefined && !("store" in opts) ? defaultLayerStore() : opts.store;
  const zipPath = layerZipPath(opts.projectRoot, plan, src.name);
  let producer: Producer | undefined;
  const made = materializeZip({
    zipPath,
    storeZip: () => {
      const storeKey = layerStoreKey(src, plan, arch);
      if (src.kind === "extension") {
        producer = extensionProducer(src, plan, extensionToolchainKey(arch).toolchain, opts);
      } else {
        const runtime = detectLayerRuntime(src.dir).runtime;
        producer = runtime === "python" ? pythonProducer(src, plan, opts) : runtime === "nodejs" ? nodeProducer(src, plan) : javaProducer(src);
      }
      return store ? path.join(store, storeKey) : undefined;
    },
    onCached: (storeZip) => opts.log?.(`${src.name} (${arch}): inputs unchanged since a build on this machine; copied from ${storeZip}`),
    produce: (work) => producer!(work),
    checkSize: (unzipped) => {
      if (unzipped > UNZIPPED_MAX_BYTES) {
        throw new LayerError(`layer ${src.name} (${arch}) is ${formatMiB(unzipped)} unzipped, over Lambda's 250 MB limit for a function and its layers; move dependencies out of it. Nothing was written.`);
      }
    },
  });
  return {
    name: src.name,
    architecture: arch,
    zipPath,
    zipBytes: made.zip.length,
    unzippedBytes: made.unzippedBytes,
    zipSha256: base64Sha256(made.zip),
    inputHash: plan.inputHash,
    status: made.status,
    seconds: (Date.now() - started) / 1000,
  };
}
