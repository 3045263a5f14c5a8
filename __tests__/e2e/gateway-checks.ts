import * as crypto from "crypto";
import * as fs from "fs";
import { spawn } from "child_process";
import WebSocket from "ws";
import * as path from "path";
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { relayRoom } from "../../runtime/live-protocol";
import { LiveSession } from "../../runtime/live-session";
import { signRequest } from "../../runtime/sigv4";
import { Browser, Page } from "../browser";
import { roomLoad } from "./load";
import { run } from "./workspace";

/**
 * What npm start leaves running, with real clients: the HTTP API's routes (NONE and AWS_IAM), the
 * orders queue through its SQS mapping (an order is processed and deleted, a message that is not
 * one ends in the dead-letter queue after maxReceiveCount), and the daily schedule fired by
 * npm run trigger.
 */
export async function checkGateway(root: string): Promise<void> {
  const rec = JSON.parse(fs.readFileSync(path.join(root, ".build", "gateway", "local.json"), "utf8")) as { endpoints: Array<{ kind: string; name: string; url: string }>; log: string };
  const api = rec.endpoints.find((e) => e.kind === "http-api")!.url;
  const health = await fetch(`${api}health`);
  expect([health.status, await health.json()]).toEqual([200, { status: "ok" }]);
  const body = JSON.stringify({ item: "book", quantity: 1 });
  expect((await fetch(`${api}orders`, { method: "POST", body })).status).toBe(403);
  const signed = signRequest({ url: `${api}orders`, method: "POST", body }, { accessKeyId: "test", secretAccessKey: "test", region: "us-east-1", service: "execute-api" });
  const created = await fetch(`${api}orders`, { method: "POST", body, headers: signed });
  expect(created.status).toBe(201);
  expect(((await created.json()) as { item: string }).item).toBe("book");

  const aws = JSON.parse(fs.readFileSync(path.join(root, ".build", "local-aws", "emulator.json"), "utf8")) as { endpoint: string };
  const sqs = new SQSClient({ endpoint: aws.endpoint, region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: "test" } });
  const url = (name: string) => sqs.send(new CreateQueueCommand({ QueueName: name })).then((r) => r.QueueUrl!);
  const [orders, dlq] = [await url("lambdaship-local-orders"), await url("lambdaship-local-orders-dlq")];
  expect(rec.endpoints.find((e) => e.kind === "sqs")).toMatchObject({ name: "lambdaship-local-orders", url: orders });
  await sqs.send(new SendMessageCommand({ QueueUrl: orders, MessageBody: JSON.stringify({ id: "e2e-1", status: "open", total: 250 }) }));
  await sqs.send(new SendMessageCommand({ QueueUrl: orders, MessageBody: "not an order" }));
  const log = () => fs.readFileSync(path.join(root, ".build", "gateway", "local.log"), "utf8");
  // The local env's queue: visibility 10 s, maxReceiveCount 2: received twice, then moved on the third receive.
  const deadline = Date.now() + 90_000;
  let dead: string | undefined;
  while (!dead && Date.now() < deadline) {
    dead = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: dlq, WaitTimeSeconds: 2 }))).Messages?.[0]?.Body;
  }
  expect(dead).toBe("not an order");
  expect(log()).toMatch(/queue batch: 1 orders: \{"open": \{"count": 1, "total": 250\}\}/);
  expect(log()).toMatch(/sqs lambdaship-local-orders -> lambdaship-local-report: \d messages? \(receive 2\), 0 deleted, 1 back after the visibility timeout: 1 reported in batchItemFailures/);
  const left = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: orders, AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"] }))).Attributes!;
  expect([left.ApproximateNumberOfMessages, left.ApproximateNumberOfMessagesNotVisible]).toEqual(["0", "0"]);

  const fired = await run(process.execPath, ["-r", "./scripts/register.js", "scripts/trigger.ts", "local", "report"], root, { LAMBDASHIP_STATE_DIR: "" });
  expect(fired.code).toBe(0);
  expect(fired.stdout).toMatch(/lambdaship-local-report-daily \(cron\(0 6 \* \* \? \*\)\) fired -> lambdaship-local-report, Event invocation \S+, payload \{"orders":\[\]\}\n  success in/);
  expect(fired.stdout).toContain("report of 0 orders");
  // The report's event invoke config (dev's async: 1 retry within an hour), deployed and followed by the emulator.
  const gateway = JSON.parse(fs.readFileSync(path.join(root, ".build", "gateway", "local.json"), "utf8")) as { runtimeUrl: string };
  const status = (await (await fetch(`${gateway.runtimeUrl}/status`)).json()) as { functions: Array<{ name: string; async: unknown }> };
  expect(status.functions.find((f) => f.name === "lambdaship-local-report")?.async).toEqual({ retries: 1, maxEventAgeSeconds: 3600 });
  const unknown = await run(process.execPath, ["-r", "./scripts/register.js", "scripts/trigger.ts", "local", "nightly"], root, { LAMBDASHIP_STATE_DIR: "" });
  expect(unknown.code).toBe(2);
  expect(unknown.stderr).toContain('local has no schedule "nightly"; its schedules are lambdaship-local-report-daily (report, cron(0 6 * * ? *))');
}

/** The connection ids of a room in the local env's connections table, read from the local AWS. */
export async function roomMembers(root: string, room: string): Promise<string[]> {
  const aws = JSON.parse(fs.readFileSync(path.join(root, ".build", "local-aws", "emulator.json"), "utf8")) as { endpoint: string };
  const body = JSON.stringify({ TableName: "lambdaship-local-connections", KeyConditionExpression: "booking_id = :r", ExpressionAttributeValues: { ":r": { S: room } } });
  const headers = signRequest({ method: "POST", url: `${aws.endpoint}/`, body, headers: { "content-type": "application/x-amz-json-1.0", "x-amz-target": "DynamoDB_20120810.Query" } }, { accessKeyId: "test", secretAccessKey: "test", region: "us-east-1", service: "dynamodb" });
  const r = await fetch(`${aws.endpoint}/`, { method: "POST", body, headers });
  const items = ((await r.json()) as { Items?: Array<Record<string, { S: string }>> }).Items;
  if (!items) throw new Error(`query of the connections table answered ${r.status}`);
  return items.map((i) => i.connection_id.S).sort();
}

/**
 * The gateway's chat page in headless Chromium: two pages join one room and see each other, a
 * message sent in one appears in the other, and closing one removes its connection from the table.
 */
export async function checkChatPage(root: string): Promise<void> {
  const rec = JSON.parse(fs.readFileSync(path.join(root, ".build", "gateway", "local.json"), "utf8")) as { endpoints: Array<{ kind: string; url: string }> };
  const page = rec.endpoints.find((e) => e.kind === "chat-page")!.url;
  const room = `e2e-${Date.now().toString(36)}`;
  const browser = await Browser.launch();
  const pages: Array<{ name: string; page: Page }> = [];
  try {
    const join = async (name: string) => {
      const p = await browser.open(`${page}?room=${room}&name=${name}`);
      await browser.waitFor(p, "document.readyState === 'complete' && !!document.getElementById('join-button')", "the page");
      await browser.evaluate(p, "document.getElementById('join-button').click()");
      pages.push({ name, page: p });
      await browser.waitFor(p, "document.getElementById('status').textContent.startsWith('in room')", `${name} in the room`);
      return p;
    };
    const ada = await join("ada");
    const bob = await join("bob");
    const members = (p: typeof ada) => browser.evaluate<string[]>(p, "[...document.querySelectorAll('#members li')].map((li) => li.textContent)");
    // Each sees both (the names learnt from the join messages), through {"action":"who"}.
    await browser.waitFor(ada, "document.querySelectorAll('#members li').length === 2 && document.getElementById('members').textContent.includes('bob')", "ada to see bob");
    await browser.waitFor(bob, "document.querySelectorAll('#members li').length === 2", "bob to see ada");
    expect((await members(ada)).sort()).toEqual(["ada (you)", "bob"]);
    const ids = await roomMembers(root, room);
    expect(ids).toHaveLength(2);
    await browser.evaluate(ada, "document.getElementById('text').value = 'hello from ada'; document.getElementById('send-button').click()");
    const seen = await browser.waitFor<string>(bob, "[...document.querySelectorAll('#log li')].map((li) => li.textContent).find((t) => t.includes('hello from ada'))", "ada's message at bob's");
    expect(seen).toBe("ada: hello from ada");
    await browser.closePage(bob);
    // Closing the page closes its socket: $disconnect deletes its registration.
    const deadline = Date.now() + 30_000;
    let left = ids;
    while (left.length !== 1 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      left = await roomMembers(root, room);
    }
    expect(left).toHaveLength(1);
    expect(ids).toContain(left[0]);
  } catch (e) {
    // What each page shows and what the gateway logged for this room's connections, to tell a lost
    // message from a slow one.
    const shown = await Promise.all(pages.map(async ({ name, page }) => `${name}'s page:\n${await browser.evaluate<string>(page, "document.body.innerText").catch((x: Error) => `(${x.message})`)}`));
    const log = fs.readFileSync(path.join(root, ".build", "gateway", "local.log"), "utf8").split("\n");
    const tail = log.filter((l) => /warn|error|fail|refused|could not/i.test(l)).slice(-30).join("\n") || log.slice(-30).join("\n");
    throw new Error(`${(e as Error).message}\n\n${shown.join("\n\n")}\n\nthe gateway's log (.build/gateway/local.log), its last problems:\n${tail}`);
  } finally {
    await browser.close();
  }
}

/**
 * The load check through the deployed Rust handlers: 200 WebSocket clients in rooms of 10, 10
 * messages each; every message reaches every member of its room exactly once, nobody else.
 */
export async function checkRoomLoad(root: string): Promise<string> {
  const rec = JSON.parse(fs.readFileSync(path.join(root, ".build", "gateway", "local.json"), "utf8")) as { endpoints: Array<{ kind: string; url: string; signed?: boolean }> };
  const ws = rec.endpoints.find((e) => e.kind === "websocket" && !e.signed)!.url;
  const r = await roomLoad(ws, { clients: 200, roomSize: 10, messages: 10, tag: `load-${Date.now().toString(36)}` });
  expect(r.problems).toEqual([]);
  expect(r.delivered).toBe(r.expected);
  expect(r.expected).toBe(20_000);
  return `200 clients, 2000 messages, 20000 deliveries in ${(r.ms / 1000).toFixed(1)} s`;
}

/** A synchronous invocation through the gateway's Invoke API with its log tail, and who served it (the proxy's line). */
async function invokeTail(runtimeUrl: string, fn: string, body: string | Buffer) {
  const r = await fetch(`${runtimeUrl}/2015-03-31/functions/${fn}/invocations`, { method: "POST", body, headers: { "X-Amz-Log-Type": "Tail" } });
  const logs = Buffer.from(r.headers.get("x-amz-log-result") ?? "", "base64").toString();
  return { status: r.status, body: JSON.parse(Buffer.from(await r.arrayBuffer()).toString()) as Record<string, unknown>, served: /"served":"(\w+)"/.exec(logs)?.[1], logs };
}

/**
 * Live mode through what npm start deployed (issue 16): the relay (lambdaship-local-live, its
 * $connect AWS_IAM, served by the env's own Rust WebSocket handlers, connections table and
 * @connections) refuses an unsigned client, and the public API refuses a live room; the backend's
 * runtime-proxy extension (arm64, under qemu, in the gateway's runtime emulator) joins its room
 * signed; while a session serves the backend, invocations through the Invoke API are answered by
 * the session (a 300 KB event out in parts, the answer back), the proxy's log line saying so; after
 * the session's bye, the deployed code answers again.
 */
export async function checkLiveRelay(root: string): Promise<string> {
  const rec = JSON.parse(fs.readFileSync(path.join(root, ".build", "gateway", "local.json"), "utf8")) as { endpoints: Array<{ kind: string; name: string; url: string }>; runtimeUrl: string };
  const relay = rec.endpoints.find((e) => e.kind === "websocket" && e.name === "lambdaship-local-live")?.url;
  const publicApi = rec.endpoints.find((e) => e.kind === "websocket" && e.name === "lambdaship-local-websocket")!.url;
  expect(relay).toBeDefined();
  const fn = "lambdaship-local-backend";
  const roomUrl = (base: string) => `${base}?room=${relayRoom(fn)}`;
  const sign = (url: string) => signRequest({ method: "GET", url: url.replace(/^ws/, "http") }, { accessKeyId: "test", secretAccessKey: "test", region: "us-east-1", service: "execute-api" });
  const upgrade = (url: string, headers: Record<string, string> = {}) =>
    new Promise<number>((resolve) => {
      const ws = new WebSocket(url, { headers });
      ws.once("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      ws.once("open", () => (ws.close(), resolve(101)));
      ws.once("error", () => resolve(-1));
    });
  // Unsigned: the relay's $connect is AWS_IAM. On the public API, the handler keeps live rooms to signed connections.
  expect(await upgrade(roomUrl(relay!))).toBe(403);
  expect(await upgrade(roomUrl(publicApi))).toBe(403);

  const invoke = (event: object) => invokeTail(rec.runtimeUrl, fn, JSON.stringify(event));
  const health = JSON.parse(fs.readFileSync(path.join(root, "lambda-src", "events", "backend.json"), "utf8")) as Record<string, unknown>;
  const session = new LiveSession({
    url: relay!,
    functions: [fn],
    headers: sign,
    handler: async (_f, payload) => ({ payload: Buffer.from(JSON.stringify({ statusCode: 200, body: JSON.stringify({ served: "live", bytes: payload.length, sha: crypto.createHash("sha256").update(payload).digest("base64") }) })) }),
  });
  await session.start();
  try {
    // The extension hears the session's hello within a heartbeat; until then the deployed code answers.
    let r = await invoke(health);
    const deadline = Date.now() + 60_000;
    while (r.served !== "live" && Date.now() < deadline) {
      await new Promise((res) => setTimeout(res, 250));
      r = await invoke(health);
    }
    expect(r.served).toBe("live");
    expect(JSON.parse(String(r.body.body))).toMatchObject({ served: "live" });
    const big = { ...health, body: crypto.randomBytes(225_000).toString("base64") };
    const started = Date.now();
    const b = await invoke(big);
    const ms = Date.now() - started;
    expect(b.status).toBe(200);
    const sent = Buffer.from(JSON.stringify(big));
    expect(JSON.parse(String(b.body.body))).toEqual({ served: "live", bytes: sent.length, sha: crypto.createHash("sha256").update(sent).digest("base64") });
    expect(b.logs).toContain(`"served":"live","session":"${session.id}"`);
    await session.stop();
    // The bye goes through the relay's handlers too: until it arrives, an invocation is offered, not
    // taken, and served by the deployed code after the ack time. Never live again.
    let after = await invoke(health);
    const byeBy = Date.now() + 30_000;
    while (!after.logs.includes('"why":"no live session"') && Date.now() < byeBy) {
      expect([after.served, after.logs.includes('"why":"no session took it within 1500 ms"')]).toEqual(["deployed", true]);
      after = await invoke(health);
    }
    expect(after.served).toBe("deployed");
    expect(after.body).toMatchObject({ statusCode: 200 });
    expect(after.logs).toContain('"why":"no live session"');
    return `the backend served live through the relay (a 300 KB event out and its answer back in ${ms} ms), the deployed code after the session's bye`;
  } finally {
    await session.stop();
  }
}

/**
 * npm run live -- local, as a developer runs it after npm start: every function but the relay's
 * handlers is served, each built here from its sources. The backend (Rust, cargo's dev profile,
 * natively) and the greeter (Go: deployed for arm64, its bootstrap script routing aws-lambda-go
 * through the proxy under qemu) answer the deployed functions' invocations; an edit of each answers
 * at the next invocation; Ctrl-C hands the functions back to their deployed code.
 */
export async function checkLiveCommand(root: string): Promise<string> {
  const rec = JSON.parse(fs.readFileSync(path.join(root, ".build", "gateway", "local.json"), "utf8")) as { runtimeUrl: string };
  const fn = "lambdaship-local-backend";
  const health = fs.readFileSync(path.join(root, "lambda-src", "events", "backend.json"));
  const invoke = async () => {
    const r = await invokeTail(rec.runtimeUrl, fn, health);
    return { health: JSON.parse(String(r.body.body ?? "{}")) as { status?: string }, served: r.served };
  };
  const routes = path.join(root, "lambda-src", "rust", "crates", "backend", "src", "routes.rs");
  const original = fs.readFileSync(routes, "utf8");
  expect(original).toContain('json!({ "status": "ok" })');
  const main = path.join(root, "lambda-src", "functions", "greeter", "main.go");
  const mainOriginal = fs.readFileSync(main, "utf8");
  const greet = async () => {
    const r = await invokeTail(rec.runtimeUrl, "lambdaship-local-greeter", JSON.stringify({ name: "live" }));
    return { greeting: r.body.greeting, served: r.served };
  };
  const child = spawn(process.execPath, ["-r", "./scripts/register.js", "scripts/live.ts", "local"], { cwd: root, env: { ...process.env, LAMBDASHIP_STATE_DIR: "" }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output += d));
  child.stderr.on("data", (d: Buffer) => (output += d));
  const exited = new Promise<number>((resolve) => child.on("close", (code) => resolve(code ?? 1)));
  const until = async <T>(what: string, f: () => Promise<T | undefined> | T | undefined, ms: number): Promise<T> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = await f();
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; npm run live printed:\n${output}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  try {
    // The first build of the bin for this machine may compile the workspace's dependencies (dev profile).
    await until("npm run live to listen", () => output.includes("served from this machine through ws://127.0.0.1:"), 15 * 60_000);
    // All by default: every function but the relay's WebSocket handlers (hello is the e2e's team function).
    const served = /\nlive: (.*) served from this machine/.exec(output)![1];
    expect(served.split(", ").map((f) => f.split(" ")[0]).sort()).toEqual(["backend", "greeter", "hello", "inventory", "orders-api", "report"]);
    const live = await until("an invocation served live", async () => {
      const r = await invoke();
      return r.served === "live" ? r : undefined;
    }, 60_000);
    expect(live.health).toEqual({ status: "ok" });
    // The handler here has the deployed variables (TABLE_NAME, from Lambda) and its role's credentials
    // (assumed through the local AWS's STS): a read of the env's table answers 404, not a 500.
    expect(output).toMatch(/backend: runs with the credentials of its role arn:aws:iam::\d+:role\/\S+ \(until \d\d:\d\d UTC/);
    const item = JSON.parse(health.toString().replace(/\/health/g, "/items/live-check")) as object;
    const read = await invokeTail(rec.runtimeUrl, fn, Buffer.from(JSON.stringify(item)));
    expect([read.served, read.body.statusCode, JSON.parse(String(read.body.body))]).toEqual(["live", 404, { error: "item not found" }]);
    fs.writeFileSync(routes, original.replace('json!({ "status": "ok" })', 'json!({ "status": "edited live" })'));
    const started = Date.now();
    const edited = await invoke();
    const ms = Date.now() - started;
    expect([edited.served, edited.health]).toEqual(["live", { status: "edited live" }]);
    expect(output).toMatch(/backend: sources changed, rebuilding from lambda-src\/rust \(bin backend\)/);
    // Its binary reads the proxy's variable (crates/common), so no warning that it never would.
    expect(output).not.toContain("warning: its binary does not read");
    // Go: Lambda runs no exec wrapper for provided.*; the package's bootstrap script routes it.
    expect(await until("the greeter served live", async () => ((await greet()).served === "live" ? true : undefined), 60_000)).toBe(true);
    expect(await greet()).toEqual({ greeting: "Hello, live!", served: "live" });
    fs.writeFileSync(main, mainOriginal.replace('"%s, %s!"', '"%s, %s, live!"'));
    const g = Date.now();
    expect(await greet()).toEqual({ greeting: "Hello, live, live!", served: "live" });
    const goMs = Date.now() - g;
    child.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(output).toMatch(/live mode off: .*backend.* answer from their deployed code again/);
    const after = await invoke();
    expect([after.served, after.health]).toEqual(["deployed", { status: "ok" }]);
    expect(await greet()).toEqual({ greeting: "Hello, live!", served: "deployed" });
    return `npm run live served all 6 functions; the deployed backend answered with an edit of its health route ${ms} ms after the edit, the deployed Go greeter with an edit ${goMs} ms after it (rebuilds included)`;
  } finally {
    fs.writeFileSync(routes, original);
    fs.writeFileSync(main, mainOriginal);
    if (child.exitCode === null) child.kill("SIGKILL");
  }
}

/**
 * npm run dev -- local report greeter orders-api backend, as a developer runs it after npm start:
 * the env is deployed (nothing changed), served in the foreground from the background gateway's
 * ports, the four functions from dev builds (Python: its checked source files; Go: go build; the
 * TypeScript one: esbuild's incremental rebuild; the Rust backend: cargo's dev profile, natively); an
 * edit of each is answered by the next invocation (orders-api's through the HTTP API route of the
 * gateway), a syntax error leaves the previous build serving, and Ctrl-C brings the background
 * gateway back with the deployed packages.
 */
export async function checkDevCommand(root: string): Promise<string> {
  const record = () => JSON.parse(fs.readFileSync(path.join(root, ".build", "gateway", "local.json"), "utf8")) as { pid: number; runtimeUrl: string; endpoints: Array<{ kind: string; url: string }> };
  const before = record();
  const app = path.join(root, "lambda-src", "functions", "report", "app.py");
  const main = path.join(root, "lambda-src", "functions", "greeter", "main.go");
  const handler = path.join(root, "lambda-src", "functions", "orders-api", "src", "handler.ts");
  const routes = path.join(root, "lambda-src", "rust", "crates", "backend", "src", "routes.rs");
  const originals = new Map([app, main, handler, routes].map((f) => [f, fs.readFileSync(f, "utf8")]));
  const child = spawn(process.execPath, ["-r", "./scripts/register.js", "scripts/dev.ts", "local", "report", "greeter", "orders-api", "backend"], { cwd: root, env: { ...process.env, LAMBDASHIP_STATE_DIR: "" }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output += d));
  child.stderr.on("data", (d: Buffer) => (output += d));
  const exited = new Promise<number>((resolve) => child.on("close", (code) => resolve(code ?? 1)));
  const until = async <T>(what: string, f: () => Promise<T | undefined> | T | undefined, ms: number): Promise<T> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = await f();
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; npm run dev printed:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const invoke = async (fn: string, event: object) => {
    const r = await fetch(`${record().runtimeUrl}/2015-03-31/functions/${fn}/invocations`, { method: "POST", body: JSON.stringify(event) });
    return r.text();
  };
  const orders = { orders: [{ id: "o-1", status: "paid", total: 1200 }] };
  try {
    await until("npm run dev to watch", () => output.includes("[dev] watching 4 functions"), 10 * 60_000);
    expect(output).toContain("No changes: the emulator matches the configuration.");
    expect(output).toContain(`stopped the background gateway of local (pid ${before.pid})`);
    expect(output).toMatch(/\[dev\] greeter: dev build built for x86_64, natively \(deployed: arm64, stripped\)/);
    expect(output).toMatch(/\[dev\] report: built in \d+\.\d\d s \(checked and copied \d+ files?\)/);
    expect(record().pid).toBe(child.pid);
    expect(await invoke("lambdaship-local-greeter", { name: "dev" })).toContain('"greeting":"Hello, dev!"');

    const t = Date.now();
    fs.writeFileSync(app, originals.get(app)!.replace('report[status] = {"count": len(group), "total": sum(totals)}', 'report[status] = {"count": len(group), "total": sum(totals), "edited": True}'));
    const edited = await until("the report's edit", async () => ((await invoke("lambdaship-local-report", orders)).includes("edited") ? Date.now() - t : undefined), 30_000);
    expect(output).toMatch(/\[dev\] report: app\.py changed; rebuilt in \d+\.\d\d s \(checked and copied/);
    const g = Date.now();
    fs.writeFileSync(main, originals.get(main)!.replace('"%s, %s!"', '"%s, %s!?"'));
    const goEdited = await until("the greeter's edit", async () => ((await invoke("lambdaship-local-greeter", { name: "dev" })).includes("Hello, dev!?") ? Date.now() - g : undefined), 120_000);
    // TypeScript, through the HTTP API's route on the gateway, as a client calls it.
    const httpApi = record().endpoints.find((e) => e.kind === "http-api")!.url;
    const healthOf = async () => (await (await fetch(`${httpApi}health`)).json()) as { status?: string };
    expect(await healthOf()).toEqual({ status: "ok" });
    const h = Date.now();
    fs.writeFileSync(handler, originals.get(handler)!.replace('json(200, { status: "ok" })', 'json(200, { status: "ok from dev" })'));
    const tsEdited = await until("orders-api's edit", async () => ((await healthOf()).status === "ok from dev" ? Date.now() - h : undefined), 60_000);
    // Rust: the backend's health route.
    const health = JSON.parse(fs.readFileSync(path.join(root, "lambda-src", "events", "backend.json"), "utf8")) as object;
    const r = Date.now();
    fs.writeFileSync(routes, originals.get(routes)!.replace('json!({ "status": "ok" })', 'json!({ "status": "ok from dev" })'));
    const rustEdited = await until("the backend's edit", async () => ((await invoke("lambdaship-local-backend", health)).includes("ok from dev") ? Date.now() - r : undefined), 5 * 60_000);
    // A syntax error: shown, and the previous build answers.
    fs.appendFileSync(app, "\n)(\n");
    await until("the failed rebuild", () => /\[dev\] report: app\.py changed; the rebuild failed in [\d.]+ s; the previous build keeps serving:\n.*SyntaxError/s.test(output), 30_000);
    expect(await invoke("lambdaship-local-report", orders)).toContain("edited");

    // The edits undone, then Ctrl-C: the background gateway comes back with what the sources are (the deployed packages).
    for (const [f, text] of originals) fs.writeFileSync(f, text);
    child.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(output).toMatch(/the background gateway of local serves again \(pid \d+\), with packages of the sources as they are now/);
    expect(record().pid).not.toBe(child.pid);
    expect(await invoke("lambdaship-local-greeter", { name: "dev" })).toContain('"greeting":"Hello, dev!"');
    return `npm run dev answered edits ${edited} ms (Python), ${goEdited} ms (Go), ${tsEdited} ms (TypeScript, through the HTTP API) and ${rustEdited} ms (Rust) after the file was written; a syntax error kept the previous build serving`;
  } finally {
    for (const [f, text] of originals) fs.writeFileSync(f, text);
    if (child.exitCode === null) child.kill("SIGKILL");
  }
}
