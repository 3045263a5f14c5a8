import * as fs from "fs";
import { EXIT, exitCodesHelp, parseCommandLine } from "../lib/cli";
import * as path from "path";
import { ConfigError } from "../modules/errors";
import { deployLocal } from "../lib/deploy-local";
import { stackName } from "../modules/stack";
import { state } from "../lib/engine";
import { readElfFile } from "../build/elf";
import { PROJECT_ROOT } from "../lib/toolchain";
import { packageBinary, unpack } from "../runtime/functions";
import { loadEnv } from "../envs";
import { functionKey, localRuntime, sampleEvent } from "../lib/local-runtime";
import { formatBytes, table } from "../build/util";

import { endpointsTable, GatewayRecord, gatewayLogFile, startGateway } from "../lib/local-gateway";
import { signRequest } from "../runtime/sigv4";
import WebSocket from "ws";

const HELP = `Usage: npm start [-- --allow-import-changes] [--allow-destroy]

The main job, end to end, on this machine only (never a real AWS account):
  1. setup: .venv, the example functions' dependencies and AWS's Java runtime client, Terraform
     engine and aws provider, arm64 Rust toolchain (cached; seconds when warm)
  2. the local AWS emulator (moto server on a free loopback port; kept running between runs,
     stop it with \`npm run emulator -- stop\`)
  3. synth of the local stack (another env's config error is a note, not a stop)
  4. plan and apply of the \`local\` stack (envs/local.ts) to the emulator; the apply builds the Rust
     functions (arm64, or x86_64 with a warning where no arm64 toolchain could be installed), the
     env's \`functions\` from their folders (Python, Node.js/TypeScript with esbuild, Go) and their
     dependency layers, and the layers (websocket-deps with pip, the runtime-proxy extension for
     arm64 and x86_64); then a
     summary: resources; each function's runtime, declared architecture, the architecture in its
     binary's ELF header, and package size; each layer version and the functions using it; the
     backend's function URL and the WebSocket URL
  5. each deployed function invoked once through the local runtime emulator, from its real package
     and layers (arm64 under qemu), with its sample event by key (lambda-src/events/<key>.json, or
     events/sample.json in its folder; else {}): each of \`functions\`, the backend's health route (through its runtime-proxy
     extension), and a WebSocket connect, message, broadcast and disconnect round on the emulator's
     connections table; a failed invocation fails npm start
  6. the local gateway started in the background (restarted when it ran): the runtime emulator with
     the env's WebSocket API at ws://127.0.0.1:<port>/<stage>, its HTTP API routes and function URLs
     at http://127.0.0.1:<port>/ (the same ports as last time where free); two WebSocket clients
     chat through it and the backend's function URL answers a SigV4-signed request; the URLs are
     printed at the end, and stay up until \`npm run emulator -- stop\`
A second run with nothing changed plans no changes and applies nothing. An import that would change
what it adopts (its code, role, variables or tags) is refused before anything is applied, unless
--allow-import-changes is given; so is a plan that destroys an adopted function whose entry was
removed (add its address to forgotten to leave it in AWS), unless --allow-destroy is given.
${exitCodesHelp()}`;

const ENV = "local";

function parseFlags() {
  return parseCommandLine(process.argv.slice(2), { "allow-import-changes": { type: "boolean" }, "allow-destroy": { type: "boolean" } }, 0);
}

function step(n: number, text: string): void {
  process.stdout.write(`\n[${n}/6] ${text}\n`);
}

/** A WebSocket client of the local gateway that keeps what it receives. */
async function wsClient(url: string): Promise<{ ws: WebSocket; next: (timeoutMs?: number) => Promise<string> }> {
  const ws = new WebSocket(url);
  const inbox: string[] = [];
  ws.on("message", (d) => inbox.push(d.toString()));
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("unexpected-response", (_q, res) => reject(new Error(`${url}: the gateway refused the connection with ${res.statusCode}`)));
    ws.once("error", reject);
  });
  const next = async (timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    while (inbox.length === 0) {
      if (Date.now() > deadline) throw new Error(`${url}: no message within ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return inbox.shift()!;
  };
  return { ws, next };
}

/**
 * Through the gateway left running, as real clients: two WebSocket clients join one room, one sends
 * and both receive it through the deployed handlers, the connections table and @connections; then
 * the backend's function URL answers a SigV4-signed request.
 */
async function gatewayRound(rec: GatewayRecord): Promise<string[]> {
  const env = loadEnv(ENV);
  const lines: string[] = [];
  const ws = rec.endpoints.find((e) => e.kind === "websocket" && !e.signed);
  if (ws) {
    const room = `start-${Date.now().toString(36)}`;
    const url = `${ws.url}?${env.websocket.roomQueryParam}=${room}`;
    const a = await wsClient(url);
    const b = await wsClient(url);
    const t0 = performance.now();
    a.ws.send(JSON.stringify({ message: "hello from npm start" }));
    const [atB, atA] = [JSON.parse(await b.next()) as { message?: string; room?: string }, JSON.parse(await a.next()) as { message?: string }];
    const ms = performance.now() - t0;
    if (atB.message !== "hello from npm start" || atB.room !== room || atA.message !== "hello from npm start") throw new Error(`the chat round through ${ws.url} got ${JSON.stringify(atB)} and ${JSON.stringify(atA)}`);
    a.ws.close();
    b.ws.close();
    lines.push(`WebSocket: two clients in room ${room}: a message from one reached both in ${ms.toFixed(0)} ms ($connect, $default, @connections through the deployed handlers)`);
  }
  const backend = rec.endpoints.find((e) => e.kind === "function-url" && e.name.startsWith(`${env.namePrefix}-${env.backend.function} `));
  if (backend) {
    const url = `${backend.url}health`;
    const r = await fetch(url, { headers: signRequest({ method: "GET", url }, { accessKeyId: "test", secretAccessKey: "test", region: env.region, service: "lambda" }) });
    const body = await r.text();
    if (r.status !== 200) throw new Error(`GET ${url} (SigV4-signed) answered ${r.status} ${body}`);
    lines.push(`HTTP: GET ${url} (SigV4-signed as test/test) answered ${r.status} ${body.slice(0, 60)}`);
  }
  return lines;
}

/** Invokes every function of the local stack once, in a connect, message, broadcast, disconnect order. */
async function invokeEach(stateResources: Array<{ address: string; values: Record<string, unknown> }>): Promise<boolean> {
  const env = loadEnv(ENV);
  const { emulator, functions } = await localRuntime(env, { state: new Map(stateResources.map((r) => [r.address, r.values])), log: (l) => process.stdout.write(`${l}\n`) });
  try {
    const order = ["backend", "ws-connect", "websocket", "ws-default", "ws-broadcast", "ws-disconnect"];
    const short = (name: string) => functionKey(env, name);
    const rows: string[][] = [];
    let ok = true;
    for (const f of [...functions].sort((a, b) => order.indexOf(short(a.name)) - order.indexOf(short(b.name)))) {
      const eventFile = sampleEvent(env, f.name);
      const r = await emulator.invoke(f.name, eventFile ? fs.readFileSync(eventFile) : "{}");
      let result = r.errorType ?? "ok";
      try {
        const body = JSON.parse(r.payload.toString()) as { statusCode?: number; body?: string };
        if (!r.functionError) result = body.statusCode !== undefined ? `${body.statusCode} ${body.body ?? ""}` : r.payload.toString();
        if (body.statusCode !== undefined && body.statusCode >= 400) ok = false;
      } catch {
        /* not JSON */
      }
      if (r.functionError) ok = false;
      rows.push([short(f.name), f.name, f.description.replace(/ \(.*\)$/, ""), result.slice(0, 60), `${r.durationMs.toFixed(0)} ms`, r.initDurationMs === undefined ? "-" : `${r.initDurationMs.toFixed(0)} ms`]);
    }
    process.stdout.write(`${table(["key", "function", "runs", "result", "duration", "init"], rows)}\n`);
    process.stdout.write(`${emulator.posted.length} message(s) posted to WebSocket connections (Management API stand-in)\n`);
    return ok;
  } finally {
    await emulator.stop();
  }
}

async function main(): Promise<void> {
  let flags: ReturnType<typeof parseFlags>;
  try {
    flags = parseFlags();
  } catch (e) {
    process.stderr.write(`npm start: ${(e as Error).message} (see --help)\n`);
    process.exit(EXIT.usage);
  }
  if (flags.help) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  const started = Date.now();
  // Config first: a bad env stops here, before anything is installed, started or applied.
  try {
    loadEnv(ENV);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`\n${e.message}\n\nNothing was started, synthesized or applied.\n`);
      process.exit(1);
    }
    throw e;
  }
  const { t, cwd, emu } = await deployLocal(ENV, { allowImportChanges: flags.values["allow-import-changes"] === true, allowDestroy: flags.values["allow-destroy"] === true, step });
  const s = await state(t, cwd);
  const counts = new Map<string, number>();
  for (const r of s.resources) counts.set(r.type, (counts.get(r.type) ?? 0) + 1);
  process.stdout.write(`\n${stackName(ENV)}: ${s.resources.length} resources (${[...counts].map(([k, v]) => `${v} ${k}`).join(", ")})\n\n`);
  const fns = s.resources.filter((r) => r.type === "aws_lambda_function");
  process.stdout.write(
    `${table(
      ["function", "runtime", "architecture", "binary", "package", "memory", "timeout"],
      fns.map((f) => [
        String(f.values.function_name),
        String(f.values.runtime),
        (f.values.architectures as string[]).join(","),
        binaryArchitecture(path.join(cwd, String(f.values.filename)), String(f.values.runtime)),
        formatBytes(fs.statSync(path.join(cwd, String(f.values.filename)), { throwIfNoEntry: false })?.size),
        `${f.values.memory_size} MB`,
        `${f.values.timeout} s`,
      ]),
    )}\n`,
  );
  const layers = s.resources.filter((r) => r.type === "aws_lambda_layer_version");
  if (layers.length > 0) {
    const env = loadEnv(ENV);
    const users = (arn: string) => fns.filter((f) => ((f.values.layers as string[] | null) ?? []).includes(arn)).map((f) => functionKey(env, String(f.values.function_name)));
    process.stdout.write(
      `\n${table(
        ["layer", "version", "architecture", "runtimes", "zip", "used by"],
        layers.map((l) => [
          String(l.values.layer_name),
          String(l.values.version),
          ((l.values.compatible_architectures as string[] | null) ?? []).join(","),
          ((l.values.compatible_runtimes as string[] | null) ?? []).join(",") || "any",
          formatBytes(l.values.filename ? fs.statSync(path.join(cwd, String(l.values.filename)), { throwIfNoEntry: false })?.size : undefined),
          users(String(l.values.arn)).join(", ") || "-",
        ]),
      )}\n`,
    );
  }
  if (s.outputs.backend_url) process.stdout.write(`\nBackend function URL: ${String(s.outputs.backend_url)} (AWS_IAM auth; emulated)`);
  for (const [key, f] of Object.entries((s.outputs.functions ?? {}) as Record<string, { url?: string }>)) {
    if (f.url) process.stdout.write(`\nFunction URL of ${key}: ${f.url} (emulated)`);
  }
  process.stdout.write(`\nWebSocket API endpoint: ${String(s.outputs.websocket_url)} (emulated; API id from moto)\n`);

  step(5, "invoke each function once through the local runtime emulator");
  if (!(await invokeEach(s.resources))) throw new Error("a function did not answer as expected; its result is in the table above (`npm run invoke -- local <function>` shows its logs)");

  step(6, "local gateway: the env's WebSocket API, HTTP routes and function URLs for real clients");
  const gw = await startGateway(ENV, { log: (l) => process.stdout.write(`${l}\n`) });
  for (const line of await gatewayRound(gw)) process.stdout.write(`${line}\n`);
  process.stdout.write(`\n${endpointsTable(gw.endpoints)}\n`);
  process.stdout.write(
    `\nDone in ${((Date.now() - started) / 1000).toFixed(1)} s. Left running: the local AWS at ${emu.endpoint}, and the runtime emulator at ${gw.runtimeUrl} with the gateway above ` +
      `(pid ${gw.pid}, function output in ${path.relative(process.cwd(), gatewayLogFile(ENV))}); \`npm run emulator -- stop\` stops them.\n`,
  );
}

/** The ELF machine of a custom runtime's binary (Rust's bootstrap, Go's bootstrap or bootstrap.bin), `-` for other runtimes or a missing package. */
function binaryArchitecture(zipPath: string, runtime: string): string {
  if (!runtime.startsWith("provided") || !fs.existsSync(zipPath)) return "-";
  const binary = packageBinary(unpack(zipPath, PROJECT_ROOT));
  return binary ? (readElfFile(binary).architecture ?? "unknown") : "-";
}

main().catch((e) => {
  process.stderr.write(`\nnpm start failed: ${(e as Error).message}\n`);
  process.exit(1);
});
