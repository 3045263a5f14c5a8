import { spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { buildGoHandler, ensureRie, RieInstance, startRie } from "../lib/rie";
import { RuntimeEmulator } from "../runtime/emulator";

/**
 * The runtime part of `npm run bench`: the runtime emulator next to AWS's Runtime Interface
 * Emulator (RIE, built from its Go module, lib/rie.ts), in the same run, on the same Go handler
 * (aws-lambda-go, __tests__/fixtures/conformance/go), called over HTTP the same way: warm p50 and
 * p99 at concurrency 1, throughput at concurrency 1 and 8, and the first invocation after start.
 * RIE serves one invocation at a time, so at concurrency 8 it runs as 8 instances, one per caller;
 * ours is one emulator with 8 sandboxes.
 */

const N = Number(process.env.BENCH_INVOKES ?? 2000);
const WARMUP = 200;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const EVENT = Buffer.from(JSON.stringify({ hello: "world" }));
const ENV = { PATH: process.env.PATH ?? "/usr/bin:/bin", AWS_LAMBDA_FUNCTION_NAME: "echo", AWS_LAMBDA_FUNCTION_VERSION: "$LATEST", AWS_LAMBDA_FUNCTION_MEMORY_SIZE: "512", AWS_REGION: "us-east-1" };

export function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** One POST over a kept-alive connection; resolves with its latency (ms). */
function post(url: URL): Promise<number> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const req = http.request({ host: url.hostname, port: url.port, path: url.pathname, method: "POST", agent, headers: { "Content-Length": EVENT.length } }, (res) => {
      res.resume();
      res.on("end", () => (res.statusCode === 200 ? resolve(performance.now() - t) : reject(new Error(`${url}: ${res.statusCode}`))));
    });
    req.on("error", reject);
    req.end(EVENT);
  });
}

interface Figures {
  p50: number;
  p99: number;
  perSecond1: number;
  perSecond8: number;
  firstMs: number;
}

/** N calls (after a warm-up) by `callers` concurrent callers, caller i on urls[i % urls.length], from a process of their own. */
async function load(urls: URL[], callers: number, n: number): Promise<{ latencies: number[]; perSecond: number }> {
  const child = spawn(process.execPath, [path.join(__dirname, "bench-load.cjs"), JSON.stringify({ urls: urls.map(String), callers, n, warmup: WARMUP, body: EVENT.toString() })], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  if (code !== 0) throw new Error(`the load generator failed (exit ${code})`);
  return JSON.parse(out) as { latencies: number[]; perSecond: number };
}

async function firstInvocation(start: () => Promise<{ url: URL; stop: () => Promise<void> }>): Promise<number> {
  const t = performance.now();
  const s = await start();
  await post(s.url);
  const ms = performance.now() - t;
  await s.stop();
  return ms;
}

async function measure(start: (instances: number) => Promise<{ urls: URL[]; stop: () => Promise<void> }>): Promise<Figures> {
  const one = await start(1);
  const c1 = await load(one.urls, 1, N);
  await one.stop();
  const eight = await start(8);
  const c8 = await load(eight.urls, 8, N);
  await eight.stop();
  const firsts: number[] = [];
  for (let i = 0; i < 5; i++) firsts.push(await firstInvocation(async () => {
    const s = await start(1);
    return { url: s.urls[0], stop: s.stop };
  }));
  return { p50: pct(c1.latencies, 50), p99: pct(c1.latencies, 99), perSecond1: c1.perSecond, perSecond8: c8.perSecond, firstMs: pct(firsts, 50) };
}

export async function benchRuntime(): Promise<void> {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "lambdaship-bench-runtime-"));
  try {
    ensureRie();
    const dir = buildGoHandler(path.join(scratch, "go"));
    const bootstrap = path.join(dir, "bootstrap");
    const ours = (instances: number) => async () => {
      const emu = new RuntimeEmulator([{ name: "echo", arn: "arn:aws:lambda:us-east-1:123456789012:function:echo", runtime: { command: bootstrap, args: [], cwd: dir, env: ENV }, timeoutSeconds: 10, memoryMiB: 512, maxConcurrency: instances, description: "go" }]);
      const url = new URL(`${await emu.listen()}/2015-03-31/functions/echo/invocations`);
      return { urls: [url], stop: () => emu.stop() };
    };
    const rie = (instances: number) => async () => {
      const all: RieInstance[] = await Promise.all(Array.from({ length: instances }, () => startRie({ command: bootstrap, args: [], cwd: dir, env: { ...ENV, AWS_LAMBDA_FUNCTION_TIMEOUT: "10" } })));
      return { urls: all.map((r) => new URL(`${r.url}/2015-03-31/functions/function/invocations`)), stop: async () => void (await Promise.all(all.map((r) => r.stop()))) };
    };
    process.stdout.write(`\nruntime emulator vs AWS's RIE ${"(" + path.basename(path.dirname(ensureRie())) + ")"}: Go echo handler (aws-lambda-go), ${N} invocations after ${WARMUP} warm-up, best of ${ROUNDS} rounds, alternating\n`);
    const best = { ours: [] as Figures[], rie: [] as Figures[] };
    for (let round = 0; round < ROUNDS; round++) {
      best.rie.push(await measure((n) => rie(n)()));
      best.ours.push(await measure((n) => ours(n)()));
    }
    const pick = (fs_: Figures[]): Figures => ({
      p50: Math.min(...fs_.map((f) => f.p50)),
      p99: Math.min(...fs_.map((f) => f.p99)),
      perSecond1: Math.max(...fs_.map((f) => f.perSecond1)),
      perSecond8: Math.max(...fs_.map((f) => f.perSecond8)),
      firstMs: Math.min(...fs_.map((f) => f.firstMs)),
    });
    const o = pick(best.ours);
    const r = pick(best.rie);
    const row = (name: string, a: number, b: number, unit: string, lowerIsBetter: boolean) =>
      `  ${name.padEnd(28)} ours ${a.toFixed(unit === "/s" ? 0 : 2).padStart(8)} ${unit.padEnd(3)}  RIE ${b.toFixed(unit === "/s" ? 0 : 2).padStart(8)} ${unit.padEnd(3)}  ours ${(lowerIsBetter ? b / a : a / b).toFixed(2)}x ${lowerIsBetter ? "faster" : "the rate"}${(lowerIsBetter ? a <= b : a >= b) ? "" : "  (behind RIE)"}\n`;
    process.stdout.write(row("warm p50, concurrency 1", o.p50, r.p50, "ms", true));
    process.stdout.write(row("warm p99, concurrency 1", o.p99, r.p99, "ms", true));
    process.stdout.write(row("throughput, concurrency 1", o.perSecond1, r.perSecond1, "/s", false));
    process.stdout.write(row("throughput, concurrency 8", o.perSecond8, r.perSecond8, "/s", false));
    process.stdout.write(row("first invocation after start", o.firstMs, r.firstMs, "ms", true));
    process.stdout.write(`  (RIE at concurrency 8: 8 instances, one per caller; first invocation: median of 5 starts, process start to answer)\n`);
  } finally {
    agent.destroy();
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

if (require.main === module) void benchRuntime();
