import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";

/**
 * A function's source folder as the builders and the input hash see it: every file, in a fixed
 * order, with symlinks followed only while they stay inside the folder. A symlink that points
 * outside (its target would be packaged and deployed) or a loop is an error naming it.
 */

export class SourceError extends Error {}

export interface SourceFile {
  /** Path inside the folder, forward slashes. */
  readonly rel: string;
  readonly abs: string;
}

/** Folders no package ever takes: VCS, caches, installed dependencies, build output of other tools. */
const ALWAYS_SKIPPED = new Set([".git", "node_modules", "__pycache__", ".pytest_cache", ".mypy_cache", ".venv", "target", ".build", ".gradle"]);

/**
 * Lists the files under `root`, sorted by path. `skip` leaves out paths (relative, forward slashes);
 * dot-files and the folders in ALWAYS_SKIPPED are never listed.
 */
export function listSourceFiles(root: string, skip: (rel: string, isDir: boolean) => boolean = () => false): SourceFile[] {
  if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) throw new SourceError(`${root} does not exist or is not a folder`);
  const rootReal = fs.realpathSync(root);
  const files: SourceFile[] = [];
  const walk = (dir: string, rel: string, chain: ReadonlySet<string>): void => {
    for (const name of fs.readdirSync(dir).sort()) {
      if (name.startsWith(".") || ALWAYS_SKIPPED.has(name)) continue;
      const relPath = rel ? `${rel}/${name}` : name;
      const abs = path.join(dir, name);
      let stat = fs.lstatSync(abs);
      if (stat.isSymbolicLink()) {
        let real: string;
        try {
          real = fs.realpathSync(abs);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          throw new SourceError(
            code === "ELOOP"
              ? `${abs} is a symlink loop; remove it or point it at a file inside ${root}`
              : `${abs} is a symlink to ${fs.readlinkSync(abs)}, which does not exist; remove it or fix its target`,
          );
        }
        if (real !== rootReal && !real.startsWith(rootReal + path.sep)) {
          throw new SourceError(`${abs} is a symlink to ${real}, outside the function folder ${root}: its target would be packaged and deployed. Copy the file into the folder, or share it through a layer.`);
        }
        stat = fs.statSync(abs);
        if (stat.isDirectory() && chain.has(real)) throw new SourceError(`${abs} is a symlink loop (it points at ${real}, a folder it is inside); remove it`);
      }
      if (stat.isDirectory()) {
        if (skip(relPath, true)) continue;
        const real = fs.realpathSync(abs);
        walk(abs, relPath, new Set([...chain, real]));
      } else if (stat.isFile()) {
        if (!skip(relPath, false)) files.push({ rel: relPath, abs });
      }
    }
  };
  walk(root, "", new Set([rootReal]));
  return files;
}

/**
 * Hex SHA-256 of a build's inputs: a header naming what is built and how (runtime, architecture,
 * builder version...), then each file's path and content. Modes and timestamps are not inputs.
 */
export function hashInputs(header: readonly string[], files: readonly SourceFile[]): string {
  const h = crypto.createHash("sha256");
  h.update(`${header.join("\0")}\0\0`);
  for (const f of files) {
    const data = fs.readFileSync(f.abs);
    h.update(`${f.rel}\0${data.length}\0`).update(data);
  }
  return h.digest("hex");
}
