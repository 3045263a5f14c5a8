import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { ConnectionsStandIn } from "../runtime/connections";
import { FunctionSpec, lastBytes, RuntimeEmulator } from "../runtime/emulator";
import { decodeClientContext, splitQualifier } from "../runtime/invoke-api";
import { routeRuntimeApi, RuntimeApiHandlers } from "../runtime/rapi";
import { IllegalTransition, SandboxStateMachine } from "../runtime/state";
import { describeExit, SupervisedProcess } from "../runtime/supervisor";
import { MemoryWatchdog, processUsage } from "../runtime/watchdog";
import { traceHeader } from "../runtime/sandbox";

/** The runtime emulator's parts, each on its own (the whole runs in runtime.test and the conformance tests). */
jest.setTimeout(60_000);

describe("the sandbox state machine", () => {
  it("allows Lambda's lifecycle and refuses anything else", () => {
    const m = new SandboxStateMachine();
    const seen: string[] = [];
    m.onChange((to, from) => seen.push(`${from}->${to}`));
    m.to("ready");
    m.to("invoking");
    expect(() => m.to("ready")).toThrow(IllegalTransition);
    expect(() => m.to("ready")).toThrow("a sandbox cannot go from invoking to ready (allowed: responded, dead)");
    m.to("responded");
    m.to("ready");
    m.kill();
    m.kill();
    expect(() => m.to("initializing")).toThrow(IllegalTransition);
    expect(seen).toEqual(["initializing->ready", "ready->invoking", "invoking->responded", "responded->ready", "ready->dead"]);
  });
});

describe("the Runtime API router", () => {
  const calls: string[] = [];
  const h: RuntimeApiHandlers = {
    next: () => calls.push("next"),
    response: (id) => calls.push(`response ${id}`),
    error: (id, _b, type) => calls.push(`error ${id} ${type}`),
    initError: (_b, type) => calls.push(`init ${type}`),
  };
  const fake = (method: string, headers: Record<string, string> = {}) => ({ method, headers }) as unknown as http.IncomingMessage;
  const res = () => {
    const r = { status: 0, body: "", writeHead: (s: number) => ((r.status = s), r), end: (b?: string) => void (r.body = b ?? "") };
    return r as unknown as http.ServerResponse & { status: number; body: string };
  };
  const body = { data: Buffer.alloc(0), size: 0, tooLarge: false };

  it("routes each endpoint, with or without the version prefix, to its one handler", () => {
    calls.length = 0;
    expect(routeRuntimeApi(fake("GET"), "/2018-06-01/runtime/invocation/next", body, res(), h)).toBe(true);
    routeRuntimeApi(fake("POST"), "/2018-06-01/runtime/invocation/abc/response", body, res(), h);
    routeRuntimeApi(fake("POST", { "lambda-runtime-function-error-type": "Handler.Failed" }), "/runtime/invocation/abc/error", body, res(), h);
    routeRuntimeApi(fake("POST"), "/2018-06-01/runtime/init/error", body, res(), h);
    expect(calls).toEqual(["next", "response abc", "error abc Handler.Failed", "init undefined"]);
  });

  it("answers a wrong method 405 and an unknown path 404, and leaves other paths alone", () => {
    const r1 = res();
    routeRuntimeApi(fake("POST"), "/2018-06-01/runtime/invocation/next", body, r1, h);
    expect(r1.status).toBe(405);
    const r2 = res();
    routeRuntimeApi(fake("POST"), "/2018-06-01/runtime/invocation/x/nonsense", body, r2, h);
    expect(r2.status).toBe(404);
    expect(JSON.parse(r2.body).errorType).toBe("NotFound");
    expect(routeRuntimeApi(fake("GET"), "/2020-01-01/extension/event/next", body, res(), h)).toBe(false);
  });
});

describe("the @connections stand-in", () => {
  it("keeps the last posts only, and answers 410 GoneException for a deleted connection", () => {
    const c = new ConnectionsStandIn(3);
    for (let i = 0; i < 5; i++) c.record("a", `m${i}`);
    expect(c.posted.map((p) => p.data)).toEqual(["m2", "m3", "m4"]);
    expect(c.postedTotal).toBe(5);
    const answer = () => {
      const r = { status: 0, writeHead: (s: number) => ((r.status = s), r), end: () => undefined };
      return r as unknown as http.ServerResponse & { status: number };
    };
    const del = answer();
    expect(c.handle("DELETE", "/local/@connections/abc", Buffer.alloc(0), del)).toBe(true);
    expect(del.status).toBe(204);
    const post = answer();
    c.handle("POST", "/local/@connections/abc", Buffer.from("x"), post);
    expect(post.status).toBe(410);
    expect(c.handle("POST", "/other", Buffer.alloc(0), answer())).toBe(false);
  });
});

describe("the process supervisor and the memory watchdog", () => {
  it("reads whole lines, and describes an exit as Lambda does", async () => {
    const lines: string[] = [];
    const p = new SupervisedProcess({ command: "sh", args: ["-c", "printf 'one\\ntw'; printf 'o\\n'; printf 'partial'; exit 3"], cwd: os.tmpdir(), env: { PATH: process.env.PATH ?? "" } }, (l) => lines.push(l));
    expect(await p.whenExited()).toBe("exit status 3");
    expect(lines).toEqual(["one", "two", "partial"]);
    expect(describeExit(null, "SIGKILL")).toBe("signal: killed");
  });

  it("samples a process's memory and CPU, and fires once past the limit", async () => {
    expect(processUsage(process.pid)!.rssMB).toBeGreaterThan(10);
    const fired: number[] = [];
    const w = new MemoryWatchdog(() => [process.pid, undefined], 1, (mb) => fired.push(mb));
    w.sample();
    w.sample();
    expect(fired).toHaveLength(1);
    expect(w.takePeak()).toBeGreaterThan(10);
    expect(new MemoryWatchdog(() => [999999999], 1, () => fired.push(0)).sample().rssMB).toBe(0);
  });
});

describe("the Invoke API's parts", () => {
  it("decodes a client context of base64 JSON, and names what is wrong otherwise", () => {
    expect(decodeClientContext(Buffer.from('{"custom":{"a":1}}').toString("base64"))).toEqual({ json: '{"custom":{"a":1}}' });
    expect(decodeClientContext("%%%")).toEqual({ error: "X-Amz-Client-Context is not base64" });
    expect(decodeClientContext(Buffer.from("[1]").toString("base64"))).toEqual({ error: "X-Amz-Client-Context must be the base64 of a JSON object" });
    expect("error" in decodeClientContext("A".repeat(3584))).toBe(true);
  });

  it("splits a qualifier off a name, an ARN or a partial ARN", () => {
    expect(splitQualifier("f")).toEqual({ base: "f" });
    expect(splitQualifier("f:$LATEST")).toEqual({ base: "f", qualifier: "$LATEST" });
    expect(splitQualifier("arn:aws:lambda:us-east-1:123456789012:function:f:prod")).toEqual({ base: "arn:aws:lambda:us-east-1:123456789012:function:f", qualifier: "prod" });
    expect(splitQualifier("123456789012:function:f")).toEqual({ base: "123456789012:function:f" });
  });

  it("keeps the caller's trace header, else makes one; cuts logs at a character boundary", () => {
    const t = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    expect(traceHeader(t)).toBe(t);
    expect(traceHeader("garbage")).toMatch(/^Root=1-[0-9a-f]{8}-[0-9a-f]{24};/);
    expect(lastBytes("aé", 1).toString()).toBe("");
    expect(lastBytes("abc", 2).toString()).toBe("bc");
  });
});

describe("the emulator's invocation rules, with small runtimes", () => {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "lambdaship-runtime-units-"));
  /** A python3 Runtime API loop; BODY handles one event (rid, event). */
  const fn = (name: string, body: string, extra: Partial<FunctionSpec> = {}, prelude = ""): FunctionSpec => {
    const file = path.join(scratch, `${name}.py`);
    fs.writeFileSync(
      file,
      `import json, os, sys, time, urllib.request\napi = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"\n${prelude}\n` +
        `def post(p, d):\n    urllib.request.urlopen(urllib.request.Request(api + p, data=d, method="POST"))\n` +
        `while True:\n    with urllib.request.urlopen(api + "/invocation/next") as r:\n        rid = r.headers["Lambda-Runtime-Aws-Request-Id"]\n        event = json.loads(r.read())\n${body.replace(/^/gm, "    ")}\n`,
    );
    return { name, arn: `arn:aws:lambda:us-east-1:123456789012:function:${name}`, runtime: { command: "python3", args: ["-u", file], cwd: scratch, env: { PATH: process.env.PATH ?? "" } }, timeoutSeconds: 3, memoryMiB: 128, maxConcurrency: 10, description: "test", ...extra };
  };

  it("throttles synchronous calls past reserved concurrency with Lambda's 429, and queues Event ones", async () => {
    const console: string[] = [];
    const emu = new RuntimeEmulator([fn("reserved", 'time.sleep(0.5)\npost(f"/invocation/{rid}/response", b"{}")', { reservedConcurrency: 1, maxConcurrency: 1 })], { console: (l) => console.push(l) });
    const url = `${await emu.listen()}/2015-03-31/functions/reserved/invocations`;
    try {
      const [a, b] = await Promise.all([fetch(url, { method: "POST", body: "{}" }), new Promise((r) => setTimeout(r, 150)).then(() => fetch(url, { method: "POST", body: "{}" }))]);
      expect(a.status).toBe(200);
      expect(b.status).toBe(429);
      expect(b.headers.get("x-amzn-errortype")).toBe("TooManyRequestsException");
      expect(await b.json()).toMatchObject({ Reason: "ReservedFunctionConcurrentInvocationLimitExceeded", message: "Rate Exceeded." });
      const events = await Promise.all([1, 2].map(() => fetch(url, { method: "POST", body: "{}", headers: { "X-Amz-Invocation-Type": "Event" } })));
      expect(events.map((e) => e.status)).toEqual([202, 202]);
      await new Promise((r) => setTimeout(r, 2000));
      const status = emu.status();
      expect(status.recentInvocations.filter((i) => i.type === "Event" && i.status === "success")).toHaveLength(2);
      expect(status.functions[0]).toMatchObject({ throttles: 1 });
      expect(console.filter((l) => /Event invocation, attempt 1: success/.test(l))).toHaveLength(2);
    } finally {
      await emu.stop();
    }
  });

  it("retries a failed Event invocation twice with the same request id, then drops it; the attempts are in /status", async () => {
    const emu = new RuntimeEmulator([fn("failing", 'post(f"/invocation/{rid}/error", b\'{"errorType":"Boom","errorMessage":"no"}\')')], { asyncRetryDelaysMs: [50, 100] });
    const url = await emu.listen();
    try {
      const r = await fetch(`${url}/2015-03-31/functions/failing/invocations`, { method: "POST", body: "{}", headers: { "X-Amz-Invocation-Type": "Event" } });
      const id = r.headers.get("x-amzn-requestid");
      await new Promise((res) => setTimeout(res, 1500));
      const status = (await (await fetch(`${url}/status`)).json()) as { recentInvocations: Array<{ requestId: string; attempt: number; errorType: string; next: string }>; pendingEventInvocations: number };
      const attempts = status.recentInvocations.filter((i) => i.requestId === id);
      expect(attempts.map((a) => [a.attempt, a.errorType, a.next])).toEqual([
        [1, "Boom", "retry 1 of 2 in 0.1 s"],
        [2, "Boom", "retry 2 of 2 in 0.1 s"],
        [3, "Boom", "dropped after 3 attempt(s) (no destination here)"],
      ]);
      expect(status.pendingEventInvocations).toBe(0);
    } finally {
      await emu.stop();
    }
  });

  it("follows the function's event invoke config: no retries, or none past the event's maximum age", async () => {
    const failing = 'post(f"/invocation/{rid}/error", b\'{"errorType":"Boom","errorMessage":"no"}\')';
    const emu = new RuntimeEmulator([fn("once", failing, { maximumRetryAttempts: 0 }), fn("aged", failing, { maximumEventAgeSeconds: 60 })], { asyncRetryDelaysMs: [61_000] });
    try {
      const once = emu.invokeAsync("once", "{}");
      const aged = emu.invokeAsync("aged", "{}");
      for (let i = 0; i < 100 && emu.status().pendingEventInvocations > 0; i++) await new Promise((res) => setTimeout(res, 50));
      const next = (id: string) => emu.status().recentInvocations.filter((r) => r.requestId === id).map((r) => r.next);
      expect(next(once)).toEqual(["dropped after 1 attempt(s) (no destination here)"]);
      expect(next(aged)).toEqual(["dropped: it would be older than its maximum age (60 s) at the next retry (no destination here)"]);
    } finally {
      await emu.stop();
    }
  });

  it("gives init Lambda's 10 s limit, then one more try within the function's timeout (suppressed init)", async () => {
    const marker = path.join(scratch, "slow-init-once");
    // The first init hangs; the second (the marker exists) is quick. (2 s: python's start on a loaded machine.)
    const emu = new RuntimeEmulator([fn("slow-init", 'post(f"/invocation/{rid}/response", b\'{"ok": true}\')', { timeoutSeconds: 10 }, `if not os.path.exists(${JSON.stringify(marker)}):\n    open(${JSON.stringify(marker)}, "w").close()\n    time.sleep(30)`)], { initTimeoutMs: 2000 });
    try {
      const r = await emu.invoke("slow-init", "{}");
      expect(JSON.parse(r.payload.toString())).toEqual({ ok: true });
      expect(r.logs).toMatch(/^INIT_REPORT Init Duration: 2000\.00 ms\tPhase: init\tStatus: timeout$/m);
      const never = new RuntimeEmulator([fn("never", "pass", { timeoutSeconds: 1 }, "time.sleep(30)")], { initTimeoutMs: 300 });
      const t = await never.invoke("never", "{}");
      await never.stop();
      expect(t.errorType).toBe("Sandbox.Timedout");
      expect(JSON.parse(t.payload.toString()).errorMessage).toMatch(/Task timed out after 1\.00 seconds$/);
    } finally {
      await emu.stop();
    }
  });

  it("validates requests as the Invoke API does", async () => {
    const emu = new RuntimeEmulator([fn("v", 'post(f"/invocation/{rid}/response", b"{}")')]);
    const url = await emu.listen();
    const post = (p: string, body: string | Buffer = "{}", headers: Record<string, string> = {}) => fetch(`${url}/2015-03-31/functions/${p}/invocations`, { method: "POST", body, headers });
    try {
      const bad = await post("v", "{}", { "X-Amz-Invocation-Type": "Sometimes" });
      expect(bad.status).toBe(400);
      expect(bad.headers.get("x-amzn-errortype")).toBe("ValidationException");
      expect((await post("v", "{}", { "X-Amz-Log-Type": "All" })).status).toBe(400);
      expect((await post("v", Buffer.alloc(1024 * 1024 + 10, 32), { "X-Amz-Invocation-Type": "Event" })).status).toBe(413);
      const q = await post("v:prod");
      expect(q.status).toBe(404);
      expect(((await q.json()) as { message: string }).message).toBe("Function not found: arn:aws:lambda:us-east-1:123456789012:function:v:prod");
      expect((await post("v:$LATEST")).status).toBe(200);
      expect((await post("v", "{}", { "X-Amz-Invocation-Type": "DryRun" })).status).toBe(204);
      expect((await post("bad name!")).status).toBe(400);
    } finally {
      await emu.stop();
    }
  });
});
