import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { functionFolders } from "../lib/functions-setup";
import { requirePythonEnv } from "../lib/python-env";
import { PROJECT_ROOT } from "../lib/toolchain";

/**
 * Runs each example function's own tests in its language: pytest for Python folders with tests/,
 * `go test ./...` for Go modules, `mvn test` for Maven projects (Node.js functions' tests are jest's,
 * in npm test's jest run).
 */
let failed = false;
for (const dir of functionFolders()) {
  const rel = path.relative(PROJECT_ROOT, dir);
  let r;
  if (fs.existsSync(path.join(dir, "go.mod"))) {
    process.stdout.write(`\n[test:functions] ${rel}: go test ./...\n`);
    r = spawnSync("go", ["test", "./..."], { cwd: dir, stdio: "inherit", env: { ...process.env, GOFLAGS: "-mod=readonly", GOTOOLCHAIN: "local" } });
    if (r.error) {
      process.stderr.write(`[test:functions] ${rel}: go is not on PATH; install Go >= 1.26, then npm test again\n`);
      process.exit(1);
    }
  } else if (fs.existsSync(path.join(dir, "pom.xml"))) {
    process.stdout.write(`\n[test:functions] ${rel}: mvn test\n`);
    // A copy, so that target/ is never written into the function's folder.
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), "lambdaship-mvn-test-"));
    fs.cpSync(dir, copy, { recursive: true, filter: (p) => path.basename(p) !== "target" });
    r = spawnSync("mvn", ["-B", "-q", "test"], { cwd: copy, stdio: "inherit" });
    fs.rmSync(copy, { recursive: true, force: true });
    if (r.error) {
      process.stderr.write(`[test:functions] ${rel}: mvn is not on PATH; install Maven >= 3.8 and a JDK (apt-get install maven), then npm test again\n`);
      process.exit(1);
    }
  } else if (fs.existsSync(path.join(dir, "tests")) && fs.readdirSync(dir).some((f) => f.endsWith(".py"))) {
    process.stdout.write(`\n[test:functions] ${rel}: pytest\n`);
    r = spawnSync(requirePythonEnv(), ["-m", "pytest", "-q", "-p", "no:cacheprovider", "--import-mode=importlib", "tests"], { cwd: dir, stdio: "inherit", env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" } });
  } else continue;
  if (r.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
