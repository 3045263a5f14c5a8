import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/** Where the project caches builds outside the clone: $LAMBDASHIP_CACHE, else ~/.cache/lambdaship. */
export function cacheRoot(): string {
  return process.env.LAMBDASHIP_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "lambdaship");
}

/**
 * Where the machine's artifact stores live (rust-artifacts, layer-artifacts, function-artifacts):
 * $LAMBDASHIP_ARTIFACT_STORE, else the cache root. Moving it gives a builder an empty first level
 * (a second machine, as the shared store's tests play it) while cargo's target folder stays warm.
 */
export function artifactStoreRoot(): string {
  return process.env.LAMBDASHIP_ARTIFACT_STORE || cacheRoot();
}

/** The executable `cmd` resolves to on PATH (or `cmd` itself when it is a path that exists). */
export function which(cmd: string): string | undefined {
  if (cmd.includes("/")) return fs.existsSync(cmd) ? cmd : undefined;
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    const p = path.join(dir, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/** A fixed-width table for terminal summaries. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

export function formatBytes(n: number | undefined): string {
  if (n === undefined) return "-";
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)} MB` : `${(n / 1e3).toFixed(1)} kB`;
}

/** Sleeps the calling thread (for waits inside synchronous builders). */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Runs `fn` holding a lock between processes on this machine: a folder created atomically, with the
 * owner's pid in it. A lock whose owner has died is taken over; a fresh one without its pid yet is
 * waited for. Used where cargo's own lock is not enough: cargo releases the shared target folder when
 * it finishes, and the binaries must be read before another clone's build overwrites them.
 */
export function withLock<T>(lockDir: string, what: string, fn: () => T, log: (line: string) => void = () => undefined): T {
  const pidFile = path.join(lockDir, "pid");
  fs.mkdirSync(path.dirname(lockDir), { recursive: true });
  let waited = false;
  for (;;) {
    try {
      fs.mkdirSync(lockDir);
      fs.writeFileSync(pidFile, String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      let owner: number | undefined;
      try {
        owner = Number(fs.readFileSync(pidFile, "utf8"));
      } catch {
        owner = undefined;
      }
      const age = (() => {
        try {
          return Date.now() - fs.statSync(lockDir).mtimeMs;
        } catch {
          return 0;
        }
      })();
      const dead = owner !== undefined && owner > 0 ? !processAlive(owner) : age > 10_000;
      if (dead) {
        fs.rmSync(lockDir, { recursive: true, force: true });
        continue;
      }
      if (!waited) log(`waiting for ${what} (held by pid ${owner ?? "?"})`);
      waited = true;
      sleepSync(200);
    }
  }
  try {
    return fn();
  } finally {
    fs.rmSync(lockDir, { recursive: true, force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
