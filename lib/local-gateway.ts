import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { table } from "../build/util";
import type { ServedEndpoint } from "../runtime/gateway";
import { PROJECT_ROOT } from "./toolchain";

/**
 * The local gateway left running in the background (`npm start`, `npm run runtime -- <env>
 * --detach`): one process per env serving the runtime emulator and the gateway, recorded in
 * .build/gateway/<env>.json (pid, URLs) with its output in .build/gateway/<env>.log. `npm run
 * emulator -- stop` stops it with the local AWS.
 */

export interface GatewayRecord {
  readonly env: string;
  readonly pid: number;
  /** The runtime emulator's Invoke API. */
  readonly runtimeUrl: string;
  readonly endpoints: readonly ServedEndpoint[];
  readonly startedAt: string;
  readonly log: string;
}

const DIR = path.join(PROJECT_ROOT, ".build", "gateway");
export const gatewayRecordFile = (env: string) => path.join(DIR, `${env}.json`);
export const gatewayLogFile = (env: string) => path.join(DIR, `${env}.log`);

/** Whether `pid` is this project's gateway process for `env` (a reused pid is someone else's). */
function isGatewayProcess(pid: number, env: string): boolean {
  try {
    process.kill(pid, 0);
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    // The detached gateway, or npm run dev serving the env in the foreground.
    const detached = cmdline.some((a) => a.endsWith(path.join("scripts", "runtime.ts"))) && cmdline.includes("--serve-detached");
    return (detached || cmdline.some((a) => a.endsWith(path.join("scripts", "dev.ts")))) && cmdline.includes(env);
  } catch {
    return false;
  }
}

/** The running gateway of an env, when its record names a live one. */
export function runningGateway(env: string): GatewayRecord | undefined {
  const file = gatewayRecordFile(env);
  if (!fs.existsSync(file)) return undefined;
  const rec = JSON.parse(fs.readFileSync(file, "utf8")) as GatewayRecord;
  return isGatewayProcess(rec.pid, env) ? rec : undefined;
}

/** Writes the record (called by the detached process once it serves). */
export function recordGateway(rec: GatewayRecord): void {
  fs.mkdirSync(DIR, { recursive: true });
  const tmp = `${gatewayRecordFile(rec.env)}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(rec, null, 2));
  fs.renameSync(tmp, gatewayRecordFile(rec.env));
}

/** Stops an env's gateway and waits (up to 10 s) for it to exit; false when none ran. */
export async function stopGateway(env: string): Promise<boolean> {
  const rec = runningGateway(env);
  fs.rmSync(gatewayRecordFile(env), { force: true });
  if (!rec) return false;
  process.kill(rec.pid, "SIGTERM");
  const deadline = Date.now() + 10_000;
  while (isGatewayProcess(rec.pid, env) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (isGatewayProcess(rec.pid, env)) process.kill(rec.pid, "SIGKILL");
  return true;
}

/** Every env whose gateway runs. */
export function runningGateways(): GatewayRecord[] {
  if (!fs.existsSync(DIR)) return [];
  return fs
    .readdirSync(DIR)
    .filter((f) => f.endsWith(".json"))
    .map((f) => runningGateway(f.slice(0, -5)))
    .filter((r): r is GatewayRecord => r !== undefined);
}

/**
 * (Re)starts an env's gateway in the background, on the ports it had before where they are free,
 * and waits until it serves. The stack must be synthesized (and deployed, for ids and variables).
 */
export async function startGateway(env: string, opts: { log?: (line: string) => void; timeoutMs?: number } = {}): Promise<GatewayRecord> {
  const log = opts.log ?? (() => {});
  const previous = runningGateway(env);
  // The ports it served on (kept beside the record, also after a stop).
  const ports = readPorts(env);
  if (previous) {
    log(`restarting the local gateway of ${env} (pid ${previous.pid}) with the new packages`);
    await stopGateway(env);
  }
  fs.rmSync(gatewayRecordFile(env), { force: true });
  fs.mkdirSync(DIR, { recursive: true });
  const logFile = gatewayLogFile(env);
  const out = fs.openSync(logFile, "w");
  const child = spawn(process.execPath, ["-r", path.join(PROJECT_ROOT, "scripts", "register.js"), path.join(PROJECT_ROOT, "scripts", "runtime.ts"), env, "--serve-detached"], {
    cwd: PROJECT_ROOT,
    detached: true,
    stdio: ["ignore", out, out],
    env: { ...process.env, LAMBDASHIP_GATEWAY_PORTS: JSON.stringify(ports) },
  });
  fs.closeSync(out);
  let exited: number | null | undefined;
  child.once("exit", (code) => (exited = code));
  child.unref();
  const started = Date.now();
  const timeout = opts.timeoutMs ?? 180_000;
  let shown = started;
  for (;;) {
    const rec = runningGateway(env);
    if (rec && rec.pid === child.pid) return rec;
    if (exited !== undefined) throw new Error(`the local gateway of ${env} exited (${exited}) before serving; its output is in ${path.relative(PROJECT_ROOT, logFile)}:\n${tail(logFile)}`);
    if (Date.now() - started > timeout) {
      child.kill("SIGTERM");
      throw new Error(`the local gateway of ${env} did not serve within ${timeout / 1000} s; see ${path.relative(PROJECT_ROOT, logFile)}`);
    }
    if (Date.now() - shown > 15_000) {
      shown = Date.now();
      log(`  ... local gateway starting (${((Date.now() - started) / 1000).toFixed(0)} s): ${lastLine(logFile)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The ports of the last record, kept so a restart (or a new npm start) serves the same URLs. */
export function readPorts(env: string): Record<string, number> {
  try {
    const rec = JSON.parse(fs.readFileSync(`${gatewayRecordFile(env)}.ports`, "utf8")) as Record<string, number>;
    return rec;
  } catch {
    return {};
  }
}

/** Remembers the ports (beside the record, kept after a stop). */
export function rememberPorts(env: string, endpoints: readonly ServedEndpoint[]): void {
  fs.mkdirSync(DIR, { recursive: true });
  fs.writeFileSync(`${gatewayRecordFile(env)}.ports`, JSON.stringify(Object.fromEntries(endpoints.filter((e) => e.port && e.kind !== "chat-page").map((e) => [e.name, e.port]))));
}

/** The gateway's URLs as a table: one row per API, function URL and polled queue. */
export function endpointsTable(endpoints: readonly ServedEndpoint[]): string {
  return table(["serves", "url", "routes"], endpoints.map((e) => [`${e.kind} ${e.name}`, e.url, e.routes.join(", ")]));
}

function tail(file: string, lines = 15): string {
  try {
    return fs.readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no output)";
  }
}

function lastLine(file: string): string {
  return tail(file, 1).slice(0, 160);
}
