import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/** Where the project caches builds outside the clone: $LAMBDASHIP_CACHE, else ~/.cache/lambdaship. */
export function cacheRoot(): string {
  return process.env.LAMBDASHIP_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "lambdaship");
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
