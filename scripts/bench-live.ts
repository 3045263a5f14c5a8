import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { buildLayer } from "../build/layer";
import { createZip } from "../build/zip";
import { PROJECT_ROOT } from "../lib/toolchain";
import { RuntimeEmulator } from "../runtime/emulator";
import { functionsFromStack, StackJson } from "../runtime/functions";
import { LiveSession } from "../runtime/live-session";
import { relayCertificates, startRelayStandIn } from "../runtime/relay-stand-in";
import { signRequest } from "../runtime/sigv4";
import { timed } from "./bench-gateway";
import { pct } from "./bench-runtime";

/**
 * The live part of `npm run bench` (issue 16), in one run, on one Python function with the
 * runtime-proxy layer (x86_64, natively) in the runtime emulator:
 * - the baseline: the function with the proxy and no live mode (no LAMBDASHIP_LIVE_RELAY);
 * - live mode on, nobody listening: the extension connected to the relay, no session (goal: under
 *   5 ms more than the baseline);
 * - served live: a session answers each invocation (its handler answers at once, so the figure is
 *   the relay's round trip: extension -> relay -> session -> relay -> extension -> Runtime API);
 * - the last two again over wss:// (a stand-in with a certificate from a CA made by openssl, which
 *   the extension trusts through LAMBDASHIP_LIVE_CA_FILE): what TLS adds, as on API Gateway.
 * The relay is runtime/relay-stand-in.ts on loopback (the env's relay runs the same protocol through
 * its Rust handlers and the local AWS; their cost is the gateway bench's WebSocket round trip).
 */

const N = Number(process.env.BENCH_LIVE_N ?? 500);
const WARMUP = 50;

export interface LiveFigures {
  readonly label: string;
  readonly p50: number;
  readonly p99: number;
}

export async function benchLive(): Promise<LiveFigures[]> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bench-live-"));
  const relay = await startRelayStandIn();
  // The same over wss:// (API Gateway's transport): TLS in the extension (rustls) and the session.
  const certs = relayCertificates(path.join(tmp, "certs"));
  const relayTls = await startRelayStandIn({ tls: certs });
  const layer = buildLayer({ name: "runtime-proxy", kind: "extension", dir: path.join(PROJECT_ROOT, "lambda-src", "extensions", "runtime-proxy") }, "x86_64", { projectRoot: path.join(tmp, "layers") }).zipPath;
  const handler = path.join(tmp, "handler.zip");
  fs.writeFileSync(handler, createZip([{ name: "handler.py", data: Buffer.from('def lambda_handler(event, context):\n    return {"served": "deployed"}\n') }]));
  const fn = (name: string, live: boolean, url = relay.url) => ({
    function_name: name,
    runtime: "python3.12",
    handler: "handler.lambda_handler",
    filename: handler,
    layers: ["${aws_lambda_layer_version.proxy.arn}"],
    timeout: 10,
    environment: { variables: { AWS_LAMBDA_EXEC_WRAPPER: "/opt/lambdaship-runtime-proxy-wrapper", LAMBDASHIP_PROXY_PORT: "9029", ...(live ? { LAMBDASHIP_LIVE_RELAY: url } : {}), ...(live && url.startsWith("wss:") ? { LAMBDASHIP_LIVE_CA_FILE: certs.caFile } : {}) } },
  });
  const stack: StackJson = {
    resource: {
      aws_lambda_layer_version: { proxy: { layer_name: "proxy", filename: layer } },
      aws_lambda_function: {
        off: fn("bench-live-off", false),
        nobody: fn("bench-live-nobody", true),
        served: fn("bench-live-served", true),
        nobodyTls: fn("bench-live-nobody-tls", true, relayTls.url),
        servedTls: fn("bench-live-served-tls", true, relayTls.url),
      },
    },
  };
  const emulator = new RuntimeEmulator(functionsFromStack(stack, { stackDir: tmp, region: "us-east-1", projectRoot: PROJECT_ROOT }).functions);
  const sessionOn = (url: string, fnName: string) =>
    new LiveSession({
      url,
      functions: [fnName],
      headers: (u) => signRequest({ method: "GET", url: u.replace(/^ws/, "http") }, { accessKeyId: "test", secretAccessKey: "test", region: "us-east-1", service: "execute-api" }),
      handler: async () => ({ payload: Buffer.from('{"served":"live"}') }),
      ca: fs.readFileSync(certs.caFile),
    });
  const sessions = [sessionOn(relay.url, "bench-live-served"), sessionOn(relayTls.url, "bench-live-served-tls")];
  const results: LiveFigures[] = [];
  try {
    const event = Buffer.from('{"ping": 1}');
    const invoke = (name: string, expect: string) => async () => {
      const r = await emulator.invoke(name, event);
      const served = (JSON.parse(r.payload.toString()) as { served?: string }).served;
      if (served !== expect) throw new Error(`${name} was served by ${served}, not ${expect}: ${r.payload.toString()}`);
    };
    // Each function's sandbox up, its extension connected where it has a relay.
    for (const name of ["bench-live-off", "bench-live-nobody", "bench-live-served", "bench-live-nobody-tls", "bench-live-served-tls"]) await emulator.invoke(name, event);
    for (const s of sessions) await s.start();
    for (const name of ["bench-live-served", "bench-live-served-tls"]) {
      const deadline = Date.now() + 30_000;
      while ((JSON.parse((await emulator.invoke(name, event)).payload.toString()) as { served?: string }).served !== "live") {
        if (Date.now() > deadline) throw new Error(`the extension of ${name} never served an invocation live`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const rows: Array<[string, () => Promise<void>]> = [
      ["deployed code, proxy without live mode (baseline)", invoke("bench-live-off", "deployed")],
      ["deployed code, live mode on, nobody listening", invoke("bench-live-nobody", "deployed")],
      ["served live by a session (relay round trip)", invoke("bench-live-served", "live")],
      ["deployed code, live mode on over wss://, nobody listening", invoke("bench-live-nobody-tls", "deployed")],
      ["served live over wss:// (TLS both ways)", invoke("bench-live-served-tls", "live")],
    ];
    for (const [label, once] of rows) {
      const xs = await timed(N, once, WARMUP);
      results.push({ label, p50: pct(xs, 50), p99: pct(xs, 99) });
    }
  } finally {
    for (const s of sessions) await s.stop();
    await emulator.stop();
    await relay.close();
    await relayTls.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return results;
}

export async function printLiveBench(): Promise<void> {
  process.stdout.write(`\n== live: ${N} sequential invocations each after ${WARMUP} warm-up, Python handler with the runtime-proxy layer, relay on loopback\n`);
  const rows = await benchLive();
  const w = Math.max(...rows.map((r) => r.label.length));
  process.stdout.write(`${"".padEnd(w)}  ${"p50 ms".padStart(8)}  ${"p99 ms".padStart(8)}\n`);
  for (const r of rows) process.stdout.write(`${r.label.padEnd(w)}  ${r.p50.toFixed(2).padStart(8)}  ${r.p99.toFixed(2).padStart(8)}\n`);
  const [base, nobody, live, nobodyTls, liveTls] = rows;
  process.stdout.write(
    `live mode with nobody listening costs ${(nobody.p50 - base.p50).toFixed(2)} ms at p50, ${(nobody.p99 - base.p99).toFixed(2)} ms at p99 (goal: under 5 ms); ` +
      `served live: ${(live.p50 / base.p50).toFixed(1)}x the deployed code's p50\n` +
      `over wss://: nobody listening costs ${(nobodyTls.p50 - base.p50).toFixed(2)} ms at p50, ${(nobodyTls.p99 - base.p99).toFixed(2)} ms at p99; served live ${(liveTls.p50 - live.p50).toFixed(2)} ms more than over ws:// at p50\n`,
  );
}
