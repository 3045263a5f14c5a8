import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import WebSocket from "ws";
import { buildFunction } from "../build/function";
import { buildLayer, LayerSource } from "../build/layer";
import { createZip } from "../build/zip";
import { RuntimeEmulator } from "../runtime/emulator";
import { functionsFromStack, StackJson } from "../runtime/functions";
import { envelope, relayRoom } from "../runtime/live-protocol";
import { LiveSession } from "../runtime/live-session";
import { relayCertificates, startRelayStandIn, RelayStandIn } from "../runtime/relay-stand-in";
import { signRequest } from "../runtime/sigv4";
import { PROJECT_ROOT } from "./helpers";

/**
 * The runtime-proxy extension's live mode (issue 16), the real binary in the real runtime emulator:
 * a Python function whose deployed code answers {"served": "deployed"}, with the proxy layer and
 * LAMBDASHIP_LIVE_RELAY pointing at a relay stand-in (runtime/relay-stand-in.ts) that does what the
 * env's WebSocket handlers do and takes only SigV4-signed upgrades, checked by the local gateway's verifier. The developer's side
 * is runtime/live-session.ts.
 */
jest.setTimeout(10 * 60 * 1000);

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "lambdaship-live-ext-"));
const FN = "live-fn";
const GO_FN = "live-go";

const signed = (url: string) => signRequest({ method: "GET", url: url.replace(/^ws/, "http") }, { accessKeyId: "test", secretAccessKey: "test", region: "us-east-1", service: "execute-api" });

// ws:// as the local gateway serves the relay, and wss:// as API Gateway does (TLS through rustls in the extension).
describe.each(["ws", "wss"])("runtime-proxy live mode over %s://", (transport) => {
  const tls = transport === "wss" ? relayCertificates(path.join(scratch, "certs")) : undefined;
  const ca = tls ? fs.readFileSync(tls.caFile) : undefined;
  let relay: RelayStandIn;
  let emulator: RuntimeEmulator;
  const proxyLines = (logs: string) => logs.split("\n").filter((l) => l.includes('"extension":"lambdaship-runtime-proxy"') && l.includes('"requestId"')).map((l) => JSON.parse(l) as Record<string, unknown>);
  const until = async (what: string, f: () => boolean, ms = 30_000) => {
    const deadline = Date.now() + ms;
    while (!f()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  beforeAll(async () => {
    relay = await startRelayStandIn({ tls });
    const proxy: LayerSource = { name: "runtime-proxy", kind: "extension", dir: path.join(PROJECT_ROOT, "lambda-src", "extensions", "runtime-proxy") };
    const layerZip = buildLayer(proxy, "x86_64", { projectRoot: path.join(scratch, "layers") }).zipPath;
    const handlerZip = path.join(scratch, "handler.zip");
    fs.writeFileSync(
      handlerZip,
      createZip([{ name: "handler.py", data: Buffer.from('def lambda_handler(event, context):\n    print("deployed code ran")\n    return {"served": "deployed", "event": event}\n') }]),
    );
    // Go on provided.al2023, arm64 (under qemu here): its bootstrap script routes aws-lambda-go through the proxy.
    const goZip = buildFunction({ name: "greeter", dir: path.join(PROJECT_ROOT, "lambda-src", "functions", "greeter"), runtimeApiProxy: true }, "arm64", { projectRoot: path.join(scratch, "functions") }).zipPath;
    const stack: StackJson = {
      resource: {
        aws_lambda_layer_version: { proxy: { layer_name: "proxy", filename: layerZip } },
        aws_lambda_function: {
          go: {
            function_name: GO_FN,
            runtime: "provided.al2023",
            handler: "bootstrap",
            filename: goZip,
            layers: ["${aws_lambda_layer_version.proxy.arn}"],
            timeout: 10,
            environment: { variables: { LAMBDASHIP_PROXY_PORT: "9021", LAMBDASHIP_RUNTIME_API_PROXY: "127.0.0.1:9021", LAMBDASHIP_LIVE_RELAY: relay.url, LAMBDASHIP_LIVE_ACK_MS: "500", ...(tls ? { LAMBDASHIP_LIVE_CA_FILE: tls.caFile } : {}) } },
          },
          f: {
            function_name: FN,
            runtime: "python3.12",
            handler: "handler.lambda_handler",
            filename: handlerZip,
            layers: ["${aws_lambda_layer_version.proxy.arn}"],
            timeout: 10,
            environment: { variables: { AWS_LAMBDA_EXEC_WRAPPER: "/opt/lambdaship-runtime-proxy-wrapper", LAMBDASHIP_PROXY_PORT: "9019", LAMBDASHIP_LIVE_RELAY: relay.url, LAMBDASHIP_LIVE_ACK_MS: "500", ...(tls ? { LAMBDASHIP_LIVE_CA_FILE: tls.caFile } : {}) } },
          },
          // The same relay without its CA: a certificate the extension cannot verify.
          ...(tls
            ? {
                untrusted: {
                  function_name: `${FN}-untrusted`,
                  runtime: "python3.12",
                  handler: "handler.lambda_handler",
                  filename: handlerZip,
                  layers: ["${aws_lambda_layer_version.proxy.arn}"],
                  timeout: 10,
                  environment: { variables: { AWS_LAMBDA_EXEC_WRAPPER: "/opt/lambdaship-runtime-proxy-wrapper", LAMBDASHIP_PROXY_PORT: "9019", LAMBDASHIP_LIVE_RELAY: relay.url, LAMBDASHIP_LIVE_ACK_MS: "500" } },
                },
              }
            : {}),
        },
      },
    };
    const resolved = functionsFromStack(stack, { stackDir: scratch, region: "us-east-1", projectRoot: PROJECT_ROOT });
    expect(resolved.problems).toEqual([]);
    emulator = new RuntimeEmulator(resolved.functions);
  });
  afterAll(async () => {
    await emulator?.stop();
    await relay?.close();
  });

  it("with nobody listening, the deployed code answers at once and the log line says why", async () => {
    const r = await emulator.invoke(FN, Buffer.from('{"n": 1}'));
    expect(JSON.parse(r.payload.toString())).toEqual({ served: "deployed", event: { n: 1 } });
    expect(r.logs).toContain("deployed code ran");
    const [line] = proxyLines(r.logs);
    expect(line).toMatchObject({ requestId: r.requestId, outcome: "success", served: "deployed" });
    expect(String(line.why)).toMatch(/^(not connected to the relay yet|no live session)$/);
    // The extension joined its function's room with a signed upgrade (checked by the gateway's verifier).
    await until("the extension in the relay's room", () => relay.joined.includes(relayRoom(FN)));
    expect(relay.refused).toEqual([]);
  });

  if (transport === "wss") {
    it("a relay whose certificate does not verify is a connection problem: the deployed code serves, and the log line says why", async () => {
      let why = "";
      for (let i = 0; i < 100 && !why.startsWith("no relay connection"); i++) {
        const r = await emulator.invoke(`${FN}-untrusted`, Buffer.from('{"n": 1}'));
        expect(JSON.parse(r.payload.toString())).toEqual({ served: "deployed", event: { n: 1 } });
        const [line] = proxyLines(r.logs);
        expect(line).toMatchObject({ outcome: "success", served: "deployed" });
        why = String(line.why);
        if (!why.startsWith("no relay connection")) await new Promise((res) => setTimeout(res, 50));
      }
      expect(why).toMatch(/^no relay connection \(.*(certificate|UnknownIssuer).*\)$/i);
      expect(relay.joined.filter((r) => r === relayRoom(`${FN}-untrusted`))).toEqual([]);
    });
  }

  it("with a session listening, the session answers: the deployed code never sees the invocation", async () => {
    const seen: Array<{ payload: string; deadlineMs?: number; invokedFunctionArn?: string }> = [];
    const session = new LiveSession({
      url: relay.url,
      functions: [FN],
      headers: signed,
      ca,
      handler: async (_fn, payload, ctx) => {
        seen.push({ payload: payload.toString(), deadlineMs: ctx.deadlineMs, invokedFunctionArn: ctx.invokedFunctionArn });
        const event = JSON.parse(payload.toString()) as { fail?: boolean; big?: number };
        if (event.fail) return { payload: Buffer.from(JSON.stringify({ errorMessage: "asked to fail", errorType: "ValueError" })), errorType: "ValueError" };
        return { payload: Buffer.from(JSON.stringify({ served: "live", size: payload.length, echo: event.big ? "x".repeat(event.big) : undefined })) };
      },
    });
    await session.start();
    try {
      // The session's hello reaches the extension within a moment.
      let r = await emulator.invoke(FN, Buffer.from('{"n": 2}'));
      for (let i = 0; i < 50 && JSON.parse(r.payload.toString()).served !== "live"; i++) {
        await new Promise((res) => setTimeout(res, 100));
        r = await emulator.invoke(FN, Buffer.from('{"n": 2}'));
      }
      expect(JSON.parse(r.payload.toString())).toMatchObject({ served: "live" });
      expect(r.logs).not.toContain("deployed code ran");
      expect(proxyLines(r.logs)).toEqual([expect.objectContaining({ requestId: r.requestId, outcome: "success", served: "live", session: session.id })]);
      expect(seen.at(-1)).toMatchObject({ payload: '{"n": 2}', invokedFunctionArn: expect.stringContaining(`function:${FN}`) });
      expect(seen.at(-1)!.deadlineMs).toBeGreaterThan(Date.now());

      // 1 MB out and 2 MB back: in parts under API Gateway's limits both ways.
      const big = JSON.stringify({ big: 2_000_000, pad: "y".repeat(1_000_000) });
      const b = await emulator.invoke(FN, Buffer.from(big));
      expect(JSON.parse(b.payload.toString())).toMatchObject({ served: "live", size: big.length });
      expect(b.payload.length).toBeGreaterThan(2_000_000);

      // A handler error is the invocation's function error, with its type.
      const failed = await emulator.invoke(FN, Buffer.from('{"fail": true}'));
      expect(failed.errorType).toBe("ValueError");
      expect(proxyLines(failed.logs)).toEqual([expect.objectContaining({ outcome: "error", errorType: "ValueError", served: "live" })]);
    } finally {
      await session.stop();
    }
    // After the session's bye, the deployed code answers again, at once.
    const after = await emulator.invoke(FN, Buffer.from('{"n": 3}'));
    expect(JSON.parse(after.payload.toString())).toEqual({ served: "deployed", event: { n: 3 } });
    expect(proxyLines(after.logs)).toEqual([expect.objectContaining({ served: "deployed", why: "no live session" })]);
  });

  it("a Go function on provided.al2023 (no exec wrapper there) is served live through its bootstrap script, and by its binary once the session leaves", async () => {
    const deployed = await emulator.invoke(GO_FN, Buffer.from('{"name": "go"}'));
    expect(JSON.parse(deployed.payload.toString())).toEqual({ greeting: "Hello, go!", requestId: deployed.requestId });
    expect(proxyLines(deployed.logs)).toEqual([expect.objectContaining({ requestId: deployed.requestId, outcome: "success", served: "deployed" })]);
    const session = new LiveSession({ url: relay.url, functions: [GO_FN], headers: signed, ca, handler: async (_fn, payload) => ({ payload: Buffer.from(JSON.stringify({ greeting: `live ${JSON.parse(payload.toString()).name}` })) }) });
    await session.start();
    try {
      let r = await emulator.invoke(GO_FN, Buffer.from('{"name": "go"}'));
      for (let i = 0; i < 50 && JSON.parse(r.payload.toString()).greeting !== "live go"; i++) {
        await new Promise((res) => setTimeout(res, 100));
        r = await emulator.invoke(GO_FN, Buffer.from('{"name": "go"}'));
      }
      expect(JSON.parse(r.payload.toString())).toEqual({ greeting: "live go" });
      expect(proxyLines(r.logs)).toEqual([expect.objectContaining({ requestId: r.requestId, served: "live", session: session.id })]);
    } finally {
      await session.stop();
    }
    const after = await emulator.invoke(GO_FN, Buffer.from('{"name": "again"}'));
    expect(JSON.parse(after.payload.toString())).toMatchObject({ greeting: "Hello, again!" });
  });

  it("a session that says hello but never takes the invocation costs the ack time once, then the deployed code answers", async () => {
    const url = `${relay.url}?room=${relayRoom(FN)}`;
    const mute = new WebSocket(url, { headers: signed(url), ca });
    await new Promise<void>((resolve, reject) => (mute.once("open", () => resolve()), mute.once("error", reject)));
    try {
      mute.send(envelope({ t: "hello", session: "mute", functions: [FN] }));
      await new Promise((r) => setTimeout(r, 300));
      const started = Date.now();
      const r = await emulator.invoke(FN, Buffer.from('{"n": 4}'));
      const ms = Date.now() - started;
      expect(JSON.parse(r.payload.toString())).toEqual({ served: "deployed", event: { n: 4 } });
      expect(proxyLines(r.logs)).toEqual([expect.objectContaining({ served: "deployed", why: "no session took it within 500 ms" })]);
      expect(ms).toBeGreaterThanOrEqual(500);
    } finally {
      mute.close();
    }
  });
});
