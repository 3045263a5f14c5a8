import { execFileSync, spawnSync } from "child_process";
import { heartbeatWhileBlocked } from "../build/progress";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { cacheRoot } from "../build/util";
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

/**
 * Creates or refreshes a virtualenv when its requirements file changed; a no-op otherwise. The
 * virtualenv itself lives in the machine's cache, one per requirements file, its hash and the Python
 * version (`<cache>/venvs/<name>-py<ver>-<hash>`), and the clone's `.venv` is a link to it: a second
 * clone, or CI's fresh one, links it in a moment instead of installing again (pip keeps no cache here:
 * the index's answers are not cacheable). A virtualenv cannot move (its scripts name its path), so it
 * is built where it stays, under a lock, and counts only once its stamp is written.
 */
function ensureVenv(venv: string, requirements: string, label: string): void {
  const want = hashOf(requirements);
  const python = path.join(venv, "bin", "python");
  if (fs.existsSync(python) && fs.existsSync(stampOf(venv)) && fs.readFileSync(stampOf(venv), "utf8") === want) {
    log(`python: ${path.basename(venv)} is up to date${isLink(venv) ? ` (${fs.readlinkSync(venv)})` : ""}`);
    return;
  }
  const system = process.env.PYTHON ?? "python3";
  const probe = spawnSync(system, ["-c", "import sys, venv; print('%d.%d' % sys.version_info[:2])"], { encoding: "utf8" });
  if (probe.status !== 0) {
    throw new Error(`${system} with the venv module is needed for ${label}; install Python >= 3.10 (Debian: apt-get install python3 python3-venv), then run \`npm run setup\` again.`);
  }
  const version = probe.stdout.trim();
  const shared = path.join(cacheRoot(), "venvs", `${path.basename(venv).replace(/^\./, "")}-py${version}-${want.slice(0, 16)}`);
  withLock(`${shared}.lock`, () => {
    if (fs.existsSync(stampOf(shared)) && fs.readFileSync(stampOf(shared), "utf8") === want) return;
    fs.rmSync(shared, { recursive: true, force: true });
    fs.mkdirSync(path.dirname(shared), { recursive: true });
    log(`python: creating ${shared} with Python ${version} and installing ${path.basename(requirements)} (once per machine; ${path.basename(venv)} links to it)`);
    execFileSync(system, ["-m", "venv", shared], { stdio: "inherit" });
    // pip's own lines (one per package collected) go to a log the heartbeat counts; its errors stay on stderr.
    const pipLog = path.join(shared, "pip-install.log");
    const fd = fs.openSync(pipLog, "w");
    try {
      const r = heartbeatWhileBlocked(`[setup] pip install -r ${path.basename(requirements)} into ${path.basename(shared)}`, () =>
        spawnSync(path.join(shared, "bin", "python"), ["-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off", "-r", requirements], { stdio: ["ignore", fd, "inherit"] }),
        { watch: pipLog, unit: "lines from pip" },
      );
      if (r.status !== 0) throw new Error(`pip install -r ${requirements} failed (exit ${r.status}); its output is in ${pipLog}`);
    } finally {
      fs.closeSync(fd);
    }
    fs.writeFileSync(stampOf(shared), want);
  });
  // The clone's own (an older layout's folder, or a link to another version) makes way for the link.
  fs.rmSync(venv, { recursive: true, force: true });
  fs.symlinkSync(shared, venv);
  log(`python: ${path.basename(venv)} -> ${shared}`);
}

function isLink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Runs `f` holding a lock directory (another setup on this machine waits; a lock older than 30 min is taken over). */
function withLock(lock: string, f: () => void): void {
  fs.mkdirSync(path.dirname(lock), { recursive: true });
  const started = Date.now();
  let said = false;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const age = Date.now() - (fs.statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 30 * 60_000) {
        fs.rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (!said) log(`python: waiting for another setup that is creating ${path.basename(lock, ".lock")}`);
      said = true;
      if (Date.now() - started > 30 * 60_000) throw new Error(`${lock} is held for over 30 minutes; remove it if no setup is running`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
    }
  }
  try {
    f();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
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
