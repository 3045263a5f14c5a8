import { execFileSync, spawnSync } from "child_process";
import { heartbeatWhileBlocked } from "../build/progress";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { log, PROJECT_ROOT } from "./toolchain";

/** The project's virtualenv: moto server, boto3, pytest and awslambdaric (the Python runtime client the runtime emulator runs handlers with), pinned in requirements-dev.txt. */
export const VENV = path.join(PROJECT_ROOT, ".venv");
export const VENV_PYTHON = path.join(VENV, "bin", "python");
const REQUIREMENTS = path.join(PROJECT_ROOT, "requirements-dev.txt");

/**
 * The review tools' virtualenv: checkov and shellcheck (for actionlint), pinned in
 * requirements-policy.txt. It is apart from .venv because checkov pins boto3 1.35.49, older than
 * what moto and the handler tests use.
 */
export const POLICY_VENV = path.join(PROJECT_ROOT, ".venv-policy");
const POLICY_REQUIREMENTS = path.join(PROJECT_ROOT, "requirements-policy.txt");

const stampOf = (venv: string) => path.join(venv, ".requirements.sha256");
const hashOf = (requirements: string) => crypto.createHash("sha256").update(fs.readFileSync(requirements)).digest("hex");

/** Creates or refreshes a virtualenv when its requirements file changed; a no-op otherwise. */
function ensureVenv(venv: string, requirements: string, label: string): void {
  const want = hashOf(requirements);
  const python = path.join(venv, "bin", "python");
  if (fs.existsSync(python) && fs.existsSync(stampOf(venv)) && fs.readFileSync(stampOf(venv), "utf8") === want) {
    log(`python: ${path.basename(venv)} is up to date`);
    return;
  }
  const system = process.env.PYTHON ?? "python3";
  const probe = spawnSync(system, ["-c", "import sys, venv; print('%d.%d' % sys.version_info[:2])"], { encoding: "utf8" });
  if (probe.status !== 0) {
    throw new Error(`${system} with the venv module is needed for ${label}; install Python >= 3.10 (Debian: apt-get install python3 python3-venv), then run \`npm run setup\` again.`);
  }
  log(`python: creating ${path.basename(venv)} with Python ${probe.stdout.trim()} and installing ${path.basename(requirements)}`);
  if (!fs.existsSync(python)) execFileSync(system, ["-m", "venv", venv], { stdio: "inherit" });
  // pip's own lines (one per package collected) go to a log the heartbeat counts; its errors stay on stderr.
  const pipLog = path.join(venv, "pip-install.log");
  const fd = fs.openSync(pipLog, "w");
  try {
    const r = heartbeatWhileBlocked(`[setup] pip install -r ${path.basename(requirements)} into ${path.basename(venv)}`, () =>
      spawnSync(python, ["-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off", "-r", requirements], { stdio: ["ignore", fd, "inherit"] }),
      { watch: pipLog, unit: "lines from pip" },
    );
    if (r.status !== 0) throw new Error(`pip install -r ${requirements} failed (exit ${r.status}); its output is in ${pipLog}`);
  } finally {
    fs.closeSync(fd);
  }
  fs.writeFileSync(stampOf(venv), want);
}

function requireVenv(venv: string, requirements: string, fix: string): string {
  const stamp = stampOf(venv);
  if (!fs.existsSync(path.join(venv, "bin", "python")) || !fs.existsSync(stamp) || fs.readFileSync(stamp, "utf8") !== hashOf(requirements)) {
    throw new Error(`${venv} is missing or older than ${path.basename(requirements)}; run \`${fix}\` to create it.`);
  }
  return path.join(venv, "bin", "python");
}

/** .venv: for the emulator and the handler tests. */
export function ensurePythonEnv(): void {
  ensureVenv(VENV, REQUIREMENTS, "the emulator and the handler tests");
}

/** Throws with the fix when .venv is missing or stale. */
export function requirePythonEnv(): string {
  return requireVenv(VENV, REQUIREMENTS, "npm run setup");
}

/** .venv-policy: checkov for the policy scan, shellcheck for actionlint. */
export function ensurePolicyEnv(): void {
  ensureVenv(POLICY_VENV, POLICY_REQUIREMENTS, "the policy scan (checkov)");
}

/** The checkov executable; throws with the fix when .venv-policy is missing or stale. */
export function requireCheckov(): string {
  requireVenv(POLICY_VENV, POLICY_REQUIREMENTS, "npm run setup -- --only policy");
  return path.join(POLICY_VENV, "bin", "checkov");
}

/** The folder holding shellcheck (from .venv-policy); throws with the fix when it is missing or stale. */
export function requireShellcheckDir(): string {
  requireVenv(POLICY_VENV, POLICY_REQUIREMENTS, "npm run setup -- --only policy");
  return path.join(POLICY_VENV, "bin");
}
