import * as fs from "fs";

/**
 * The memory watchdog of a sandbox: samples its processes' resident memory (and CPU time, for
 * /status) from /proc, keeps the peak, and calls `onOverLimit` once the total passes the function's
 * memory size, as Lambda kills a function that runs out of memory (Runtime.OutOfMemory).
 * Sampled every `intervalMs`: a process that allocates faster can briefly exceed the limit.
 */

export interface Usage {
  /** Resident memory now (MB), of every process sampled. */
  readonly rssMB: number;
  /** The highest sampled since `resetPeak` (MB). */
  readonly peakMB: number;
  /** User and system CPU time so far (seconds). */
  readonly cpuSeconds: number;
}

const CLOCK_TICKS = 100; // USER_HZ on Linux
const PAGE_KB = 4; // the page size of x86_64 and arm64 Linux kernels here

/** Resident memory (MB) and CPU time (s) of one process, or undefined once it is gone. */
export function processUsage(pid: number): { rssMB: number; cpuSeconds: number } | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { rssMB: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024, cpuSeconds: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS };
  } catch {
    return undefined;
  }
}

/** Resident memory (MB) of one process from /proc/<pid>/statm (one small read: cheap enough per invocation), or undefined. */
export function processRss(pid: number): number | undefined {
  try {
    const pages = Number(fs.readFileSync(`/proc/${pid}/statm`, "latin1").split(" ")[1]);
    return (pages * PAGE_KB) / 1024;
  } catch {
    return undefined;
  }
}

export class MemoryWatchdog {
  private timer?: NodeJS.Timeout;
  private peak = 0;
  private last: Usage = { rssMB: 0, peakMB: 0, cpuSeconds: 0 };
  private fired = false;

  constructor(
    /** The processes to sample (the runtime and the extensions), read at each sample. */
    private readonly pids: () => ReadonlyArray<number | undefined>,
    /** The limit (MiB); undefined: sampled, never enforced. */
    private readonly limitMiB: number | undefined,
    private readonly onOverLimit: (mb: number) => void,
    private readonly intervalMs = 20,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Samples now (memory only, unless `withCpu`); returns the usage (and enforces the limit). */
  sample(withCpu = false): Usage {
    let rssMB = 0;
    let cpuSeconds = withCpu ? 0 : this.last.cpuSeconds;
    for (const pid of this.pids()) {
      if (pid === undefined) continue;
      if (withCpu) {
        const u = processUsage(pid);
        rssMB += u?.rssMB ?? 0;
        cpuSeconds += u?.cpuSeconds ?? 0;
      } else rssMB += processRss(pid) ?? 0;
    }
    this.peak = Math.max(this.peak, rssMB);
    this.last = { rssMB, peakMB: this.peak, cpuSeconds };
    if (this.limitMiB !== undefined && rssMB > this.limitMiB && !this.fired) {
      this.fired = true;
      this.onOverLimit(rssMB);
    }
    return this.last;
  }

  /** The last sample. */
  get usage(): Usage {
    return this.last;
  }

  /** The peak since the last reset (MB, rounded up), then starts a new peak from the current figure. */
  takePeak(): number {
    const peak = Math.ceil(this.peak);
    this.peak = this.last.rssMB;
    return peak;
  }
}
