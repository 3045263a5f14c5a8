import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import WebSocket from "ws";
import { cacheRoot } from "../build/util";
import { collectFiles, createZip } from "../build/zip";
import { freePort } from "../lib/local-aws";
import { RuntimeEmulator } from "../runtime/emulator";
import { functionsFromStack, StackJson } from "../runtime/functions";
import { gatewayFromStack, LocalGateway } from "../runtime/gateway";
import { pct } from "./bench-runtime";

/**
 * The gateway part of `npm run bench`, in one run on the same Node.js handlers
 * (__tests__/fixtures/gateway): a WebSocket message's round trip (client -> $default -> function ->
 * @connections -> the same client) next to the same function invoked directly through the Invoke
 * API, and an HTTP API route next to a direct invoke of its function; p50 and p99, one caller. And
 * the same WebSocket round trip through serverless-offline (npm), with an equivalent handler. Its
 * 14.x needs the Serverless Framework v4, which asks for a login or licence key before it runs; so
 * serverless-offline 13.9.0 on serverless 3.40.0 (the last open-source framework), installed once
 * into the cache (about two minutes cold).
 */

const N = Number(process.env.BENCH_GATEWAY_N ?? 1000);
const WARMUP = 100;
const FIXTURE = path.join(__dirname, "..", "__tests__", "fixtures", "gateway");


const ref = (type: string, name: string, attr: string) => `\${${type}.${name}.${attr}}`;

function stack(zip: string): StackJson {
  const fn = (handler: string) => ({ function_name: `bench-${handler}`, runtime: "nodejs22.x", handler: `index.${handler}`, filename: zip, memory_size: 128, timeout: 5 });
  return {
    resource: {
      aws_lambda_function: { echo: fn("echo"), ok: fn("ok") },
      aws_apigatewayv2_api: { ws: { name: "bench-ws", protocol_type: "WEBSOCKET", route_selection_expression: "$request.body.action" }, http: { name: "bench-http", protocol_type: "HTTP" } },
      aws_apigatewayv2_stage: { ws: { api_id: ref("aws_apigatewayv2_api", "ws", "id"), name: "live" }, http: { api_id: ref("aws_apigatewayv2_api", "http", "id"), name: "$default" } },
      aws_apigatewayv2_integration: {
        echo: { api_id: ref("aws_apigatewayv2_api", "ws", "id"), integration_type: "AWS_PROXY", integration_uri: ref("aws_lambda_function", "echo", "invoke_arn") },
        ok: { api_id: ref("aws_apigatewayv2_api", "http", "id"), integration_type: "AWS_PROXY", integration_uri: ref("aws_lambda_function", "ok", "invoke_arn"), payload_format_version: "2.0" },
      },
      aws_apigatewayv2_route: {
        d: { api_id: ref("aws_apigatewayv2_api", "ws", "id"), route_key: "$default", target: `integrations/${ref("aws_apigatewayv2_integration", "echo", "id")}` },
        h: { api_id: ref("aws_apigatewayv2_api", "http", "id"), route_key: "GET /ok", target: `integrations/${ref("aws_apigatewayv2_integration", "ok", "id")}` },
      },
    },
  };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

function request(url: string, method: string, body?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method, agent, headers: body ? { "Content-Length": Buffer.byteLength(body) } : {} }, (res) => {
      res.resume();
      res.on("end", () => (res.statusCode === 200 ? resolve() : reject(new Error(`${url}: ${res.statusCode}`))));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** `n` sequential calls' times in ms, after `warmup` untimed ones. */
export async function timed(n: number, once: () => Promise<void>, warmup = WARMUP): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await once();
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await once();
    out.push(performance.now() - t);
  }
  return out;
}

const SLS = { serverless: "3.40.0", "serverless-offline": "13.9.0" };

/** serverless-offline and the framework, installed into the cache once. */
function ensureServerlessOffline(): string {
  const dir = path.join(cacheRoot(), "bench", `serverless-offline-${SLS["serverless-offline"]}`);
  if (fs.existsSync(path.join(dir, "node_modules", "serverless-offline", "package.json"))) return dir;
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "bench-serverless-offline", private: true, dependencies: SLS }, null, 2));
  process.stdout.write(`installing serverless ${SLS.serverless} and serverless-offline ${SLS["serverless-offline"]} into ${dir} (once; about two minutes)\n`);
  const r = spawnSync("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: dir, stdio: ["ignore", "inherit", "inherit"] });
  if (r.status !== 0) throw new Error(`npm install of serverless-offline failed (exit ${r.status}) in ${dir}`);
  return dir;
}

/** The same echo handler under serverless-offline's WebSocket; the round trip's latencies. */
async function serverlessOfflineRoundTrip(n: number): Promise<number[]> {
  const dir = ensureServerlessOffline();
  const [wsPort, httpPort, lambdaPort] = [await freePort(), await freePort(), await freePort()];
  fs.writeFileSync(
    path.join(dir, "serverless.yml"),
    `service: bench\nframeworkVersion: "3"\nprovider:\n  name: aws\n  runtime: nodejs20.x\n  region: us-east-1\nplugins:\n  - serverless-offline\n` +
      `custom:\n  serverless-offline:\n    websocketPort: ${wsPort}\n    httpPort: ${httpPort}\n    lambdaPort: ${lambdaPort}\n` +
      `functions:\n  connect:\n    handler: handler.connect\n    events:\n      - websocket: $connect\n  echo:\n    handler: handler.echo\n    events:\n      - websocket: $default\n`,
  );
  fs.writeFileSync(
    path.join(dir, "handler.js"),
    `exports.connect = async () => ({ statusCode: 200 });\n` +
      `exports.echo = async (event) => {\n  await fetch(\`http://127.0.0.1:${wsPort}/@connections/\${encodeURIComponent(event.requestContext.connectionId)}\`, { method: "POST", body: event.body || "" });\n  return { statusCode: 200 };\n};\n`,
  );
  const child = spawn(process.execPath, [path.join(dir, "node_modules", "serverless", "bin", "serverless.js"), "offline", "--noPrependStageInUrl"], { cwd: dir, env: { ...process.env, SLS_TELEMETRY_DISABLED: "1", SLS_NOTIFICATIONS_MODE: "off" }, stdio: ["ignore", "pipe", "pipe"], detached: true });
  try {
    let out = "";
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`serverless offline did not listen within 60 s:\n${out}`)), 60_000);
      const on = (d: Buffer) => {
        out += d.toString();
        if (/\[websocket\] listening on ws:/.test(out)) (clearTimeout(t), resolve());
      };
      child.stdout!.on("data", on);
      child.stderr!.on("data", on);
      child.once("exit", (code) => reject(new Error(`serverless offline exited (${code}):\n${out}`)));
    });
    child.stdout!.resume();
    child.stderr!.resume();
    // It says it listens a moment before it accepts: a few tries.
    let ws: WebSocket | undefined;
    for (let attempt = 0; !ws; attempt++) {
      const w = new WebSocket(`ws://127.0.0.1:${wsPort}`);
      try {
        await new Promise<void>((resolve, reject) => {
          w.once("open", () => resolve());
          w.once("error", reject);
        });
        ws = w;
      } catch (e) {
        if (attempt >= 50) throw new Error(`could not connect to serverless offline's WebSocket on ${wsPort}: ${(e as Error).message}\n${out}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    const message = JSON.stringify({ text: "ping" });
    const open = ws;
    const xs = await timed(n, () => new Promise<void>((resolve) => (open.once("message", () => resolve()), open.send(message))));
    open.close();
    return xs;
  } finally {
    try {
      process.kill(-child.pid!, "SIGTERM");
    } catch {
      /* gone */
    }
  }
}

export interface GatewayFigures {
  readonly label: string;
  readonly p50: number;
  readonly p99: number;
}

export async function benchGateway(): Promise<GatewayFigures[]> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bench-gateway-"));
  const zip = path.join(tmp, "fn.zip");
  fs.writeFileSync(zip, createZip(collectFiles(FIXTURE)));
  const s = stack(zip);
  const emulator = new RuntimeEmulator();
  const url = await emulator.listen(0);
  for (const f of functionsFromStack(s, { stackDir: tmp, region: "us-east-1", projectRoot: tmp, managementEndpoint: `${url}/live` }).functions) emulator.add(f);
  const gateway = new LocalGateway(gatewayFromStack(s, "us-east-1"), emulator);
  const endpoints = await gateway.start();
  const results: GatewayFigures[] = [];
  try {
    const ws = new WebSocket(endpoints.find((e) => e.kind === "websocket" && !e.signed)!.url);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    const message = JSON.stringify({ text: "ping" });
    const roundTrip = () =>
      new Promise<void>((resolve) => {
        ws.once("message", () => resolve());
        ws.send(message);
      });
    // The same event the gateway gives the function, invoked directly (its post goes nowhere live).
    const event = JSON.stringify({ body: message, isBase64Encoded: false, requestContext: { routeKey: "$default", eventType: "MESSAGE", connectionId: "bench-direct", stage: "live" } });
    const direct = (fn: string, body: string) => () => request(`${url}/2015-03-31/functions/${fn}/invocations`, "POST", body);
    const httpUrl = endpoints.find((e) => e.kind === "http-api")!.url;
    const rows: Array<[string, () => Promise<void>]> = [
      ["WebSocket round trip (client -> $default -> function -> @connections -> client)", roundTrip],
      ["  the same function, invoked directly (Invoke API)", direct("bench-echo", event)],
      ["HTTP API route (GET /ok)", () => request(`${httpUrl}ok`, "GET")],
      ["  the same function, invoked directly (Invoke API)", direct("bench-ok", JSON.stringify({ rawPath: "/ok", requestContext: { http: { method: "GET" } } }))],
    ];
    for (const [label, once] of rows) {
      const xs = await timed(N, once);
      results.push({ label, p50: pct(xs, 50), p99: pct(xs, 99) });
    }
    ws.close();
    try {
      const xs = await serverlessOfflineRoundTrip(N);
      results.push({ label: `serverless-offline ${SLS["serverless-offline"]}: the same WebSocket round trip, equivalent handler`, p50: pct(xs, 50), p99: pct(xs, 99) });
    } catch (e) {
      process.stdout.write(`serverless-offline: not measured: ${(e as Error).message}\n`);
    }
  } finally {
    await gateway.stop();
    await emulator.stop();
    agent.destroy();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return results;
}

export async function printGatewayBench(): Promise<void> {
  process.stdout.write(`\n== gateway: ${N} sequential calls each after ${WARMUP} warm-up, one caller, Node.js handlers\n`);
  const rows = await benchGateway();
  const w = Math.max(...rows.map((r) => r.label.length));
  process.stdout.write(`${"".padEnd(w)}  ${"p50 ms".padStart(8)}  ${"p99 ms".padStart(8)}\n`);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    const ratio = i === 4 ? `  (ours x${(rows[0].p50 / r.p50).toFixed(2)} of it at p50, x${(rows[0].p99 / r.p99).toFixed(2)} at p99)` : i % 2 === 0 ? `  (x${(r.p50 / rows[i + 1].p50).toFixed(2)} of a direct invoke at p50)` : "";
    process.stdout.write(`${r.label.padEnd(w)}  ${r.p50.toFixed(2).padStart(8)}  ${r.p99.toFixed(2).padStart(8)}${ratio}\n`);
  }
}
