import * as crypto from "crypto";
import * as http from "http";
import type { Duplex } from "stream";
import { WebSocket, WebSocketServer } from "ws";
import type { LiveConnections } from "./connections";
import { ACCOUNT_ID } from "./functions";
import { LOCAL_CREDENTIALS, verifySigV4 } from "./sigv4";

/**
 * A WebSocket API as API Gateway runs one, on a loopback port: a real upgrade at `/<stage>`,
 * `$connect` (which may refuse the connection with a non-2xx status), route selection on the API's
 * expression (`$request.body.action`) with `$default`, `$disconnect` when either side closes, and
 * the `@connections` Management API (./connections) reaching the sockets. Events and their
 * `requestContext` carry the fields API Gateway sends (docs: "Setting up WebSocket API integrations
 * in API Gateway", "WebSocket API Lambda event"); its limits are "Amazon API Gateway quotas for
 * configuring and running a WebSocket API".
 */

export interface WebsocketApiSpec {
  readonly apiId: string;
  /** The API's name, for messages. */
  readonly name: string;
  readonly stage: string;
  /** `$request.body.<field>` (the only kind API Gateway takes for WebSocket APIs besides a literal). */
  readonly routeSelectionExpression: string;
  /** The function name serving each route key. */
  readonly routes: Readonly<Record<string, string>>;
  /**
   * The `$connect` route's authorization: AWS_IAM takes only upgrades signed with SigV4 (service
   * execute-api) by the local credentials; others get 403. @default "NONE"
   */
  readonly connectAuth?: "NONE" | "AWS_IAM";
}

export interface WebsocketLimits {
  /** Largest message (API Gateway: 128 KB); a larger one closes the connection with 1009. */
  readonly maxMessageBytes: number;
  /** A connection idle this long is closed (API Gateway: 10 minutes). */
  readonly idleTimeoutMs: number;
  /** A connection is closed after this long (API Gateway: 2 hours). */
  readonly maxConnectionMs: number;
}

export const API_GATEWAY_WS_LIMITS: WebsocketLimits = { maxMessageBytes: 128 * 1024, idleTimeoutMs: 10 * 60_000, maxConnectionMs: 2 * 3600_000 };

/** A function invocation as the gateway needs it: the payload, or the function's error. */
export interface GatewayInvoke {
  (functionName: string, event: object): Promise<{ payload: Buffer; error?: string }>;
}

interface Connection {
  readonly id: string;
  readonly socket: WebSocket;
  readonly connectedAt: number;
  readonly sourceIp: string;
  readonly userAgent?: string;
  /** The signer's access key, on an AWS_IAM API. */
  readonly accessKey?: string;
  readonly headers: Record<string, string>;
  readonly multiValueHeaders: Record<string, string[]>;
  lastActive: number;
  idle?: NodeJS.Timeout;
  total?: NodeJS.Timeout;
  closed: boolean;
}

/** API Gateway's requestTime: `03/Dec/2026:04:05:06 +0000`. */
export function apiGatewayTime(ms: number): string {
  const d = new Date(ms);
  const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const p = (n: number) => String(n).padStart(2, "0");
  return `${p(d.getUTCDate())}/${months[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

/** An id shaped like API Gateway's connection ids (`L0SM9cOFvHcCIhw=`). */
function connectionId(): string {
  return crypto.randomBytes(10).toString("base64");
}

/** The route key a message selects: the value at `$request.body.<path>` when it names a route, else `$default`. */
export function selectRoute(expression: string, body: string, routes: Readonly<Record<string, string>>): string | undefined {
  const m = /^\$request\.body\.(.+)$/.exec(expression);
  let key: string | undefined;
  if (m) {
    try {
      let v: unknown = JSON.parse(body);
      for (const part of m[1].split(".")) v = v !== null && typeof v === "object" ? (v as Record<string, unknown>)[part] : undefined;
      if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") key = String(v);
    } catch {
      /* not JSON: $default */
    }
  }
  if (key !== undefined && routes[key] && !key.startsWith("$")) return key;
  return routes.$default ? "$default" : undefined;
}

function headerMaps(req: http.IncomingMessage): { headers: Record<string, string>; multiValueHeaders: Record<string, string[]> } {
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const [k, v] = [req.rawHeaders[i], req.rawHeaders[i + 1]];
    // API Gateway keeps the client's spelling of names; the last value wins in `headers`.
    headers[k] = v;
    (multiValueHeaders[k] ??= []).push(v);
  }
  return { headers, multiValueHeaders };
}

function queryMaps(search: URLSearchParams): { single?: Record<string, string>; multi?: Record<string, string[]> } {
  const keys = [...new Set(search.keys())];
  if (keys.length === 0) return {};
  return { single: Object.fromEntries(keys.map((k) => [k, search.getAll(k).at(-1)!])), multi: Object.fromEntries(keys.map((k) => [k, search.getAll(k)])) };
}

/** The status a `$connect` answer stands for: its statusCode, 200 when it gives none. */
function connectStatus(payload: Buffer): number {
  try {
    const v = JSON.parse(payload.toString()) as { statusCode?: unknown };
    if (v && typeof v === "object" && typeof v.statusCode === "number") return v.statusCode;
  } catch {
    /* not JSON: success */
  }
  return 200;
}

export class WebsocketApi implements LiveConnections {
  private readonly wss: WebSocketServer;
  private readonly open = new Map<string, Connection>();
  private domainName = "127.0.0.1";
  /** Messages sent to clients and connections accepted, for status. */
  readonly counts = { connected: 0, refused: 0, messagesIn: 0, messagesOut: 0 };

  constructor(
    readonly spec: WebsocketApiSpec,
    private readonly invoke: GatewayInvoke,
    private readonly limits: WebsocketLimits = API_GATEWAY_WS_LIMITS,
    private readonly log: (line: string) => void = () => {},
  ) {
    this.wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxMessageBytes, perMessageDeflate: false });
  }

  /** Connections open now. */
  get connectionIds(): string[] {
    return [...this.open.keys()];
  }

  /** Serves upgrades at `/<stage>` of `server`; other paths are refused with 403, as API Gateway does. */
  attach(server: http.Server): void {
    server.on("upgrade", (req: http.IncomingMessage, socket: Duplex, head: Buffer) =>
      this.upgrade(req, socket, head).catch((e: Error) => {
        this.log(`${this.spec.name}: upgrade of ${req.url}: ${e.message}`);
        socket.destroy();
      }),
    );
    server.on("listening", () => {
      const a = server.address();
      if (a && typeof a === "object") this.domainName = `127.0.0.1:${a.port}`;
    });
  }

  private context(c: { id: string; connectedAt: number; sourceIp: string; userAgent?: string; accessKey?: string }, routeKey: string, eventType: string, extra: object = {}) {
    const now = Date.now();
    return {
      routeKey,
      eventType,
      extendedRequestId: crypto.randomBytes(8).toString("base64").replace(/=+$/, "") + "=",
      requestTime: apiGatewayTime(now),
      messageDirection: "IN",
      stage: this.spec.stage,
      connectedAt: c.connectedAt,
      requestTimeEpoch: now,
      identity: { sourceIp: c.sourceIp, ...(c.userAgent ? { userAgent: c.userAgent } : {}), ...(c.accessKey ? { accessKey: c.accessKey, accountId: ACCOUNT_ID, caller: c.accessKey, userArn: `arn:aws:iam::${ACCOUNT_ID}:root` } : {}) },
      requestId: crypto.randomBytes(8).toString("base64").replace(/=+$/, "") + "=",
      domainName: this.domainName,
      connectionId: c.id,
      apiId: this.spec.apiId,
      ...extra,
    };
  }

  private refuse(socket: Duplex, status: number, message: string): void {
    this.counts.refused++;
    const body = JSON.stringify({ message });
    socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? "Error"}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }

  private async upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? "/", "http://x");
    if (url.pathname.replace(/\/+$/, "") !== `/${this.spec.stage}`) return this.refuse(socket, 403, "Forbidden");
    let accessKey: string | undefined;
    if (this.spec.connectAuth === "AWS_IAM") {
      const problem = verifySigV4({ method: "GET", url: req.url ?? "/", headers: req.headers, body: Buffer.alloc(0) }, LOCAL_CREDENTIALS, "execute-api");
      if (problem) {
        this.log(`${this.spec.name}: $connect refused (AWS_IAM): ${problem}`);
        return this.refuse(socket, 403, "Forbidden");
      }
      accessKey = /Credential=([^/]+)\//.exec(String(req.headers.authorization ?? ""))?.[1] ?? url.searchParams.get("X-Amz-Credential")?.split("/")[0];
    }
    const id = connectionId();
    const connectedAt = Date.now();
    const sourceIp = (req.socket.remoteAddress ?? "127.0.0.1").replace(/^::ffff:/, "");
    const userAgent = req.headers["user-agent"];
    const { headers, multiValueHeaders } = headerMaps(req);
    const q = queryMaps(url.searchParams);
    const fn = this.spec.routes.$connect;
    if (fn) {
      const event = {
        headers,
        multiValueHeaders,
        ...(q.single ? { queryStringParameters: q.single, multiValueQueryStringParameters: q.multi } : {}),
        requestContext: this.context({ id, connectedAt, sourceIp, userAgent, accessKey }, "$connect", "CONNECT"),
        isBase64Encoded: false,
      };
      let r: { payload: Buffer; error?: string };
      try {
        r = await this.invoke(fn, event);
      } catch (e) {
        this.log(`${this.spec.name}: $connect of ${id} could not run ${fn}: ${(e as Error).message}`);
        return this.refuse(socket, 500, "Internal server error");
      }
      if (r.error) {
        this.log(`${this.spec.name}: $connect of ${id} refused: ${fn} failed (${r.error})`);
        return this.refuse(socket, 500, "Internal server error");
      }
      const status = connectStatus(r.payload);
      if (status < 200 || status > 299) {
        this.log(`${this.spec.name}: $connect of ${id} refused by ${fn} with ${status}`);
        return this.refuse(socket, status, status === 403 ? "Forbidden" : http.STATUS_CODES[status] ?? "Refused");
      }
    }
    if (socket.destroyed) {
      // The client left while $connect ran: API Gateway still sends $disconnect.
      void this.disconnected({ id, connectedAt, sourceIp, userAgent, accessKey, headers, multiValueHeaders }, 1006, "Client left before the connection was accepted");
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accepted(ws, { id, connectedAt, sourceIp, userAgent, accessKey, headers, multiValueHeaders }));
  }

  private accepted(socket: WebSocket, c: Omit<Connection, "socket" | "lastActive" | "closed">): void {
    const conn: Connection = { ...c, socket, lastActive: Date.now(), closed: false };
    this.open.set(c.id, conn);
    this.counts.connected++;
    const armIdle = () => {
      if (conn.idle) clearTimeout(conn.idle);
      conn.idle = setTimeout(() => socket.close(1001, "Going away"), this.limits.idleTimeoutMs);
      conn.idle.unref();
    };
    armIdle();
    conn.total = setTimeout(() => socket.close(1001, "Going away"), this.limits.maxConnectionMs);
    conn.total.unref();
    // Messages of one connection are handled in order, one at a time.
    let chain = Promise.resolve();
    socket.on("message", (data: Buffer, isBinary: boolean) => {
      conn.lastActive = Date.now();
      armIdle();
      this.counts.messagesIn++;
      chain = chain.then(() => this.message(conn, data, isBinary)).catch((e: Error) => this.log(`${this.spec.name}: message of ${conn.id}: ${e.message}`));
    });
    socket.on("close", (code: number, reason: Buffer) => {
      if (conn.idle) clearTimeout(conn.idle);
      if (conn.total) clearTimeout(conn.total);
      conn.closed = true;
      this.open.delete(c.id);
      void chain.then(() => this.disconnected(conn, code, reason.toString() || (code === 1009 ? "Message too big" : "")));
    });
    socket.on("error", (e) => this.log(`${this.spec.name}: connection ${c.id}: ${e.message}`));
  }

  private async message(conn: Connection, data: Buffer, isBinary: boolean): Promise<void> {
    const body = isBinary ? data.toString("base64") : data.toString();
    const routeKey = selectRoute(this.spec.routeSelectionExpression, isBinary ? "" : body, this.spec.routes);
    const messageId = crypto.randomBytes(8).toString("base64").replace(/=+$/, "") + "=";
    if (!routeKey) {
      // No route and no $default: API Gateway answers the client.
      this.send(conn, JSON.stringify({ message: "Forbidden", connectionId: conn.id, requestId: messageId }));
      return;
    }
    const fn = this.spec.routes[routeKey];
    const event = {
      requestContext: this.context(conn, routeKey, "MESSAGE", { messageId }),
      body,
      isBase64Encoded: isBinary,
    };
    try {
      const r = await this.invoke(fn, event);
      if (r.error) {
        this.log(`${this.spec.name}: route ${routeKey} of ${conn.id}: ${fn} failed (${r.error})`);
        this.send(conn, JSON.stringify({ message: "Internal server error", connectionId: conn.id, requestId: event.requestContext.requestId }));
      }
      // A route without a route response sends nothing back: its result is dropped, as on API Gateway.
    } catch (e) {
      this.log(`${this.spec.name}: route ${routeKey} of ${conn.id} could not run ${fn}: ${(e as Error).message}`);
      this.send(conn, JSON.stringify({ message: "Internal server error", connectionId: conn.id, requestId: event.requestContext.requestId }));
    }
  }

  private async disconnected(c: Omit<Connection, "socket" | "lastActive" | "closed">, code: number, reason: string): Promise<void> {
    const fn = this.spec.routes.$disconnect;
    if (!fn) return;
    const event = {
      headers: c.headers,
      multiValueHeaders: c.multiValueHeaders,
      requestContext: this.context(c, "$disconnect", "DISCONNECT", { disconnectStatusCode: code, disconnectReason: reason }),
      isBase64Encoded: false,
    };
    try {
      const r = await this.invoke(fn, event);
      if (r.error) this.log(`${this.spec.name}: $disconnect of ${c.id}: ${fn} failed (${r.error})`);
    } catch (e) {
      this.log(`${this.spec.name}: $disconnect of ${c.id} could not run ${fn}: ${(e as Error).message}`);
    }
  }

  private send(conn: Connection, data: Buffer | string): boolean {
    if (conn.closed || conn.socket.readyState !== WebSocket.OPEN) return false;
    conn.socket.send(data, { binary: false });
    this.counts.messagesOut++;
    return true;
  }

  post(id: string, data: Buffer): boolean {
    const conn = this.open.get(id);
    return conn ? this.send(conn, data.toString()) : false;
  }

  describe(id: string) {
    const c = this.open.get(id);
    if (!c) return undefined;
    return { ConnectedAt: new Date(c.connectedAt).toISOString(), Identity: { SourceIp: c.sourceIp, ...(c.userAgent ? { UserAgent: c.userAgent } : {}) }, LastActiveAt: new Date(c.lastActive).toISOString() };
  }

  close(id: string): boolean {
    const c = this.open.get(id);
    if (!c) return false;
    c.socket.close(1000, "Closed by the Management API");
    return true;
  }

  /** Closes every connection (each gets its $disconnect) and waits for them. */
  async stop(): Promise<void> {
    const closing = [...this.open.values()].map((c) => new Promise<void>((resolve) => {
      c.socket.once("close", () => resolve());
      c.socket.close(1001, "Going away");
      setTimeout(() => {
        c.socket.terminate();
        resolve();
      }, 1000).unref();
    }));
    await Promise.all(closing);
    this.wss.close();
  }
}
