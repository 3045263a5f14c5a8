import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { FunctionSpec, RuntimeEmulator } from "../runtime/emulator";
import { freePort } from "../lib/local-aws";
import { buildGoHandler, pythonHandlerCommand, RieInstance, startRie } from "../lib/rie";

/**
 * The runtime emulator side by side with AWS's Runtime Interface Emulator (RIE, built from its Go
 * module on the proxy, lib/rie.ts), on two handlers nobody here wrote the runtime of: a Go
 * `bootstrap` on aws-lambda-go and a Python handler on awslambdaric (fixtures/conformance). Each
 * behaviour says whether ours matches RIE ("same as RIE": the check runs against both), or matches
 * Lambda where RIE does not ("Lambda, not RIE": the AWS page that says what Lambda does, and what RIE
 * answered when this was written).
 */
jest.setTimeout(20 * 60 * 1000);

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "lambdaship-conformance-"));
const INVOKE_API = "https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html";
const RUNTIME_API = "https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html";

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: () => Record<string, unknown>;
}

async function call(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(url, { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body), headers });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

const ENV = { PATH: process.env.PATH ?? "/usr/bin:/bin", AWS_LAMBDA_FUNCTION_NAME: "conformance", AWS_LAMBDA_FUNCTION_VERSION: "$LATEST", AWS_LAMBDA_FUNCTION_MEMORY_SIZE: "512", AWS_REGION: "us-east-1" };

interface Side {
  readonly name: string;
  /** Invoke URL of ours. */
  ours: string;
  /** Invoke URL of RIE. */
  rie: string;
}

const handlers: Array<{ label: string; cmd: () => { command: string; args: string[]; cwd: string } }> = [
  { label: "Go on aws-lambda-go", cmd: () => ({ command: path.join(buildGoHandler(path.join(scratch, "go")), "bootstrap"), args: [], cwd: path.join(scratch, "go") }) },
  { label: "Python on awslambdaric", cmd: pythonHandlerCommand },
];

describe.each(handlers)("conformance with RIE: $label", ({ label, cmd }) => {
  let emulator: RuntimeEmulator;
  let rie: RieInstance;
  const side: Side = { name: label, ours: "", rie: "" };
  const lines: string[] = [];

  beforeAll(async () => {
    const c = cmd();
    const spec = (name: string, timeoutSeconds: number): FunctionSpec => ({
      name,
      arn: `arn:aws:lambda:us-east-1:123456789012:function:${name}`,
      runtime: { command: c.command, args: c.args, cwd: c.cwd, env: { ...ENV, AWS_LAMBDA_FUNCTION_NAME: name, _HANDLER: "handler.handler" } },
      timeoutSeconds,
      memoryMiB: 512,
      maxConcurrency: 10,
      description: label,
    });
    emulator = new RuntimeEmulator([spec("conformance", 3), spec("short", 1)], { console: (l) => lines.push(l) });
    const url = await emulator.listen();
    side.ours = `${url}/2015-03-31/functions/conformance/invocations`;
    rie = await startRie({ ...c, env: { ...ENV, AWS_LAMBDA_FUNCTION_TIMEOUT: "3", _HANDLER: "handler.handler" } });
    side.rie = `${rie.url}/2015-03-31/functions/function/invocations`;
  });
  afterAll(async () => {
    await emulator?.stop();
    await rie?.stop();
  });

  it("same as RIE: the handler gets the event and its context, and its answer comes back as given", async () => {
    for (const url of [side.ours, side.rie]) {
      const r = await call(url, { hello: "world" });
      expect(r.status).toBe(200);
      const body = r.json();
      expect(body).toMatchObject({ ok: true, requestId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
      // The deadline the runtime is given is the function's timeout (3 s) from now.
      expect(Number(body.deadlineMs) - Date.now()).toBeGreaterThan(1500);
      expect(Number(body.deadlineMs) - Date.now()).toBeLessThanOrEqual(3100);
    }
  });

  it(`Lambda, not RIE: a function error is 200 with X-Amz-Function-Error: Unhandled and the runtime's error body (${INVOKE_API}, FunctionError)`, async () => {
    const ours = await call(side.ours, { mode: "error" });
    expect(ours.status).toBe(200);
    expect(ours.headers.get("x-amz-function-error")).toBe("Unhandled");
    expect(ours.json()).toMatchObject({ errorMessage: "asked to fail" });
    // RIE: the same body, without the header (the AWS SDK cannot tell it from a success).
    const theirs = await call(side.rie, { mode: "error" });
    expect(theirs.json()).toMatchObject({ errorMessage: "asked to fail" });
    expect(theirs.headers.get("x-amz-function-error")).toBeNull();
  });

  it(`same as RIE: the client context reaches the handler decoded (${INVOKE_API}, ClientContext); Lambda's 400 for one that is not base64 JSON`, async () => {
    const cc = Buffer.from(JSON.stringify({ custom: { team: "platform" }, client: { installation_id: "i-1", app_title: "t", app_version_name: "1", app_version_code: "1", app_package_name: "p" }, env: {} })).toString("base64");
    for (const url of [side.ours, side.rie]) expect((await call(url, {}, { "X-Amz-Client-Context": cc })).json()).toMatchObject({ ok: true, clientContext: { team: "platform" } });
    // Not base64 JSON: Lambda's 400, before anything runs.
    const bad = await call(side.ours, {}, { "X-Amz-Client-Context": "not base64!" });
    expect(bad.status).toBe(400);
    expect(bad.headers.get("x-amzn-errortype")).toBe("InvalidRequestContentException");
  });

  it(`Lambda, not RIE: the caller's trace header reaches the runtime (${RUNTIME_API}, Lambda-Runtime-Trace-Id)`, async () => {
    const trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    expect((await call(side.ours, {}, { "X-Amzn-Trace-Id": trace })).json().trace).toBe(trace);
    expect((await call(side.rie, {}, { "X-Amzn-Trace-Id": trace })).json().trace || "").not.toBe(trace);
    // Without one, the runtime still gets a trace header of its own.
    expect(String((await call(side.ours, {})).json().trace)).toMatch(/^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0$/);
  });

  it(`same as RIE: after a timeout the next invocation gets a fresh sandbox; Lambda, not RIE: the timeout is a function error with Sandbox.Timedout (${INVOKE_API})`, async () => {
    const ours = await call(side.ours, { mode: "sleep", ms: 5000 });
    expect(ours.status).toBe(200);
    expect(ours.headers.get("x-amz-function-error")).toBe("Unhandled");
    expect(ours.json()).toMatchObject({ errorType: "Sandbox.Timedout", errorMessage: expect.stringMatching(/Task timed out after 3\.00 seconds$/) });
    expect((await call(side.ours, {})).json().ok).toBe(true);
    const theirs = await call(side.rie, { mode: "sleep", ms: 5000 });
    expect(theirs.text).toMatch(/Task timed out after 3\.00 seconds/);
    expect(theirs.headers.get("x-amz-function-error")).toBeNull();
    expect((await call(side.rie, {})).json().ok).toBe(true);
  });

  it(`Lambda, not RIE: a response over 6 MB is Function.ResponseSizeTooLarge, and the next invocation is served (${INVOKE_API}, limits)`, async () => {
    const ours = await call(side.ours, { mode: "big" });
    expect(ours.headers.get("x-amz-function-error")).toBe("Unhandled");
    expect(ours.json()).toMatchObject({ errorType: "Function.ResponseSizeTooLarge" });
    for (let i = 0; i < 3; i++) expect((await call(side.ours, {})).json().ok).toBe(true);
  });

  it(`Lambda, not RIE: LogType Tail returns the last 4 KB of that invocation's log (${INVOKE_API}, LogResult)`, async () => {
    const ours = await call(side.ours, { lines: 500 }, { "X-Amz-Log-Type": "Tail" });
    const log = Buffer.from(ours.headers.get("x-amz-log-result") ?? "", "base64");
    expect(log.length).toBeLessThanOrEqual(4096);
    expect(log.length).toBeGreaterThan(3000);
    const id = String(ours.json().requestId);
    expect(log.toString()).toMatch(new RegExp(`line 499 of ${id}\\n(.*\\n)?END RequestId: ${id}\\nREPORT RequestId: ${id}\\t`));
    expect((await call(side.rie, {}, { "X-Amz-Log-Type": "Tail" })).headers.get("x-amz-log-result")).toBeNull();
  });

  it(`Lambda, not RIE: a payload that is not JSON is refused with 400 InvalidRequestContentException (${INVOKE_API}, Errors)`, async () => {
    const ours = await call(side.ours, "{not json");
    expect(ours.status).toBe(400);
    expect(ours.headers.get("x-amzn-errortype")).toBe("InvalidRequestContentException");
    expect(ours.json().message).toMatch(/^Could not parse request body into json/);
  });

  it("no invocation ever fails for its predecessor: 100 alternating crash (panic or exit, an oversized answer) / normal invocations", async () => {
    const crashes = label.startsWith("Go") ? [{ mode: "panic" }, { mode: "exit" }, { mode: "big" }] : [{ mode: "exit" }, { mode: "error" }, { mode: "big" }];
    const failures: string[] = [];
    for (let i = 0; i < 50; i++) {
      const bad = await call(side.ours, crashes[i % crashes.length]);
      if (bad.headers.get("x-amz-function-error") !== "Unhandled") failures.push(`crash ${i}: no function error (${bad.status} ${bad.text.slice(0, 100)})`);
      const good = await call(side.ours, { i });
      if (good.status !== 200 || good.json().ok !== true) failures.push(`normal ${i} after ${JSON.stringify(crashes[i % crashes.length])}: ${good.status} ${good.text.slice(0, 200)}`);
    }
    expect(failures).toEqual([]);
    // A function that times out (1 s) alternating with normal ones: each normal one is served.
    const short = side.ours.replace("/conformance/", "/short/");
    for (let i = 0; i < 3; i++) {
      expect((await call(short, { mode: "sleep", ms: 3000 })).json().errorType).toBe("Sandbox.Timedout");
      expect((await call(short, {})).json().ok).toBe(true);
    }
  });

  it("each log line belongs to exactly one invocation: 100 sequential invocations, each Tail holds its own lines only", async () => {
    for (let i = 0; i < 100; i++) {
      const r = await call(side.ours, { lines: 3 }, { "X-Amz-Log-Type": "Tail" });
      const id = String(r.json().requestId);
      const log = Buffer.from(r.headers.get("x-amz-log-result")!, "base64").toString();
      const own = log.split("\n").filter((l) => /^line \d of /.test(l));
      expect(own).toEqual([0, 1, 2].map((n) => `line ${n} of ${id}`));
    }
    // And on the console, prefixed with the function and the request id, as sam local does.
    expect(lines.some((l) => /^\[conformance [0-9a-f]{8}\] line 0 of [0-9a-f-]{36}$/.test(l))).toBe(true);
  });

  it("serves 10 concurrent callers, each its own answer (RIE serves one at a time)", async () => {
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => call(side.ours, { lines: 1, i })));
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(new Set(results.map((r) => r.json().requestId)).size).toBe(10);
  });
});

describe("npm run invoke -- --source: any handler, in no env", () => {
  it("builds and runs Go, Python and Node.js handlers from folders outside lambda-src/, for this machine's architecture", () => {
    const dir = path.join(scratch, "outside", "echo-go");
    fs.cpSync(path.join(__dirname, "fixtures", "conformance", "go"), dir, { recursive: true });
    fs.writeFileSync(path.join(scratch, "event.json"), '{"lines": 1}');
    const r = spawnSync(process.execPath, ["-r", "./scripts/register.js", "scripts/invoke.ts", "--source", dir, "--event", path.join(scratch, "event.json")], { cwd: path.join(__dirname, ".."), encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/building .*echo-go \(go, provided\.al2023, handler bootstrap\) for x86_64/);
    expect(r.stdout).toMatch(/^line 0 of [0-9a-f-]{36}$/m);
    expect(r.stdout).toMatch(/"functionArn": "arn:aws:lambda:us-east-1:123456789012:function:echo-go"/);
    // Python and Node.js folders, runtime and handler detected.
    const py = path.join(scratch, "outside", "py-fn");
    fs.mkdirSync(py, { recursive: true });
    fs.writeFileSync(path.join(py, "app.py"), 'def handler(event, context):\n    print("python says hi", context.aws_request_id)\n    return {"lang": "python"}\n');
    const node = path.join(scratch, "outside", "node-fn");
    fs.mkdirSync(node, { recursive: true });
    fs.writeFileSync(path.join(node, "index.js"), 'exports.handler = async (event, context) => { console.log("node says hi"); return { lang: "node", requestId: context.awsRequestId }; };\n');
    for (const [dir, lang] of [[py, "python"], [node, "node"]]) {
      const one = spawnSync(process.execPath, ["-r", "./scripts/register.js", "scripts/invoke.ts", "--source", dir], { cwd: path.join(__dirname, ".."), encoding: "utf8" });
      expect(one.status).toBe(0);
      expect(one.stdout).toContain(`"lang": "${lang}"`);
      expect(one.stdout).toContain(`${lang} says hi`);
    }
    const zip = spawnSync(process.execPath, ["-r", "./scripts/register.js", "scripts/invoke.ts", "--source", path.join(scratch, "missing.zip")], { cwd: path.join(__dirname, ".."), encoding: "utf8" });
    expect(zip.status).toBe(2);
    expect(zip.stderr).toContain("--source is");
  });
});

describe("npm run invoke -- --source: Java and Rust folders outside lambda-src/", () => {
  const invoke = (...args: string[]) => spawnSync(process.execPath, ["-r", "./scripts/register.js", "scripts/invoke.ts", "--source", ...args], { cwd: path.join(__dirname, ".."), encoding: "utf8" });

  it("builds a Maven project (mvn compile) and runs it on AWS's Java runtime client", () => {
    const dir = path.join(scratch, "outside", "stock");
    fs.cpSync(path.join(__dirname, "..", "lambda-src", "functions", "inventory"), dir, { recursive: true, filter: (f) => !f.includes(`${path.sep}target`) });
    const event = path.join(scratch, "stock-event.json");
    fs.writeFileSync(event, '{"sku": "PEN-2"}');
    const r = invoke(dir, "--event", event);
    expect(r.stderr).toMatch(/building .*stock \(java, java21, handler example\.Inventory::handleRequest\) for x86_64/);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/"sku": "PEN-2"/);
    expect(r.stdout).toMatch(/"requestId": "[0-9a-f-]{36}"/);
  });

  it("builds a cargo workspace's bin natively (dev profile), --bin choosing among several, with --env variables", () => {
    const dir = path.join(scratch, "outside", "std-rust-fn");
    fs.cpSync(path.join(__dirname, "fixtures", "std-rust-fn"), dir, { recursive: true });
    // Two bins and no --bin: refused, naming them and the flag.
    const which = invoke(dir);
    expect(which.status).toBe(2);
    expect(which.stderr).toContain("builds 2 bins (hello, shout): say which with --bin NAME");
    const wrong = invoke(dir, "--bin", "nope");
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toContain("--bin is nope, which");
    const r = invoke(dir, "--bin", "shout", "--env", "GREETING=hej");
    expect(r.stderr).toContain("(Rust, bin shout) natively with cargo's dev profile");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^rust says hi [0-9a-f-]{36}$/m);
    expect(r.stdout).toContain('"bin": "shout"');
    expect(r.stdout).toContain('"greeting": "hej"');
    // --bin is for cargo workspaces only.
    const py = path.join(scratch, "outside", "py-bin");
    fs.mkdirSync(py, { recursive: true });
    fs.writeFileSync(path.join(py, "app.py"), "def handler(event, context):\n    return {}\n");
    const notRust = invoke(py, "--bin", "x");
    expect(notRust.status).toBe(2);
    expect(notRust.stderr).toContain("is not a cargo workspace");
  });
});

describe("an external runtime (npm run runtime -- --external): the Runtime API served, the process started by hand", () => {
  it("waits for the runtime, serves it invocations, and takes a restarted one after a timeout resets the sandbox", async () => {
    const dir = buildGoHandler(path.join(scratch, "go-external"));
    const port = await freePort();
    const emu = new RuntimeEmulator([{ name: "ext", arn: "arn:aws:lambda:us-east-1:123456789012:function:ext", runtime: { command: "unused", args: [], cwd: dir, env: {} }, timeoutSeconds: 1, memoryMiB: 128, maxConcurrency: 1, externalPort: port, description: "external" }]);
    const byHand = () => spawn(path.join(dir, "bootstrap"), [], { env: { ...ENV, AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${port}` }, stdio: "ignore" });
    try {
      const first = emu.invoke("ext", '{"lines": 0}');
      await new Promise((r) => setTimeout(r, 300)); // nothing runs it yet: it waits
      const p1 = byHand();
      expect(JSON.parse((await first).payload.toString())).toMatchObject({ ok: true });
      expect((await emu.invoke("ext", '{"mode": "sleep", "ms": 3000}')).errorType).toBe("Sandbox.Timedout");
      p1.kill("SIGKILL");
      const again = emu.invoke("ext", "{}");
      await new Promise((r) => setTimeout(r, 500));
      const p2 = byHand();
      expect(JSON.parse((await again).payload.toString())).toMatchObject({ ok: true });
      p2.kill("SIGKILL");
    } finally {
      await emu.stop();
    }
  });
});
describe("an external runtime under a debugger: no timeout (enforceTimeout false, as npm run runtime -- --external sets it)", () => {
  it("lets an invocation run past the function's timeout, and tells the runtime Lambda's longest deadline", async () => {
    const dir = buildGoHandler(path.join(scratch, "go-debug"));
    const port = await freePort();
    const emu = new RuntimeEmulator([{ name: "dbg", arn: "arn:aws:lambda:us-east-1:123456789012:function:dbg", runtime: { command: "unused", args: [], cwd: dir, env: {} }, timeoutSeconds: 1, memoryMiB: 128, maxConcurrency: 1, externalPort: port, enforceTimeout: false, description: "external" }]);
    const p = spawn(path.join(dir, "bootstrap"), [], { env: { ...ENV, AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${port}` }, stdio: "ignore" });
    try {
      const slow = await emu.invoke("dbg", '{"mode": "sleep", "ms": 1800}');
      expect(slow.errorType).toBeUndefined();
      expect(slow.sandbox).toBe("kept");
      // The same process answers the next one: nothing was reset.
      const next = await emu.invoke("dbg", '{"lines": 0}');
      expect(JSON.parse(next.payload.toString())).toMatchObject({ ok: true });
      expect(Number(JSON.parse(next.payload.toString()).deadlineMs) - Date.now()).toBeGreaterThan(800_000);
    } finally {
      p.kill("SIGKILL");
      await emu.stop();
    }
  });
});

