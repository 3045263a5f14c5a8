import { spawnSync } from "child_process";
import * as path from "path";
import { formatDuration, heartbeat } from "../build/progress";
import { PROJECT_ROOT } from "./helpers";

describe("progress of long work", () => {
  it("formats durations as a person reads them", () => {
    expect(formatDuration(41_000)).toBe("41s");
    expect(formatDuration(125_000)).toBe("2m05s");
  });

  it("says what is running and how far every interval while the event loop is free, then what it took", async () => {
    const lines: string[] = [];
    let n = 0;
    const beat = heartbeat("[apply] x", { everyMs: 50, detail: () => `${++n} resources done`, write: (l) => lines.push(l) });
    await new Promise((r) => setTimeout(r, 180));
    beat.stop();
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines[0]).toMatch(/^\[apply\] x: 0s, 1 resources done$/);
    expect(lines[lines.length - 1]).toMatch(/^\[apply\] x: done in 0s$/);
  });

  it("keeps going while the thread is blocked in a compiler (spawnSync), counting the lines it writes", () => {
    // A child process, so that the heartbeat's writes to stderr's descriptor can be read.
    const script = `
      const { heartbeatWhileBlocked } = require("./build/progress");
      const { spawnSync } = require("child_process");
      const fs = require("fs");
      const log = require("os").tmpdir() + "/lambdaship-progress-" + process.pid + ".log";
      const fd = fs.openSync(log, "w");
      heartbeatWhileBlocked("[setup] building thing", () => spawnSync("sh", ["-c", "for i in 1 2 3 4 5 6; do echo example.com/pkg$i >&2; sleep 0.3; done"], { stdio: ["ignore", "inherit", fd] }), { watch: log, total: 6, unit: "packages compiled", everyMs: 300 });
      fs.rmSync(log);
    `;
    const r = spawnSync(process.execPath, ["-r", path.join(PROJECT_ROOT, "scripts", "register.js"), "-e", script], { cwd: PROJECT_ROOT, encoding: "utf8" });
    expect(r.status).toBe(0);
    const lines = r.stderr.trim().split("\n");
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines[0]).toMatch(/^\[setup\] building thing: [01]s, [1-6] of 6 packages compiled \(last: example\.com\/pkg[1-6]\)$/);
    expect(lines[lines.length - 1]).toMatch(/^\[setup\] building thing: done in [1-9]s$/);
  });
});
