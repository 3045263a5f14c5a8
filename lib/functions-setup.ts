import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { ensureJavaClient } from "../runtime/clients/java";
import { log, PROJECT_ROOT } from "./toolchain";

/** The example function folders (one per language), each with its own dependency files and tests. */
export const FUNCTIONS_DIR = path.join(PROJECT_ROOT, "lambda-src", "functions");

export function functionFolders(): string[] {
  return fs.existsSync(FUNCTIONS_DIR) ? fs.readdirSync(FUNCTIONS_DIR).sort().map((d) => path.join(FUNCTIONS_DIR, d)).filter((d) => fs.statSync(d).isDirectory()) : [];
}

/**
 * Installs the Node.js functions' own dependencies in their folders (`npm ci`, no install scripts), so
 * their tests and editors resolve them; skipped while the lock file is unchanged. The packages the
 * stacks deploy are built separately, for Linux on the target CPU. For Java functions, fetches AWS's
 * Java runtime interface client, which the emulator runs them with; for Go, checks that `go` is there.
 */
export function ensureFunctionDependencies(): void {
  for (const dir of functionFolders()) {
    const lock = path.join(dir, "package-lock.json");
    if (!fs.existsSync(lock)) continue;
    const stamp = path.join(dir, "node_modules", ".lambdaship-lock-sha256");
    const sha = crypto.createHash("sha256").update(fs.readFileSync(lock)).digest("hex");
    if (fs.existsSync(stamp) && fs.readFileSync(stamp, "utf8") === sha) continue;
    log(`functions: npm ci in ${path.relative(PROJECT_ROOT, dir)}`);
    const r = spawnSync("npm", ["ci", "--ignore-scripts", "--no-audit", "--no-fund"], { cwd: dir, stdio: ["ignore", "inherit", "inherit"] });
    if (r.status !== 0) throw new Error(`npm ci failed in ${dir} (exit ${r.status})`);
    fs.writeFileSync(stamp, sha);
  }
  if (functionFolders().some((d) => fs.existsSync(path.join(d, "pom.xml")))) ensureJavaClient(log);
  if (functionFolders().some((d) => fs.existsSync(path.join(d, "go.mod")))) {
    const go = spawnSync("go", ["env", "GOVERSION"], { encoding: "utf8" });
    if (go.error || go.status !== 0) throw new Error("Go functions need go on PATH: install Go >= 1.26 (https://go.dev/dl, or your package manager)");
    log(`functions: ${go.stdout.trim()} for the Go functions`);
  }
}
