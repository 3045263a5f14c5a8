import * as crypto from "crypto";
import * as http from "http";
import { AddressInfo } from "net";
import { Outcome, RuntimeCommand, Sandbox } from "./sandbox";

/**
 * A local Lambda service: the invoke side (Lambda's Invoke API path, so `@aws-sdk/client-lambda`
 * works with an endpoint override, and RIE's `/2015-03-31/functions/function/invocations`) in front of
 * per-function pools of sandboxes, each a real runtime process behind its own Runtime API endpoint.
 * Invocations beyond a function's concurrency wait in a queue; none is dropped.
 */

export interface FunctionSpec {
  readonly name: string;
  readonly arn: string;
  /** How to start its runtime (command, working directory, environment). */
  readonly runtime: RuntimeCommand;
  readonly timeoutSeconds: number;
  readonly memoryMiB: number;
  /** Kill a runtime whose resident memory passes memoryMiB (Runtime.OutOfMemory). @default true */
  readonly enforceMemory?: boolean;
  /** Sandboxes at once: its reserved concurrency, or a default. */
  readonly maxConcurrency: number;
  /** What it runs, for status and logs: `provided.al2023 arm64 (qemu)`, ... */
  readonly description: string;
}

export interface InvokeResult extends Outcome {
  readonly requestId: string;
  readonly statusCode: number;
}

interface Stats {
  invocations: number;
  errors: number;
  durations: number[];
}

interface Pool {
  readonly spec: FunctionSpec;
  readonly sandboxes: Set<Sandbox>;
  readonly idle: Sandbox[];
  readonly queue: Array<() => void>;
  active: number;
  readonly stats: Stats;
}

const percentile = (xs: number[], p: number) => {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};

/** A message a function sent to a WebSocket client through the API Gateway Management API stand-in. */
export interface PostedMessage {
  readonly connectionId: string;
  readonly data: string;
}

export class RuntimeEmulator {
  /**
   * What functions posted to `@connections` (the Management API stand-in at `<url>/<stage>/@connections/<id>`):
   * set MANAGEMENT_API_ENDPOINT to `<url>/<stage>` so WebSocket handlers post here instead of AWS.
   */
  public readonly posted: PostedMessage[] = [];
  private readonly pools = new Map<string, Pool>();
  private server?: http.Server;
  private readonly started = Date.now();

  constructor(functions: readonly FunctionSpec[] = []) {
    for (const f of functions) this.add(f);
  }

  add(spec: FunctionSpec): void {
    this.pools.set(spec.name, { spec, sandboxes: new Set(), idle: [], queue: [], active: 0, stats: { invocations: 0, errors: 0, durations: [] } });
  }

  get functionNames(): string[] {
    return [...this.pools.keys()];
  }

  /** Invokes a function synchronously, as Lambda's RequestResponse invocation type. */
  async invoke(nameOrArn: string, payload: Buffer | string, opts: { clientContext?: string } = {}): Promise<InvokeResult> {
    const pool = this.poolOf(nameOrArn);
    if (!pool) throw new Error(`no function ${nameOrArn}; the emulator has ${this.functionNames.join(", ")}`);
    const requestId = crypto.randomUUID();
    const sandbox = await this.acquire(pool);
    pool.active++;
    try {
      const outcome = await sandbox.run({
        requestId,
        payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload),
        functionArn: pool.spec.arn,
        deadlineMs: Date.now() + pool.spec.timeoutSeconds * 1000,
        traceId: `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${crypto.randomBytes(12).toString("hex")};Parent=${crypto.randomBytes(8).toString("hex")};Sampled=0`,
        clientContext: opts.clientContext,
      });
      pool.stats.invocations++;
      if (outcome.functionError) pool.stats.errors++;
      pool.stats.durations.push(outcome.durationMs);
      if (pool.stats.durations.length > 10000) pool.stats.durations.splice(0, 5000);
      const report =
        `REPORT RequestId: ${requestId}\tDuration: ${outcome.durationMs.toFixed(2)} ms\tBilled Duration: ${Math.ceil(outcome.durationMs)} ms\t` +
        `Memory Size: ${pool.spec.memoryMiB} MB` +
        (outcome.maxMemoryMB !== undefined ? `\tMax Memory Used: ${outcome.maxMemoryMB} MB` : "") +
        (outcome.initDurationMs !== undefined ? `\tInit Duration: ${outcome.initDurationMs.toFixed(2)} ms` : "");
      const logs = [`START RequestId: ${requestId} Version: $LATEST`, ...(outcome.logs ? [outcome.logs] : []), `END RequestId: ${requestId}`, report].join("\n");
      return { ...outcome, logs, requestId, statusCode: 200 };
    } finally {
      pool.active--;
      this.release(pool, sandbox);
    }
  }

  /** A sandbox for the next invocation: an idle one, a new one under the limit, or the next freed one. */
  private async acquire(pool: Pool): Promise<Sandbox> {
    for (;;) {
      const idle = pool.idle.pop();
      if (idle && idle.state !== "dead") return idle;
      if (idle) continue;
      if (pool.sandboxes.size < pool.spec.maxConcurrency) {
        const sb = new Sandbox(pool.spec.runtime, pool.spec.timeoutSeconds * 1000, pool.spec.enforceMemory === false ? undefined : pool.spec.memoryMiB);
        pool.sandboxes.add(sb);
        sb.onDead(() => {
          pool.sandboxes.delete(sb);
          const i = pool.idle.indexOf(sb);
          if (i >= 0) pool.idle.splice(i, 1);
          void sb.stop();
          pool.queue.shift()?.();
        });
        await sb.start();
        return sb;
      }
      await new Promise<void>((resolve) => pool.queue.push(resolve));
    }
  }

  private release(pool: Pool, sb: Sandbox): void {
    if (sb.state !== "dead") pool.idle.push(sb);
    pool.queue.shift()?.();
  }

  private poolOf(nameOrArn: string): Pool | undefined {
    const name = decodeURIComponent(nameOrArn).replace(/^arn:[^:]+:lambda:[^:]+:\d+:function:/, "").replace(/:\$LATEST$/, "");
    if (name === "function" && this.pools.size === 1) return [...this.pools.values()][0]; // RIE's path
    return this.pools.get(name);
  }

  status() {
    return {
      uptimeSeconds: Math.round((Date.now() - this.started) / 1000),
      functions: [...this.pools.values()].map((p) => ({
        name: p.spec.name,
        runs: p.spec.description,
        maxConcurrency: p.spec.maxConcurrency,
        sandboxes: p.sandboxes.size,
        active: p.active,
        queued: p.queue.length,
        invocations: p.stats.invocations,
        errors: p.stats.errors,
        durationMs: { p50: percentile(p.stats.durations, 50), p99: percentile(p.stats.durations, 99), max: Math.max(0, ...p.stats.durations) },
      })),
    };
  }

  /** Serves the invoke API, /health and /status on 127.0.0.1:`port` (0: a free one). */
  async listen(port = 0): Promise<string> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(port, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.pools.values()].flatMap((p) => [...p.sandboxes].map((s) => s.stop())));
    if (this.server) await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = (req.url ?? "").replace(/\?.*$/, "");
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { "Content-Type": "application/json", ...headers });
      res.end(JSON.stringify(body));
    };
    if (req.method === "GET" && url === "/health") return json(200, { status: "ok", functions: this.pools.size });
    if (req.method === "GET" && url === "/status") return json(200, { ...this.status(), postedToConnections: this.posted.length });
    const conn = /\/@connections\/([^/]+)$/.exec(url);
    if (conn) {
      const connectionId = decodeURIComponent(conn[1]);
      if (req.method === "POST") {
        this.posted.push({ connectionId, data: Buffer.concat(chunks).toString() });
        return json(200, {});
      }
      if (req.method === "DELETE") return json(204, {});
      return json(200, { ConnectedAt: new Date(this.started).toISOString(), Identity: { SourceIp: "127.0.0.1" }, LastActiveAt: new Date().toISOString() });
    }
    const m = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(url);
    if (req.method === "POST" && m) {
      if (!this.poolOf(m[1])) {
        return json(404, { Type: "User", message: `Function not found: ${decodeURIComponent(m[1])}` }, { "X-Amzn-ErrorType": "ResourceNotFoundException" });
      }
      const type = String(req.headers["x-amz-invocation-type"] ?? "RequestResponse");
      const payload = Buffer.concat(chunks);
      if (type === "DryRun") return json(204, {});
      if (type === "Event") {
        void this.invoke(m[1], payload).catch(() => undefined);
        res.writeHead(202);
        return void res.end();
      }
      try {
        const r = await this.invoke(m[1], payload, { clientContext: req.headers["x-amz-client-context"] as string | undefined });
        const headers: Record<string, string> = { "Content-Type": "application/json", "X-Amz-Executed-Version": "$LATEST", "X-Amzn-RequestId": r.requestId };
        if (r.functionError) headers["X-Amz-Function-Error"] = r.functionError;
        if (req.headers["x-amz-log-type"] === "Tail") headers["X-Amz-Log-Result"] = Buffer.from(r.logs.slice(-4096)).toString("base64");
        res.writeHead(r.statusCode, headers);
        return void res.end(r.payload);
      } catch (e) {
        return json(500, { Type: "Service", message: (e as Error).message }, { "X-Amzn-ErrorType": "ServiceException" });
      }
    }
    return json(404, {
      message: `${req.method} ${url}: not an endpoint of this emulator (POST /2015-03-31/functions/<name>/invocations, GET /health, GET /status, POST <stage>/@connections/<id>)`,
    });
  }
}
