import { spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { emulatorRecordFile, isRecordedServer, RecordedEmulator } from "../modules/machine";
import { requirePythonEnv, VENV } from "./python-env";
import { PROJECT_ROOT } from "./toolchain";

/**
 * The local AWS: moto server (pinned in requirements-dev.txt, run from .venv) on a free loopback port.
 * Tests start one per case and stop it; `npm start` keeps one running between runs (its state lives
 * only in memory), recorded in .build/local-aws/emulator.json.
 */

export interface Emulator {
  readonly endpoint: string;
  readonly port: number;
  readonly pid: number;
  /** Stops the server and waits for it to exit. */
  stop(): Promise<void>;
}

export const STATE_FILE = emulatorRecordFile(PROJECT_ROOT);

/** A free TCP port on 127.0.0.1 (bound and released; moto binds it right after). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function isUp(endpoint: string): Promise<boolean> {
  try {
    const r = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(2000) });
    return r.ok;
  } catch {
    return false;
  }
}

/** Starts moto server on a free port and waits until it answers. */
export async function startEmulator(options: { logFile?: string; detached?: boolean } = {}): Promise<Emulator> {
  requirePythonEnv();
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const logFile = options.logFile ?? path.join(PROJECT_ROOT, ".build", "local-aws", `moto-${port}.log`);
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const out = fs.openSync(logFile, "a");
  // moto's server with queues that deliver nothing by themselves (see lib/moto_server.py).
  const child = spawn(path.join(VENV, "bin", "python"), [path.join(PROJECT_ROOT, "lib", "moto_server.py"), "-H", "127.0.0.1", "-p", String(port)], {
    stdio: ["ignore", out, out],
    detached: options.detached ?? false,
    env: { ...process.env, MOTO_ALLOW_NONEXISTENT_REGION: "false", AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test" },
  });
  fs.closeSync(out);
  let exited: number | null | undefined;
  child.on("exit", (code) => (exited = code));
  const deadline = Date.now() + 30000;
  while (!(await isUp(endpoint))) {
    if (exited !== undefined) throw new Error(`moto server exited with ${exited} before answering; see ${logFile}`);
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`moto server did not answer on ${endpoint} within 30 s; see ${logFile}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  if (options.detached) child.unref();
  const pid = child.pid!;
  return {
    endpoint,
    port,
    pid,
    stop: () =>
      new Promise<void>((resolve) => {
        if (exited !== undefined) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
        setTimeout(() => child.kill("SIGKILL"), 5000).unref();
      }),
  };
}

export type Recorded = RecordedEmulator;
export { isRecordedServer };


/**
 * The emulator `npm start` deploys to: the one recorded in .build/local-aws if it still answers,
 * otherwise a new detached one. `fresh` tells the caller the emulator's memory is empty.
 */
export async function sharedEmulator(): Promise<{ endpoint: string; pid: number; fresh: boolean }> {
  if (fs.existsSync(STATE_FILE)) {
    const rec = JSON.parse(fs.readFileSync(STATE_FILE, "utf8")) as Recorded;
    if (isRecordedServer(rec) && (await isUp(rec.endpoint))) return { ...rec, fresh: false };
  }
  const emu = await startEmulator({ detached: true });
  fs.mkdirSync(path.dirname(STATE_FILE), { recursive: true });
  fs.writeFileSync(STATE_FILE, JSON.stringify({ endpoint: emu.endpoint, pid: emu.pid }));
  return { endpoint: emu.endpoint, pid: emu.pid, fresh: true };
}

/** The emulator `npm start` left running, when its record names a live moto server. */
export function recordedEmulator(): Recorded | undefined {
  if (!fs.existsSync(STATE_FILE)) return undefined;
  const rec = JSON.parse(fs.readFileSync(STATE_FILE, "utf8")) as Recorded;
  return isRecordedServer(rec) ? rec : undefined;
}

/** Stops the emulator `npm start` left running, if any. */
export function stopSharedEmulator(): boolean {
  if (!fs.existsSync(STATE_FILE)) return false;
  const rec = JSON.parse(fs.readFileSync(STATE_FILE, "utf8")) as Recorded;
  fs.rmSync(STATE_FILE, { force: true });
  // Only the server it started: a pid the system gave to another process since is left alone.
  if (!isRecordedServer(rec)) return false;
  process.kill(rec.pid, "SIGTERM");
  return true;
}
