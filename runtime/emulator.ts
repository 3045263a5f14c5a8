import * as crypto from "crypto";
import * as http from "http";
import { AddressInfo } from "net";
import { ConnectionsStandIn, PostedMessage } from "./connections";
import { handleInvokeApi } from "./invoke-api";
import { Invocation, NotDelivered, Outcome, RuntimeCommand, RuntimeResult, Sandbox, traceHeader } from "./sandbox";

export type { PostedMessage } from "./connections";

/**
 * A local Lambda service: per-function pools of sandboxes (./sandbox), each a real runtime process
 * behind its own Runtime API endpoint, and in front of them Lambda's Invoke API (./invoke-api), so
 * `@aws-sdk/client-lambda` works with an endpoint override, plus RIE's
 * `/2015-03-31/functions/function/invocations`. Invocations go only to a sandbox whose runtime waits
 * for one; past a function's concurrency they wait (or, for a function with reserved concurrency
 * called synchronously, are throttled as Lambda does). Event invocations run in the background with
 * Lambda's retries. What it keeps (finished invocations, @connections posts) is bounded.
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
  /** Sandboxes at once: its reserved concurrency, or a local cap. */
  readonly maxConcurrency: number;
  /**
   * The function's reserved concurrency, when it sets one: synchronous invocations past it are
   * throttled (429 TooManyRequestsException), as Lambda does. @default - none: past maxConcurrency
   * (a local cap; Lambda would scale to the account's limit) invocations wait for a sandbox
   */
  readonly reservedConcurrency?: number;
  /** Retries of a failed Event invocation (its event invoke config). @default 2, Lambda's */
  readonly maximumRetryAttempts?: number;
  /** An Event invocation older than this is not retried again (its event invoke config). @default 21600, Lambda's */
  readonly maximumEventAgeSeconds?: number;
  /** What it runs, for status and logs: `provided.al2023 arm64 (qemu)`, ... */
  readonly description: string;
  /** Its runtime is started by hand against the Runtime API on this port (one sandbox). @default - started here */
  readonly externalPort?: number;
  /** Time invocations out after timeoutSeconds; off for a runtime in a debugger (see SandboxOptions). @default true */
  readonly enforceTimeout?: boolean;
}

export interface InvokeResult extends Outcome {
  readonly requestId: string;
  readonly statusCode: number;
}

/** A finished invocation, as /status lists it. */
export interface InvocationRecord {
  readonly requestId: string;
  readonly function: string;
  readonly type: "RequestResponse" | "Event";
  readonly attempt: number;
  readonly status: "success" | "error";
  readonly errorType?: string;
  readonly durationMs: number;
  readonly finishedAt: string;
  /** The last lines of its log (up to 1 KB). */
  readonly logTail: string;
  /** For a failed Event invocation: what happens next (a retry in N s, or dropped). */
  readonly next?: string;
}

export interface EmulatorOptions {
  /** Where the functions' output goes, a line at a time, prefixed `[<function> <request id>]`. @default - nowhere */
  readonly console?: (line: string) => void;
  /** Waits before each retry of a failed Event invocation. @default [60000, 120000], Lambda's one and two minutes */
  readonly asyncRetryDelaysMs?: readonly number[];
  /** Finished invocations kept for /status. @default 200 */
  readonly keepInvocations?: number;
  /** @connections posts kept. @default 1000 */
  readonly keepPosted?: number;
  /** Lambda's init limit (10 s). */
  readonly initTimeoutMs?: number;
}

/** Past a function's reserved concurrency: Lambda's 429. */
export class Throttled extends Error {
  constructor(readonly reason: string) {
    super("Rate Exceeded.");
  }
}

interface Stats {
  invocations: number;
  errors: number;
  throttles: number;
  durations: number[];
}

interface Waiter {
  readonly start: (sb: Sandbox) => void;
}

interface Pool {
  readonly spec: FunctionSpec;
  readonly sandboxes: Set<Sandbox>;
  readonly queue: Waiter[];
  active: number;
  readonly stats: Stats;
}

const percentile = (xs: number[], p: number) => {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};

/** The last `bytes` of a text, cut at a character boundary. */
export function lastBytes(text: string, bytes: number): Buffer {
  const b = Buffer.from(text);
  if (b.length <= bytes) return b;
  let start = b.length - bytes;
  while (start < b.length && (b[start] & 0xc0) === 0x80) start++; // not inside a UTF-8 sequence
  return b.subarray(start);
}

export class RuntimeEmulator {
  readonly connections: ConnectionsStandIn;
  private readonly pools = new Map<string, Pool>();
  private server?: http.Server;
  private readonly started = Date.now();
  private readonly records: InvocationRecord[] = [];
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private pendingEvents = 0;
  private stopping = false;

  constructor(
    functions: readonly FunctionSpec[] = [],
    private readonly opts: EmulatorOptions = {},
  ) {
    this.connections = new ConnectionsStandIn(opts.keepPosted ?? 1000);
    for (const f of functions) this.add(f);
  }

  /**
   * What functions posted to `@connections` (the Management API stand-in at `<url>/<stage>/@connections/<id>`):
   * set MANAGEMENT_API_ENDPOINT to `<url>/<stage>` so WebSocket handlers post here instead of AWS.
   */
  get posted(): readonly PostedMessage[] {
    return this.connections.posted;
  }

  /** The last finished invocations, oldest first. */
  get invocations(): readonly InvocationRecord[] {
    return this.records;
  }

  add(spec: FunctionSpec): void {
    this.pools.set(spec.name, { spec, sandboxes: new Set(), queue: [], active: 0, stats: { invocations: 0, errors: 0, throttles: 0, durations: [] } });
  }

  /** `arn:aws:lambda:<region>:<account>:function:` of this emulator's functions (for names it does not have). */
  get arnPrefix(): string {
    const first = [...this.pools.values()][0]?.spec.arn;
    return first ? first.slice(0, first.lastIndexOf(":") + 1) : "arn:aws:lambda:us-east-1:123456789012:function:";
  }

  get functionNames(): string[] {
    return [...this.pools.keys()];
  }

  /** The pool of a function by name, ARN or RIE's `function` (when there is one function). */
  poolOf(nameOrArn: string): Pool | undefined {
    const name = decodeURIComponent(nameOrArn).replace(/^arn:[^:]+:lambda:[^:]+:\d+:function:/, "").replace(/:\$LATEST$/, "");
    if (name === "function" && this.pools.size === 1) return [...this.pools.values()][0]; // RIE's path
    return this.pools.get(name);
  }

  /**
   * Invokes a function synchronously, as Lambda's RequestResponse invocation type; resolves when the
   * invocation is complete (logs with START, END and REPORT). `onResponse` hears the function's
   * answer as soon as it is given. With `throttle`, a function past its reserved concurrency
   * rejects with Throttled instead of waiting.
   */
  async invoke(
    nameOrArn: string,
    payload: Buffer | string,
    opts: { clientContext?: string; traceId?: string; requestId?: string; throttle?: boolean; onResponse?: (r: RuntimeResult & { requestId: string }) => void } = {},
  ): Promise<InvokeResult> {
    const pool = this.poolOf(nameOrArn);
    if (!pool) throw new Error(`no function ${nameOrArn}; the emulator has ${this.functionNames.join(", ")}`);
    const requestId = opts.requestId ?? crypto.randomUUID();
    if (opts.throttle && pool.spec.reservedConcurrency !== undefined && this.full(pool)) {
      pool.stats.throttles++;
      throw new Throttled("ReservedFunctionConcurrentInvocationLimitExceeded");
    }
    const inv: Invocation = {
      requestId,
      payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload),
      functionArn: pool.spec.arn,
      traceId: traceHeader(opts.traceId),
      clientContext: opts.clientContext,
    };
    pool.active++;
    let outcome: Outcome;
    try {
      outcome = await this.execute(pool, inv, opts.onResponse && ((r) => opts.onResponse!({ ...r, requestId })));
    } finally {
      pool.active--;
    }
    pool.stats.invocations++;
    if (outcome.functionError) pool.stats.errors++;
    pool.stats.durations.push(outcome.durationMs);
    if (pool.stats.durations.length > 10000) pool.stats.durations.splice(0, 5000);
    const report =
      `REPORT RequestId: ${requestId}\tDuration: ${outcome.durationMs.toFixed(2)} ms\tBilled Duration: ${Math.ceil(outcome.durationMs)} ms\t` +
      `Memory Size: ${pool.spec.memoryMiB} MB` +
      (outcome.maxMemoryMB !== undefined ? `\tMax Memory Used: ${outcome.maxMemoryMB} MB` : "") +
      (outcome.initDurationMs !== undefined ? `\tInit Duration: ${outcome.initDurationMs.toFixed(2)} ms` : "") +
      (outcome.errorType === "Sandbox.Timedout" ? "\tStatus: timeout" : outcome.sandbox === "reset" && outcome.functionError ? "\tStatus: error" : "");
    const logs = [
      ...(outcome.initLogs ? [outcome.initLogs] : []),
      `START RequestId: ${requestId} Version: $LATEST`,
      ...(outcome.logs ? [outcome.logs] : []),
      `END RequestId: ${requestId}`,
      report,
    ].join("\n");
    this.opts.console?.(`[${pool.spec.name} ${requestId.slice(0, 8)}] ${report}`);
    return { ...outcome, logs, requestId, statusCode: 200 };
  }

  /** Every sandbox is taken and no other may start (or invocations already wait). */
  private full(pool: Pool): boolean {
    const limit = pool.spec.reservedConcurrency ?? pool.spec.maxConcurrency;
    return pool.queue.length > 0 || (![...pool.sandboxes].some((s) => s.available) && pool.sandboxes.size >= limit);
  }

  /** Runs an invocation on a sandbox of the pool; one that died before taking it is run on another. */
  private execute(pool: Pool, inv: Invocation, onResponse?: (r: RuntimeResult) => void): Promise<Outcome> {
    return new Promise<Outcome>((resolve, reject) => {
      const waiter: Waiter = {
        start: (sb) =>
          sb.run(inv, onResponse).then(resolve, (e: unknown) => {
            if (e instanceof NotDelivered) {
              pool.queue.unshift(waiter);
              this.dispatch(pool);
            } else reject(e as Error);
          }),
      };
      pool.queue.push(waiter);
      this.dispatch(pool);
    });
  }

  /** Hands waiting invocations to ready sandboxes, starting new ones up to the limit. */
  private dispatch(pool: Pool): void {
    while (pool.queue.length > 0 && !this.stopping) {
      const ready = [...pool.sandboxes].find((s) => s.available);
      if (ready) {
        pool.queue.shift()!.start(ready);
        continue;
      }
      if (pool.sandboxes.size >= (pool.spec.externalPort !== undefined ? 1 : pool.spec.maxConcurrency)) return;
      const waiter = pool.queue.shift()!;
      const sb = this.newSandbox(pool);
      // The invocation is assigned before init, so no other waiter takes this sandbox.
      waiter.start(sb);
      void sb.start();
    }
  }

  private newSandbox(pool: Pool): Sandbox {
    const { spec } = pool;
    const sb = new Sandbox(spec.runtime, {
      timeoutMs: spec.timeoutSeconds * 1000,
      memoryMiB: spec.enforceMemory === false ? undefined : spec.memoryMiB,
      initTimeoutMs: this.opts.initTimeoutMs,
      externalPort: spec.externalPort,
      enforceTimeout: spec.enforceTimeout,
      onLine: this.opts.console && ((line, requestId, phase) => this.opts.console!(`[${spec.name} ${requestId ? requestId.slice(0, 8) : phase}] ${line}`)),
    });
    pool.sandboxes.add(sb);
    sb.onReady(() => this.dispatch(pool));
    sb.onDead(() => {
      if (spec.externalPort !== undefined && !this.stopping) this.opts.console?.(`[${spec.name}] the sandbox was reset (its invocation ended in an error that kills it); start the runtime again against AWS_LAMBDA_RUNTIME_API=127.0.0.1:${spec.externalPort}`);
      // An external runtime's port is taken again by the next sandbox, once this one has let it go.
      const stopped = sb.stop();
      void stopped.then(() => {
        pool.sandboxes.delete(sb);
        this.dispatch(pool);
      });
      if (spec.externalPort === undefined) {
        pool.sandboxes.delete(sb);
        this.dispatch(pool);
      }
    });
    return sb;
  }

  private record(r: InvocationRecord): void {
    this.records.push(r);
    const keep = this.opts.keepInvocations ?? 200;
    if (this.records.length > keep) this.records.splice(0, this.records.length - keep);
  }

  /**
   * An Event invocation: queued and run in the background, returns its request id at once. A
   * failed attempt is retried (twice by default, after one and then two minutes, as Lambda does),
   * with the same request id; each attempt is recorded and printed to the console.
   */
  invokeAsync(nameOrArn: string, payload: Buffer | string, opts: { traceId?: string } = {}): string {
    const pool = this.poolOf(nameOrArn);
    if (!pool) throw new Error(`no function ${nameOrArn}; the emulator has ${this.functionNames.join(", ")}`);
    const requestId = crypto.randomUUID();
    const retries = pool.spec.maximumRetryAttempts ?? 2;
    const maxAgeMs = (pool.spec.maximumEventAgeSeconds ?? 21600) * 1000;
    const queuedAt = Date.now();
    const delays = this.opts.asyncRetryDelaysMs ?? [60_000, 120_000];
    this.pendingEvents++;
    const attempt = (n: number): void => {
      void this.invoke(nameOrArn, payload, { requestId, traceId: opts.traceId })
        .then(
          (r) => ({ status: r.functionError ? ("error" as const) : ("success" as const), errorType: r.errorType, durationMs: r.durationMs, logs: r.logs }),
          (e: Error) => ({ status: "error" as const, errorType: "ServiceException", durationMs: 0, logs: e.message }),
        )
        .then((r) => {
          const delay = delays[Math.min(n - 1, delays.length - 1)] ?? 0;
          // Lambda drops an event that would be older than its maximum age when retried.
          const tooOld = Date.now() + delay - queuedAt > maxAgeMs;
          const again = r.status === "error" && n <= retries && !tooOld && !this.stopping;
          const dropped = n <= retries && tooOld ? `dropped: it would be older than its maximum age (${maxAgeMs / 1000} s) at the next retry (no destination here)` : `dropped after ${n} attempt(s) (no destination here)`;
          const next = r.status === "success" ? undefined : again ? `retry ${n} of ${retries} in ${(delay / 1000).toFixed(delay < 1000 ? 1 : 0)} s` : dropped;
          this.record({ requestId, function: pool.spec.name, type: "Event", attempt: n, status: r.status, errorType: r.errorType, durationMs: r.durationMs, finishedAt: new Date().toISOString(), logTail: lastBytes(r.logs, 1024).toString(), next });
          this.opts.console?.(`[${pool.spec.name} ${requestId.slice(0, 8)}] Event invocation, attempt ${n}: ${r.status}${r.errorType ? ` (${r.errorType})` : ""}${next ? `; ${next}` : ""}`);
          if (!again) {
            this.pendingEvents--;
            return;
          }
          const t = setTimeout(() => {
            this.retryTimers.delete(t);
            attempt(n + 1);
          }, delay);
          t.unref();
          this.retryTimers.add(t);
        });
    };
    attempt(1);
    return requestId;
  }

  /** Records a synchronous invocation (the Invoke API does, for /status). */
  recordSync(pool: string, r: InvokeResult): void {
    this.record({ requestId: r.requestId, function: pool, type: "RequestResponse", attempt: 1, status: r.functionError ? "error" : "success", errorType: r.errorType, durationMs: r.durationMs, finishedAt: new Date().toISOString(), logTail: lastBytes(r.logs, 1024).toString() });
  }

  status() {
    return {
      uptimeSeconds: Math.round((Date.now() - this.started) / 1000),
      functions: [...this.pools.values()].map((p) => ({
        name: p.spec.name,
        runs: p.spec.description,
        maxConcurrency: p.spec.maxConcurrency,
        reservedConcurrency: p.spec.reservedConcurrency,
        async: { retries: p.spec.maximumRetryAttempts ?? 2, maxEventAgeSeconds: p.spec.maximumEventAgeSeconds ?? 21600 },
        sandboxes: p.sandboxes.size,
        sandboxDetails: [...p.sandboxes].map((s) => {
          const u = s.usage();
          return { id: s.id, state: s.state, pid: u.pid, invocations: s.invocations, memoryMB: Math.round(u.rssMB * 10) / 10, peakMemoryMB: Math.round(u.peakMB * 10) / 10, cpuSeconds: u.cpuSeconds, ageSeconds: Math.round((Date.now() - s.createdAt) / 1000) };
        }),
        active: p.active,
        queued: p.queue.length,
        invocations: p.stats.invocations,
        errors: p.stats.errors,
        throttles: p.stats.throttles,
        durationMs: { p50: percentile(p.stats.durations, 50), p99: percentile(p.stats.durations, 99), max: Math.max(0, ...p.stats.durations) },
      })),
      pendingEventInvocations: this.pendingEvents,
      recentInvocations: this.records.slice(-50),
      postedToConnections: this.connections.postedTotal,
    };
  }

  /** Serves the Invoke API, /health, /status and @connections on 127.0.0.1:`port` (0: a free one). */
  async listen(port = 0): Promise<string> {
    // keepAliveTimeout 0: idle connections stay open (see LocalGateway.listen: a function's SDK
    // reusing one that Node closes after its default 5 s loses that request).
    this.server = http.createServer({ noDelay: true, keepAliveTimeout: 0 }, (req, res) => void handleInvokeApi(this, req, res));
    await new Promise<void>((resolve, reject) => {
      this.server!.once("error", reject);
      this.server!.listen(port, "127.0.0.1", resolve);
    });
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.retryTimers) clearTimeout(t);
    await Promise.all([...this.pools.values()].flatMap((p) => [...p.sandboxes].map((s) => s.stop())));
    if (this.server) {
      this.server.closeAllConnections();
      await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    }
  }
}
