import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { SignatureV4 } from "@smithy/signature-v4";
import WebSocket from "ws";
import { collectFiles, createZip } from "../build/zip";
import { FunctionSpec, RuntimeEmulator } from "../runtime/emulator";
import { functionsFromStack, StackJson } from "../runtime/functions";
import { gatewayFromStack, GatewaySpec, LocalGateway, withLocalRelay } from "../runtime/gateway";
import { mapResponse, matchRoute } from "../runtime/http-gateway";
import { selectRoute } from "../runtime/ws-gateway";
import { signRequest } from "../runtime/sigv4";

/**
 * The local gateway with real clients (the ws package, fetch): a WebSocket API and an HTTP API with
 * a function URL, read from a stack as the constructs synthesize them, in front of Node.js handlers
 * run by the runtime emulator. Expected behaviour is API Gateway's, as its docs give it (named per case).
 */

const FIXTURE = path.join(__dirname, "fixtures", "gateway");
const ref = (type: string, name: string, attr: string) => `\${${type}.${name}.${attr}}`;

function stack(zip: string): StackJson {
  const fn = (handler: string) => ({ function_name: `gw-${handler}`, runtime: "nodejs22.x", handler: `index.${handler}`, filename: zip, memory_size: 128, timeout: 5 });
  const integration = (f: string) => ({ api_id: ref("aws_apigatewayv2_api", "ws", "id"), integration_type: "AWS_PROXY", integration_uri: ref("aws_lambda_function", f, "invoke_arn") });
  const hIntegration = { api_id: ref("aws_apigatewayv2_api", "http", "id"), integration_type: "AWS_PROXY", integration_uri: ref("aws_lambda_function", "http", "invoke_arn"), payload_format_version: "2.0" };
  const route = (api: string, key: string, integ: string, extra: object = {}) => ({ api_id: ref("aws_apigatewayv2_api", api, "id"), route_key: key, target: `integrations/${ref("aws_apigatewayv2_integration", integ, "id")}`, ...extra });
  return {
    resource: {
      aws_lambda_function: { connect: fn("connect"), message: fn("message"), disconnect: fn("disconnect"), http: fn("http") },
      aws_apigatewayv2_api: {
        ws: { name: "chat", protocol_type: "WEBSOCKET", route_selection_expression: "$request.body.action" },
        secure: { name: "signed-only", protocol_type: "WEBSOCKET", route_selection_expression: "$request.body.action" },
        http: { name: "items", protocol_type: "HTTP", cors_configuration: { allow_origins: ["https://app.example.com"], allow_methods: ["GET", "POST"], allow_headers: ["authorization"], max_age: 600 } },
      },
      aws_apigatewayv2_stage: { ws: { api_id: ref("aws_apigatewayv2_api", "ws", "id"), name: "live" }, secure: { api_id: ref("aws_apigatewayv2_api", "secure", "id"), name: "relay" }, http: { api_id: ref("aws_apigatewayv2_api", "http", "id"), name: "$default" } },
      aws_apigatewayv2_integration: { connect: integration("connect"), message: integration("message"), disconnect: integration("disconnect"), http: hIntegration },
      aws_apigatewayv2_authorizer: { jwt: { api_id: ref("aws_apigatewayv2_api", "http", "id"), authorizer_type: "JWT", jwt_configuration: { issuer: "ISSUER", audience: ["chat-app"] } } },
      aws_apigatewayv2_route: {
        c: route("ws", "$connect", "connect"),
        sc: route("secure", "$connect", "connect", { authorization_type: "AWS_IAM" }),
        sd: route("secure", "$default", "message"),
        d: route("ws", "$disconnect", "disconnect"),
        m: route("ws", "$default", "message"),
        s: route("ws", "sendmessage", "message"),
        item: route("http", "GET /items/{id}", "http"),
        things: route("http", "ANY /things/{proxy+}", "http"),
        signed: route("http", "POST /items", "http", { authorization_type: "AWS_IAM" }),
        jwt: route("http", "GET /me", "http", { authorization_type: "JWT", authorizer_id: ref("aws_apigatewayv2_authorizer", "jwt", "id") }),
      },
      aws_lambda_function_url: { url: { function_name: ref("aws_lambda_function", "http", "function_name"), authorization_type: "AWS_IAM" }, open: { function_name: ref("aws_lambda_function", "http", "function_name"), authorization_type: "NONE" } },
    },
  };
}

let tmp: string;
let emulator: RuntimeEmulator;
let gateway: LocalGateway;
let wsUrl: string;
let secureUrl: string;
let httpUrl: string;
let signedUrl: string;
let openUrl: string;
let issuer: http.Server;
let issuerUrl: string;
const { privateKey, publicKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });

function jwt(claims: Record<string, unknown>, key = privateKey): string {
  const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const head = enc({ alg: "RS256", kid: "k1", typ: "JWT" });
  const body = enc(claims);
  return `${head}.${body}.${crypto.sign("sha256", Buffer.from(`${head}.${body}`), key).toString("base64url")}`;
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "gateway-"));
  const zip = path.join(tmp, "fn.zip");
  fs.writeFileSync(zip, createZip(collectFiles(FIXTURE)));
  // A JWT issuer on loopback: its openid-configuration and JWKS.
  issuer = http.createServer((req, res) => {
    res.setHeader("content-type", "application/json");
    if (req.url === "/.well-known/openid-configuration") res.end(JSON.stringify({ issuer: issuerUrl, jwks_uri: `${issuerUrl}/jwks` }));
    else res.end(JSON.stringify({ keys: [{ ...publicKey.export({ format: "jwk" }), kid: "k1", use: "sig", alg: "RS256" }] }));
  });
  await new Promise<void>((r) => issuer.listen(0, "127.0.0.1", r));
  issuerUrl = `http://127.0.0.1:${(issuer.address() as AddressInfo).port}`;
  const s = JSON.parse(JSON.stringify(stack(zip)).replace(/ISSUER/g, issuerUrl)) as StackJson;
  emulator = new RuntimeEmulator();
  const url = await emulator.listen(0);
  const { functions, problems } = functionsFromStack(s, { stackDir: tmp, region: "us-east-1", projectRoot: tmp, managementEndpoint: `${url}/live` });
  expect(problems).toEqual([]);
  for (const f of functions) emulator.add(f);
  const spec = gatewayFromStack(s, "us-east-1");
  expect(spec.problems).toEqual([]);
  gateway = new LocalGateway(spec, emulator, { websocketLimits: { maxMessageBytes: 4096, idleTimeoutMs: 1500 } });
  const endpoints = await gateway.start();
  wsUrl = endpoints.find((e) => e.kind === "websocket" && e.name === "chat")!.url;
  secureUrl = endpoints.find((e) => e.kind === "websocket" && e.name === "signed-only")!.url;
  httpUrl = endpoints.find((e) => e.kind === "http-api")!.url;
  const urls = endpoints.filter((e) => e.kind === "function-url");
  signedUrl = urls.find((e) => e.routes[0].includes("AWS_IAM"))!.url;
  openUrl = urls.find((e) => e.routes[0].includes("NONE"))!.url;
}, 60_000);

afterAll(async () => {
  await gateway?.stop();
  await emulator?.stop();
  issuer?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A connected client that collects what it receives. */
class Client {
  readonly received: Array<Record<string, unknown>> = [];
  private waiters: Array<() => void> = [];
  id = "";
  constructor(readonly ws: WebSocket) {
    ws.on("message", (d) => {
      this.received.push(JSON.parse(d.toString()));
      for (const w of this.waiters.splice(0)) w();
    });
  }
  static async open(query = ""): Promise<Client> {
    const ws = new WebSocket(`${wsUrl}${query}`);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    const c = new Client(ws);
    c.send({ action: "whoami" });
    const echo = await c.next();
    c.id = String((echo.context as { connectionId: string }).connectionId);
    return c;
  }
  send(body: object | string): void {
    this.ws.send(typeof body === "string" ? body : JSON.stringify(body));
  }
  async next(timeoutMs = 10_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length === 0) {
      if (Date.now() > deadline) throw new Error("no message");
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 200);
      });
    }
    return this.received.shift()!;
  }
  closed(): Promise<{ code: number; reason: string }> {
    return new Promise((resolve) => this.ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })));
  }
}

async function refusedStatus(query: string): Promise<number> {
  const ws = new WebSocket(`${wsUrl}${query}`);
  return new Promise((resolve, reject) => {
    ws.once("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
    ws.once("open", () => reject(new Error("connected")));
    ws.once("error", () => undefined);
  });
}

describe("route selection and response mapping (API Gateway's rules)", () => {
  it("selects the route named by $request.body.action, else $default", () => {
    const routes = { $default: "d", sendmessage: "s", $connect: "c" };
    expect(selectRoute("$request.body.action", '{"action":"sendmessage"}', routes)).toBe("sendmessage");
    expect(selectRoute("$request.body.action", '{"action":"nope"}', routes)).toBe("$default");
    expect(selectRoute("$request.body.action", "not json", routes)).toBe("$default");
    expect(selectRoute("$request.body.action", '{"action":"$connect"}', routes)).toBe("$default");
    expect(selectRoute("$request.body.meta.kind", '{"meta":{"kind":"sendmessage"}}', routes)).toBe("sendmessage");
    expect(selectRoute("$request.body.action", '{"action":"x"}', { sendmessage: "s" })).toBeUndefined();
  });

  it("matches the most specific HTTP route first ('Working with routes for HTTP APIs')", () => {
    const r = (routeKey: string) => ({ routeKey, function: routeKey, auth: { type: "NONE" as const } });
    const routes = [r("$default"), r("ANY /{proxy+}"), r("GET /pets/{id}"), r("GET /pets/dog/1"), r("ANY /pets/dog/{id}"), r("GET /pets/{proxy+}")];
    expect(matchRoute(routes, "GET", "/pets/dog/1")?.route.routeKey).toBe("GET /pets/dog/1");
    expect(matchRoute(routes, "GET", "/pets/dog/2")).toMatchObject({ route: { routeKey: "ANY /pets/dog/{id}" }, params: { id: "2" } });
    expect(matchRoute(routes, "GET", "/pets/7")).toMatchObject({ route: { routeKey: "GET /pets/{id}" }, params: { id: "7" } });
    expect(matchRoute(routes, "GET", "/pets/a/b/c")).toMatchObject({ route: { routeKey: "GET /pets/{proxy+}" }, params: { proxy: "a/b/c" } });
    expect(matchRoute(routes, "DELETE", "/x/y")).toMatchObject({ route: { routeKey: "ANY /{proxy+}" }, params: { proxy: "x/y" } });
    expect(matchRoute(routes, "GET", "/")?.route.routeKey).toBe("$default");
    expect(matchRoute([r("GET /a")], "POST", "/a")).toBeUndefined();
  });

  it("maps answers as payload format 2.0 does ('Lambda proxy integrations for HTTP APIs')", () => {
    expect(mapResponse(Buffer.from('"hi"'))).toMatchObject({ statusCode: 200, headers: { "content-type": "application/json" }, body: Buffer.from("hi") });
    expect(mapResponse(Buffer.from('{"a":1}'))?.body.toString()).toBe('{"a":1}');
    expect(mapResponse(Buffer.from('{"statusCode":404,"headers":{"X-A":"b"},"cookies":["c=1"],"body":"gone"}'))).toMatchObject({ statusCode: 404, headers: { "x-a": "b" }, cookies: ["c=1"], body: Buffer.from("gone") });
    expect(mapResponse(Buffer.from('{"statusCode":200,"body":"AAEC","isBase64Encoded":true}'))?.body).toEqual(Buffer.from([0, 1, 2]));
    expect(mapResponse(Buffer.from('{"statusCode":"x"}'))).toBeUndefined();
    expect(mapResponse(Buffer.from("not json"))).toBeUndefined();
  });
});

describe("the live relay locally", () => {
  it("points a function's LAMBDASHIP_LIVE_RELAY (the relay API's AWS URL; moto says https://) at the gateway's ws:// URL for that API", () => {
    const fn = (name: string, relay?: string): FunctionSpec => ({ name, arn: `arn:aws:lambda:us-east-1:1:function:${name}`, runtime: { command: "x", args: [], cwd: "/", env: { A: "1", ...(relay ? { LAMBDASHIP_LIVE_RELAY: relay } : {}) } }, timeoutSeconds: 3, memoryMiB: 128, maxConcurrency: 1, description: "" });
    const spec = { websocket: [{ apiId: "abc123", name: "x-live", stage: "dev", routeSelectionExpression: "$request.body.action", routes: {}, connectAuth: "AWS_IAM" }], http: [], queues: [], problems: [] } as unknown as GatewaySpec;
    const endpoints = [{ kind: "websocket" as const, name: "x-live", url: "ws://127.0.0.1:4510/dev", port: 4510, routes: [], signed: true }];
    const [aws, moto, other, none] = withLocalRelay([fn("a", "wss://abc123.execute-api.eu-west-1.amazonaws.com/dev"), fn("b", "https://abc123.execute-api.us-east-1.amazonaws.com/dev"), fn("c", "wss://zzz.execute-api.eu-west-1.amazonaws.com/dev"), fn("d")], spec, endpoints);
    expect(aws.runtime.env).toEqual({ A: "1", LAMBDASHIP_LIVE_RELAY: "ws://127.0.0.1:4510/dev" });
    expect(moto.runtime.env.LAMBDASHIP_LIVE_RELAY).toBe("ws://127.0.0.1:4510/dev");
    expect(other.runtime.env.LAMBDASHIP_LIVE_RELAY).toBe("wss://zzz.execute-api.eu-west-1.amazonaws.com/dev");
    expect(none.runtime.env).toEqual({ A: "1" });
  });
});

describe("WebSocket API", () => {
  it("connects through $connect, routes on the action, and gives API Gateway's requestContext", async () => {
    const c = await Client.open("?room=a&room=b");
    c.send({ action: "sendmessage", text: "hi" });
    const m = await c.next();
    expect(m.route).toBe("sendmessage");
    expect(m.context).toMatchObject({ routeKey: "sendmessage", eventType: "MESSAGE", messageDirection: "IN", stage: "live", connectionId: c.id, apiId: expect.any(String), domainName: expect.stringMatching(/^127\.0\.0\.1:\d+$/), identity: { sourceIp: "127.0.0.1" } });
    expect(typeof (m.context as { connectedAt: number }).connectedAt).toBe("number");
    expect((m.context as { requestTime: string }).requestTime).toMatch(/^\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d \+0000$/);
    c.send("plain text, no action");
    expect((await c.next()).route).toBe("$default");
    c.ws.close();
  });

  it("lets $connect refuse with its status; a failing $connect is a 500 ('Managing connected users')", async () => {
    expect(await refusedStatus("?deny=1")).toBe(401);
    expect(await refusedStatus("?crash=1")).toBe(500);
    const ws = new WebSocket(wsUrl.replace(/\/live$/, "/other"));
    const status = await new Promise<number>((resolve) => ws.once("unexpected-response", (_q, res) => resolve(res.statusCode ?? 0)).once("error", () => undefined));
    expect(status).toBe(403);
  });

  it("takes only SigV4-signed upgrades on a $connect with AWS_IAM authorization, and says who signed in requestContext.identity", async () => {
    const refused = new WebSocket(`${secureUrl}?who=me`);
    const status = await new Promise<number>((resolve) => {
      refused.once("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      refused.once("error", () => undefined);
    });
    expect(status).toBe(403);
    const url = `${secureUrl.replace(/^ws/, "http")}?who=me`;
    const wrong = signRequest({ method: "GET", url }, { accessKeyId: "test", secretAccessKey: "wrong", region: "us-east-1", service: "execute-api" });
    const badSig = new WebSocket(`${secureUrl}?who=me`, { headers: wrong });
    expect(await new Promise<number>((resolve) => (badSig.once("unexpected-response", (_r, res) => resolve(res.statusCode ?? 0)), badSig.once("error", () => undefined)))).toBe(403);
    const signed = signRequest({ method: "GET", url }, { accessKeyId: "test", secretAccessKey: "test", region: "us-east-1", service: "execute-api" });
    const ws = new WebSocket(`${secureUrl}?who=me`, { headers: signed });
    await new Promise<void>((resolve, reject) => (ws.once("open", () => resolve()), ws.once("error", reject)));
    const c = new Client(ws);
    c.send({ action: "whoami" });
    const echo = await c.next();
    expect((echo.context as { identity: Record<string, string> }).identity).toMatchObject({ accessKey: "test", accountId: "123456789012" });
    ws.close();
  });

  it("delivers @connections posts to the real socket; a closed one is 410 GoneException and its $disconnect runs", async () => {
    const a = await Client.open();
    const b = await Client.open();
    a.send({ action: "sendmessage", to: [b.id], text: "hello b" });
    expect(await b.next()).toEqual({ from: a.id, text: "hello b" });
    expect(((await a.next()).statuses as Record<string, number>)[b.id]).toBe(200);
    const closed = b.closed();
    b.ws.close(1000, "bye");
    await closed;
    // $disconnect runs after the close, with the close's code and reason.
    const deadline = Date.now() + 10_000;
    while (!emulator.invocations.some((i) => i.function === "gw-disconnect") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(emulator.invocations.some((i) => i.function === "gw-disconnect" && i.status === "success")).toBe(true);
    a.send({ action: "sendmessage", to: [b.id], text: "are you there" });
    expect(((await a.next()).statuses as Record<string, number>)[b.id]).toBe(410);
    a.ws.close();
  });

  it("answers GET @connections with the connection, and DELETE closes it", async () => {
    const a = await Client.open();
    const b = await Client.open();
    a.send({ describe: b.id });
    const d = (await a.next()).statuses as { describe: number; description: { ConnectedAt: string; Identity: { SourceIp: string } } };
    expect(d.describe).toBe(200);
    expect(d.description.Identity.SourceIp).toBe("127.0.0.1");
    const closed = b.closed();
    a.send({ kick: b.id });
    expect(((await a.next()).statuses as { kick: number }).kick).toBe(204);
    expect((await closed).code).toBe(1000);
    a.ws.close();
  });

  it("answers a failing route with API Gateway's Internal server error message", async () => {
    const a = await Client.open();
    a.send({ action: "sendmessage", crash: true });
    expect(await a.next()).toMatchObject({ message: "Internal server error", connectionId: a.id });
    a.ws.close();
  });

  it("closes a connection whose message is over the limit (1009) and one left idle (1001)", async () => {
    const a = await Client.open();
    const closed = a.closed();
    a.send({ action: "sendmessage", text: "x".repeat(5000) });
    expect((await closed).code).toBe(1009);
    const b = await Client.open();
    expect((await b.closed()).code).toBe(1001);
  });
});

describe("HTTP API and function URLs", () => {
  it("passes path parameters, query, cookies and headers as the 2.0 event, and maps the answer", async () => {
    const r = await fetch(`${httpUrl}items/42?x=1&x=2&y=z`, { headers: { cookie: "s=1; t=2", "x-custom": "v" } });
    expect(r.status).toBe(201);
    expect(r.headers.get("x-route")).toBe("GET /items/{id}");
    expect(r.headers.getSetCookie()).toEqual(["a=1; Path=/", "b=2"]);
    const e = (await r.json()) as Record<string, unknown>;
    expect(e).toMatchObject({ version: "2.0", routeKey: "GET /items/{id}", rawPath: "/items/42", rawQueryString: "x=1&x=2&y=z", cookies: ["s=1", "t=2"], queryStringParameters: { x: "1,2", y: "z" }, pathParameters: { id: "42" }, isBase64Encoded: false });
    expect(e.headers).toMatchObject({ "x-custom": "v" });
    expect(e.requestContext).toMatchObject({ http: { method: "GET", path: "/items/42", sourceIp: "127.0.0.1" }, routeKey: "GET /items/{id}", stage: "$default" });
  });

  it("base64-encodes binary bodies and takes greedy paths", async () => {
    const r = await fetch(`${httpUrl}things/a/b`, { method: "PUT", headers: { "content-type": "application/octet-stream" }, body: Buffer.from([1, 2, 3]) });
    const e = (await r.json()) as { body: string; isBase64Encoded: boolean; pathParameters: Record<string, string> };
    expect(e).toMatchObject({ isBase64Encoded: true, body: "AQID", pathParameters: { proxy: "a/b" } });
    const t = (await (await fetch(`${httpUrl}things/x`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"a":1}' })).json()) as { body: string; isBase64Encoded: boolean };
    expect(t).toMatchObject({ body: '{"a":1}', isBase64Encoded: false });
  });

  it("answers 404 for no route, 500 for a failed or invalid answer, and maps bare values", async () => {
    const nf = await fetch(`${httpUrl}nothing`);
    expect([nf.status, await nf.json()]).toEqual([404, { message: "Not Found" }]);
    expect((await fetch(`${httpUrl}things/crash`)).status).toBe(201); // the path is /things/crash: the handler only fails on /crash
    const open = (p: string) => fetch(`${openUrl}${p}`);
    const crash = await open("crash");
    expect([crash.status, await crash.json()]).toEqual([502, { message: "Internal Server Error" }]);
    expect((await open("invalid")).status).toBe(502);
    const bare = await open("bare");
    expect([bare.headers.get("content-type"), await bare.text()]).toEqual(["application/json", "just a string"]);
    expect(await (await open("object")).json()).toEqual({ hello: "world" });
    expect(Buffer.from(await (await open("binary")).arrayBuffer())).toEqual(Buffer.from([0, 1, 2, 255]));
  });

  it("answers CORS preflights and adds the allowed origin", async () => {
    const pre = await fetch(`${httpUrl}items/1`, { method: "OPTIONS", headers: { origin: "https://app.example.com", "access-control-request-method": "GET" } });
    expect(pre.status).toBe(204);
    expect(pre.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    expect(pre.headers.get("access-control-max-age")).toBe("600");
    const other = await fetch(`${httpUrl}items/1`, { method: "OPTIONS", headers: { origin: "https://evil.example", "access-control-request-method": "GET" } });
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
    const r = await fetch(`${httpUrl}items/1`, { headers: { origin: "https://app.example.com" } });
    expect(r.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
  });

  it("takes only SigV4-signed requests on AWS_IAM routes and URLs, checked against the local credentials", async () => {
    const sign = async (url: string, secret: string, service: string, body = "{}") => {
      const u = new URL(url);
      const signer = new SignatureV4({ service, region: "us-east-1", credentials: { accessKeyId: "test", secretAccessKey: secret }, sha256: Sha256 });
      const req = await signer.sign({ method: "POST", protocol: "http:", hostname: u.hostname, port: Number(u.port), path: u.pathname, query: Object.fromEntries(u.searchParams), headers: { host: u.host, "content-type": "application/json" }, body });
      return fetch(url, { method: "POST", headers: req.headers, body });
    };
    expect((await fetch(`${signedUrl}x`, { method: "POST" })).status).toBe(403);
    expect((await sign(`${signedUrl}x?b=2&a=1`, "test", "lambda")).status).toBe(201);
    expect((await sign(`${signedUrl}x`, "wrong", "lambda")).status).toBe(403);
    expect((await sign(`${signedUrl}x`, "test", "execute-api")).status).toBe(403);
    // lambdaship's own signer (npm start calls the backend's URL with it) agrees.
    const own = signRequest({ method: "GET", url: `${signedUrl}items?z=1&a=b c` }, { accessKeyId: "test", secretAccessKey: "test", region: "us-east-1", service: "lambda" });
    expect((await fetch(`${signedUrl}items?z=1&a=b c`, { headers: own })).status).toBe(201);
    expect((await fetch(`${httpUrl}items`, { method: "POST", body: "{}" })).status).toBe(403);
    const ok = await sign(`${httpUrl}items`, "test", "execute-api");
    expect(ok.status).toBe(201);
    expect(((await ok.json()) as { requestContext: { authorizer: object } }).requestContext.authorizer).toHaveProperty("iam");
  });

  it("checks JWTs against the issuer's keys, issuer, audience and expiry", async () => {
    const now = Math.floor(Date.now() / 1000);
    const call = (token?: string) => fetch(`${httpUrl}me`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    const ok = await call(jwt({ iss: issuerUrl, aud: "chat-app", sub: "u1", exp: now + 60, scope: "read write" }));
    expect(ok.status).toBe(201);
    expect(((await ok.json()) as { requestContext: { authorizer: object } }).requestContext.authorizer).toEqual({ jwt: { claims: expect.objectContaining({ sub: "u1" }), scopes: ["read", "write"] } });
    expect((await call()).status).toBe(401);
    expect((await call(jwt({ iss: issuerUrl, aud: "other", exp: now + 60 }))).status).toBe(401);
    expect((await call(jwt({ iss: issuerUrl, aud: "chat-app", exp: now - 5 }))).status).toBe(401);
    expect((await call(jwt({ iss: "https://elsewhere", aud: "chat-app", exp: now + 60 }))).status).toBe(401);
    // An algorithm the issuer's RSA key cannot check is refused, and the gateway keeps serving.
    const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
    expect((await call(`${enc({ alg: "ES256", kid: "k1" })}.${enc({ iss: issuerUrl, aud: "chat-app", exp: now + 60 })}.${Buffer.alloc(64).toString("base64url")}`)).status).toBe(401);
    expect((await call(jwt({ iss: issuerUrl, aud: "chat-app", exp: now + 60 }))).status).toBe(201);
    const stranger = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    expect((await call(jwt({ iss: issuerUrl, aud: "chat-app", exp: now + 60 }, stranger))).status).toBe(401);
  });
});

/** SHA-256 for @smithy/signature-v4, on node's crypto. */
class Sha256 {
  private readonly h: crypto.Hash | crypto.Hmac;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.h = secret ? crypto.createHmac("sha256", typeof secret === "string" ? secret : Buffer.from(secret as ArrayBuffer)) : crypto.createHash("sha256");
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.h.update(typeof data === "string" ? data : Buffer.from(data as ArrayBuffer));
  }
  async digest(): Promise<Uint8Array> {
    return this.h.digest();
  }
}
