import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { Detected, detectFunction, DetectError, isTestPath, Language } from "./detect";
import { LambdaArchitecture, readElfHeader } from "./elf";
import { formatMiB, isNpmNoise, isPipNoise, LayerError, mavenDependenciesInto, npmCiInto, pinnedRequirements, pipInstall, UNZIPPED_MAX_BYTES } from "./layer";
import { hashInputs, listSourceFiles, SourceFile } from "./source";
import { artifactStoreRoot } from "./util";
import { ArtifactStatus, materializeZip } from "./artifact";
import { base64Sha256, collectFiles, ZipEntry } from "./zip";

/**
 * Functions from a folder, in any of the languages `detect.ts` knows (Rust has its own builder):
 * plan at synth (runtime, handler, input hash, zip name; nothing built), build at apply. A build
 * is skipped when its zip exists, copied from the machine's store when another clone built the same
 * inputs, and otherwise:
 * - Python: the sources; with `dependencies: "bundle"` also the pinned requirements, installed by
 *   pip as wheels for the target platform (as dependency layers are);
 * - Node.js: TypeScript and ES modules bundled by esbuild into one CommonJS file (dependencies left
 *   to the layer, or bundled in); plain CommonJS sources as they are, with production dependencies
 *   installed for Linux on the target CPU when bundled;
 * - Go: `CGO_ENABLED=0 GOOS=linux GOARCH=<arch> go build -trimpath -buildvcs=false` with no build
 *   id, into `bootstrap`, its ELF machine checked;
 * - Java (Maven): `mvn compile` in a copy; classes at the zip's root, runtime dependencies as
 *   `lib/*.jar` when bundled, else in the dependency layer's `java/lib/`.
 * Zips are deterministic, so the same inputs give the same bytes from any checkout path.
 */

export type Dependencies = "layer" | "bundle";

export interface FunctionSource {
  /** The function's key in the env (`orders-api`): names its zip and store entries. */
  readonly name: string;
  /** Absolute path of the function's folder. */
  readonly dir: string;
  readonly runtime?: string;
  readonly handler?: string;
  /** Where dependencies go. @default "layer" */
  readonly dependencies?: Dependencies;
  /**
   * The function has a layer that proxies the Runtime API (an extension with proxyPort). Lambda runs
   * no exec wrapper for OS-only runtimes, so a Go package then starts through a `bootstrap` script
   * that points the runtime at the proxy and runs the binary, `bootstrap.bin`. Other languages start
   * through the layer's wrapper and are built the same either way. @default false
   */
  readonly runtimeApiProxy?: boolean;
}

export interface FunctionPlan extends Detected {
  /** What Lambda calls: for a bundled Node.js function, the bundle's file and export. */
  readonly deployedHandler: string;
  readonly architecture: LambdaArchitecture;
  readonly dependencies: Dependencies;
  /** Hex SHA-256 of everything that goes into the package for this architecture. */
  readonly inputHash: string;
  /** `<name>-<arch>-<hash16>.zip` */
  readonly zipName: string;
  /** Node.js: bundled by esbuild. */
  readonly bundled: boolean;
  /** Go: `bootstrap` is the script that routes the Runtime API through the proxy extension (see FunctionSource.runtimeApiProxy). */
  readonly runtimeApiProxy: boolean;
  /**
   * The dependency files a dependency layer is built from (`dependencies: "layer"` with
   * dependencies declared); the stack builds that layer.
   */
  readonly dependencyLayer?: { readonly runtime: string };
}

export class FunctionBuildError extends Error {}

/** esbuild is pinned in package.json: its version is an input of every bundle it makes. */
function esbuildVersion(): string {
  return (require("esbuild/package.json") as { version: string }).version;
}

const PYTHON_DEPENDENCY_FILES = new Set(["requirements.txt", "Pipfile", "Pipfile.lock", "poetry.lock"]);
const NODE_LOCKS = new Set(["package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml"]);

/** The files a package is made from (and hashed), per language: no tests, no dependency locks the layer owns. */
export function packageFiles(dir: string, language: Language, deps: Dependencies): SourceFile[] {
  const skip = (rel: string, isDir: boolean): boolean => {
    if (isDir) return isTestPath(`${rel}/x`);
    if (isTestPath(rel)) return true;
    const top = !rel.includes("/");
    if (language === "python") return top && PYTHON_DEPENDENCY_FILES.has(rel) && (deps === "layer" || rel !== "requirements.txt");
    if (language === "nodejs") return top && NODE_LOCKS.has(rel) && deps === "layer";
    return false;
  };
  return listSourceFiles(dir, skip);
}

/** Whether a Node.js package.json declares production dependencies. */
function nodeDependencies(dir: string): string[] {
  const file = path.join(dir, "package.json");
  if (!fs.existsSync(file)) return [];
  const pkg = JSON.parse(fs.readFileSync(file, "utf8")) as { dependencies?: Record<string, string> };
  return Object.keys(pkg.dependencies ?? {});
}

/** Whether a pom.xml declares dependencies Lambda needs at run time (not test or provided scope). */
function mavenRuntimeDependencies(dir: string): boolean {
  const pom = fs.readFileSync(path.join(dir, "pom.xml"), "utf8").replace(/<!--[\s\S]*?-->/g, "");
  const deps = /<dependencies>([\s\S]*?)<\/dependencies>/.exec(pom.replace(/<dependencyManagement>[\s\S]*?<\/dependencyManagement>/g, ""))?.[1] ?? "";
  return [...deps.matchAll(/<dependency>([\s\S]*?)<\/dependency>/g)].some((m) => !/<scope>\s*(test|provided|system)\s*<\/scope>/.test(m[1]));
}

function hasPythonRequirements(dir: string): boolean {
  const file = path.join(dir, "requirements.txt");
  return fs.existsSync(file) && pinnedRequirements(fs.readFileSync(file, "utf8"), file).size > 0;
}

/** What a function folder will be for `arch`, read from its sources (no build). Errors name the folder and the field. */
export function planFunction(src: FunctionSource, arch: LambdaArchitecture): FunctionPlan {
  const detected = detectFunction(src.dir, { runtime: src.runtime, handler: src.handler });
  const deps = src.dependencies ?? "layer";
  const { language } = detected;
  if (language === "rust") throw new DetectError(`${src.dir} is a cargo workspace: name the function's bin (bin: "<name>"), which the Rust builder builds`, "bin");
  if (language === "java" && !fs.existsSync(path.join(src.dir, "pom.xml"))) {
    throw new DetectError(`${src.dir} is a Gradle project; this builder builds Maven projects (pom.xml). Add a pom.xml, or build the function elsewhere and reference it with deployment mode "existing"`, "source");
  }
  let bundled = false;
  let deployedHandler = detected.handler;
  let dependencyLayer: FunctionPlan["dependencyLayer"];
  const header = ["lambdaship-function-v1", language, detected.runtime, detected.handler, arch, deps];
  const runtimeApiProxy = language === "go" && (src.runtimeApiProxy ?? false);
  if (runtimeApiProxy) header.push(GO_PROXY_BOOTSTRAP);
  if (language === "nodejs") {
    const file = detected.handlerFile!;
    const pkg = fs.existsSync(path.join(src.dir, "package.json")) ? (JSON.parse(fs.readFileSync(path.join(src.dir, "package.json"), "utf8")) as { type?: string }) : {};
    bundled = /\.[cm]?ts$/.test(file) || file.endsWith(".mjs") || (pkg.type === "module" && file.endsWith(".js"));
    if (bundled) {
      header.push(`esbuild-${esbuildVersion()}`);
      deployedHandler = `${path.posix.basename(file).replace(/\.[cm]?[jt]s$/, "")}.${detected.handler.slice(detected.handler.lastIndexOf(".") + 1)}`;
    }
    const declared = nodeDependencies(src.dir);
    if (declared.length > 0) {
      if (![...NODE_LOCKS].some((l) => fs.existsSync(path.join(src.dir, l)))) {
        throw new DetectError(`${src.dir}/package.json declares dependencies (${declared.join(", ")}) and the folder has no lock file; run npm install there and commit package-lock.json, so every build installs the same versions`, "source");
      }
      if (!["package-lock.json", "npm-shrinkwrap.json", "pnpm-lock.yaml"].some((l) => fs.existsSync(path.join(src.dir, l)))) {
        throw new DetectError(`${src.dir} has a yarn.lock only: the builders install Node.js dependencies with npm ci or pnpm; run npm install --package-lock-only (or pnpm import) there and commit the lock file`, "source");
      }
      if (deps === "layer") dependencyLayer = { runtime: detected.runtime };
    }
  }
  if (language === "python" && hasPythonRequirements(src.dir) && deps === "layer") dependencyLayer = { runtime: detected.runtime };
  if (language === "java" && mavenRuntimeDependencies(src.dir) && deps === "layer") dependencyLayer = { runtime: detected.runtime };
  const files = packageFiles(src.dir, language, deps);
  const inputHash = hashInputs(header, files);
  return {
    ...detected,
    deployedHandler,
    architecture: arch,
    dependencies: deps,
    inputHash,
    zipName: `${src.name}-${arch}-${inputHash.slice(0, 16)}.zip`,
    bundled,
    runtimeApiProxy,
    dependencyLayer,
  };
}

/** Where built function packages go: `<projectRoot>/.build/functions/<name>/<zip>`. */
export function functionZipPath(projectRoot: string, plan: FunctionPlan, name: string): string {
  return path.join(projectRoot, ".build", "functions", name, plan.zipName);
}

/** The machine's store of finished function packages, shared by every clone. */
export function defaultFunctionStore(): string {
  return path.join(artifactStoreRoot(), "function-artifacts");
}

export type FunctionStatus = ArtifactStatus;

export interface BuiltFunctionArtifact {
  readonly name: string;
  readonly architecture: LambdaArchitecture;
  readonly zipPath: string;
  readonly zipBytes: number;
  readonly unzippedBytes: number;
  /** base64 SHA-256 of the zip. */
  readonly zipSha256: string;
  readonly inputHash: string;
  readonly status: FunctionStatus;
  readonly seconds: number;
}

export interface FunctionBuildOptions {
  readonly projectRoot: string;
  /** A Python with pip, for bundled Python dependencies. @default <projectRoot>/.venv/bin/python */
  readonly python?: string;
  /** The machine's store (undefined: not used). @default defaultFunctionStore() */
  readonly store?: string;
  readonly log?: (line: string) => void;
}

function goarch(arch: LambdaArchitecture): string {
  return arch === "arm64" ? "arm64" : "amd64";
}

/** The Go toolchain's version (`go1.26.8`), which keys Go packages in the store. */
export function goVersion(): string {
  const r = spawnSync("go", ["env", "GOVERSION"], { encoding: "utf8" });
  if (r.error || r.status !== 0) throw new FunctionBuildError("go is not on PATH: install Go >= 1.22 (https://go.dev/dl, or apt-get install golang) to build Go functions");
  return r.stdout.trim();
}

/**
 * A proxied Go package's `bootstrap`. The layer gives OS-only runtimes LAMBDASHIP_RUNTIME_API_PROXY
 * (the extension's address); aws-lambda-go reads only AWS_LAMBDA_RUNTIME_API, so this points that at
 * the proxy, and runs the binary as it is when the variable is absent (the layer removed).
 */
export const GO_PROXY_BOOTSTRAP = `#!/bin/sh
# Written by lambdaship's Go builder: Lambda runs no AWS_LAMBDA_EXEC_WRAPPER for OS-only runtimes,
# so this routes the Runtime API through the function's proxy extension and runs bootstrap.bin.
if [ -n "$LAMBDASHIP_RUNTIME_API_PROXY" ]; then
  export AWS_LAMBDA_RUNTIME_API="$LAMBDASHIP_RUNTIME_API_PROXY"
fi
exec "\${LAMBDA_TASK_ROOT:-\$(dirname "$0")}/bootstrap.bin" "$@"
`;

function goEntries(src: FunctionSource, plan: FunctionPlan, work: string, log?: (l: string) => void): ZipEntry[] {
  const out = path.join(work, "bootstrap");
  const args = ["build", "-trimpath", "-buildvcs=false", "-tags", "lambda.norpc", "-ldflags", "-s -w -buildid=", "-o", out, "."];
  log?.(`${src.name}: go ${args.join(" ")} (GOOS=linux GOARCH=${goarch(plan.architecture)} CGO_ENABLED=0)`);
  const r = spawnSync("go", args, {
    cwd: src.dir,
    encoding: "utf8",
    env: { ...process.env, CGO_ENABLED: "0", GOOS: "linux", GOARCH: goarch(plan.architecture), GOFLAGS: "-mod=readonly", GOTOOLCHAIN: "local" },
  });
  if (r.error) throw new FunctionBuildError(`${src.name}: go is not on PATH (${r.error.message}); install Go to build Go functions`);
  if (r.status !== 0) throw new FunctionBuildError(`${src.name}: go build failed in ${src.dir} (exit ${r.status}); no package was written and no function is updated:\n${(r.stderr || r.stdout).trim()}`);
  const data = fs.readFileSync(out);
  const elf = readElfHeader(data, out);
  if (elf.architecture !== plan.architecture) throw new FunctionBuildError(`${src.name}: ${out} is ${elf.architecture ?? "of another machine"}, not ${plan.architecture}; no package was written`);
  if (!plan.runtimeApiProxy) return [{ name: "bootstrap", data, executable: true }];
  return [
    { name: "bootstrap", data: Buffer.from(GO_PROXY_BOOTSTRAP), executable: true },
    { name: "bootstrap.bin", data, executable: true },
  ];
}

function pythonEntries(src: FunctionSource, plan: FunctionPlan, work: string, opts: FunctionBuildOptions): ZipEntry[] {
  const entries: ZipEntry[] = packageFiles(src.dir, "python", plan.dependencies)
    .filter((f) => f.rel !== "requirements.txt")
    .map((f) => ({ name: f.rel, data: fs.readFileSync(f.abs) }));
  if (plan.dependencies === "bundle" && hasPythonRequirements(src.dir)) {
    const target = path.join(work, "deps");
    const python = opts.python ?? path.join(opts.projectRoot, ".venv", "bin", "python");
    pipInstall(`function ${src.name}`, path.join(src.dir, "requirements.txt"), target, plan.architecture, plan.runtime.slice("python".length), python, "package");
    const own = new Set(entries.map((e) => e.name));
    for (const e of collectFiles(target, { exclude: isPipNoise, executable: (rel) => rel.endsWith(".so") || /\.so\./.test(rel) })) {
      if (own.has(e.name)) throw new FunctionBuildError(`function ${src.name}: ${e.name} is both a source file and installed by pip; rename the source file. Nothing was written.`);
      entries.push(e);
    }
  }
  return entries;
}

/**
 * A Maven project compiled in a copy of its folder (`mvn compile`, the JDK of this machine), laid out
 * as Lambda's Java runtime loads it: classes and resources at the zip's root, and, when bundled, the
 * runtime dependencies as `lib/*.jar` (else the dependency layer's `java/lib/`).
 */
function javaEntries(src: FunctionSource, plan: FunctionPlan, work: string, log?: (l: string) => void): ZipEntry[] {
  const copy = path.join(work, "src");
  for (const f of packageFiles(src.dir, "java", plan.dependencies)) {
    fs.mkdirSync(path.dirname(path.join(copy, f.rel)), { recursive: true });
    fs.copyFileSync(f.abs, path.join(copy, f.rel));
  }
  const args = ["-B", "-q", "-DskipTests", "compile"];
  log?.(`${src.name}: mvn ${args.join(" ")} in a copy of ${src.dir}`);
  const r = spawnSync("mvn", args, { cwd: copy, encoding: "utf8" });
  if (r.error) throw new FunctionBuildError(`${src.name}: mvn is not on PATH (${r.error.message}); install Maven >= 3.8 and a JDK (apt-get install maven) to build Java functions`);
  if (r.status !== 0) {
    throw new FunctionBuildError(`${src.name}: mvn compile failed for ${src.dir} (exit ${r.status}); no package was written and no function is updated:\n${(r.stdout + r.stderr).trim().split("\n").slice(-30).join("\n")}`);
  }
  const classes = path.join(copy, "target", "classes");
  if (!fs.existsSync(classes)) throw new FunctionBuildError(`${src.name}: mvn compile wrote no target/classes in a copy of ${src.dir}; no package was written`);
  const entries = collectFiles(classes);
  const cls = plan.handler.split("::")[0].split(".").join("/") + ".class";
  if (!entries.some((e) => e.name === cls)) throw new FunctionBuildError(`${src.name}: the handler ${plan.handler} compiled to no ${cls}; no package was written`);
  if (plan.dependencies === "bundle" && mavenRuntimeDependencies(src.dir)) {
    const lib = path.join(work, "lib");
    try {
      mavenDependenciesInto(`function ${src.name}`, src.dir, lib);
    } catch (e) {
      throw new FunctionBuildError((e as Error).message);
    }
    for (const e of collectFiles(lib)) entries.push({ ...e, name: `lib/${e.name}` });
  }
  return entries;
}

export function nodeTarget(runtime: string): string {
  return `node${/^nodejs(\d+)/.exec(runtime)?.[1] ?? "22"}`;
}

function nodeEntries(src: FunctionSource, plan: FunctionPlan, work: string): ZipEntry[] {
  const declared = nodeDependencies(src.dir);
  const bundleDeps = plan.dependencies === "bundle" && declared.length > 0;
  // A copy with the production dependencies installed, when they go into the package.
  let root = src.dir;
  if (bundleDeps) {
    root = path.join(work, "src");
    for (const f of packageFiles(src.dir, "nodejs", plan.dependencies)) {
      fs.mkdirSync(path.dirname(path.join(root, f.rel)), { recursive: true });
      fs.copyFileSync(f.abs, path.join(root, f.rel));
    }
    npmCiInto(`function ${src.name}`, src.dir, root, plan.architecture);
  }
  if (!plan.bundled) {
    return collectFiles(root, {
      exclude: (rel) => isTestPath(rel) || rel.split("/").some((p) => p.startsWith(".")) || (!rel.startsWith("node_modules/") && NODE_LOCKS.has(rel)) || isNpmNoise(rel) || (!bundleDeps && rel.startsWith("node_modules/")),
      executable: (rel) => rel.endsWith(".node"),
    });
  }
  const esbuild = require("esbuild") as typeof import("esbuild");
  const outBase = plan.deployedHandler.slice(0, plan.deployedHandler.lastIndexOf("."));
  const result = esbuild.buildSync({
    absWorkingDir: root,
    entryPoints: [plan.handlerFile!],
    bundle: true,
    platform: "node",
    format: "cjs",
    target: nodeTarget(plan.runtime),
    // Left to the dependency layer (NODE_PATH has /opt/nodejs/node_modules), or bundled in.
    packages: bundleDeps ? "bundle" : "external",
    outfile: path.join(work, "out", `${outBase}.js`),
    write: false,
    sourcemap: false,
    legalComments: "none",
    logLevel: "silent",
    charset: "utf8",
  });
  if (result.errors.length) throw new FunctionBuildError(`${src.name}: esbuild failed: ${result.errors.map((e) => e.text).join("; ")}`);
  return result.outputFiles.map((f) => ({ name: path.basename(f.path), data: Buffer.from(f.contents) }));
}

/** The machine store's copy of a function's zip. A Go binary counts only with the compiler that built it; the other packages are the same bytes from any machine. */
export function functionStoreZip(store: string, plan: FunctionPlan): string {
  return path.join(store, plan.language === "go" ? `${plan.zipName.slice(0, -4)}-${goVersion()}.zip` : plan.zipName);
}

/**
 * Builds one function for one architecture into `<projectRoot>/.build/functions/<name>/<zipName>`
 * (plus a `.unzipped` size file), unless that zip exists (skipped) or the store has it (cached).
 * A failed build writes nothing.
 */
export function buildFunction(src: FunctionSource, arch: LambdaArchitecture, opts: FunctionBuildOptions, plan: FunctionPlan = planFunction(src, arch)): BuiltFunctionArtifact {
  const started = Date.now();
  const store = "store" in opts ? opts.store : defaultFunctionStore();
  const zipPath = functionZipPath(opts.projectRoot, plan, src.name);
  const made = materializeZip({
    zipPath,
    // A Go binary counts only with the compiler that built it; the other packages are the same bytes from any machine.
    storeZip: () => store && functionStoreZip(store, plan),
    onCached: (storeZip) => opts.log?.(`${src.name} (${arch}): inputs unchanged since a build on this machine; copied from ${storeZip}`),
    produce: (work) => {
      try {
        if (plan.language === "go") return goEntries(src, plan, work, opts.log);
        if (plan.language === "python") return pythonEntries(src, plan, work, opts);
        if (plan.language === "java") return javaEntries(src, plan, work, opts.log);
        return nodeEntries(src, plan, work);
      } catch (e) {
        if (e instanceof LayerError) throw new FunctionBuildError(e.message);
        throw e;
      }
    },
    checkSize: (unzipped) => {
      if (unzipped > UNZIPPED_MAX_BYTES) throw new FunctionBuildError(`function ${src.name} (${arch}) is ${formatMiB(unzipped)} unzipped, over Lambda's 250 MB limit; move dependencies to a layer. Nothing was written.`);
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

/** Zipped and unzipped sizes of a function already built here, else undefined. */
