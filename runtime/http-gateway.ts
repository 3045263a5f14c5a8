import * as crypto from "crypto";
import * as http from "http";
import { verifyJwt, JwtAuthorizer } from "./jwt";
import { LOCAL_CREDENTIALS, verifySigV4 } from "./sigv4";
import { apiGatewayTime, GatewayInvoke } from "./ws-gateway";

/**
 * An HTTP API (API Gateway v2, payload format 2.0) or a function URL, as AWS runs one, on a loopback
 * port: routes matched as API Gateway matches them (most specific first, `{param}`, greedy
 * `{proxy+}`, `ANY`, `$default`), the 2.0 event (path parameters, query, cookies, base64 for binary
 * bodies) and its response mapping (a bare value, or `{statusCode, headers, cookies, body,
 * isBase64Encoded}`), CORS, and auth NONE, AWS_IAM (SigV4, checked against the local credentials)
 * or a JWT authorizer. Docs: "Working with AWS Lambda proxy integrations for HTTP APIs", "Working
 * with routes for HTTP APIs", "Lambda function URLs: invoking", "Configuring CORS for an HTTP API".
 */

export interface CorsSpec {
  readonly allowOrigins: readonly string[];
  readonly allowMethods: readonly string[];
  readonly allowHeaders: readonly string[];
  readonly exposeHeaders: readonly string[];
  readonly allowCredentials: boolean;
  readonly maxAgeSeconds: number;
}

export type RouteAuth = { readonly type: "NONE" } | { readonly type: "AWS_IAM" } | ({ readonly type: "JWT" } & JwtAuthorizer);

export interface HttpRouteSpec {
  /** `GET /items/{id}`, `ANY /{proxy+}` or `$default`. */
  readonly routeKey: string;
  readonly function: string;
  readonly auth: RouteAuth;
}

export interface HttpApiSpec {
  readonly kind: "http-api" | "function-url";
  readonly apiId: string;
  readonly name: string;
  /** `$default` serves at the root; another stage at `/<stage>`. */
  readonly stage: string;
  readonly routes: readonly HttpRouteSpec[];
  readonly cors?: CorsSpec;
  readonly region: string;
}

/** Lambda's synchronous payload limit: API Gateway answers 413 past it. */
const MAX_REQUEST_BYTES = 6 * 1024 * 1024;

interface Compiled {
  readonly spec: HttpRouteSpec;
  readonly method: string;
  readonly segments: readonly string[];
  readonly greedy: boolean;
}

function compile(r: HttpRouteSpec): Compiled {
  if (r.routeKey === "$default") return { spec: r, method: "ANY", segments: [], greedy: true };
  const [method, p] = r.routeKey.split(" ");
  const segments = p.split("/").filter(Boolean);
  const greedy = segments.length > 0 && /^\{[^}]+\+\}$/.test(segments[segments.length - 1]);
  return { spec: r, method, segments, greedy };
}

/** Path parameters when `route` matches `path`, else undefined. */
function matchPath(route: Compiled, parts: readonly string[]): Record<string, string> | undefined {
  if (route.spec.routeKey === "$default") return {};
  const fixed = route.greedy ? route.segments.slice(0, -1) : route.segments;
  if (route.greedy ? parts.length < fixed.length + 1 : parts.length !== fixed.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < fixed.length; i++) {
    const s = fixed[i];
    const m = /^\{([^}]+)\}$/.exec(s);
    if (m) params[m[1]] = decodeURIComponent(parts[i]);
    else if (s !== parts[i]) return undefined;
  }
  if (route.greedy) params[/^\{([^}+]+)\+\}$/.exec(route.segments[route.segments.length - 1])![1]] = parts.slice(fixed.length).map(decodeURIComponent).join("/");
  return params;
}

/** How specific a route is: literal segments first, then parameters, greedy last, ANY after a method. */
function rank(r: Compiled): number[] {
  if (r.spec.routeKey === "$default") return [-1];
  return [r.greedy ? 0 : 1, ...r.segments.map((s) => (s.startsWith("{") ? 1 : 2)), r.method === "ANY" ? 0 : 1];
}

function compareRank(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (b[i] ?? -1) - (a[i] ?? -1);
    if (d) return d;
  }
  return 0;
}

/** The route serving a request (API Gateway: the most specific match wins), with its path parameters. */
export function matchRoute(routes: readonly HttpRouteSpec[], method: string, path: string): { route: HttpRouteSpec; params: Record<string, string> } | undefined {
  const parts = path.split("/").filter(Boolean);
  const compiled = routes.map(compile).sort((a, b) => compareRank(rank(a), rank(b)));
  for (const r of compiled) {
    if (r.method !== "ANY" && r.method !== method) continue;
    const params = matchPath(r, parts);
    if (params) return { route: r.spec, params };
  }
  return undefined;
}

/** Bodies API Gateway passes as text; any other content type is base64-encoded. */
function isText(contentType: string | undefined): boolean {
  if (!contentType) return true;
  const t = contentType.split(";")[0].trim().toLowerCase();
  return t.startsWith("text/") || /^application\/([\w.+-]*\+)?(json|xml|javascript|x-www-form-urlencoded|graphql|yaml)$/.test(t);
}

/** The 2.0 event of a request. */
export function httpEvent(spec: HttpApiSpec, req: http.IncomingMessage, body: Buffer, routeKey: string, params: Record<string, string>, domainName: string, authorizer?: object) {
  const url = new URL(req.url ?? "/", "http://x");
  const headers: Record<string, string> = {};
  let cookies: string[] | undefined;
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const k = req.rawHeaders[i].toLowerCase();
    const v = req.rawHeaders[i + 1];
    if (k === "cookie") {
      (cookies ??= []).push(...v.split(";").map((c) => c.trim()).filter(Boolean));
      continue;
    }
    headers[k] = headers[k] === undefined ? v : `${headers[k]},${v}`;
  }
  const query: Record<string, string> = {};
  for (const k of new Set(url.searchParams.keys())) query[k] = url.searchParams.getAll(k).join(",");
  const now = Date.now();
  const text = isText(req.headers["content-type"]);
  const rawPath = spec.stage === "$default" ? url.pathname : url.pathname.replace(new RegExp(`^/${spec.stage}(?=/|$)`), "") || "/";
  return {
    version: "2.0",
    routeKey,
    rawPath,
    rawQueryString: url.search.slice(1),
    ...(cookies ? { cookies } : {}),
    headers,
    ...(Object.keys(query).length ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: spec.kind === "function-url" ? "anonymous" : "123456789012",
      apiId: spec.apiId,
      ...(authorizer ? { authorizer } : {}),
      domainName,
      domainPrefix: domainName.split(".")[0],
      http: { method: req.method ?? "GET", path: rawPath, protocol: `HTTP/${req.httpVersion}`, sourceIp: (req.socket.remoteAddress ?? "127.0.0.1").replace(/^::ffff:/, ""), userAgent: req.headers["user-agent"] ?? "" },
      requestId: crypto.randomUUID(),
      routeKey,
      stage: spec.stage,
      time: apiGatewayTime(now),
      timeEpoch: now,
    },
    ...(Object.keys(params).length ? { pathParameters: params } : {}),
    ...(body.length ? { body: text ? body.toString() : body.toString("base64") } : {}),
    isBase64Encoded: body.length > 0 && !text,
  };
}

export interface MappedResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly cookies: string[];
  readonly body: Buffer;
}

/** A function's answer as API Gateway (format 2.0) and function URLs map it; undefined when it is not a valid one (502/500). */
export function mapResponse(payload: Buffer): MappedResponse | undefined {
  let v: unknown;
  try {
    v = JSON.parse(payload.toString());
  } catch {
    return undefined;
  }
  const inferred = (body: string): MappedResponse => ({ statusCode: 200, headers: { "content-type": "application/json" }, cookies: [], body: Buffer.from(body) });
  if (typeof v === "string") return inferred(v);
  if (v === null || typeof v !== "object" || Array.isArray(v) || !("statusCode" in v)) return inferred(JSON.stringify(v));
  const r = v as { statusCode: unknown; headers?: unknown; multiValueHeaders?: unknown; cookies?: unknown; body?: unknown; isBase64Encoded?: unknown };
  if (typeof r.statusCode !== "number" || !Number.isInteger(r.statusCode) || r.statusCode < 100 || r.statusCode > 599) return undefined;
  const headers: Record<string, string> = {};
  if (r.headers && typeof r.headers === "object") for (const [k, val] of Object.entries(r.headers)) headers[k.toLowerCase()] = String(val);
  if (r.multiValueHeaders && typeof r.multiValueHeaders === "object") for (const [k, vals] of Object.entries(r.multiValueHeaders)) if (Array.isArray(vals)) headers[k.toLowerCase()] = vals.map(String).join(",");
  const cookies = Array.isArray(r.cookies) ? r.cookies.map(String) : [];
  const bodyText = r.body === undefined || r.body === null ? "" : typeof r.body === "string" ? r.body : JSON.stringify(r.body);
  return { statusCode: r.statusCode, headers, cookies, body: r.isBase64Encoded === true ? Buffer.from(bodyText, "base64") : Buffer.from(bodyText) };
}

function originAllowed(cors: CorsSpec, origin: string | undefined): string | undefined {
  if (!origin) return undefined;
  if (cors.allowOrigins.includes("*")) return cors.allowCredentials ? origin : "*";
  return cors.allowOrigins.includes(origin) ? origin : undefined;
}

export class HttpApi {
  private domainName = "127.0.0.1";
  readonly counts = { requests: 0, notFound: 0, denied: 0, errors: 0 };

  constructor(
    readonly spec: HttpApiSpec,
    private readonly invoke: GatewayInvoke,
    private readonly log: (line: string) => void = () => {},
    /** Access keys the local AWS accepts, by key id: the signing secret. */
    private readonly credentials: ReadonlyMap<string, string> = LOCAL_CREDENTIALS,
  ) {}

  attach(server: http.Server): void {
    server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) =>
      // Whatever goes wrong with one request answers that request, never the whole gateway.
      this.handle(req, res).catch((e: Error) => {
        this.log(`${this.spec.name}: ${req.method} ${req.url}: ${e.message}`);
        if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ message: "Internal Server Error" }));
      }),
    );
    server.on("listening", () => {
      const a = server.address();
      if (a && typeof a === "object") this.domainName = `127.0.0.1:${a.port}`;
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    this.counts.requests++;
    const started = Date.now();
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > MAX_REQUEST_BYTES) {
        return this.answer(req, res, 413, { message: "Request Entity Too Large" }, started);
      }
      chunks.push(c as Buffer);
    }
    const body = Buffer.concat(chunks);
    const url = new URL(req.url ?? "/", "http://x");
    const method = req.method ?? "GET";
    const cors = this.spec.cors;
    // CORS preflight: answered by API Gateway itself when the API has a CORS configuration.
    if (cors && method === "OPTIONS" && req.headers.origin && req.headers["access-control-request-method"]) {
      const origin = originAllowed(cors, req.headers.origin);
      const headers: Record<string, string> = {};
      if (origin) {
        headers["access-control-allow-origin"] = origin;
        headers["access-control-allow-methods"] = cors.allowMethods.join(",");
        if (cors.allowHeaders.length) headers["access-control-allow-headers"] = cors.allowHeaders.join(",");
        if (cors.allowCredentials) headers["access-control-allow-credentials"] = "true";
        if (cors.maxAgeSeconds) headers["access-control-max-age"] = String(cors.maxAgeSeconds);
        headers.vary = "Origin";
      }
      res.writeHead(204, headers);
      res.end();
      return;
    }
    let path = url.pathname;
    if (this.spec.stage !== "$default") {
      const prefix = `/${this.spec.stage}`;
      if (path !== prefix && !path.startsWith(`${prefix}/`)) return this.answer(req, res, 404, { message: "Not Found" }, started);
      path = path.slice(prefix.length) || "/";
    }
    const match = matchRoute(this.spec.routes, method, path);
    if (!match) {
      this.counts.notFound++;
      return this.answer(req, res, 404, { message: "Not Found" }, started);
    }
    const { route, params } = match;
    let authorizer: object | undefined;
    if (route.auth.type === "AWS_IAM") {
      const problem = verifySigV4({ method, url: req.url ?? "/", headers: req.headers, body }, this.credentials, this.spec.kind === "function-url" ? "lambda" : "execute-api");
      if (problem) {
        this.counts.denied++;
        this.log(`${this.spec.name}: ${method} ${url.pathname} refused: ${problem}`);
        return this.answer(req, res, 403, { message: "Forbidden" }, started);
      }
      authorizer = { iam: { accessKey: "test", accountId: "123456789012", callerId: "AIDALOCAL", principalOrgId: null, userArn: "arn:aws:iam::123456789012:user/local", userId: "AIDALOCAL" } };
    } else if (route.auth.type === "JWT") {
      const checked = await verifyJwt(req.headers.authorization, route.auth);
      if ("problem" in checked) {
        this.counts.denied++;
        this.log(`${this.spec.name}: ${method} ${url.pathname} refused: ${checked.problem}`);
        res.setHeader("www-authenticate", `Bearer error="invalid_token" error_description="${checked.problem.replace(/"/g, "'")}"`);
        return this.answer(req, res, 401, { message: "Unauthorized" }, started);
      }
      authorizer = { jwt: { claims: checked.claims, scopes: checked.scopes } };
    }
    const routeKey = this.spec.kind === "function-url" ? "$default" : route.routeKey;
    const event = httpEvent(this.spec, req, body, routeKey, params, this.domainName, authorizer);
    let mapped: MappedResponse | undefined;
    try {
      const r = await this.invoke(route.function, event);
      if (r.error) {
        this.counts.errors++;
        this.log(`${this.spec.name}: ${route.routeKey}: ${route.function} failed (${r.error})`);
        return this.answer(req, res, this.failStatus, { message: "Internal Server Error" }, started);
      }
      mapped = mapResponse(r.payload);
    } catch (e) {
      this.counts.errors++;
      this.log(`${this.spec.name}: ${route.routeKey} could not run ${route.function}: ${(e as Error).message}`);
      return this.answer(req, res, this.failStatus, { message: "Internal Server Error" }, started);
    }
    if (!mapped) {
      this.counts.errors++;
      this.log(`${this.spec.name}: ${route.routeKey}: ${route.function} answered something that is not a valid response (statusCode must be an integer 100-599)`);
      return this.answer(req, res, this.failStatus, { message: "Internal Server Error" }, started);
    }
    const headers: Record<string, string | string[]> = { ...mapped.headers, "content-length": String(mapped.body.length), "apigw-requestid": event.requestContext.requestId };
    if (mapped.cookies.length) headers["set-cookie"] = mapped.cookies;
    if (cors) this.corsHeaders(cors, req, headers);
    res.writeHead(mapped.statusCode, headers);
    res.end(method === "HEAD" ? undefined : mapped.body);
    this.access(req, mapped.statusCode, started, route.routeKey);
  }

  /** A function that fails or answers nonsense: HTTP APIs answer 500, function URLs 502. */
  private get failStatus(): number {
    return this.spec.kind === "function-url" ? 502 : 500;
  }

  private corsHeaders(cors: CorsSpec, req: http.IncomingMessage, headers: Record<string, string | string[]>): void {
    const origin = originAllowed(cors, req.headers.origin);
    if (!origin) return;
    headers["access-control-allow-origin"] = origin;
    if (cors.exposeHeaders.length) headers["access-control-expose-headers"] = cors.exposeHeaders.join(",");
    if (cors.allowCredentials) headers["access-control-allow-credentials"] = "true";
    headers.vary = "Origin";
  }

  private answer(req: http.IncomingMessage, res: http.ServerResponse, status: number, body: object, started: number): void {
    const text = JSON.stringify(body);
    const headers: Record<string, string | string[]> = { "content-type": "application/json", "content-length": String(Buffer.byteLength(text)) };
    if (this.spec.cors) this.corsHeaders(this.spec.cors, req, headers);
    res.writeHead(status, headers);
    res.end(text);
    this.access(req, status, started);
  }

  /** One access log line per request, with the fields of the stage's access log format. */
  private access(req: http.IncomingMessage, status: number, started: number, routeKey = "-"): void {
    this.log(`${this.spec.name}: ${JSON.stringify({ requestTime: apiGatewayTime(started), httpMethod: req.method, path: req.url, routeKey, status, responseLatency: Date.now() - started })}`);
  }
}
