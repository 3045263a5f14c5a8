import { execFileSync, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { log, PROJECT_ROOT } from "./toolchain";

/** The project's virtualenv: moto server, boto3, pytest and awslambdaric (the Python runtime client the runtime emulator runs handlers with), pinned in requirements-dev.txt. */
export const VENV = path.join(PROJECT_ROOT, ".venv");
export const VENV_PYTHON = path.join(VENV, "bin", "python");
const REQUIREMENTS = path.join(PROJECT_ROOT, "requirements-dev.txt");
const STAMP = path.join(VENV, ".requirements.sha256");

function requirementsHash(): string {
  return crypto.createHash("sha256").update(fs.readFileSync(REQUIREMENTS)).digest("hex");
}

/** Creates or refreshes .venv when requirements-dev.txt changed; a no-op otherwise. */
export function ensurePythonEnv(): void {
  const want = requirementsHash();
  if (fs.existsSync(VENV_PYTHON) && fs.existsSync(STAMP) && fs.readFileSync(STAMP, "utf8") === want) {
    log("python: .venv is up to date");
    return;
  }
  const python = process.env.PYTHON ?? "python3";
  const probe = spawnSync(python, ["-c", "import sys, venv; print('%d.%d' % sys.version_info[:2])"], { encoding: "utf8" });
  if (probe.status !== 0) {
    throw new Error(`${python} with the venv module is needed for the emulator and the handler tests; install Python >= 3.10 (Debian: apt-get install python3 python3-venv), then run \`npm run setup\` again.`);
  }
  log(`python: creating .venv with Python ${probe.stdout.trim()} and installing requirements-dev.txt`);
  if (!fs.existsSync(VENV_PYTHON)) execFileSync(python, ["-m", "venv", VENV], { stdio: "inherit" });
  execFileSync(VENV_PYTHON, ["-m", "pip", "install", "--disable-pip-version-check", "-q", "-r", REQUIREMENTS], { stdio: "inherit" });
  fs.writeFileSync(STAMP, want);
}

/** Throws with the fix when .venv is missing or stale. */
export function requirePythonEnv(): string {
  if (!fs.existsSync(VENV_PYTHON) || !fs.existsSync(STAMP) || fs.readFileSync(STAMP, "utf8") !== requirementsHash()) {
    throw new Error(`${VENV} is missing or older than requirements-dev.txt; run \`npm run setup\` to create it.`);
  }
  return VENV_PYTHON;
}
