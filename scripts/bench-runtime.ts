import { spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { LambdaArchitecture } from "../build/elf";
import { binsFromMetadata, buildFunctions, cargoMetadata, chooseToolchain, defaultArtifactCache, defaultCargoTargetDir, functionHashes } from "../build/rust";
import { RuntimeEmulator } from "../runtime/emulator";
import { bootstrapCommand, unpack } from "../runtime/functions";
import { PROJECT_ROOT } from "../lib/toolchain";

/**
 * The runtime part of `npm run bench`: warm invocations of the Rust backend (GET /health) through the
 * runtime emulator's Invoke API, next to the same binary driven directly by a minimal Runtime API
 * loop in the same run (the floor any emulator adds to). AWS's Runtime Interface Emulator would be
 * the natural baseline, but its Go module (github.com/aws/aws-lambda-runtime-interface-emulator) is
 * not served by this workplace's Go module proxy (403 for every version), so it cannot be built here.
 */

const N = Number(process.env.BENCH_INVOKES ?? 400);
const WARMUP = 20;
const ENV = { AWS_REGION: "us-east-1", TABLE_NAME: "items", AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test", AWS_ENDPOINT_URL: "http://127.0.0.1:9", AWS_LAMBDA_FUNCTION_NAME: "backend", AWS_LAMBDA_FUNCTION_MEMORY_SIZE: "256", AWS_LAMBDA_FUNCTION_VERSION: "$LATEST" };

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

function backendCode(arch: LambdaArchitecture, scratch: string): string {
  const ws = path.join(scratch, `rust-${arch}`);
  fs.cpSync(path.join(PROJECT_ROOT, "lambda-src", "rust"), ws, { recursive: true, filter: (p) => path.basename(p) !== "target" });
  const meta = cargoMetadata(ws);
  const bins = binsFromMetadata(meta).filter((b) => b.name === "backend");
  const toolchain = chooseToolchain(arch, true).toolchain;
  const [built] = buildFunctions({ workspaceDir: ws, functions: bins, toolchain, hashes: functionHashes(meta, bins, toolchain.target), cargoTargetDir: defaultCargoTargetDir(), artifactCache: defaultArtifactCache() });
  return unpack(built.zipPath, scratch);
}

interface Figures {
  p50: number;
  p99: number;
  perSecond: number;
}

/** Latency percentiles and rate of N sequential calls of `once` (which returns its latency), after a warm-up. */
async function measure(once: () => Promise<number>): Promise<Figures> {
  for (let i = 0; i < WARMUP; i++) await once();
  const lat: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < N; i++) lat.push(await once());
  return { p50: pct(lat, 50), p99: pct(lat, 99), perSecond: N / ((performance.now() - t0) / 1000) };
}

/** The binary behind a bare Runtime API: each event is handed over the moment the runtime asks. */
async function direct(code: string, event: Buffer): Promise<Figures> {
  const cmd = bootstrapCommand(code);
  let waiting: http.ServerResponse | undefined;
  let onResponse: (() => void) | undefined;
  let id = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      if (req.url!.endsWith("/invocation/next")) {
        waiting = res;
        return;
      }
      res.writeHead(202);
      res.end();
      onResponse?.();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const proc = spawn(cmd.command, cmd.args, { cwd: code, env: { ...ENV, AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${(server.address() as AddressInfo).port}` }, stdio: "ignore" });
  const once = () =>
    new Promise<number>((resolve) => {
      const send = () => {
        const res = waiting!;
        waiting = undefined;
        const t = performance.now();
        onResponse = () => resolve(performance.now() - t);
        res.writeHead(200, { "Lambda-Runtime-Aws-Request-Id": `r${++id}`, "Lambda-Runtime-Deadline-Ms": String(Date.now() + 10000), "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:123456789012:function:backend" });
        res.end(event);
      };
      const wait = () => (waiting ? send() : setTimeout(wait, 0));
      wait();
    });
  try {
    return await measure(once);
  } finally {
    proc.kill("SIGKILL");
    server.close();
  }
}

/** The same binary through the runtime emulator's HTTP Invoke API, as a caller sees it. */
async function throughEmulator(code: string, event: Buffer): Promise<Figures> {
  const cmd = bootstrapCommand(code);
  const emu = new RuntimeEmulator([
    { name: "backend", arn: "arn:aws:lambda:us-east-1:123456789012:function:backend", runtime: { command: cmd.command, args: cmd.args, cwd: code, env: ENV }, timeoutSeconds: 10, memoryMiB: 256, maxConcurrency: 1, description: cmd.description },
  ]);
  const url = `${await emu.listen()}/2015-03-31/functions/backend/invocations`;
  const once = async () => {
    const t = performance.now();
    const r = await fetch(url, { method: "POST", body: event });
    await r.arrayBuffer();
    return performance.now() - t;
  };
  try {
    return await measure(once);
  } finally {
    await emu.stop();
  }
}

export async function benchRuntime(): Promise<void> {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "lambdaship-bench-runtime-"));
  const event = fs.readFileSync(path.join(PROJECT_ROOT, "lambda-src", "events", "backend.json"));
  try {
    process.stdout.write(`\nwarm invocations of the Rust backend (GET /health), ${N} sequential after ${WARMUP} warm-up, one sandbox\n`);
    process.stdout.write("  baseline: the binary behind a bare Runtime API loop (AWS's RIE cannot be built here: its Go module is not on this machine's Go proxy)\n");
    const fmt = (f: Figures) => `p50 ${f.p50.toFixed(2).padStart(6)} ms  p99 ${f.p99.toFixed(2).padStart(6)} ms  ${f.perSecond.toFixed(0).padStart(5)}/s`;
    for (const arch of ["x86_64", "arm64"] as const) {
      const code = backendCode(arch, scratch);
      const base = await direct(code, event);
      const ours = await throughEmulator(code, event);
      process.stdout.write(`  ${arch.padEnd(6)} ours (Invoke API over HTTP) ${fmt(ours)}\n`);
      process.stdout.write(`  ${arch.padEnd(6)} bare Runtime API loop       ${fmt(base)}\n`);
      process.stdout.write(`  ${arch.padEnd(6)} overhead: +${(ours.p50 - base.p50).toFixed(2)} ms at p50, ${(ours.perSecond / base.perSecond).toFixed(2)}x the throughput\n`);
    }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}
