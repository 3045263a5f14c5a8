import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { withLock } from "../build/util";
import { PROJECT_ROOT } from "./helpers";

describe("a lock between processes (the Rust builder's around the shared cargo target folder)", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lambdaship-lock-"));
  const lock = path.join(dir, "build.lock");

  it("waits while another process holds it, then runs, and leaves no lock behind", async () => {
    const order = path.join(dir, "order");
    // Another process takes the lock, writes, holds it 800 ms, writes again.
    const other = spawn(process.execPath, ["-r", path.join(PROJECT_ROOT, "scripts", "register.js"), "-e", `
      const fs = require("fs");
      const { withLock, sleepSync } = require("./build/util");
      withLock(${JSON.stringify(lock)}, "x", () => { fs.appendFileSync(${JSON.stringify(order)}, "other-start\\n"); sleepSync(800); fs.appendFileSync(${JSON.stringify(order)}, "other-end\\n"); });
    `], { cwd: PROJECT_ROOT, stdio: "ignore" });
    while (!fs.existsSync(order)) await new Promise((r) => setTimeout(r, 20));
    const said: string[] = [];
    withLock(lock, "another build", () => fs.appendFileSync(order, "mine\n"), (l) => said.push(l));
    await new Promise((r) => other.on("exit", r));
    expect(fs.readFileSync(order, "utf8").trim().split("\n")).toEqual(["other-start", "other-end", "mine"]);
    expect(said).toEqual([expect.stringMatching(/^waiting for another build \(held by pid \d+\)$/)]);
    expect(fs.existsSync(lock)).toBe(false);
  });

  it("takes over a lock whose owner died, and releases it when the work throws", () => {
    fs.mkdirSync(lock);
    fs.writeFileSync(path.join(lock, "pid"), "999999999");
    expect(withLock(lock, "x", () => 42)).toBe(42);
    expect(() => withLock(lock, "x", () => { throw new Error("build failed"); })).toThrow("build failed");
    expect(fs.existsSync(lock)).toBe(false);
  });
});
