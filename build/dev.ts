import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as vm from "vm";
import type { LambdaArchitecture } from "./elf";
import { binsFromMetadata, cargoMetadata, functionInputs } from "./rust";
import { cargoDevBuild, chooseBin } from "./rust-dev";
import { isTestPath } from "./detect";
import { FunctionPlan, nodeTarget, packageFiles, planFunction } from "./function";

/**
 * Dev builds (`npm run dev`, issue 17): each function built for the edit-and-invoke loop on this
 * machine, fast and incremental, and kept apart from the release artifacts (under
 * `.build/dev/<key>/`, never uploaded, never stored under a release input hash):
 * - Python and plain JavaScript: no build. The source files are checked (compiled in memory), then
 *   copied into a fresh folder the emulator runs, so a file with a syntax error never replaces the
 *   version that serves.
 * - TypeScript and ES modules: esbuild's incremental rebuild (one context kept open).
 * - Go: `go build` natively, with Go's build cache.
 * - Rust: the bin natively with cargo's dev profile (incremental, no LTO), in the shared target folder.
 * - Java: `javac` of the changed sources only, into a classes folder kept between builds, against
 *   the deployed package's class path (its dependency layer's jars).
 * Dependencies come from what is deployed: the function's layers, and its package for bundled ones.
 */

/** What a dev build gives the emulator: the folder it runs as the function's code. */
export interface DevPackage {
  readonly codeDir: string;
  /** What was done, for the rebuild line: `checked and copied 3 files`, `go build`, ... */
  readonly how: string;
}

export interface DevBuilder {
  readonly key: string;
  /** `python`, `nodejs`, `typescript`, `go`, `rust`, `java`. */
  readonly kind: string;
  /** How the dev build differs from what is deployed (said once at start), or nothing. */
  readonly differs?: string;
  /** The folder the inputs are under. */
  readonly root: string;
  /** The input files now (what its input hash covers), relative to root. */
  inputs(): string[];
  /** Whether a path (relative to root) can be an input (a new file, say). */
  isInput(rel: string): boolean;
  /** Builds; rejects with the compiler's message (nothing that serves is replaced). */
  build(changed: readonly string[]): Promise<DevPackage>;
  dispose(): Promise<void>;
}

/** A function to build: what its env entry says, and what is deployed. */
export interface DevSource {
  readonly key: string;
  /** Absolute: the function's folder, or the cargo workspace. */
  readonly dir: string;
  readonly runtime?: string;
  readonly handler?: string;
  readonly bin?: string;
  readonly dependencies?: "layer" | "bundle";
  /** Its deployed architecture. */
  readonly architecture: LambdaArchitecture;
  /** The deployed package's class path (Java), as the emulator runs it. */
  readonly classpath?: string;
  /** The deployed package, unpacked (for bundled dependencies). */
  readonly releaseCodeDir?: string;
}

export interface DevBuildOptions {
  readonly projectRoot: string;
  readonly log: (line: string) => void;
  /** The Python that checks Python sources. @default <projectRoot>/.venv/bin/python, else python3 */
  readonly python?: string;
}

const HOST: LambdaArchitecture = process.arch === "arm64" ? "arm64" : "x86_64";

/** Runs a command; resolves with its output, rejects with the end of it. Says every 10 s that it still runs. */
function run(command: string, args: readonly string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; log: (l: string) => void; what: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const started = Date.now();
    const progress = setInterval(() => opts.log(`  ${opts.what}: ${((Date.now() - started) / 1000).toFixed(0)} s`), 10_000);
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.on("error", (e) => {
      clearInterval(progress);
      reject(new Error(`${command} could not run (${e.message})`));
    });
    child.on("close", (code) => {
      clearInterval(progress);
      if (code === 0) resolve(out);
      else reject(new Error(out.trim().split("\n").slice(-30).join("\n") || `${opts.what} exited ${code}`));
    });
  });
}

/** Fresh numbered folders under `base`: the newest two are kept (the one serving and the one before). */
class Generations {
  private n = 0;
  constructor(private readonly base: string) {
    fs.rmSync(base, { recursive: true, force: true });
    fs.mkdirSync(base, { recursive: true });
  }
  next(): string {
    const dir = path.join(this.base, `g${++this.n}`);
    fs.mkdirSync(dir, { recursive: true });
    return dir;
  }
  /** Drops a folder that was not used (a failed build). */
  drop(dir: string): void {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  /** Removes every folder older than the one before the newest. */
  prune(): void {
    for (const name of fs.readdirSync(this.base)) {
      const n = Number(name.slice(1));
      if (name.startsWith("g") && n < this.n - 1) fs.rmSync(path.join(this.base, name), { recursive: true, force: true });
    }
  }
}

const skipped = (rel: string) => rel.split("/").some((p) => p.startsWith(".") || ["node_modules", "__pycache__", "target", ".build"].includes(p));

/** The dev builder of a function: by its language, detected as the release builder detects it. */
export function devBuilder(src: DevSource, opts: DevBuildOptions): DevBuilder {
  const devRoot = path.join(opts.projectRoot, ".build", "dev", src.key);
  if (src.bin !== undefined || fs.existsSync(path.join(src.dir, "Cargo.toml"))) return new RustDev(src, devRoot, opts);
  const plan = planFunction({ name: src.key, dir: src.dir, runtime: src.runtime, handler: src.handler, dependencies: src.dependencies }, HOST);
  switch (plan.language) {
    case "python":
      return new CopyDev(src, plan, devRoot, opts, "python");
    case "nodejs":
      return plan.bundled ? new EsbuildDev(src, plan, devRoot) : new CopyDev(src, plan, devRoot, opts, "nodejs");
    case "go":
      return new GoDev(src, plan, devRoot, opts);
    case "java":
      return new JavaDev(src, plan, devRoot, opts);
    default:
      throw new Error(`${src.key}: no dev build for ${plan.language}`);
  }
}

/** Python and plain JavaScript: checked, then copied as they are. */
class CopyDev implements DevBuilder {
  readonly root: string;
  readonly kind: string;
  readonly differs?: string;
  private readonly gens: Generations;

  constructor(
    private readonly src: DevSource,
    private readonly plan: FunctionPlan,
    devRoot: string,
    private readonly opts: DevBuildOptions,
    private readonly language: "python" | "nodejs",
  ) {
    this.key = src.key;
    this.root = src.dir;
    this.kind = language === "python" ? "python" : "javascript";
    this.gens = new Generations(devRoot);
    if (language === "python") this.differs = `runs its source files with this machine's Python (the deployed package is the same files, on ${plan.runtime})`;
  }
  readonly key: string;

  private files() {
    return packageFiles(this.src.dir, this.language, this.plan.dependencies).filter((f) => !(this.language === "python" && f.rel === "requirements.txt"));
  }

  inputs(): string[] {
    return this.files().map((f) => f.rel);
  }

  isInput(rel: string): boolean {
    return !skipped(rel) && !isTestPath(rel);
  }

  async build(): Promise<DevPackage> {
    const files = this.files();
    const code = files.filter((f) => (this.language === "python" ? f.rel.endsWith(".py") : /\.c?js$/.test(f.rel)));
    if (this.language === "python") await this.checkPython(code.map((f) => f.abs));
    else for (const f of code) checkCommonJs(f.abs);
    const dir = this.gens.next();
    for (const f of files) {
      fs.mkdirSync(path.dirname(path.join(dir, f.rel)), { recursive: true });
      fs.copyFileSync(f.abs, path.join(dir, f.rel));
    }
    // The folder's own installed dependencies, when it has them (else the layer's serve).
    const modules = path.join(this.src.dir, "node_modules");
    if (this.language === "nodejs" && fs.existsSync(modules)) fs.symlinkSync(modules, path.join(dir, "node_modules"));
    this.gens.prune();
    return { codeDir: dir, how: `checked and copied ${files.length} file${files.length === 1 ? "" : "s"}` };
  }

  private async checkPython(files: string[]): Promise<void> {
    if (!files.length) return;
    const venv = path.join(this.opts.projectRoot, ".venv", "bin", "python");
    const python = this.opts.python ?? (fs.existsSync(venv) ? venv : "python3");
    // Compiled in memory: nothing is written into the source folder (no __pycache__).
    const script = "import sys\nfor f in sys.argv[1:]:\n    compile(open(f, 'rb').read(), f, 'exec')";
    try {
      await run(python, ["-c", script, ...files], { cwd: this.src.dir, log: this.opts.log, what: "python check" });
    } catch (e) {
      const lines = (e as Error).message.split("\n").filter((l) => !/^Traceback|^\s+File "<string>"/.test(l));
      throw new Error(lines.join("\n"));
    }
  }

  async dispose(): Promise<void> {}
}

/** Compiles a CommonJS file as Node.js wraps it, without running it; throws its syntax error with file and line. */
function checkCommonJs(file: string): void {
  const source = fs.readFileSync(file, "utf8").replace(/^#!.*/, "");
  try {
    new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, { filename: file });
  } catch (e) {
    const err = e as Error;
    const where = /\n/.test(err.stack ?? "") ? (err.stack ?? "").split("\n")[0] : file;
    throw new Error(`${where}\n${err.name}: ${err.message}`);
  }
}

/** TypeScript and ES modules: esbuild's incremental rebuild into one CommonJS file. */
class EsbuildDev implements DevBuilder {
  readonly key: string;
  readonly root: string;
  readonly kind = "typescript";
  private ctx?: import("esbuild").BuildContext;
  private readonly out: string;

  constructor(
    private readonly src: DevSource,
    private readonly plan: FunctionPlan,
    devRoot: string,
  ) {
    this.key = src.key;
    this.root = src.dir;
    this.out = devRoot;
    fs.rmSync(devRoot, { recursive: true, force: true });
    fs.mkdirSync(devRoot, { recursive: true });
  }

  inputs(): string[] {
    return packageFiles(this.src.dir, "nodejs", this.plan.dependencies).map((f) => f.rel);
  }

  isInput(rel: string): boolean {
    return !skipped(rel) && !isTestPath(rel);
  }

  async build(): Promise<DevPackage> {
    const esbuild = require("esbuild") as typeof import("esbuild");
    const outBase = this.plan.deployedHandler.slice(0, this.plan.deployedHandler.lastIndexOf("."));
    this.ctx ??= await esbuild.context({
      absWorkingDir: this.src.dir,
      entryPoints: [this.plan.handlerFile!],
      bundle: true,
      platform: "node",
      format: "cjs",
      target: nodeTarget(this.plan.runtime),
      // The folder's own installed dependencies when it has them, else the dependency layer's at run time.
      packages: fs.existsSync(path.join(this.src.dir, "node_modules")) ? "bundle" : "external",
      outfile: path.join(this.out, `${outBase}.js`),
      sourcemap: "inline",
      logLevel: "silent",
      charset: "utf8",
    });
    try {
      await this.ctx.rebuild();
    } catch (e) {
      const errors = (e as { errors?: Array<{ text: string; location?: { file: string; line: number; column: number; lineText: string } }> }).errors;
      throw new Error(errors?.length ? errors.map((x) => (x.location ? `${x.location.file}:${x.location.line}:${x.location.column}: ${x.text}\n  ${x.location.lineText}` : x.text)).join("\n") : (e as Error).message);
    }
    return { codeDir: this.out, how: "esbuild incremental rebuild" };
  }

  async dispose(): Promise<void> {
    await this.ctx?.dispose();
  }
}

/** Go: `go build` for this machine, with Go's build cache. */
class GoDev implements DevBuilder {
  readonly key: string;
  readonly root: string;
  readonly kind = "go";
  readonly differs?: string;
  private readonly gens: Generations;

  constructor(
    private readonly src: DevSource,
    private readonly plan: FunctionPlan,
    devRoot: string,
    private readonly opts: DevBuildOptions,
  ) {
    this.key = src.key;
    this.root = src.dir;
    this.gens = new Generations(devRoot);
    if (src.architecture !== HOST) this.differs = `built for ${HOST}, natively (deployed: ${src.architecture}, stripped)`;
  }

  inputs(): string[] {
    return packageFiles(this.src.dir, "go", this.plan.dependencies).map((f) => f.rel).filter((r) => this.isInput(r));
  }

  isInput(rel: string): boolean {
    return !skipped(rel) && (rel.endsWith(".go") && !rel.endsWith("_test.go") || rel === "go.mod" || rel === "go.sum");
  }

  async build(): Promise<DevPackage> {
    const dir = this.gens.next();
    try {
      await run("go", ["build", "-tags", "lambda.norpc", "-o", path.join(dir, "bootstrap"), "."], {
        cwd: this.src.dir,
        env: { ...process.env, CGO_ENABLED: "0", GOOS: "linux", GOARCH: HOST === "arm64" ? "arm64" : "amd64", GOFLAGS: "-mod=readonly", GOTOOLCHAIN: "local" },
        log: this.opts.log,
        what: "go build",
      });
    } catch (e) {
      this.gens.drop(dir);
      throw e;
    }
    this.gens.prune();
    return { codeDir: dir, how: "go build" };
  }

  async dispose(): Promise<void> {}
}

/** Rust: the bin natively, cargo's dev profile. */
class RustDev implements DevBuilder {
  readonly key: string;
  readonly root: string;
  readonly kind = "rust";
  readonly differs: string;
  private readonly bin: string;
  private readonly gens: Generations;

  constructor(
    private readonly src: DevSource,
    devRoot: string,
    private readonly opts: DevBuildOptions,
  ) {
    this.key = src.key;
    this.root = src.dir;
    this.bin = chooseBin(src.dir, src.bin, "bin");
    this.gens = new Generations(devRoot);
    this.differs = `bin ${this.bin} built for ${HOST} with cargo's dev profile: no optimisation, no LTO (deployed: ${src.architecture}, the release profile)`;
  }

  inputs(): string[] {
    const meta = cargoMetadata(this.src.dir);
    const bins = binsFromMetadata(meta);
    const fn = bins.find((b) => b.name === this.bin)!;
    return functionInputs(meta, fn, bins);
  }

  isInput(rel: string): boolean {
    return !skipped(rel) && (rel.endsWith(".rs") || /(^|\/)Cargo\.(toml|lock)$/.test(rel) || rel.startsWith(".cargo/"));
  }

  async build(): Promise<DevPackage> {
    const dir = this.gens.next();
    try {
      // The binary itself is the bootstrap, pinned: no later build (of another checkout too) changes it.
      await cargoDevBuild(this.src.dir, this.bin, this.opts.log, "npm run dev again", path.join(dir, "bootstrap"));
    } catch (e) {
      this.gens.drop(dir);
      throw e;
    }
    this.gens.prune();
    return { codeDir: dir, how: `cargo build --bin ${this.bin} (dev profile)` };
  }

  async dispose(): Promise<void> {}
}

/** Java: javac of the changed sources into a classes folder kept between builds. */
class JavaDev implements DevBuilder {
  readonly key: string;
  readonly root: string;
  readonly kind = "java";
  private readonly gens: Generations;
  /** The classes folder being served; javac writes changed classes into it. */
  private classes?: string;

  constructor(
    private readonly src: DevSource,
    private readonly plan: FunctionPlan,
    devRoot: string,
    private readonly opts: DevBuildOptions,
  ) {
    this.key = src.key;
    this.root = src.dir;
    this.gens = new Generations(devRoot);
  }

  readonly differs = "javac of the changed sources only, against the deployed package's class path (the deployed package is mvn compile's)";

  inputs(): string[] {
    return packageFiles(this.src.dir, "java", this.plan.dependencies).map((f) => f.rel).filter((r) => this.isInput(r));
  }

  isInput(rel: string): boolean {
    return !skipped(rel) && (rel.startsWith("src/main/") || rel === "pom.xml");
  }

  async build(changed: readonly string[]): Promise<DevPackage> {
    const all = packageFiles(this.src.dir, "java", this.plan.dependencies);
    const sources = all.filter((f) => f.rel.startsWith("src/main/java/") && f.rel.endsWith(".java"));
    // The first build, a pom.xml change and a removed file (whose classes or resource would stay
    // behind) compile everything into a fresh folder; otherwise javac compiles what changed in place.
    const removed = changed.filter((rel) => !fs.existsSync(path.join(this.src.dir, rel)));
    const whole = !this.classes || changed.includes("pom.xml") || removed.length > 0;
    const dir = whole ? this.gens.next() : this.classes!;
    const todo = whole ? sources : sources.filter((f) => changed.includes(f.rel));
    try {
      if (todo.length) {
        const cp = [dir, ...(this.src.classpath ? [this.src.classpath] : [])].join(":");
        await run("javac", ["-d", dir, "-cp", cp, "-encoding", "UTF-8", "-nowarn", "-proc:none", ...todo.map((f) => f.abs)], { cwd: this.src.dir, log: this.opts.log, what: "javac" });
      }
    } catch (e) {
      if (whole) this.gens.drop(dir);
      throw e;
    }
    for (const f of all.filter((x) => x.rel.startsWith("src/main/resources/"))) {
      const to = path.join(dir, f.rel.slice("src/main/resources/".length));
      fs.mkdirSync(path.dirname(to), { recursive: true });
      fs.copyFileSync(f.abs, to);
    }
    // Bundled dependencies: the deployed package's lib/.
    const lib = this.src.releaseCodeDir && path.join(this.src.releaseCodeDir, "lib");
    if (lib && fs.existsSync(lib) && !fs.existsSync(path.join(dir, "lib"))) fs.symlinkSync(lib, path.join(dir, "lib"));
    this.classes = dir;
    if (whole) this.gens.prune();
    const files = `${todo.length} file${todo.length === 1 ? "" : "s"}`;
    return { codeDir: dir, how: removed.length ? `javac ${files} into a fresh folder (${removed.join(", ")} removed)` : todo.length ? `javac ${files}` : "resources copied" };
  }

  async dispose(): Promise<void> {}
}
