import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LambdaArchitecture } from "./elf";
import { base64Sha256, collectFiles, createZip, writeFileAtomic } from "./zip";

/**
 * Dependency layers (seeds 001 and 004): the runtime is read from the dependency files present, the
 * production dependencies are installed for the layer's architecture and runtime, laid out where
 * Lambda looks (`python/` for Python), and zipped deterministically under a name that carries the
 * layer's input hash. Pure parts take their inputs as arguments and are tested without pip.
 */

export type LayerRuntime = "python" | "nodejs";

/** Dependency files that name a layer's runtime, in the order they are reported. */
export const RUNTIME_MARKERS: ReadonlyArray<{ file: string; runtime: LayerRuntime; needs?: readonly string[] }> = [
  { file: "requirements.txt", runtime: "python" },
  { file: "Pipfile.lock", runtime: "python" },
  { file: "poetry.lock", runtime: "python" },
  { file: "package.json", runtime: "nodejs", needs: ["package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml"] },
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
    throw new LayerError(`layer folder ${dir} has no dependency file: add requirements.txt, Pipfile.lock or poetry.lock (Python), or package.json with its lock file (Node.js)`);
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

/** pip's platform tag for a Lambda architecture (Amazon Linux 2023's glibc is 2.34; manylinux2014 wheels run there). */
export function pythonPlatform(arch: LambdaArchitecture): string {
  return arch === "arm64" ? "manylinux2014_aarch64" : "manylinux2014_x86_64";
}

/** The package pip could not find a wheel for, from its error output. */
export function missingWheel(pipStderr: string): string | undefined {
  return /No matching distribution found for ([^\s]+)/.exec(pipStderr)?.[1] ?? /Could not find a version that satisfies the requirement ([^\s]+)/.exec(pipStderr)?.[1];
}

/** A layer's input hash: its dependency file's bytes, the runtime version and the architecture. */
export function layerInputHash(dir: string, manifest: string, runtimeVersion: string, arch: LambdaArchitecture): string {
  return crypto
    .createHash("sha256")
    .update(`lambdaship-layer-v1\0${runtimeVersion}\0${arch}\0${manifest}\0`)
    .update(fs.readFileSync(path.join(dir, manifest)))
    .digest("hex");
}

export interface BuiltLayer {
  readonly zipPath: string;
  readonly zipBytes: number;
  readonly unzippedBytes: number;
  readonly sourceCodeHash: string;
  readonly inputHash: string;
  readonly skipped: boolean;
  /** `python3.12` */
  readonly compatibleRuntime: string;
  readonly architecture: LambdaArchitecture;
}

/** Files pip leaves that differ between installs (caches, record files with absolute paths, installer). */
function isNoise(rel: string): boolean {
  return rel.split("/").includes("__pycache__") || rel.endsWith(".pyc") || /\.dist-info\/(RECORD|INSTALLER|REQUESTED|direct_url\.json)$/.test(rel) || rel.startsWith("bin/");
}

/**
 * Builds a Python dependency layer: `pip install --target python/ --platform <manylinux tag>
 * --only-binary=:all:` for the runtime's Python version, then a deterministic zip
 * (`<outDir>/<name>-<hash16>.zip`). Skipped when that zip exists. A package without a wheel for the
 * target is an error naming it; nothing is written then.
 */
export function buildPythonLayer(opts: {
  readonly name: string;
  readonly dir: string;
  readonly arch: LambdaArchitecture;
  /** e.g. "3.12" */
  readonly pythonVersion: string;
  readonly outDir: string;
  /** The pip to run (a Python with pip). @default "python3" */
  readonly python?: string;
}): BuiltLayer {
  const { manifest } = detectLayerRuntime(opts.dir);
  if (manifest !== "requirements.txt") {
    throw new LayerError(`layer folder ${opts.dir}: ${manifest} is recognised as Python, but this builder installs from requirements.txt; export one (pipenv requirements > requirements.txt, or poetry export -f requirements.txt)`);
  }
  const hash = layerInputHash(opts.dir, manifest, `python${opts.pythonVersion}`, opts.arch);
  const zipPath = path.join(opts.outDir, `${opts.name}-${hash.slice(0, 16)}.zip`);
  const done = (zip: Buffer, unzipped: number, skipped: boolean): BuiltLayer => ({
    zipPath,
    zipBytes: zip.length,
    unzippedBytes: unzipped,
    sourceCodeHash: base64Sha256(zip),
    inputHash: hash,
    skipped,
    compatibleRuntime: `python${opts.pythonVersion}`,
    architecture: opts.arch,
  });
  const sizeFile = `${zipPath}.unzipped`;
  if (fs.existsSync(zipPath) && fs.existsSync(sizeFile)) return done(fs.readFileSync(zipPath), Number(fs.readFileSync(sizeFile, "utf8")), true);

  const work = fs.mkdtempSync(path.join(os.tmpdir(), "lambdaship-layer-"));
  try {
    const target = path.join(work, "python");
    const args = [
      "-m", "pip", "install", "--disable-pip-version-check", "--no-compile", "--quiet",
      "--target", target, "--platform", pythonPlatform(opts.arch), "--implementation", "cp",
      "--python-version", opts.pythonVersion, "--only-binary=:all:", "-r", path.join(opts.dir, manifest),
    ];
    const r = spawnSync(opts.python ?? "python3", args, { encoding: "utf8" });
    if (r.status !== 0) {
      const pkg = missingWheel(r.stderr);
      throw new LayerError(
        pkg
          ? `layer ${opts.name}: ${pkg} (from ${path.join(opts.dir, manifest)}) has no wheel for ${pythonPlatform(opts.arch)} and Python ${opts.pythonVersion}; pin a version that publishes one, or drop it from the layer. Nothing was written.`
          : `layer ${opts.name}: pip failed (exit ${r.status}); nothing was written:\n${r.stderr.trim()}`,
      );
    }
    const entries = collectFiles(work, { exclude: isNoise, executable: (rel) => rel.endsWith(".so") || /\.so\./.test(rel) });
    const zip = createZip(entries);
    const unzipped = entries.reduce((n, e) => n + e.data.length, 0);
    writeFileAtomic(sizeFile, Buffer.from(String(unzipped)));
    writeFileAtomic(zipPath, zip);
    return done(zip, unzipped, false);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
