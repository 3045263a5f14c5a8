import { spawnSync } from "child_process";
import * as path from "path";
import { requirePythonEnv } from "../lib/python-env";
import { PROJECT_ROOT } from "../lib/toolchain";

/** Runs the Python handler tests in the project's virtualenv. */
let python: string;
try {
  python = requirePythonEnv();
} catch (e) {
  process.stderr.write(`pytest: ${(e as Error).message}\n`);
  process.exit(1);
}
const r = spawnSync(
  python,
  ["-m", "pytest", "-q", "-p", "no:cacheprovider", "--import-mode=importlib", path.join("lambda-src", "websocket", "tests"), ...process.argv.slice(2)],
  { cwd: PROJECT_ROOT, stdio: "inherit", env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" } },
);
process.exit(r.status ?? 1);
