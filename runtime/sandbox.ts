import { ChildProcess, spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import { AddressInfo } from "net";

/**
 * One execution environment of a function, as Lambda runs it: one runtime process that serves one
 * invocation at a time through its own Runtime API endpoint (API version 2018-06-01). The process is
 * started on the first invocation (init), reused while it lives, and killed on a timeout.
 *
 * External extensions (the layers' `extensions/*`) are started before the runtime and served the
 * Extensions API (2020-01-01) on the same endpoint: register, event/next (INVOKE and SHUTDOWN),
 * init/error and exit/error. The runtime starts once every extension has registered and asked for its
 * first event; an invocation ends when the runtime has answered and every extension has asked for
 * the next event, as in Lambda.
 */

/** How to start a function's runtime process. */
export interface RuntimeCommand {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  /** The function's environment; AWS_LAMBDA_RUNTIME_API is added per sandbox. */
  readonly env: Readonly<Record<string, string>>;
  /** External extensions, started before the runtime with the same environment. @default - none */
  readonly extensions?: ReadonlyArray<{ readonly name: string; readonly command: string; readonly args: readonly string[] }>;
}

/** How long extensions get to register (Lambda's init phase is limited to 10 s). */
const EXTENSION_INIT_MS = 10_000;
/** How long extensions get after SHUTDOWN before they are killed. */
const EXTENSION_SHUTDOWN_MS = 500;

interface ExtensionState {
  readonly name: string;
  proc?: ChildProcess;
  id?: string;
  events: string[];
  pendingNext?: http.ServerResponse;
  queue: object[];
  /** The request ID of the INVOKE event it got and has not finished (asked for the next event after). */
  busyWith?: string;
}

/** One invocation as the runtime sees it. */
export interface Invocation {
  readonly requestId: string;
  readonly payload: Buffer;
  readonly functionArn: string;
  readonly deadlineMs: number;
  readonly traceId: string;
  readonly clientContext?: string;
}

/** How an invocation ended. */
export interface Outcome {
  /** The function's response, or the error payload Lambda returns. */
  readonly payload: Buffer;
  /** `Unhandled` when the payload is an error (the X-Amz-Function-Error header). */
  readonly functionError?: "Unhandled";
  /** The error type, for errors (Runtime.ExitError, Sandbox.Timedout, ...). */
  readonly errorType?: string;
  /** The runtime's output during the invocation (and during init for the first one). */
  readonly logs: string;
  readonly durationMs: number;
  readonly initDurationMs?: number;
  /** Peak resident memory of the runtime process so far (MB), when memory is enforced. */
  readonly maxMemoryMB?: number;
}

/** Lambda's limit on a synchronous response. */
export const MAX_RESPONSE_BYTES = 6 * 1024 * 1024 + 100; // 6291556, as Lambda reports it
const API_PREFIX = "/2018-06-01";
const EXTENSION_PREFIX = "/2020-01-01/extension";

/** A port free on the loopback now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function errorPayload(errorType: string, errorMessage: string): Buffer {
  return Buffer.from(JSON.stringify({ errorType, errorMessage }));
}

type State = "starting" | "idle" | "busy" | "dead";

export class Sandbox {
  public state: State = "starting";
  private server!: http.Server;
  private proc?: ChildProcess;
  private pendingNext?: http.ServerResponse;
  private current?: { inv: Invocation; started: number; resolve: (o: Outcome) => void; timer: NodeJS.Timeout; delivered?: boolean };
  private logLines: string[] = [];
  private initStarted = 0;
  /** Set once the runtime asked for its first invocation: the end of init. */
  private initialized = false;
  private initDurationMs?: number;
  private initError?: { errorType: string; payload: Buffer };
  private exitListeners: Array<() => void> = [];

  private extensions: ExtensionState[] = [];
  private extensionsReady?: () => void;
  /** The runtime's outcome, held until the extensions finished the invocation too. */
  private runtimeOutcome?: Omit<Outcome, "logs" | "durationMs" | "initDurationMs">;
  private env: Record<string, string> = {};

  /** Peak resident memory of the process during the current invocation (MB), sampled. */
  private maxMemoryMB = 0;
  private memoryTimer?: NodeJS.Timeout;

  constructor(
    private readonly spec: RuntimeCommand,
    private readonly timeoutMs: number,
    /** The function's memory size: a process whose resident memory passes it is killed, as Lambda does. @default - not enforced */
    private readonly memoryMiB?: number,
  ) {}

  /** Starts the Runtime API endpoint, the extensions (waiting for them to register) and the runtime process. */
  async start(): Promise<void> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    const port = (this.server.address() as AddressInfo).port;
    this.initStarted = performance.now();
    this.env = { ...this.spec.env, AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${port}` };
    if (this.env.LAMBDASHIP_PROXY_PORT) {
      // Sandboxes here share one loopback (Lambda gives each its own), so each gets its own proxy port.
      const own = String(await freePort());
      this.env.LAMBDASHIP_PROXY_PORT = own;
      if (this.env.LAMBDASHIP_RUNTIME_API_PROXY) this.env.LAMBDASHIP_RUNTIME_API_PROXY = `127.0.0.1:${own}`;
    }
    if (this.spec.extensions?.length) {
      const ready = new Promise<void>((resolve) => (this.extensionsReady = resolve));
      this.extensions = this.spec.extensions.map((e) => ({ name: e.name, events: [], queue: [] }));
      for (const [i, e] of this.spec.extensions.entries()) this.extensions[i].proc = this.launch(e.command, e.args, () => this.onExtensionExit(e.name));
      const timer = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), EXTENSION_INIT_MS).unref());
      const result = await Promise.race([ready.then(() => "ready" as const), timer, new Promise<"dead">((resolve) => this.onDead(() => resolve("dead")))]);
      if (result !== "ready") {
        if (result === "timeout") {
          const late = this.extensions.filter((x) => !x.pendingNext).map((x) => x.name);
          this.initError ??= { errorType: "Extension.TimedOut", payload: errorPayload("Extension.TimedOut", `extensions ${late.join(", ")} did not register and ask for an event within ${EXTENSION_INIT_MS / 1000} s`) };
        }
        this.killAll();
        this.markDead();
        return;
      }
    }
    this.proc = this.launch(this.spec.command, this.spec.args, (code, signal) => this.onExit(code, signal));
    if (this.memoryMiB) {
      // Sampled every 20 ms from /proc: a process that allocates faster can briefly exceed the limit.
      this.memoryTimer = setInterval(() => this.checkMemory(), 20);
      this.memoryTimer.unref();
    }
  }

  /** Starts a process of the sandbox, its output going to the sandbox's log lines. */
  private launch(command: string, args: readonly string[], onExit: (code: number | null, signal: NodeJS.Signals | null) => void): ChildProcess {
    const proc = spawn(command, [...args], { cwd: this.spec.cwd, env: this.env, stdio: ["ignore", "pipe", "pipe"] });
    // Whole lines only: a process may write a line in several pieces.
    const partial = { out: "", err: "" };
    const collector = (stream: "out" | "err") => (d: Buffer) => {
      const text = partial[stream] + d.toString();
      const lines = text.split("\n");
      partial[stream] = lines.pop()!;
      for (const line of lines) this.logLines.push(line);
    };
    proc.stdout!.on("data", collector("out"));
    proc.stderr!.on("data", collector("err"));
    const flush = () => {
      for (const k of ["out", "err"] as const) if (partial[k]) this.logLines.push(partial[k]);
      partial.out = partial.err = "";
    };
    this.flushers.push(flush);
    proc.on("error", (e) => {
      this.logLines.push(`could not start ${command}: ${e.message}`);
      onExit(null, null);
    });
    proc.on("exit", (code, signal) => {
      flush();
      onExit(code, signal);
    });
    return proc;
  }

  private flushers: Array<() => void> = [];

  private onExtensionExit(name: string): void {
    if (this.state === "dead") return;
    // An extension that stops takes the sandbox with it, as in Lambda.
    this.initError ??= { errorType: "Extension.Crash", payload: errorPayload("Extension.Crash", `extension ${name} exited`) };
    this.exitedHow = `extension ${name} exited`;
    this.proc?.kill("SIGKILL");
    if (!this.proc) {
      this.killAll();
      this.markDead();
    }
  }

  private killAll(): void {
    for (const x of this.extensions) x.proc?.kill("SIGKILL");
    this.proc?.kill("SIGKILL");
  }

  /** Samples the process's resident memory into the peak; undefined once it is gone. */
  private sampleMemory(): number | undefined {
    if (!this.memoryMiB || !this.proc?.pid) return undefined;
    try {
      const mb = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${this.proc.pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
      this.maxMemoryMB = Math.max(this.maxMemoryMB, mb);
      return mb;
    } catch {
      return undefined;
    }
  }

  private checkMemory(): void {
    if (this.state === "dead") return;
    const mb = this.sampleMemory();
    if (mb !== undefined && mb > this.memoryMiB! && this.current) {
      const { inv } = this.current;
      this.finish({
        payload: errorPayload("Runtime.OutOfMemory", `RequestId: ${inv.requestId} Error: Runtime exited with error: signal: killed (memory ${mb.toFixed(0)} MB > ${this.memoryMiB} MB)`),
        functionError: "Unhandled",
        errorType: "Runtime.OutOfMemory",
      });
      this.proc?.kill("SIGKILL");
      this.markDead();
    }
  }

  /** Resolves when the sandbox is gone (process exited). */
  onDead(listener: () => void): void {
    if (this.state === "dead") listener();
    else this.exitListeners.push(listener);
  }

  /** Hands an invocation to the runtime; resolves when it completes, fails or times out. */
  run(inv: Invocation): Promise<Outcome> {
    if (this.current) throw new Error("a sandbox runs one invocation at a time");
    if (this.state !== "dead") this.state = "busy";
    return new Promise<Outcome>((resolve) => {
      const timer = setTimeout(() => this.timeOut(), Math.max(0, inv.deadlineMs - Date.now()));
      this.current = { inv, started: performance.now(), resolve, timer };
      this.runtimeOutcome = undefined;
      if (this.state === "dead") return this.failExited(); // it died before it could take the invocation
      for (const x of this.extensions.filter((e) => e.events.includes("INVOKE"))) {
        x.busyWith = inv.requestId;
        this.sendEvent(x, { eventType: "INVOKE", deadlineMs: inv.deadlineMs, requestId: inv.requestId, invokedFunctionArn: inv.functionArn, tracing: { type: "X-Amzn-Trace-Id", value: inv.traceId } });
      }
      if (this.pendingNext) this.deliver();
    });
  }

  async stop(): Promise<void> {
    clearInterval(this.memoryTimer);
    this.proc?.kill("SIGKILL");
    const running = this.extensions.filter((x) => x.proc && x.proc.exitCode === null && x.proc.signalCode === null);
    if (running.length > 0) {
      // SHUTDOWN, then a short grace period, as Lambda gives extensions when it stops a sandbox.
      const exited = Promise.all(running.map((x) => new Promise<void>((resolve) => x.proc!.once("exit", () => resolve()))));
      for (const x of running) if (x.events.includes("SHUTDOWN")) this.sendEvent(x, { eventType: "SHUTDOWN", shutdownReason: "spindown", deadlineMs: Date.now() + EXTENSION_SHUTDOWN_MS });
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, EXTENSION_SHUTDOWN_MS).unref())]);
      for (const x of running) x.proc!.kill("SIGKILL");
    }
    for (const x of this.extensions) x.pendingNext?.destroy();
    this.pendingNext?.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private deliver(): void {
    const res = this.pendingNext!;
    const { inv } = this.current!;
    this.current!.started = performance.now(); // Duration excludes init, as Lambda reports it
    this.current!.delivered = true;
    this.pendingNext = undefined;
    res.writeHead(200, {
      "Content-Type": "application/json",
      "Lambda-Runtime-Aws-Request-Id": inv.requestId,
      "Lambda-Runtime-Deadline-Ms": String(inv.deadlineMs),
      "Lambda-Runtime-Invoked-Function-Arn": inv.functionArn,
      "Lambda-Runtime-Trace-Id": inv.traceId,
      ...(inv.clientContext ? { "Lambda-Runtime-Client-Context": inv.clientContext } : {}),
    });
    res.end(inv.payload);
  }

  private finish(outcome: Omit<Outcome, "logs" | "durationMs" | "initDurationMs">): void {
    const cur = this.current;
    if (!cur) return;
    clearTimeout(cur.timer);
    this.current = undefined;
    this.sampleMemory(); // short invocations report their memory too
    for (const flush of this.flushers) flush();
    for (const x of this.extensions) x.busyWith = undefined;
    this.runtimeOutcome = undefined;
    const logs = this.logLines.join("\n");
    this.logLines = [];
    const initDurationMs = this.initDurationMs;
    this.initDurationMs = undefined; // reported once, with the first invocation
    if (this.state === "busy") this.state = "idle";
    const maxMemoryMB = this.memoryMiB ? Math.ceil(this.maxMemoryMB) : undefined;
    cur.resolve({ ...outcome, logs, durationMs: performance.now() - cur.started, initDurationMs, maxMemoryMB });
  }

  private timeOut(): void {
    const cur = this.current;
    if (!cur) return;
    const seconds = (this.timeoutMs / 1000).toFixed(2);
    this.finish({
      payload: errorPayload("Sandbox.Timedout", `RequestId: ${cur.inv.requestId} Error: Task timed out after ${seconds} seconds`),
      functionError: "Unhandled",
      errorType: "Sandbox.Timedout",
    });
    this.proc?.kill("SIGKILL");
    this.markDead();
  }

  /** Marks the sandbox gone and tells its pool, once. */
  private markDead(): void {
    this.state = "dead";
    for (const x of this.extensions) x.proc?.kill("SIGKILL");
    for (const l of this.exitListeners.splice(0)) l();
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.pendingNext?.destroy();
    this.pendingNext = undefined;
    this.exitedHow = signal ? `signal: ${signal}` : `exit status ${code}`;
    if (this.current) this.failExited();
    this.markDead();
  }

  private exitedHow = "exit status unknown";

  /** Ends the current invocation with the init error the runtime reported, else Runtime.ExitError. */
  private failExited(): void {
    if (!this.current) return;
    const { errorType, payload } = this.initError ?? {
      errorType: "Runtime.ExitError",
      payload: errorPayload("Runtime.ExitError", `RequestId: ${this.current.inv.requestId} Error: Runtime exited with error: ${this.exitedHow}`),
    };
    this.finish({ payload, functionError: "Unhandled", errorType });
  }

  /** The runtime answered: the invocation ends once every extension has asked for its next event too. */
  private complete(outcome: Omit<Outcome, "logs" | "durationMs" | "initDurationMs">): void {
    this.runtimeOutcome = outcome;
    this.completeIfDone();
  }

  private completeIfDone(): void {
    const cur = this.current;
    if (!cur || !this.runtimeOutcome || this.extensions.some((x) => x.busyWith === cur.inv.requestId)) return;
    if (this.extensions.length === 0) return this.finish(this.runtimeOutcome);
    // An extension writes its lines before it asks for the next event; let its output pipe drain first.
    setTimeout(() => {
      if (this.current === cur && this.runtimeOutcome) this.finish(this.runtimeOutcome);
    }, 5);
  }

  private sendEvent(x: ExtensionState, event: object): void {
    x.queue.push(event);
    this.flushEvents(x);
  }

  private flushEvents(x: ExtensionState): void {
    if (!x.pendingNext || x.queue.length === 0) return;
    const res = x.pendingNext;
    x.pendingNext = undefined;
    res.writeHead(200, { "Content-Type": "application/json", "Lambda-Extension-Event-Identifier": crypto.randomUUID() });
    res.end(JSON.stringify(x.queue.shift()));
  }

  /** The Extensions API (2020-01-01). */
  private handleExtension(req: http.IncomingMessage, res: http.ServerResponse, p: string, body: Buffer): void {
    const reply = (status: number, payload: object, headers: Record<string, string> = {}) => {
      res.writeHead(status, { "Content-Type": "application/json", ...headers });
      res.end(JSON.stringify(payload));
    };
    const byId = this.extensions.find((x) => x.id !== undefined && x.id === req.headers["lambda-extension-identifier"]);
    if (req.method === "POST" && p === "/register") {
      const name = String(req.headers["lambda-extension-name"] ?? "");
      const x = this.extensions.find((e) => e.name === name && e.id === undefined);
      if (!x) return reply(403, { errorType: "Extension.InvalidExtensionName", errorMessage: `no unregistered extension named ${JSON.stringify(name)} in /opt/extensions (the name must be the file's)` });
      let events: unknown;
      try {
        events = (JSON.parse(body.toString() || "{}") as { events?: unknown }).events;
      } catch {
        /* handled below */
      }
      if (!Array.isArray(events) || !events.every((e) => e === "INVOKE" || e === "SHUTDOWN")) {
        return reply(400, { errorType: "InvalidRequest", errorMessage: 'the body must be {"events": [...]} with INVOKE and/or SHUTDOWN' });
      }
      x.id = crypto.randomUUID();
      x.events = events as string[];
      return reply(200, { functionName: this.env.AWS_LAMBDA_FUNCTION_NAME, functionVersion: this.env.AWS_LAMBDA_FUNCTION_VERSION, handler: this.env._HANDLER }, { "Lambda-Extension-Identifier": x.id });
    }
    if (!byId) return reply(403, { errorType: "Extension.InvalidExtensionIdentifier", errorMessage: "missing or unknown Lambda-Extension-Identifier header: register first" });
    if (req.method === "GET" && p === "/event/next") {
      if (byId.pendingNext) return reply(400, { errorType: "InvalidStateTransition", errorMessage: "a request for the next event is already waiting" });
      byId.pendingNext = res;
      if (byId.busyWith && byId.queue.length === 0) {
        byId.busyWith = undefined; // done with the invocation it was given
        this.completeIfDone();
      }
      if (this.extensions.every((x) => x.pendingNext || x.busyWith)) this.extensionsReady?.();
      return this.flushEvents(byId);
    }
    const err = /^\/(init|exit)\/error$/.exec(p);
    if (req.method === "POST" && err) {
      const errorType = String(req.headers["lambda-extension-function-error-type"] ?? "Extension.Unknown");
      let message = body.toString();
      try {
        message = String((JSON.parse(message) as { errorMessage?: unknown }).errorMessage ?? message);
      } catch {
        /* not JSON: the body is the message */
      }
      reply(202, { status: "OK" });
      this.initError ??= { errorType, payload: errorPayload(errorType, `extension ${byId.name}: ${message}`) };
      byId.proc?.kill("SIGKILL");
      return;
    }
    return reply(404, { errorType: "NotFound", errorMessage: `${req.method} ${EXTENSION_PREFIX}${p} is not part of the Extensions API 2020-01-01` });
  }

  /** The Runtime API (2018-06-01), with and without the version prefix. */
  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_RESPONSE_BYTES) tooLarge = true;
      else chunks.push(c);
    });
    req.on("end", () => {
      const url = (req.url ?? "").replace(/\?.*$/, "");
      const p = url.startsWith(API_PREFIX) ? url.slice(API_PREFIX.length) : url;
      const reply = (status: number, body?: object) => {
        res.writeHead(status, { "Content-Type": "application/json" });
        res.end(body ? JSON.stringify(body) : undefined);
      };
      const invalid = (status: number, errorType: string, errorMessage: string) => reply(status, { errorType, errorMessage });

      if (url.startsWith(EXTENSION_PREFIX)) return this.handleExtension(req, res, url.slice(EXTENSION_PREFIX.length), Buffer.concat(chunks));
      if (req.method === "GET" && p === "/runtime/invocation/next") {
        if (!this.initialized) {
          this.initialized = true;
          this.initDurationMs = performance.now() - this.initStarted;
        }
        if (this.state === "starting") this.state = "idle";
        if (this.pendingNext) return invalid(400, "InvalidStateTransition", "a request for the next invocation is already waiting");
        this.pendingNext = res;
        // Not an invocation the runtime already answered (its extensions may still be finishing it).
        if (this.current && !this.current.delivered) this.deliver();
        return;
      }
      const m = /^\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(p);
      if (req.method === "POST" && m) {
        const [, id, kind] = m;
        if (!this.current || this.current.inv.requestId !== id) return invalid(400, "InvalidRequestID", `no invocation ${id} is in progress`);
        if (kind === "response" && tooLarge) {
          invalid(413, "RequestEntityTooLarge", `Response payload size (${size} bytes) exceeded maximum allowed payload size (${MAX_RESPONSE_BYTES} bytes).`);
          return this.complete({
            payload: errorPayload("Function.ResponseSizeTooLarge", `Response payload size exceeded maximum allowed payload size (${MAX_RESPONSE_BYTES} bytes).`),
            functionError: "Unhandled",
            errorType: "Function.ResponseSizeTooLarge",
          });
        }
        reply(202, { status: "OK" });
        const body = Buffer.concat(chunks);
        if (kind === "response") return this.complete({ payload: body });
        let errorType = String(req.headers["lambda-runtime-function-error-type"] ?? "Unhandled");
        try {
          const parsed = JSON.parse(body.toString()) as { errorType?: string };
          if (parsed.errorType) errorType = parsed.errorType;
        } catch {
          /* not JSON: passed through as the runtime sent it */
        }
        return this.complete({ payload: body, functionError: "Unhandled", errorType });
      }
      if (req.method === "POST" && p === "/runtime/init/error") {
        if (this.initialized) return invalid(403, "InvalidStateTransition", "init/error is only valid before the first /next");
        reply(202, { status: "OK" });
        const body = Buffer.concat(chunks).toString();
        let parsed: { errorType?: string; errorMessage?: string } = {};
        try {
          parsed = JSON.parse(body) as typeof parsed;
        } catch {
          /* not JSON: the body is the message */
        }
        const errorType = parsed.errorType ?? String(req.headers["lambda-runtime-function-error-type"] ?? "Runtime.InitError");
        this.initError = { errorType, payload: errorPayload(errorType, String(parsed.errorMessage ?? body)) };
        this.proc?.kill("SIGKILL");
        return;
      }
      return invalid(404, "NotFound", `${req.method} ${url} is not part of the Runtime API 2018-06-01`);
    });
  }
}
