import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";

/**
 * One execution environment of a function, as Lambda runs it: one runtime process that serves one
 * invocation at a time through its own Runtime API endpoint (API version 2018-06-01). The process is
 * started on the first invocation (init), reused while it lives, and killed on a timeout.
 */

/** How to start a function's runtime process. */
export interface RuntimeCommand {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  /** The function's environment; AWS_LAMBDA_RUNTIME_API is added per sandbox. */
  readonly env: Readonly<Record<string, string>>;
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

function errorPayload(errorType: string, errorMessage: string): Buffer {
  return Buffer.from(JSON.stringify({ errorType, errorMessage }));
}

type State = "starting" | "idle" | "busy" | "dead";

export class Sandbox {
  public state: State = "starting";
  private server!: http.Server;
  private proc?: ChildProcess;
  private pendingNext?: http.ServerResponse;
  private current?: { inv: Invocation; started: number; resolve: (o: Outcome) => void; timer: NodeJS.Timeout };
  private logLines: string[] = [];
  private readonly partial = { out: "", err: "" };
  private initStarted = 0;
  /** Set once the runtime asked for its first invocation: the end of init. */
  private initialized = false;
  private initDurationMs?: number;
  private initError?: { errorType: string; payload: Buffer };
  private exitListeners: Array<() => void> = [];

  /** Peak resident memory of the process during the current invocation (MB), sampled. */
  private maxMemoryMB = 0;
  private memoryTimer?: NodeJS.Timeout;

  constructor(
    private readonly spec: RuntimeCommand,
    private readonly timeoutMs: number,
    /** The function's memory size: a process whose resident memory passes it is killed, as Lambda does. @default - not enforced */
    private readonly memoryMiB?: number,
  ) {}

  /** Starts the Runtime API endpoint and the runtime process. */
  async start(): Promise<void> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    const port = (this.server.address() as AddressInfo).port;
    this.initStarted = performance.now();
    const proc = spawn(this.spec.command, [...this.spec.args], {
      cwd: this.spec.cwd,
      env: { ...this.spec.env, AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${port}` },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.proc = proc;
    // Whole lines only: a runtime may write a line in several pieces.
    const collector = (stream: "out" | "err") => (d: Buffer) => {
      const text = this.partial[stream] + d.toString();
      const lines = text.split("\n");
      this.partial[stream] = lines.pop()!;
      for (const line of lines) this.logLines.push(line);
    };
    proc.stdout!.on("data", collector("out"));
    proc.stderr!.on("data", collector("err"));
    proc.on("error", (e) => {
      this.logLines.push(`could not start ${this.spec.command}: ${e.message}`);
      this.onExit(null, null);
    });
    proc.on("exit", (code, signal) => this.onExit(code, signal));
    if (this.memoryMiB) {
      // Sampled every 20 ms from /proc: a process that allocates faster can briefly exceed the limit.
      this.memoryTimer = setInterval(() => this.checkMemory(), 20);
      this.memoryTimer.unref();
    }
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
      if (this.state === "dead") this.failExited(); // it died before it could take the invocation
      else if (this.pendingNext) this.deliver();
    });
  }

  async stop(): Promise<void> {
    clearInterval(this.memoryTimer);
    this.proc?.kill("SIGKILL");
    this.pendingNext?.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private deliver(): void {
    const res = this.pendingNext!;
    const { inv } = this.current!;
    this.current!.started = performance.now(); // Duration excludes init, as Lambda reports it
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
    for (const k of ["out", "err"] as const) {
      if (this.partial[k]) this.logLines.push(this.partial[k]);
      this.partial[k] = "";
    }
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

      if (req.method === "GET" && p === "/runtime/invocation/next") {
        if (!this.initialized) {
          this.initialized = true;
          this.initDurationMs = performance.now() - this.initStarted;
        }
        if (this.state === "starting") this.state = "idle";
        if (this.pendingNext) return invalid(400, "InvalidStateTransition", "a request for the next invocation is already waiting");
        this.pendingNext = res;
        if (this.current) this.deliver();
        return;
      }
      const m = /^\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(p);
      if (req.method === "POST" && m) {
        const [, id, kind] = m;
        if (!this.current || this.current.inv.requestId !== id) return invalid(400, "InvalidRequestID", `no invocation ${id} is in progress`);
        if (kind === "response" && tooLarge) {
          invalid(413, "RequestEntityTooLarge", `Response payload size (${size} bytes) exceeded maximum allowed payload size (${MAX_RESPONSE_BYTES} bytes).`);
          return this.finish({
            payload: errorPayload("Function.ResponseSizeTooLarge", `Response payload size exceeded maximum allowed payload size (${MAX_RESPONSE_BYTES} bytes).`),
            functionError: "Unhandled",
            errorType: "Function.ResponseSizeTooLarge",
          });
        }
        reply(202, { status: "OK" });
        const body = Buffer.concat(chunks);
        if (kind === "response") return this.finish({ payload: body });
        let errorType = String(req.headers["lambda-runtime-function-error-type"] ?? "Unhandled");
        try {
          const parsed = JSON.parse(body.toString()) as { errorType?: string };
          if (parsed.errorType) errorType = parsed.errorType;
        } catch {
          /* not JSON: passed through as the runtime sent it */
        }
        return this.finish({ payload: body, functionError: "Unhandled", errorType });
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
