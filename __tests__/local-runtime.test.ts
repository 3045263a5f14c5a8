import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { createZip } from "../build/zip";
import { loadEnv } from "../envs";
import { FOREIGN_DIR, unpack } from "../runtime/functions";
import { functionKey, functionKeys, sampleEvent } from "../lib/local-runtime";
import { PROJECT_ROOT } from "../lib/toolchain";

describe("an env's functions, by key", () => {
  it("keys a created function by its entry and an adopted one by its own name", () => {
    const prod = loadEnv("prod");
    expect(functionKeys(prod).get("shelf-websocket-proxy")).toBe("websocket");
    expect(functionKey(prod, "shelf-websocket-proxy")).toBe("websocket");
    const staging = loadEnv("staging");
    expect(functionKey(staging, "lambdaship-staging-websocket")).toBe("websocket");
    // Not an entry: the name without the env's prefix (the app's own Rust functions).
    expect(functionKey(loadEnv("local"), "lambdaship-local-backend")).toBe("backend");
    expect(functionKey(loadEnv("local"), "someone-elses")).toBe("someone-elses");
  });

  it("finds the sample event in lambda-src/events by key, else none", () => {
    const local = loadEnv("local");
    expect(sampleEvent(local, "lambdaship-local-backend")).toBe(path.join(PROJECT_ROOT, "lambda-src", "events", "backend.json"));
    expect(sampleEvent(local, "lambdaship-local-nothing-here")).toBeUndefined();
  });
});

describe("a package whose bootstrap is a script that runs an arm64 binary", () => {
  // An arm64 executable that prints a line: glibc's libc.so.6, from the arm64 cross toolchain.
  const LIBC = "/usr/aarch64-linux-gnu/lib/libc.so.6";
  it("runs here: the emulator's unpacked copy starts the binary under qemu through a script in its place, whatever its name", () => {
    if (os.arch() === "arm64") return;
    if (!fs.existsSync(LIBC)) throw new Error(`${LIBC} is missing: npm run setup -- --only rust installs the arm64 cross toolchain (gcc-aarch64-linux-gnu)`);
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "lambdaship-shim-"));
    const zip = path.join(root, "pkg.zip");
    const odd = "bin/it's a \"binary\" $HOME";
    fs.writeFileSync(
      zip,
      createZip([
        { name: "bootstrap", data: Buffer.from(`#!/bin/sh\nexec "$(dirname "$0")/bin/it's a \\"binary\\" \\$HOME" "$@"\n`), executable: true },
        { name: odd, data: fs.readFileSync(LIBC), executable: true },
        { name: "data.txt", data: Buffer.from("not executable") },
      ]),
    );
    const dir = unpack(zip, root);
    expect(fs.readFileSync(path.join(dir, odd), "utf8")).toMatch(/^#!\/bin\/sh\n/);
    expect(fs.readFileSync(path.join(dir, FOREIGN_DIR, odd)).equals(fs.readFileSync(LIBC))).toBe(true);
    expect(fs.readFileSync(path.join(dir, "data.txt"), "utf8")).toBe("not executable");
    expect(execFileSync(path.join(dir, "bootstrap"), { encoding: "utf8" })).toMatch(/^GNU C Library/);
  });
});
