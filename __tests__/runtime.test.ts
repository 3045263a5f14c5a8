import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { readElfFile } from "../build/elf";
import { binsFromMetadata, buildFunctions, cargoMetadata, chooseToolchain, defaultArtifactCache, defaultCargoTargetDir, functionHashes } from "../build/rust";
import { createZip } from "../build/zip";
import { FunctionSpec, RuntimeEmulator } from "../runtime/emulator";
import { buildLayer, LayerSource } from "../build/layer";
import { bootstrapCommand, functionsFromStack, StackJson, unpack } from "../runtime/functions";
import { MAX_RESPONSE_BYTES } from "../runtime/sandbox";
import { PROJECT_ROOT } from "./helpers";

/**
 * The runtime emulator with real processes: small Python runtimes that speak the Runtime API the way
 * a misbehaving function would (sleep past the timeout, crash, answer too much, send a request for
 * another invocation), and the project's real Rust backend, arm64 under qemu and x86_64 natively.
 */
jest.setTimeout(30 * 60 * 1000);

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "lambdaship-runtime-"));

/** A runtime script: `python3 -c` with a Runtime API client loop; BODY handles one event. */
function pythonRuntime(name: string, body: string, opts: { timeoutSeconds?: number; maxConcurrency?: number; memoryMiB?: number } = {}): FunctionSpec {
  const script = `
import json, os, sys, time, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"
def post(path, data, headers={}):
    req = urllib.request.Request(api + path, data=data, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req) as r: return r.status, r.read()
    except urllib.error.HTTPError as e: return e.code, e.read()
while True:
    with urllib.request.urlopen(api + "/invocation/next") as r:
        rid = r.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(r.read())
${body.replace(/^/gm, "    ")}
`;
  const file = path.join(scratch, `${name}.py`);
  fs.writeFileSync(file, script);
  return {
    name,
    arn: `arn:aws:lambda:us-east-1:123456789012:function:${name}`,
    runtime: { command: "python3", args: ["-u", file], cwd: scratch, env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } },
    timeoutSeconds: opts.timeoutSeconds ?? 5,
    memoryMiB: opts.memoryMiB ?? 128,
    maxConcurrency: opts.maxConcurrency ?? 10,
    description: "python3 test runtime",
  };
}

describe("runtime emulator: the documented errors, with real runtime processes", () => {
  const emulator = new RuntimeEmulator([
    pythonRuntime("echo", 'print("handling", rid)\npost(f"/invocation/{rid}/response", json.dumps({"id": rid, "event": event}).encode())'),
    pythonRuntime("sleepy", 'time.sleep(10)\npost(f"/invocation/{rid}/response", b"{}")', { timeoutSeconds: 1 }),
    pythonRuntime("crashy", 'print("about to crash")\nsys.exit(3)'),
    pythonRuntime("greedy", 'hoard = b"x" * (160 * 1024 * 1024)\ntime.sleep(3)\npost(f"/invocation/{rid}/response", b"{}")', { memoryMiB: 64 }),
    pythonRuntime("chatty", 'status, reply = post(f"/invocation/{rid}/response", b"x" * (7 * 1024 * 1024))\nprint("runtime got", status, reply.decode()[:60])'),
    pythonRuntime(
      "confused",
      'status, reply = post("/invocation/not-this-one/response", b"{}")\nprint("wrong id:", status, reply.decode())\n' +
        'status, reply = post("/invocation/whatever/nonsense", b"{}")\nprint("bad path:", status, reply.decode())\n' +
        'post(f"/invocation/{rid}/error", json.dumps({"errorType": "Handler.Failed", "errorMessage": "bad input"}).encode(), {"Lambda-Runtime-Function-Error-Type": "Handler.Failed"})',
    ),
  ]);
  afterAll(() => emulator.stop());

  it("answers through the runtime, with START, the function's output, END and REPORT in the logs", async () => {
    const r = await emulator.invoke("echo", JSON.stringify({ hello: "world" }));
    expect(r.functionError).toBeUndefined();
    expect(JSON.parse(r.payload.toString())).toEqual({ id: r.requestId, event: { hello: "world" } });
    expect(r.logs.split("\n")).toEqual([
      `START RequestId: ${r.requestId} Version: $LATEST`,
      `handling ${r.requestId}`,
      `END RequestId: ${r.requestId}`,
      expect.stringMatching(
        new RegExp(`^REPORT RequestId: ${r.requestId}\\tDuration: [\\d.]+ ms\\tBilled Duration: \\d+ ms\\tMemory Size: 128 MB\\tMax Memory Used: \\d+ MB\\tInit Duration: [\\d.]+ ms$`),
      ),
    ]);
  });

  it("kills a function that runs past its timeout and returns Lambda's timeout error", async () => {
    const started = Date.now();
    const r = await emulator.invoke("sleepy", "{}");
    expect(Date.now() - started).toBeLessThan(5000);
    expect(r.functionError).toBe("Unhandled");
    expect(JSON.parse(r.payload.toString())).toEqual({ errorType: "Sandbox.Timedout", errorMessage: `RequestId: ${r.requestId} Error: Task timed out after 1.00 seconds` });
    expect(emulator.status().functions.find((f) => f.name === "sleepy")!.sandboxes).toBe(0);
  });

  it("reports a runtime that exits as Runtime.ExitError, with its output", async () => {
    const r = await emulator.invoke("crashy", "{}");
    expect(JSON.parse(r.payload.toString())).toEqual({ errorType: "Runtime.ExitError", errorMessage: `RequestId: ${r.requestId} Error: Runtime exited with error: exit status 3` });
    expect(r.logs).toContain("about to crash");
    // The next invocation gets a new sandbox, which crashes the same way.
    expect((await emulator.invoke("crashy", "{}")).errorType).toBe("Runtime.ExitError");
  });

  it("kills a runtime whose memory passes the function's memory size: Runtime.OutOfMemory", async () => {
    const r = await emulator.invoke("greedy", "{}");
    expect(r.errorType).toBe("Runtime.OutOfMemory");
    expect(JSON.parse(r.payload.toString()).errorMessage).toMatch(/Runtime exited with error: signal: killed \(memory \d+ MB > 64 MB\)/);
  });

  it("rejects a response over 6 MB: 413 to the runtime, Function.ResponseSizeTooLarge to the caller", async () => {
    const r = await emulator.invoke("chatty", "{}");
    expect(JSON.parse(r.payload.toString())).toEqual({
      errorType: "Function.ResponseSizeTooLarge",
      errorMessage: `Response payload size exceeded maximum allowed payload size (${MAX_RESPONSE_BYTES} bytes).`,
    });
  });

  it("answers a malformed runtime request with a 4xx error and keeps the invocation, which the runtime then fails", async () => {
    const r = await emulator.invoke("confused", "{}");
    expect(r.logs).toContain('wrong id: 400 {"errorType":"InvalidRequestID","errorMessage":"no invocation not-this-one is in progress"}');
    expect(r.logs).toMatch(/bad path: 404 \{"errorType":"NotFound"/);
    expect(r.functionError).toBe("Unhandled");
    expect(r.errorType).toBe("Handler.Failed");
    expect(JSON.parse(r.payload.toString())).toEqual({ errorType: "Handler.Failed", errorMessage: "bad input" });
  });

  it("returns the error a runtime reports from init, as Lambda does", async () => {
    const file = path.join(scratch, "initfail.py");
    fs.writeFileSync(
      file,
      'import json, os, urllib.request\napi = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"\n' +
        'urllib.request.urlopen(urllib.request.Request(api + "/init/error", data=json.dumps({"errorType": "Runtime.ImportModuleError", "errorMessage": "no module named handler"}).encode(), method="POST"))\n' +
        "import time; time.sleep(5)\n",
    );
    const init = new RuntimeEmulator([{ ...pythonRuntime("unused", "pass"), name: "initfail", runtime: { command: "python3", args: [file], cwd: scratch, env: { PATH: process.env.PATH ?? "" } } }]);
    try {
      const r = await init.invoke("initfail", "{}");
      expect(r.errorType).toBe("Runtime.ImportModuleError");
      expect(JSON.parse(r.payload.toString())).toEqual({ errorType: "Runtime.ImportModuleError", errorMessage: "no module named handler" });
    } finally {
      await init.stop();
    }
  });

  it("completes 200 invocations at concurrency 10, none lost or duplicated, queueing the rest", async () => {
    const ids = Array.from({ length: 200 }, (_, i) => i);
    let peakQueued = 0;
    const poll = setInterval(() => (peakQueued = Math.max(peakQueued, emulator.status().functions.find((f) => f.name === "echo")!.queued)), 5);
    const results = await Promise.all(ids.map((i) => emulator.invoke("echo", JSON.stringify({ i }))));
    clearInterval(poll);
    expect(results.map((r) => JSON.parse(r.payload.toString()).event.i)).toEqual(ids);
    expect(new Set(results.map((r) => r.requestId)).size).toBe(200);
    for (const r of results) expect(JSON.parse(r.payload.toString()).id).toBe(r.requestId);
    const status = emulator.status().functions.find((f) => f.name === "echo")!;
    expect(status.sandboxes).toBeLessThanOrEqual(10);
    expect(peakQueued).toBeGreaterThan(0);
    expect(status).toMatchObject({ active: 0, queued: 0, invocations: 201, errors: 0 });
  });

  it("serves Lambda's Invoke API, so the AWS SDK invokes through it", async () => {
    const url = await emulator.listen();
    const lambda = new LambdaClient({ endpoint: url, region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } });
    const ok = await lambda.send(new InvokeCommand({ FunctionName: "echo", Payload: Buffer.from('{"via":"sdk"}'), LogType: "Tail" }));
    expect(ok.StatusCode).toBe(200);
    expect(JSON.parse(Buffer.from(ok.Payload!).toString()).event).toEqual({ via: "sdk" });
    expect(Buffer.from(ok.LogResult!, "base64").toString()).toMatch(/^START RequestId: /);
    const failed = await lambda.send(new InvokeCommand({ FunctionName: "arn:aws:lambda:us-east-1:123456789012:function:crashy", Payload: Buffer.from("{}") }));
    expect(failed.FunctionError).toBe("Unhandled");
    await expect(lambda.send(new InvokeCommand({ FunctionName: "nope" }))).rejects.toThrow("Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope");
    const health = await fetch(`${url}/health`);
    expect(await health.json()).toEqual({ status: "ok", functions: 6 });
  });
});

/** The backend's package for an architecture, built from a copy of the workspace at `ws` (or taken from the artifact store). */
function buildBackend(arch: "arm64" | "x86_64", ws: string): string {
  fs.cpSync(path.join(PROJECT_ROOT, "lambda-src", "rust"), ws, { recursive: true, filter: (p) => path.basename(p) !== "target" });
  const meta = cargoMetadata(ws);
  const bins = binsFromMetadata(meta).filter((b) => b.name === "backend");
  const toolchain = chooseToolchain(arch, true).toolchain;
  const [built] = buildFunctions({
    workspaceDir: ws,
    functions: bins,
    toolchain,
    hashes: functionHashes(meta, bins, toolchain.target),
    cargoTargetDir: defaultCargoTargetDir(),
    artifactCache: defaultArtifactCache(),
  });
  return built.zipPath;
}

describe("runtime emulator: the real Rust backend answers", () => {
  const backendPackage = (arch: "arm64" | "x86_64") => buildBackend(arch, path.join(scratch, `rust-${arch}`));

  it.each(["arm64", "x86_64"] as const)("%s: answers GET /health from its zip, exactly as packaged", async (arch) => {
    const code = unpack(backendPackage(arch), scratch);
    expect(readElfFile(path.join(code, "bootstrap")).architecture).toBe(arch);
    const cmd = bootstrapCommand(code);
    expect(cmd.description).toBe(arch === "arm64" ? "arm64, under qemu-aarch64" : "x86_64, native");
    const emulator = new RuntimeEmulator([
      {
        name: "backend",
        arn: "arn:aws:lambda:us-east-1:123456789012:function:backend",
        runtime: {
          command: cmd.command,
          args: cmd.args,
          cwd: code,
          env: { AWS_REGION: "us-east-1", TABLE_NAME: "items", AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test", AWS_ENDPOINT_URL: "http://127.0.0.1:9", AWS_LAMBDA_FUNCTION_NAME: "backend", AWS_LAMBDA_FUNCTION_MEMORY_SIZE: "256", AWS_LAMBDA_FUNCTION_VERSION: "$LATEST" },
        },
        timeoutSeconds: 10,
        memoryMiB: 256,
        maxConcurrency: 2,
        description: cmd.description,
      },
    ]);
    try {
      const event = fs.readFileSync(path.join(PROJECT_ROOT, "lambda-src", "events", "backend.json"));
      for (let i = 0; i < 3; i++) {
        const r = await emulator.invoke("backend", event);
        expect(r.functionError).toBeUndefined();
        expect(JSON.parse(r.payload.toString())).toMatchObject({ statusCode: 200, body: '{"status":"ok"}' });
      }
      const missing = await emulator.invoke("backend", JSON.stringify({ ...JSON.parse(event.toString()), rawPath: "/nope", requestContext: { ...JSON.parse(event.toString()).requestContext, http: { method: "GET", path: "/nope", protocol: "HTTP/1.1", sourceIp: "127.0.0.1", userAgent: "t" } } }));
      expect(JSON.parse(missing.payload.toString()).statusCode).toBe(404);
    } finally {
      await emulator.stop();
    }
  });

  it("unpacks a package with the modes its zip records, once per content", () => {
    const zip = path.join(scratch, "pkg.zip");
    fs.writeFileSync(zip, createZip([{ name: "bootstrap", data: Buffer.from("#!/bin/sh\n"), executable: true }, { name: "data.txt", data: Buffer.from("x") }]));
    const dir = unpack(zip, scratch);
    expect(fs.statSync(path.join(dir, "bootstrap")).mode & 0o777).toBe(0o755);
    expect(fs.statSync(path.join(dir, "data.txt")).mode & 0o777).toBe(0o644);
    expect(unpack(zip, scratch)).toBe(dir);
  });
});

describe("runtime emulator: functions with their layers, the extension's lines in their logs", () => {
  const proxy: LayerSource = { name: "runtime-proxy", kind: "extension", dir: path.join(PROJECT_ROOT, "lambda-src", "extensions", "runtime-proxy") };
  const deps: LayerSource = { name: "websocket-deps", kind: "dependencies", dir: path.join(PROJECT_ROOT, "lambda-src", "layers", "websocket-deps"), runtime: "python3.12" };
  const layerRoot = path.join(scratch, "layers");
  let emulator: RuntimeEmulator;
  let problems: string[];
  let asyncSettings: Array<[string, number | undefined, number | undefined]>;

  beforeAll(() => {
    const built = (src: LayerSource, arch: "arm64" | "x86_64") => buildLayer(src, arch, { projectRoot: layerRoot, python: path.join(PROJECT_ROOT, ".venv", "bin", "python") }).zipPath;
    const handlerZip = path.join(scratch, "layered-handler.zip");
    fs.writeFileSync(
      handlerZip,
      createZip([
        {
          name: "handler.py",
          data: Buffer.from(
            'from aws_lambda_powertools import Logger\nlogger = Logger(service="layer-test")\n\ndef lambda_handler(event, context):\n    logger.info("hello from the layer")\n    if event.get("fail"):\n        raise ValueError("asked to fail")\n    return {"ok": True}\n',
          ),
        },
      ]),
    );
    const backendZip = path.join(scratch, "backend-arm64.zip");
    fs.copyFileSync(buildBackend("arm64", path.join(scratch, "rust-layers")), backendZip);
    const stack: StackJson = {
      resource: {
        aws_lambda_layer_version: {
          deps: { layer_name: "deps", filename: built(deps, "arm64") },
          proxy_x86: { layer_name: "proxy-x86_64", filename: built(proxy, "x86_64") },
          proxy_arm: { layer_name: "proxy-arm64", filename: built(proxy, "arm64") },
        },
        aws_lambda_function_event_invoke_config: { py_async: { function_name: "${aws_lambda_function.py.function_name}", maximum_retry_attempts: 1, maximum_event_age_in_seconds: 120 } },
        aws_lambda_function: {
          py: {
            function_name: "py",
            runtime: "python3.12",
            handler: "handler.lambda_handler",
            filename: handlerZip,
            layers: ["${aws_lambda_layer_version.deps.arn}", "${aws_lambda_layer_version.proxy_x86.arn}", "${data.aws_lambda_layer_version.shared.arn}"],
            environment: { variables: { AWS_LAMBDA_EXEC_WRAPPER: "/opt/lambdaship-runtime-proxy-wrapper", LAMBDASHIP_PROXY_PORT: "9009" } },
            reserved_concurrent_executions: 2,
          },
          rust: {
            function_name: "rust",
            runtime: "provided.al2023",
            handler: "bootstrap",
            filename: backendZip,
            layers: ["${aws_lambda_layer_version.proxy_arm.arn}"],
            environment: { variables: { TABLE_NAME: "items", LAMBDASHIP_PROXY_PORT: "9009", LAMBDASHIP_RUNTIME_API_PROXY: "127.0.0.1:9009" } },
            memory_size: 256,
            timeout: 10,
          },
        },
      },
    };
    const resolved = functionsFromStack(stack, { stackDir: scratch, region: "us-east-1", projectRoot: PROJECT_ROOT });
    problems = resolved.problems;
    asyncSettings = resolved.functions.map((f) => [f.name, f.maximumRetryAttempts, f.maximumEventAgeSeconds]);
    emulator = new RuntimeEmulator(resolved.functions);
  });
  afterAll(() => emulator?.stop());

  const proxyLines = (logs: string) => logs.split("\n").filter((l) => l.includes('"extension":"lambdaship-runtime-proxy"')).map((l) => JSON.parse(l) as Record<string, unknown>);

  it("takes each function's event invoke config from the stack (retries, event age); Lambda's defaults without one", () => {
    expect(asyncSettings).toEqual([
      ["py", 1, 120],
      ["rust", undefined, undefined],
    ]);
  });

  it("runs a Python function with its dependency layer on PYTHONPATH, started through the proxy's wrapper script", async () => {
    const ok = await Promise.all([1, 2, 3].map(() => emulator.invoke("py", Buffer.from("{}"))));
    for (const r of ok) {
      expect(JSON.parse(r.payload.toString())).toEqual({ ok: true });
      expect(r.logs).toMatch(/"message":"hello from the layer".*"service":"layer-test"/); // powertools' JSON logger, from the layer
      expect(proxyLines(r.logs)).toEqual([expect.objectContaining({ requestId: r.requestId, outcome: "success", status: 202 })]);
    }
    const failed = await emulator.invoke("py", Buffer.from('{"fail": true}'));
    expect(failed.errorType).toBe("ValueError");
    expect(proxyLines(failed.logs)).toEqual([expect.objectContaining({ requestId: failed.requestId, outcome: "error", errorType: "ValueError" })]);
  });

  it("runs the Rust backend (arm64, under qemu) through the arm64 proxy, which it finds through LAMBDASHIP_RUNTIME_API_PROXY", async () => {
    const event = fs.readFileSync(path.join(PROJECT_ROOT, "lambda-src", "events", "backend.json"));
    for (let i = 0; i < 2; i++) {
      const r = await emulator.invoke("rust", event);
      expect(JSON.parse(r.payload.toString())).toMatchObject({ statusCode: 200 });
      const [line] = proxyLines(r.logs);
      expect(line).toMatchObject({ requestId: r.requestId, outcome: "success" });
      expect(line.durationMs).toEqual(expect.any(Number));
    }
  });

  it("says which layer it could not place: one referenced only by ARN", () => {
    expect(problems).toEqual(["py: layer ${data.aws_lambda_layer_version.shared.arn} is referenced by ARN, so its content is not available here; the function runs without it"]);
  });

  it("fails the invocation when an extension dies during init, as Lambda does", async () => {
    const bad = new RuntimeEmulator([{ ...pythonRuntime("with-bad-extension", 'post(f"/invocation/{rid}/response", b"{}")'), runtime: { ...pythonRuntime("x", "").runtime, extensions: [{ name: "bad", command: "sh", args: ["-c", "echo extension starting; exit 4"] }] } }]);
    try {
      const r = await bad.invoke("with-bad-extension", Buffer.from("{}"));
      expect(r.errorType).toBe("Extension.Crash");
      expect(r.logs).toContain("extension starting");
    } finally {
      await bad.stop();
    }
  });
});
