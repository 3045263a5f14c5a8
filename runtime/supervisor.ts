import { ChildProcess, spawn } from "child_process";

/**
 * One process of a sandbox (the runtime, or an extension), supervised: started with the sandbox's
 * environment, its stdout and stderr read as whole lines, its exit described as Lambda describes
 * it (`exit status 3`, `signal: killed`), and killed with the sandbox.
 */

export interface ProcessSpec {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
}

/** How a process ended, as Lambda words it in Runtime.ExitError. */
export function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal) return `signal: ${signal === "SIGKILL" ? "killed" : signal === "SIGSEGV" ? "segmentation fault" : signal === "SIGABRT" ? "aborted" : signal}`;
  return `exit status ${code ?? "unknown"}`;
}

/** How long after exit the output pipes get to deliver what the process wrote (a child may hold them open). */
const PIPE_GRACE_MS = 200;

export class SupervisedProcess {
  private readonly proc: ChildProcess;
  private readonly partial = { out: "", err: "" };
  private exitHow?: string;
  private readonly exited: Promise<string>;
  /** Output read since the last call of `quiet()`: whether the pipes are still delivering. */
  private sawOutput = false;

  constructor(
    spec: ProcessSpec,
    /** Each whole line the process writes, in the order read. */
    private readonly onLine: (line: string) => void,
  ) {
    this.proc = spawn(spec.command, [...spec.args], { cwd: spec.cwd, env: { ...spec.env }, stdio: ["ignore", "pipe", "pipe"] });
    this.proc.stdout!.on("data", this.collector("out"));
    this.proc.stderr!.on("data", this.collector("err"));
    this.exited = new Promise<string>((resolve) => {
      let done = false;
      const end = (how: string) => {
        if (done) return;
        done = true;
        this.exitHow = how;
        resolve(how);
      };
      this.proc.once("error", (e) => {
        this.onLine(`could not start ${spec.command}: ${e.message}`);
        end(`could not start: ${e.message}`);
      });
      this.proc.once("exit", (code, signal) => {
        const how = describeExit(code, signal);
        // What it wrote before it ended is still in the pipes: wait for them (briefly), then flush.
        const closed = new Promise<void>((r) => this.proc.once("close", () => r()));
        const grace = new Promise<void>((r) => setTimeout(r, PIPE_GRACE_MS).unref());
        void Promise.race([closed, grace]).then(() => {
          this.flush();
          end(how);
        });
      });
    });
  }

  private collector(stream: "out" | "err") {
    return (d: Buffer) => {
      this.sawOutput = true;
      const lines = (this.partial[stream] + d.toString()).split("\n");
      this.partial[stream] = lines.pop()!;
      for (const line of lines) this.onLine(line);
    };
  }

  /** Emits a last partial line (no newline yet) of each stream. */
  flush(): void {
    for (const k of ["out", "err"] as const) {
      if (this.partial[k]) this.onLine(this.partial[k]);
      this.partial[k] = "";
    }
  }

  /**
   * Resolves once the output pipes have nothing more to deliver right now: what the process wrote
   * before its last request to the Runtime API has been read (the pipe and the socket are read in
   * the same event-loop turn; a turn with no new output ends the wait). Then flushes partial lines.
   */
  async quiet(maxTurns = 4): Promise<void> {
    for (let i = 0; i < maxTurns; i++) {
      this.sawOutput = false;
      await new Promise<void>((r) => setImmediate(r));
      if (!this.sawOutput) break;
    }
    this.flush();
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  /** How it ended, once it has (`exit status 1`, `signal: killed`); undefined while it runs. */
  get exit(): string | undefined {
    return this.exitHow;
  }

  /** Resolves with how it ended. */
  whenExited(): Promise<string> {
    return this.exited;
  }

  kill(signal: NodeJS.Signals = "SIGKILL"): void {
    if (this.exitHow === undefined) this.proc.kill(signal);
  }
}
