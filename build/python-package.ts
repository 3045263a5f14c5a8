import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { base64Sha256, collectFiles, createZip, writeFileAtomic } from "./zip";

/** What a Python handler package is, once built. */
export interface PythonPackage {
  /** Absolute path of the zip. */
  readonly zipPath: string;
  /** base64 SHA-256 of the zip bytes: Lambda's CodeSha256 and the provider's `source_code_hash`. */
  readonly sourceCodeHash: string;
  /** Hex SHA-256 of the zip bytes, for content-addressed paths. */
  readonly sha256Hex: string;
  readonly sizeBytes: number;
  /** Size of the files unzipped. */
  readonly unzippedBytes: number;
  /** Files inside, in archive order. */
  readonly files: readonly string[];
}

/** Files in a handler folder that never belong in the package. */
export function excludedFromPythonPackage(rel: string): boolean {
  const parts = rel.split("/");
  const base = parts[parts.length - 1];
  return (
    parts.some((p) => p === "__pycache__" || p === "tests" || p === ".pytest_cache" || p.startsWith(".")) ||
    base.endsWith(".pyc") ||
    /^test_.*\.py$/.test(base) ||
    base === "conftest.py" ||
    /^requirements.*\.txt$/.test(base)
  );
}

const cache = new Map<string, PythonPackage>();

/**
 * Zips a Python handler folder deterministically into `<outDir>/<name>-<sha>.zip` (written once per
 * content; an existing file with that name is reused). The same files give the same bytes and the
 * same hash on every machine.
 */
export function packagePythonHandler(sourceDir: string, outDir: string, name: string): PythonPackage {
  const key = `${path.resolve(sourceDir)}\0${path.resolve(outDir)}\0${name}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const entries = collectFiles(sourceDir, { exclude: excludedFromPythonPackage });
  if (!entries.some((e) => e.name.endsWith(".py"))) {
    throw new Error(`${path.resolve(sourceDir)} holds no .py file to package`);
  }
  const zip = createZip(entries);
  const sha256Hex = crypto.createHash("sha256").update(zip).digest("hex");
  const zipPath = path.resolve(outDir, `${name}-${sha256Hex.slice(0, 16)}.zip`);
  if (!fs.existsSync(zipPath) || fs.statSync(zipPath).size !== zip.length) writeFileAtomic(zipPath, zip);
  const pkg: PythonPackage = {
    zipPath,
    sourceCodeHash: base64Sha256(zip),
    sha256Hex,
    sizeBytes: zip.length,
    unzippedBytes: entries.reduce((n, e) => n + e.data.length, 0),
    files: entries.map((e) => e.name),
  };
  cache.set(key, pkg);
  return pkg;
}
