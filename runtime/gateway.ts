import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import { AddressInfo } from "net";
import type { FunctionSpec, RuntimeEmulator } from "./emulator";
import { SQSClient } from "@aws-sdk/client-sqs";
import { ACCOUNT_ID, StackJson, StateValues } from "./functions";
import { CorsSpec, HttpApi, HttpApiSpec, HttpRouteSpec, RouteAuth } from "./http-gateway";
import { functionNameOf, reference, routeFunction } from "./stack-refs";
import { SqsPoller, SqsSourceSpec } from "./sqs-poller";
import { API_GATEWAY_WS_LIMITS, GatewayInvoke, WebsocketApi, WebsocketApiSpec, WebsocketLimits } from "./ws-gateway";

/**
 * The local gateway: what API Gateway and Lambda's function URLs do in front of the functions,
 * served on loopback ports for real clients. Each API and each function URL gets its own port (its
 * own origin, as each has its own domain on AWS). What it serves is read from the synthesized stack
 * (any stack of these constructs, or hand-written ones of the same resources), with the ids the
 * local AWS gave them from the state: WebSocket APIs (./ws-gateway), HTTP APIs and function URLs
 * (./http-gateway). `@connections` posts reach its sockets, on the API's own port and on the
 * runtime emulator's (where the functions' MANAGEMENT_API_ENDPOINT points). And what Lambda's pollers
 * do for SQS event source mappings, against the local AWS's queues (./sqs-poller).
 */

export interface GatewaySpec {
  readonly websocket: readonly WebsocketApiSpec[];
  readonly http: readonly HttpApiSpec[];
  /** SQS event source mappings of the stack's functions. */
  readonly queues: readonly SqsSourceSpec[];
  /** What could not be served, for notes. */
  readonly problems: readonly string[];
}

type Resources = Record<string, Record<string, unknown>>;

export function stateValue(state: StateValues | undefined, type: string, name: string, attr: string): string | undefined {
  const v = state?.get(`${type}.${name}`)?.[attr];
  return typeof v === "string" && v ? v : undefined;
}

function cors(block: unknown): CorsSpec | undefined {
  const c = (Array.isArray(block) ? block[0] : block) as Record<string, unknown> | undefined;
  if (!c) return undefined;
  const list = (v: unknown) => (Array.isArray(v) ? v.map(String) : []);
  return {
    allowOrigins: list(c.allow_origins),
    allowMethods: list(c.allow_methods).length ? list(c.allow_methods) : ["*"],
    allowHeaders: list(c.allow_headers),
    exposeHeaders: list(c.expose_headers),
    allowCredentials: c.allow_credentials === true,
    maxAgeSeconds: Number(c.max_age ?? 0),
  };
}

/** What the gateway serves for a stack: its WebSocket and HTTP APIs, and its functions' URLs. */
export function gatewayFromStack(stack: StackJson, region: string, state?: StateValues): GatewaySpec {
  const res = stack.resource ?? {};
  const problems: string[] = [];
  const apis: Resources = (res.aws_apigatewayv2_api ?? {}) as Resources;
  const routes: Resources = (res.aws_apigatewayv2_route ?? {}) as Resources;
  const authorizers: Resources = (res.aws_apigatewayv2_authorizer ?? {}) as Resources;
  const stages: Resources = (res.aws_apigatewayv2_stage ?? {}) as Resources;
  const websocket: WebsocketApiSpec[] = [];
  const httpApis: HttpApiSpec[] = [];
  for (const [id, api] of Object.entries(apis)) {
    const apiId = stateValue(state, "aws_apigatewayv2_api", id, "id") ?? id.toLowerCase().replace(/[^a-z0-9]/g, "").slice(0, 10);
    const name = String(api.name ?? id);
    const ofApi = (r: Record<string, unknown>) => reference(r.api_id)?.[1] === id;
    const stage = Object.values(stages).find(ofApi);
    const target = (route: Record<string, unknown>) => routeFunction(stack, route);
    if (api.protocol_type === "WEBSOCKET") {
      const served: Record<string, string> = {};
      for (const r of Object.values(routes).filter(ofApi)) {
        const fn = target(r);
        if (fn) served[String(r.route_key)] = fn;
        else problems.push(`${name}: route ${String(r.route_key)} goes to a function this stack does not create; it is not served locally`);
      }
      const connect = Object.values(routes).find((r) => ofApi(r) && r.route_key === "$connect");
      websocket.push({ apiId, name, stage: String(stage?.name ?? "live"), routeSelectionExpression: String(api.route_selection_expression ?? "$request.body.action"), routes: served, connectAuth: connect?.authorization_type === "AWS_IAM" ? "AWS_IAM" : "NONE" });
    } else if (api.protocol_type === "HTTP") {
      const served: HttpRouteSpec[] = [];
      for (const r of Object.values(routes).filter(ofApi)) {
        const fn = target(r);
        if (!fn) {
          problems.push(`${name}: route ${String(r.route_key)} goes to a function this stack does not create; it is not served locally`);
          continue;
        }
        let auth: RouteAuth = { type: "NONE" };
        if (r.authorization_type === "AWS_IAM") auth = { type: "AWS_IAM" };
        else if (r.authorization_type === "JWT") {
          const a = authorizers[reference(r.authorizer_id)?.[1] ?? ""];
          const jwt = (Array.isArray(a?.jwt_configuration) ? a?.jwt_configuration[0] : a?.jwt_configuration) as { issuer?: string; audience?: string[] } | undefined;
          if (!jwt?.issuer) {
            problems.push(`${name}: route ${String(r.route_key)} has a JWT authorizer without an issuer; it is refused locally`);
            auth = { type: "JWT", issuer: "", audiences: [] };
          } else auth = { type: "JWT", issuer: jwt.issuer, audiences: jwt.audience ?? [] };
        }
        served.push({ routeKey: String(r.route_key), function: fn, auth });
      }
      httpApis.push({ kind: "http-api", apiId, name, stage: String(stage?.name ?? "$default"), routes: served, cors: cors(api.cors_configuration), region });
    }
  }
  for (const [id, url] of Object.entries((res.aws_lambda_function_url ?? {}) as Resources)) {
    const fn = functionNameOf(stack, url.function_name);
    if (!fn) {
      problems.push(`function URL ${id}: its function is not created by this stack; it is not served locally`);
      continue;
    }
    const urlId = stateValue(state, "aws_lambda_function_url", id, "url_id") ?? fn.toLowerCase().replace(/[^a-z0-9]/g, "").slice(0, 32);
    httpApis.push({
      kind: "function-url",
      apiId: urlId,
      name: `${fn} URL`,
      stage: "$default",
      routes: [{ routeKey: "$default", function: fn, auth: url.authorization_type === "NONE" ? { type: "NONE" } : { type: "AWS_IAM" } }],
      cors: cors(url.cors),
      region,
    });
  }
  const queues: SqsSourceSpec[] = [];
  for (const [id, m] of Object.entries((res.aws_lambda_event_source_mapping ?? {}) as Resources)) {
    const fn = functionNameOf(stack, m.function_name);
    const source = m.event_source_arn;
    const ref = reference(source);
    // Streams and Kafka are not served locally; only queues.
    if (ref ? !/^(data\.)?aws_sqs_queue$/.test(ref[0]) : !String(source ?? "").startsWith("arn:aws:sqs:")) continue;
    let queueArn: string | undefined = ref ? stateValue(state, ref[0], ref[1], "arn") : String(source);
    const queueUrl = ref ? stateValue(state, ref[0], ref[1], "url") : undefined;
    const name = ref && ref[0] === "aws_sqs_queue" ? res.aws_sqs_queue?.[ref[1]]?.name : undefined;
    // Not deployed yet: the ARN the local AWS gives a queue of that name.
    if (!queueArn && typeof name === "string" && !name.includes("${")) queueArn = `arn:aws:sqs:${region}:${ACCOUNT_ID}:${name}`;
    if (!fn || !queueArn) {
      problems.push(`event source mapping ${id}: ${!fn ? "its function is not created by this stack" : "its queue is not known (deploy first)"}; its queue is not polled locally`);
      continue;
    }
    const types = Array.isArray(m.function_response_types) ? m.function_response_types.map(String) : [];
    queues.push({
      functionName: fn,
      queueArn,
      queueUrl,
      batchSize: Number(m.batch_size ?? 10),
      batchingWindowSeconds: Number(m.maximum_batching_window_in_seconds ?? 0),
      reportBatchItemFailures: types.includes("ReportBatchItemFailures"),
      enabled: m.enabled !== false,
    });
  }
  return { websocket, http: httpApis, queues, problems };
}

export interface GatewayOptions {
  readonly log?: (line: string) => void;
  readonly websocketLimits?: Partial<WebsocketLimits>;
  /** Ports to listen on, by API name or `<function> URL`; others get free ones. */
  readonly ports?: Readonly<Record<string, number>>;
  /** Take a free port where one of `ports` is taken, instead of failing. @default false */
  readonly portsArePreferences?: boolean;
  /**
   * Serve a chat page (./chat.html) at `/` of each WebSocket API's port: rooms through `?room=`,
   * messages as `{"message": ...}`, members through `{"action": "who"}`, as the app's WebSocket
   * functions take them. @default false
   */
  readonly chatPage?: boolean;
  /** The local AWS whose queues the SQS mappings poll. @default - queues are not polled */
  readonly aws?: { readonly endpoint: string; readonly region: string };
}

/**
 * The functions with their live relay (LAMBDASHIP_LIVE_RELAY, the relay API's
 * `wss://<api id>.execute-api.<region>.amazonaws.com/<stage>`; moto's endpoint says https://) pointed at the local gateway's
 * `ws://` URL for that API, so their runtime-proxy extension reaches the relay the gateway serves.
 * Functions without one, or whose relay the gateway does not serve, come back as they are.
 */
export function withLocalRelay(functions: readonly FunctionSpec[], spec: GatewaySpec, endpoints: readonly ServedEndpoint[]): FunctionSpec[] {
  return functions.map((f) => {
    const relay = f.runtime.env.LAMBDASHIP_LIVE_RELAY;
    const apiId = relay && /^(?:wss?|https?):\/\/([^./]+)\.execute-api\./.exec(relay)?.[1];
    const api = apiId ? spec.websocket.find((w) => w.apiId === apiId) : undefined;
    const served = api && endpoints.find((e) => e.kind === "websocket" && e.name === api.name);
    return served ? { ...f, runtime: { ...f.runtime, env: { ...f.runtime.env, LAMBDASHIP_LIVE_RELAY: served.url } } } : f;
  });
}

export interface ServedEndpoint {
  readonly kind: "websocket" | "http-api" | "function-url" | "sqs" | "chat-page";
  readonly name: string;
  /** `ws://127.0.0.1:<port>/<stage>` or `http://127.0.0.1:<port>/`; a polled queue's URL (or ARN). */
  readonly url: string;
  /** 0 for a polled queue (served by no port). */
  readonly port: number;
  /** Routes, or the function a URL serves. */
  readonly routes: readonly string[];
  /** A WebSocket API whose $connect takes only SigV4-signed upgrades (the live relay). */
  readonly signed?: boolean;
}

/** The invoke the gateway uses: a synchronous invocation on the runtime emulator. */
export function emulatorInvoke(emulator: RuntimeEmulator): GatewayInvoke {
  return async (fn, event) => {
    const r = await emulator.invoke(fn, JSON.stringify(event));
    emulator.recordSync(fn, r);
    return { payload: r.payload, error: r.functionError ? r.errorType ?? "Unhandled" : undefined };
  };
}

let chatPage: string | undefined;
const CHAT_PAGE = () => (chatPage ??= fs.readFileSync(path.join(__dirname, "chat.html"), "utf8"));

export class LocalGateway {
  private readonly servers: http.Server[] = [];
  readonly websocketApis: WebsocketApi[] = [];
  readonly httpApis: HttpApi[] = [];
  readonly pollers: SqsPoller[] = [];
  readonly endpoints: ServedEndpoint[] = [];

  constructor(
    private readonly spec: GatewaySpec,
    private readonly emulator: RuntimeEmulator,
    private readonly opts: GatewayOptions = {},
  ) {}

  private async listen(server: http.Server, name: string): Promise<number> {
    // Idle keep-alive connections stay open. Node closes them after 5 s by default. A client that
    // reuses one just as the server closes it fails its request: hyper, and so the AWS SDK for Rust,
    // reports IncompleteMessage and does not retry it. A handler's @connections post was lost
    // that way in the chat test.
    server.keepAliveTimeout = 0;
    const bind = (port: number) =>
      new Promise<void>((resolve, reject) => {
        server.once("error", (e: NodeJS.ErrnoException) => reject(e.code === "EADDRINUSE" ? Object.assign(new Error(`port ${port} for ${name} is taken: free it or choose another`), { code: e.code }) : e));
        server.listen(port, "127.0.0.1", resolve);
      });
    const port = this.opts.ports?.[name] ?? 0;
    try {
      await bind(port);
    } catch (e) {
      if (!(this.opts.portsArePreferences && (e as NodeJS.ErrnoException).code === "EADDRINUSE")) throw e;
      this.opts.log?.(`${name}: port ${port} is taken; serving on another`);
      await bind(0);
    }
    this.servers.push(server);
    return (server.address() as AddressInfo).port;
  }

  async start(): Promise<readonly ServedEndpoint[]> {
    const log = this.opts.log ?? (() => {});
    const invoke = emulatorInvoke(this.emulator);
    const limits = { ...API_GATEWAY_WS_LIMITS, ...(this.opts.websocketLimits ?? {}) };
    for (const spec of this.spec.websocket) {
      const api = new WebsocketApi(spec, invoke, limits, log);
      // A browser cannot sign its upgrade: an AWS_IAM API (the live relay) has no chat page.
      const chatPage = this.opts.chatPage && spec.connectAuth !== "AWS_IAM";
      // The API's own domain serves @connections too, as API Gateway's does.
      const server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
          const pathname = (req.url ?? "/").split("?")[0];
          if (chatPage && req.method === "GET" && (pathname === "/" || pathname === "/chat")) {
            res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
            return void res.end(CHAT_PAGE().replace("__STAGE__", spec.stage));
          }
          if (!this.emulator.connections.handle(req.method ?? "GET", pathname, Buffer.concat(chunks), res)) {
            res.writeHead(426, { "content-type": "application/json" });
            res.end(JSON.stringify({ message: `a WebSocket API: connect with a WebSocket client to ws://${req.headers.host}/${spec.stage}` }));
          }
        });
      });
      api.attach(server);
      const port = await this.listen(server, spec.name);
      this.websocketApis.push(api);
      this.endpoints.push({ kind: "websocket", name: spec.name, url: `ws://127.0.0.1:${port}/${spec.stage}`, port, routes: Object.keys(spec.routes).map((r) => (r === "$connect" && spec.connectAuth === "AWS_IAM" ? "$connect (AWS_IAM: SigV4-signed only)" : r)), ...(spec.connectAuth === "AWS_IAM" ? { signed: true } : {}) });
      if (chatPage) this.endpoints.push({ kind: "chat-page", name: spec.name, url: `http://127.0.0.1:${port}/`, port, routes: ["join a room, see who is here, send (open in two tabs)"] });
    }
    // @connections reaches the sockets of whichever API holds the connection.
    const apis = this.websocketApis;
    this.emulator.connections.live = {
      post: (id, data) => apis.some((a) => a.post(id, data)),
      describe: (id) => apis.map((a) => a.describe(id)).find((d) => d !== undefined),
      close: (id) => apis.some((a) => a.close(id)),
    };
    for (const spec of this.spec.http) {
      const api = new HttpApi(spec, invoke, log);
      const server = http.createServer({ noDelay: true });
      api.attach(server);
      const port = await this.listen(server, spec.name);
      this.httpApis.push(api);
      const base = `http://127.0.0.1:${port}/${spec.stage === "$default" ? "" : `${spec.stage}/`}`;
      this.endpoints.push({ kind: spec.kind, name: spec.name, url: base, port, routes: spec.routes.map((r) => (spec.kind === "function-url" ? `${r.function} (${r.auth.type})` : `${r.routeKey} -> ${r.function}${r.auth.type === "NONE" ? "" : ` (${r.auth.type})`}`)) });
    }
    if (this.opts.aws && this.spec.queues.length) {
      const sqs = new SQSClient({ endpoint: this.opts.aws.endpoint, region: this.opts.aws.region, credentials: { accessKeyId: "test", secretAccessKey: "test" } });
      for (const q of this.spec.queues) {
        const poller = new SqsPoller(q, invoke, sqs, log);
        poller.start();
        this.pollers.push(poller);
        this.endpoints.push({ kind: "sqs", name: poller.queueName, url: q.queueUrl ?? q.queueArn, port: 0, routes: [`-> ${q.functionName} (batch ${q.batchSize}${q.batchingWindowSeconds ? `, window ${q.batchingWindowSeconds} s` : ""}${q.reportBatchItemFailures ? ", ReportBatchItemFailures" : ""}${q.enabled ? "" : ", disabled"})`] });
      }
    } else if (this.spec.queues.length) log(`note: ${this.spec.queues.length} SQS mapping(s) not polled: no local AWS given`);
    return this.endpoints;
  }

  status() {
    return {
      websocket: this.websocketApis.map((a) => ({ name: a.spec.name, connections: a.connectionIds.length, ...a.counts })),
      http: this.httpApis.map((a) => ({ name: a.spec.name, kind: a.spec.kind, ...a.counts })),
      queues: this.pollers.map((p) => ({ queue: p.queueName, function: p.spec.functionName, ...p.counts })),
    };
  }

  async stop(): Promise<void> {
    await Promise.all(this.pollers.map((p) => p.stop()));
    await Promise.all(this.websocketApis.map((a) => a.stop()));
    this.emulator.connections.live = undefined;
    await Promise.all(
      this.servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.closeAllConnections();
            s.close(() => resolve());
          }),
      ),
    );
  }
}
