import * as fs from "fs";
import { Worker } from "worker_threads";

/**
 * Progress of long work, so nothing a user runs stays silent for long: a line at least every 15
 * seconds with what is running, for how long, and how far it is; and one at the end with what it took.
 * Plain lines (no cursor movement), so a CI log without a terminal reads the same.
 */

export const HEARTBEAT_MS = 15_000;

/** `2m05s`, `41s`. */
export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s` : `${s}s`;
}

export interface Heartbeat {
  /** Stops the heartbeat and prints `<label>: <outcome> in <duration>`. */
  stop(outcome?: string): void;
}

/**
 * Prints `<label>: <elapsed>[, <detail()>]` every `everyMs` while asynchronous work runs (the event
 * loop must be free: for work that blocks it, see `heartbeatWhileBlocked`).
 */
export function heartbeat(label: string, options: { detail?: () => string | undefined; everyMs?: number; write?: (line: string) => void } = {}): Heartbeat {
  const write = options.write ?? ((l: string) => process.stderr.write(`${l}\n`));
  const started = Date.now();
  const timer = setInterval(() => {
    const detail = options.detail?.();
    write(`${label}: ${formatDuration(Date.now() - started)}${detail ? `, ${detail}` : ""}`);
  }, options.everyMs ?? HEARTBEAT_MS);
  timer.unref();
  return {
    stop(outcome = "done") {
      clearInterval(timer);
      write(`${label}: ${outcome} in ${formatDuration(Date.now() - started)}`);
    },
  };
}

/**
 * The same, while the calling thread is blocked (spawnSync of a compiler): a worker thread prints the
 * lines straight to stderr's file descriptor. `watch` is a file the work appends lines to (a
 * compiler's `-v` output); the heartbeat counts them (`<n>[ of <total>] <unit>`) and shows the last.
 */
export function heartbeatWhileBlocked<T>(label: string, work: () => T, options: { watch?: string; total?: number; unit?: string; everyMs?: number } = {}): T {
  const started = Date.now();
  const worker = new Worker(
    `
    const fs = require("fs");
    const { workerData: d } = require("worker_threads");
    const fmt = (ms) => { const s = Math.round(ms / 1000); return s >= 60 ? Math.floor(s / 60) + "m" + String(s % 60).padStart(2, "0") + "s" : s + "s"; };
    setInterval(() => {
      let detail = "";
      if (d.watch) {
        try {
          const lines = fs.readFileSync(d.watch, "utf8").split("\\n").filter(Boolean);
          const last = lines[lines.length - 1];
          detail = ", " + lines.length + (d.total ? " of " + d.total : "") + " " + d.unit + (last ? " (last: " + last.slice(0, 100) + ")" : "");
        } catch {}
      }
      fs.writeSync(2, d.label + ": " + fmt(Date.now() - d.started) + detail + "\\n");
    }, d.everyMs);
    `,
    { eval: true, workerData: { label, started, watch: options.watch, total: options.total, unit: options.unit ?? "done", everyMs: options.everyMs ?? HEARTBEAT_MS } },
  );
  worker.unref();
  let outcome = "failed";
  try {
    const result = work();
    outcome = "done";
    return result;
  } finally {
    void worker.terminate();
    fs.writeSync(2, `${label}: ${outcome} in ${formatDuration(Date.now() - started)}\n`);
  }
}
