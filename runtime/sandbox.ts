import * as crypto from "crypto";
import * as http from "http";
import * as net from "net";
import { AddressInfo } from "net";
import { EXTENSIONS_API_PREFIX, ExtensionsApi } from "./extensions-api";
import { Body, MAX_RESPONSE_BYTES, readBody, refuse, reply, reportedError, routeRuntimeApi } from "./rapi";
import { SandboxState, SandboxStateMachine } from "./state";
import { SupervisedProcess } from "./supervisor";
import { MemoryWatchdog, Usage } from "./watchdog";

export { MAX_RESPONSE_BYTES } from "./rapi";

/**
 * One execution environment of a function, as Lambda runs it: one runtime process behind its own
 * Runtime API endpoint, serving one invocation at a time, with its external extensions on the
 * Extensions API of the same endpoint. Its life is the state machine of ./state: an invocation is
 * only ever handed to a runtime that is waiting on invocation/next, so a runtime that exits, crashes
 * or is killed (timeout, out of memory) never receives another one; the next starts a fresh sandbox.
 * Each line the processes write belongs to the invocation in progress when it was read (init's to
 * the first), never to a later one.
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

/** One invocation as the runtime sees it. */
export interface Invocation {
  readonly requestId: string;
  readonly payload: Buffer;
  readonly functionArn: string;
  readonly traceId: string;
  /** The client context as JSON text (decoded from the caller's base64). */
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
  /** The lines the processes wrote during this invocation, and only this one. */
  readonly logs: string;
  /** The lines written during init, for the first invocation of a sandbox. */
  readonly initLogs?: string;
  readonly durationMs: number;
  readonly initDurationMs?: number;
  /** Peak resident memory during the invocation (MB). */
  readonly maxMemoryMB?: number;
  /** Whether the sandbox lives on for the next invocation, or was reset (exited, killed). */
  readonly sandbox: "kept" | "reset";
}

/** What the runtime answered, before the invocation is complete (the caller may have it early). */
export type RuntimeResult = Pick<Outcome, "payload" | "functionError" | "errorType">;

export interface SandboxOptions {
  /** The function's timeout. */
  readonly timeoutMs: number;
  /**
   * Kill the sandbox when an invocation runs past timeoutMs (Sandbox.Timedout). Off, the runtime is
   * told Lambda's longest deadline (15 min) and nothing is killed: for a runtime paused in a
   * debugger, as `sam local invoke --debug-port` does. @default true
   */
  readonly enforceTimeout?: boolean;
  /** Kill the sandbox when its processes' resident memory passes this (Runtime.OutOfMemory). @default - not enforced */
  readonly memoryMiB?: number;
  /** Lambda's limit on init (10 s); past it, init runs again with the function's timeout. @default 10000 */
  readonly initTimeoutMs?: number;
  /**
   * Serve the Runtime API on this loopback port and start no process: the runtime is started by
   * hand (under a debugger) with AWS_LAMBDA_RUNTIME_API=127.0.0.1:<port>. Init then has no limit.
   * @default - a free port, and the runtime started here
   */
  readonly externalPort?: number;
  /** Each line as it is read, with the request id of the invocation it belongs to (undefined: none). */
  readonly onLine?: (line: string, requestId: string | undefined, phase: "init" | "invoke" | "idle") => void;
}

/** The invocation was never handed to the runtime (it died first): run it on another sandbox. */
export class NotDelivered extends Error {
  constructor(readonly why: string) {
    super(`the invocation was not delivered: ${why}`);
  }
}

/** Lambda's longest function timeout: the deadline a runtime is told when the timeout is not enforced. */
const MAX_TIMEOUT_MS = 900_000;

/** Lambda's grace for external extensions after SHUTDOWN. */
const SHUTDOWN_GRACE_MS = 2000;
const INIT_TIMEOUT_MS = 10_000;

function errorPayload(errorType: string, errorMessage: string): Buffer {
  return Buffer.from(JSON.stringify({ errorType, errorMessage }));
}

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

interface Current {
  readonly inv: Invocation;
  readonly resolve: (o: Outcome) => void;
  readonly reject: (e: Error) => void;
  readonly onResponse?: (r: RuntimeResult) => void;
  readonly lines: string[];
  deliveredAt?: number;
  timer?: NodeJS.Timeout;
  result?: RuntimeResult;
  /** The runtime asked for its next invocation after answering. */
  askedNext: boolean;
  finishing: boolean;
}

let sandboxes = 0;

export class Sandbox {
  /** A short id, for /status and the console. */
  readonly id = `sb${++sandboxes}`;
  readonly machine = new SandboxStateMachine();
  readonly createdAt = Date.now();
  private server!: http.Server;
  private env: Record<string, string> = {};
  private runtime?: SupervisedProcess;
  private extensionProcs: SupervisedProcess[] = [];
  private extensions!: ExtensionsApi;
  /** The runtime's pending invocation/next. */
  private waiting?: http.ServerResponse;
  private current?: Current;
  private initLines: string[] = [];
  private initStarted = 0;
  private initDurationMs?: number;
  /** Which processes are current: those of an earlier init attempt are ignored when they exit. */
  private initAttempt = 0;
  private initTries = 0;
  private initTimer?: NodeJS.Timeout;
  /** What went wrong in init (init/error, an extension's error or crash, an init timeout). */
  private initError?: { errorType: string; payload: Buffer };
  /** Why the sandbox is being killed, for the invocation in progress (timeout, out of memory). */
  private killedFor?: { errorType: string; message: (requestId: string) => string };
  private readonly watchdog: MemoryWatchdog;
  private readonly deadListeners: Array<() => void> = [];
  private readonly readyListeners: Array<() => void> = [];
  invocations = 0;

  constructor(
    private readonly spec: RuntimeCommand,
    private readonly opts: SandboxOptions,
  ) {
    this.watchdog = new MemoryWatchdog(() => [this.runtime?.pid, ...this.extensionProcs.map((p) => p.pid)], opts.memoryMiB, (mb) => this.outOfMemory(mb));
    this.machine.onChange((to) => {
      if (to === "dead") for (const l of this.deadListeners.splice(0)) l();
      if (to === "ready") for (const l of this.readyListeners) l();
    });
  }

  get state(): SandboxState {
    return this.machine.state;
  }

  /** Calls `listener` once the sandbox is dead (now, if it is). */
  onDead(listener: () => void): void {
    if (this.state === "dead") listener();
    else this.deadListeners.push(listener);
  }

  /** Calls `listener` each time the sandbox becomes ready for an invocation (its runtime waits on /next). */
  onReady(listener: () => void): void {
    this.readyListeners.push(listener);
  }

  /** Whether an invocation can be handed over now: its runtime waits on invocation/next and none is assigned. */
  get available(): boolean {
    return this.state === "ready" && !this.current && this.waiting !== undefined;
  }

  /** Memory and CPU of its processes, sampled now. */
  usage(): Usage & { pid?: number } {
    return { ...this.watchdog.sample(true), pid: this.runtime?.pid };
  }

  /** Starts the sandbox's API endpoint, its extensions and its runtime (init); a failure to start fails its invocation. */
  async start(): Promise<void> {
    try {
      await this.begin();
    } catch (e) {
      const message = `the sandbox could not start: ${(e as Error).message}`;
      this.initError ??= { errorType: "Sandbox.Failure", payload: errorPayload("Sandbox.Failure", message) };
      this.die(message);
    }
  }

  private async begin(): Promise<void> {
    this.server = http.createServer({ noDelay: true, keepAliveTimeout: 0 }, (req, res) => void this.handle(req, res));
    await this.listen(this.opts.externalPort ?? 0);
    this.env = { ...this.spec.env, AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${(this.server.address() as AddressInfo).port}` };
    if (this.opts.externalPort !== undefined) {
      this.initStarted = performance.now();
      this.extensions = new ExtensionsApi([], () => ({}), { onAllWaiting: () => undefined, onInvokeDone: () => this.completeIfDone(), onError: () => undefined });
      return;
    }
    if (this.env.LAMBDASHIP_PROXY_PORT) {
      // Sandboxes here share one loopback (Lambda gives each its own), so each gets its own proxy port.
      const own = String(await freePort());
      this.env.LAMBDASHIP_PROXY_PORT = own;
      if (this.env.LAMBDASHIP_RUNTIME_API_PROXY) this.env.LAMBDASHIP_RUNTIME_API_PROXY = `127.0.0.1:${own}`;
    }
    this.initStarted = performance.now();
    this.boot(this.opts.initTimeoutMs ?? INIT_TIMEOUT_MS);
  }

  /** Listens on the loopback; a fixed port still held by the sandbox before (closing) is retried for a few seconds. */
  private async listen(port: number): Promise<void> {
    for (let tries = 0; ; tries++) {
      try {
        await new Promise<void>((resolve, reject) => {
          this.server.once("error", reject);
          this.server.listen(port, "127.0.0.1", () => {
            this.server.off("error", reject);
            resolve();
          });
        });
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EADDRINUSE" || port === 0 || tries >= 100) throw e;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  /** One init attempt: the extensions (until all registered and waiting), then the runtime, within `limitMs`. */
  private boot(limitMs: number): void {
    const attempt = ++this.initAttempt;
    this.initTries++;
    this.extensions = new ExtensionsApi(
      (this.spec.extensions ?? []).map((e) => e.name),
      () => ({ functionName: this.env.AWS_LAMBDA_FUNCTION_NAME, functionVersion: this.env.AWS_LAMBDA_FUNCTION_VERSION, handler: this.env._HANDLER }),
      {
        onAllWaiting: () => {
          if (attempt === this.initAttempt && !this.runtime && this.state === "initializing") this.launchRuntime(attempt);
        },
        onInvokeDone: () => this.completeIfDone(),
        onError: (_name, errorType, message) => {
          this.initError ??= { errorType, payload: errorPayload(errorType, message) };
          this.killAll();
        },
      },
    );
    this.initTimer = setTimeout(() => this.initTimedOut(attempt, limitMs), limitMs);
    this.initTimer.unref();
    this.extensionProcs = (this.spec.extensions ?? []).map((e) => {
      const p = this.spawn(e);
      void p.whenExited().then((how) => this.onExtensionExit(attempt, e.name, how));
      return p;
    });
    if (this.extensionProcs.length === 0) this.launchRuntime(attempt);
    if (this.opts.memoryMiB) this.watchdog.start(); // else sampled only when /status asks
  }

  private launchRuntime(attempt: number): void {
    const p = this.spawn(this.spec);
    this.runtime = p;
    void p.whenExited().then((how) => this.onRuntimeExit(attempt, how));
  }

  private spawn(cmd: { command: string; args: readonly string[] }): SupervisedProcess {
    return new SupervisedProcess({ command: cmd.command, args: cmd.args, cwd: this.spec.cwd, env: this.env }, (line) => this.onLine(line));
  }

  private onLine(line: string): void {
    const state = this.state;
    const cur = this.current;
    if (state === "initializing") {
      this.initLines.push(line);
      this.opts.onLine?.(line, cur?.inv.requestId, "init");
    } else if ((state === "invoking" || state === "responded") && cur) {
      cur.lines.push(line);
      this.opts.onLine?.(line, cur.inv.requestId, "invoke");
    } else {
      this.opts.onLine?.(line, undefined, "idle");
    }
  }

  /**
   * Runs an invocation: on a new sandbox, after its init; on a ready one, at once. Resolves when
   * the invocation is complete (the runtime asked for the next one, or the sandbox died);
   * `onResponse` hears the runtime's answer as soon as it is given. Rejects with NotDelivered when
   * the sandbox died before the runtime got it.
   */
  run(inv: Invocation, onResponse?: (r: RuntimeResult) => void): Promise<Outcome> {
    if (this.current) throw new Error(`${this.id} is running ${this.current.inv.requestId}: one invocation at a time`);
    if (this.state !== "initializing" && !this.available) throw new Error(`${this.id} is ${this.state}, not ready for an invocation`);
    this.invocations++;
    return new Promise<Outcome>((resolve, reject) => {
      this.current = { inv, resolve, reject, onResponse, lines: [], askedNext: false, finishing: false };
      if (this.state === "ready") this.deliver();
    });
  }

  private deliver(): void {
    const cur = this.current!;
    const res = this.waiting!;
    this.waiting = undefined;
    this.machine.to("invoking");
    cur.deliveredAt = performance.now(); // Duration excludes init, as Lambda reports it
    const enforced = this.opts.enforceTimeout !== false;
    const deadlineMs = Date.now() + (enforced ? this.opts.timeoutMs : MAX_TIMEOUT_MS);
    if (enforced) cur.timer = setTimeout(() => this.timedOut(), this.opts.timeoutMs);
    this.extensions.invoke({ requestId: cur.inv.requestId, deadlineMs, invokedFunctionArn: cur.inv.functionArn, traceId: cur.inv.traceId });
    res.writeHead(200, {
      "Content-Type": "application/json",
      "Lambda-Runtime-Aws-Request-Id": cur.inv.requestId,
      "Lambda-Runtime-Deadline-Ms": String(deadlineMs),
      "Lambda-Runtime-Invoked-Function-Arn": cur.inv.functionArn,
      "Lambda-Runtime-Trace-Id": cur.inv.traceId,
      ...(cur.inv.clientContext ? { "Lambda-Runtime-Client-Context": cur.inv.clientContext } : {}),
    });
    res.end(cur.inv.payload);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = (req.url ?? "").replace(/\?.*$/, "");
    const body = await readBody(req, MAX_RESPONSE_BYTES);
    if (url.startsWith(EXTENSIONS_API_PREFIX)) return this.extensions.handle(req, url.slice(EXTENSIONS_API_PREFIX.length), body, res);
    const routed = routeRuntimeApi(req, url, body, res, {
      next: (r) => this.next(r),
      response: (id, b, r) => this.answer(id, b, r, undefined),
      error: (id, b, type, r) => this.answer(id, b, r, type ?? ""),
      initError: (b, type, r) => this.initErrorReported(b, type, r),
    });
    if (!routed) refuse(res, 404, "NotFound", `${req.method} ${url} is not part of the Runtime API 2018-06-01 or the Extensions API 2020-01-01`);
  }

  /** GET invocation/next. */
  private next(res: http.ServerResponse): void {
    if (this.state === "dead") return void res.destroy();
    if (this.waiting) return refuse(res, 400, "InvalidStateTransition", "a request for the next invocation is already waiting");
    if (this.state === "invoking") return refuse(res, 403, "InvalidStateTransition", `invocation ${this.current!.inv.requestId} has no response or error yet`);
    this.waiting = res;
    // A runtime that drops the request (it is exiting) is not waiting any more.
    res.once("close", () => {
      if (this.waiting === res) this.waiting = undefined;
    });
    if (this.state === "initializing") {
      clearTimeout(this.initTimer);
      this.initDurationMs = performance.now() - this.initStarted;
      this.machine.to("ready");
      if (this.current) this.deliver();
    } else if (this.state === "responded") {
      this.current!.askedNext = true;
      this.completeIfDone();
    }
  }

  /** POST invocation/<id>/response (errorTypeHeader undefined) or /error. */
  private answer(requestId: string, body: Body, res: http.ServerResponse, errorTypeHeader: string | undefined): void {
    const cur = this.current;
    if (!cur || cur.inv.requestId !== requestId || (this.state !== "invoking" && this.state !== "responded")) {
      return refuse(res, 400, "InvalidRequestID", `no invocation ${requestId} is in progress`);
    }
    if (this.state === "responded") return refuse(res, 400, "InvalidStateTransition", `invocation ${requestId} already has its ${cur.result?.functionError ? "error" : "response"}`);
    let result: RuntimeResult;
    if (body.tooLarge) {
      const errorType = "Function.ResponseSizeTooLarge";
      result = { payload: errorPayload(errorType, `Response payload size exceeded maximum allowed payload size (${MAX_RESPONSE_BYTES} bytes).`), functionError: "Unhandled", errorType };
    } else {
      result = errorTypeHeader === undefined ? { payload: body.data } : { payload: body.data, functionError: "Unhandled", errorType: reportedError(body.data, errorTypeHeader, "Unhandled").errorType };
    }
    cur.result = result;
    this.machine.to("responded");
    // The caller first: its answer is on the critical path, the runtime's acknowledgement is not.
    cur.onResponse?.(result);
    if (body.tooLarge) refuse(res, 413, "RequestEntityTooLarge", `Response payload size (${body.size} bytes) exceeded maximum allowed payload size (${MAX_RESPONSE_BYTES} bytes).`);
    else reply(res, 202, { status: "OK" });
    this.completeIfDone();
  }

  /** POST init/error: only before the first invocation/next. */
  private initErrorReported(body: Body, errorTypeHeader: string | undefined, res: http.ServerResponse): void {
    if (this.state !== "initializing") return refuse(res, 403, "InvalidStateTransition", "init/error is only valid before the first invocation/next");
    reply(res, 202, { status: "OK" });
    const { errorType, errorMessage } = reportedError(body.data, errorTypeHeader, "Runtime.InitError");
    this.initError = { errorType, payload: errorPayload(errorType, errorMessage ?? "") };
    this.killAll();
  }

  /** The invocation is complete once the runtime asked for the next one and every extension is done. */
  private completeIfDone(): void {
    const cur = this.current;
    if (!cur || this.state !== "responded" || !cur.askedNext || this.extensions.busyWith(cur.inv.requestId) || cur.finishing) return;
    cur.finishing = true;
    // What the processes wrote before asking for the next event is still in their pipes: read it first.
    void Promise.all([this.runtime, ...this.extensionProcs].map((p) => p?.quiet())).then(() => {
      if (this.current !== cur || this.state !== "responded") return; // it died meanwhile: finished there
      this.machine.to("ready");
      this.finish(cur, cur.result!, "kept");
    });
  }

  private finish(cur: Current, result: RuntimeResult, sandbox: "kept" | "reset"): void {
    if (this.current !== cur) return;
    this.current = undefined;
    clearTimeout(cur.timer);
    if (this.opts.memoryMiB) this.watchdog.sample(); // short invocations report their memory too
    const initDurationMs = this.initDurationMs;
    this.initDurationMs = undefined; // reported once, with the first invocation
    const initLogs = this.initLines.length ? this.initLines.join("\n") : undefined;
    this.initLines = [];
    cur.resolve({
      ...result,
      logs: cur.lines.join("\n"),
      initLogs,
      durationMs: cur.deliveredAt === undefined ? 0 : performance.now() - cur.deliveredAt,
      initDurationMs,
      maxMemoryMB: this.opts.memoryMiB && this.opts.externalPort === undefined ? this.watchdog.takePeak() : undefined,
      sandbox,
    });
    // A sandbox that became ready while this invocation was finishing may take the next one now.
    if (sandbox === "kept" && this.available) for (const l of this.readyListeners) l();
  }

  private timedOut(): void {
    const cur = this.current;
    if (!cur) return;
    const seconds = (this.opts.timeoutMs / 1000).toFixed(2);
    if (this.state === "invoking") this.killedFor = { errorType: "Sandbox.Timedout", message: (id) => `RequestId: ${id} Error: Task timed out after ${seconds} seconds` };
    // Answered but still not done (no next request, an extension still busy): the sandbox is reset.
    this.killAll();
    if (this.opts.externalPort !== undefined) this.die("timed out"); // no process of ours to exit
  }

  private outOfMemory(mb: number): void {
    if (this.state === "dead") return;
    this.killedFor = { errorType: "Runtime.OutOfMemory", message: (id) => `RequestId: ${id} Error: Runtime exited with error: signal: killed (memory ${mb.toFixed(0)} MB > ${this.opts.memoryMiB} MB)` };
    this.killAll();
  }

  /** Init ran past its limit: once, init runs again within the function's timeout (Lambda's suppressed init); twice, the invocation times out. */
  private initTimedOut(attempt: number, limitMs: number): void {
    if (attempt !== this.initAttempt || this.state !== "initializing") return;
    const late = this.extensions.late;
    const first = this.initTries === 1;
    this.initLines.push(`INIT_REPORT Init Duration: ${limitMs.toFixed(2)} ms\tPhase: ${first ? "init" : "invoke"}\tStatus: timeout`);
    if (first && this.current) {
      this.initAttempt++; // the old processes' exits are not this sandbox's end
      const old = [this.runtime, ...this.extensionProcs];
      this.runtime = undefined;
      this.extensionProcs = [];
      this.extensions.close();
      for (const p of old) p?.kill();
      void Promise.all(old.map((p) => p?.whenExited())).then(() => {
        if (this.state === "initializing") this.boot(this.opts.timeoutMs);
      });
      return;
    }
    const seconds = ((first ? limitMs : this.opts.timeoutMs) / 1000).toFixed(2);
    this.initError ??= late.length
      ? { errorType: "Extension.TimedOut", payload: errorPayload("Extension.TimedOut", `extensions ${late.join(", ")} did not register and ask for an event within ${seconds} s`) }
      : { errorType: "Sandbox.Timedout", payload: errorPayload("Sandbox.Timedout", `RequestId: ${this.current?.inv.requestId ?? "-"} Error: Task timed out after ${seconds} seconds`) };
    this.killAll();
    if (!this.runtime) this.die("init timed out");
  }

  private onExtensionExit(attempt: number, name: string, how: string): void {
    if (attempt !== this.initAttempt || this.state === "dead") return;
    // An extension that stops takes the sandbox with it, as in Lambda.
    this.initError ??= { errorType: "Extension.Crash", payload: errorPayload("Extension.Crash", `extension ${name} exited (${how})`) };
    this.killAll();
    if (!this.runtime) this.die(`extension ${name} exited (${how})`);
  }

  private onRuntimeExit(attempt: number, how: string): void {
    if (attempt !== this.initAttempt || this.state === "dead") return;
    this.die(`Runtime exited with error: ${how}`, how);
  }

  /** The sandbox is gone: the invocation in progress ends with why; one not yet delivered goes elsewhere. */
  private die(why: string, exitHow?: string): void {
    const before = this.state;
    const cur = this.current;
    this.machine.kill();
    this.killAll();
    this.watchdog.stop();
    this.waiting = undefined;
    if (!cur) return;
    if (before === "responded") return this.finish(cur, cur.result!, "reset");
    if (before === "ready") {
      // Assigned but never handed over (its runtime left between asking and receiving).
      this.current = undefined;
      clearTimeout(cur.timer);
      return cur.reject(new NotDelivered(why));
    }
    const id = cur.inv.requestId;
    const result: RuntimeResult = this.killedFor
      ? { payload: errorPayload(this.killedFor.errorType, this.killedFor.message(id)), functionError: "Unhandled", errorType: this.killedFor.errorType }
      : this.initError
        ? { ...this.initError, functionError: "Unhandled" }
        : { payload: errorPayload("Runtime.ExitError", `RequestId: ${id} Error: Runtime exited with error: ${exitHow ?? why}`), functionError: "Unhandled", errorType: "Runtime.ExitError" };
    cur.onResponse?.(result);
    this.finish(cur, result, "reset");
  }

  private killAll(): void {
    for (const p of [this.runtime, ...this.extensionProcs]) p?.kill();
  }

  /** Stops the sandbox: SHUTDOWN to its extensions (with Lambda's grace), then kills what is left. */
  async stop(): Promise<void> {
    this.watchdog.stop();
    const running = this.extensionProcs.filter((p) => p.exit === undefined);
    if (running.length > 0 && this.extensions.shutdown("spindown", Date.now() + SHUTDOWN_GRACE_MS) > 0) {
      await Promise.race([Promise.all(running.map((p) => p.whenExited())), new Promise((r) => setTimeout(r, SHUTDOWN_GRACE_MS).unref())]);
    }
    this.killAll();
    this.extensions?.close();
    this.waiting?.destroy();
    if (this.state !== "dead") this.die("stopped");
    if (this.server?.listening) {
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      this.server.closeAllConnections();
      await closed;
    }
  }
}

/** A trace header for an invocation: the caller's when it sent one (`Root=...`), else a new one. */
export function traceHeader(given?: string): string {
  if (given && /(^|;)\s*Root=1-[0-9a-f]{8}-[0-9a-f]{24}/.test(given)) return given;
  const hex = crypto.randomUUID().replace(/-/g, "") + crypto.randomUUID().replace(/-/g, "");
  return `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${hex.slice(0, 24)};Parent=${hex.slice(24, 40)};Sampled=0`;
}
