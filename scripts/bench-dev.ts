import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { buildFunction } from "../build/function";
import { cacheRoot } from "../build/util";
import { binsFromMetadata, buildFunctions, cargoMetadata, chooseToolchain, defaultCargoTargetDir, functionHashes } from "../build/rust";
import { DevLoop, DevTarget } from "../lib/dev";
import { freePort } from "../lib/local-aws";
import { PROJECT_ROOT } from "../lib/toolchain";
import { RuntimeEmulator } from "../runtime/emulator";
import { functionsFromStack, StackJson } from "../runtime/functions";
import { DEV_EDITS, DevKey, writeDevSources } from "../__tests__/fixtures/dev/sources";

/**
 * The dev part of `npm run bench` (issue 17), in one run: for a one-line edit of one function per
 * runtime, the time from the file's write to the first invocation that answers with the edit,
 * - through npm run dev's loop (lib/dev.ts: watch, dev build, swap into the runtime emulator);
 * - the path without it, as npm run invoke takes it after an edit (its synth aside): the release
 *   build for the deployed architecture (arm64; Go and Rust cross-compiled, Rust's release profile),
 *   then an invocation of that package in the runtime emulator (arm64 under qemu).
 * Python, JavaScript, TypeScript, Go and Java are the small functions of __tests__/fixtures/dev; Rust
 * is a copy of this project's workspace and its backend bin (its real dependencies), the health
 * route's answer edited. cargo lambda watch is measured next to it, on the same
 * workspace copy and edits, when cargo-lambda is installed (on PATH or under CARGO_LAMBDA_ROOT).
 */

const EDITS = Number(process.env.BENCH_DEV_EDITS ?? 3);
const GOALS: Record<string, number> = { python: 1, javascript: 1, typescript: 3, go: 3, rust: 10, java: 10 };

interface Row {
  readonly runtime: string;
  readonly dev: number[];
  readonly without?: number;
  /** Rust: cargo lambda watch after the same edits (seconds), or why it was not measured. */
  readonly cargoLambda?: number[] | string;
}

/** Where `npm run bench` looks for cargo-lambda: PATH, then the cache `cargo install --root` below puts it in. */
export const CARGO_LAMBDA_ROOT = path.join(cacheRoot(), "cargo-lambda");
const CARGO_LAMBDA_INSTALL = `cargo install cargo-lambda --locked --root ${CARGO_LAMBDA_ROOT}`;

function findCargoLambda(): { bin: string; version: string } | undefined {
  for (const bin of ["cargo-lambda", path.join(CARGO_LAMBDA_ROOT, "bin", "cargo-lambda")]) {
    const r = spawnSync(bin, ["lambda", "--version"], { encoding: "utf8" });
    if (r.status === 0) return { bin, version: r.stdout.trim() };
  }
  return undefined;
}

/**
 * cargo lambda watch on the same workspace copy: its own Lambda emulator on a loopback port, the
 * function rebuilt (dev profile, native) and restarted when a source changes. The first build is not
 * measured (its target directory is kept in the cache between runs, as ours is).
 */
async function benchCargoLambda(bin: string, workspace: string, edit: (n: number) => { expect: Record<string, unknown>; event: object }, health: object): Promise<number[]> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/2015-03-31/functions/backend/invocations`;
  // --target-dir is handed to cargo metadata too, which refuses it (cargo-lambda 1.9.2): CARGO_TARGET_DIR instead.
  const child = spawn(bin, ["lambda", "watch", "--invoke-address", "127.0.0.1", "--invoke-port", String(port), "--env-var", "TABLE_NAME=bench-dev,AWS_REGION=us-east-1", "--quiet"], {
    cwd: workspace,
    env: { ...process.env, CARGO_TARGET_DIR: path.join(CARGO_LAMBDA_ROOT, "bench-target") },
    stdio: ["ignore", "ignore", "pipe"],
    detached: true,
  });
  let log = "";
  child.stderr!.on("data", (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  const answer = async (expect: Record<string, unknown>, event: object, since: number): Promise<number> => {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`cargo lambda watch exited (${child.exitCode}): ${log}`);
      try {
        const r = await fetch(url, { method: "POST", body: JSON.stringify(event) });
        const got = (await r.json()) as Record<string, unknown>;
        if (Object.entries(expect).every(([k, v]) => typeof got[k] === "string" && (got[k] as string).includes(String(v)))) return (performance.now() - since) / 1000;
      } catch {
        // not listening yet, or the function restarting
      }
      if (performance.now() - since > 900_000) throw new Error(`cargo lambda watch never answered with the edit: ${log}`);
      await new Promise((res) => setTimeout(res, 10));
    }
  };
  try {
    process.stdout.write("  cargo lambda watch: first build (not measured) ...\n");
    await answer({}, health, performance.now());
    const times: number[] = [];
    for (let i = 0; i < EDITS; i++) {
      const t = performance.now();
      const { expect, event } = edit(50 + i);
      times.push(await answer(expect, event, t));
    }
    return times;
  } finally {
    try {
      process.kill(-child.pid!, "SIGTERM");
    } catch {
      // gone
    }
    await new Promise((res) => (child.exitCode !== null ? res(undefined) : child.once("exit", res)));
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Invokes until the answer has `expect` (the edit), from `since`; resolves with the seconds it took. */
async function untilAnswered(emulator: RuntimeEmulator, name: string, expect: Record<string, unknown>, event: object | undefined, since: number): Promise<number> {
  const has = (body: string) => {
    try {
      const got = JSON.parse(body) as Record<string, unknown>;
      return Object.entries(expect).every(([k, v]) => (typeof got.body === "string" && k === "body" ? got.body.includes(String(v)) : got[k] === v));
    } catch {
      return false;
    }
  };
  for (;;) {
    const r = await emulator.invoke(name, JSON.stringify(event ?? {}));
    if (has(r.payload.toString())) return (performance.now() - since) / 1000;
    if (performance.now() - since > 600_000) throw new Error(`${name} never answered with the edit: ${r.payload.toString()}`);
    await new Promise((res) => setTimeout(res, 10));
  }
}

export async function benchDev(): Promise<Row[]> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bench-dev-"));
  const sources = writeDevSources(path.join(tmp, "src"));
  // Rust: the project's workspace, its backend bin.
  const workspace = path.join(tmp, "src", "rust");
  fs.cpSync(path.join(PROJECT_ROOT, "lambda-src", "rust"), workspace, { recursive: true, filter: (p) => path.basename(p) !== "target" });
  const health = { version: "2.0", rawPath: "/health", requestContext: { http: { method: "GET", path: "/health" } }, headers: {} };
  const runtimes: Array<{ key: DevKey | "backend"; runtime: string; dir: string; lambdaRuntime: string; handler: string; bin?: string }> = [
    { key: "py", runtime: "python", dir: sources.py, lambdaRuntime: "python3.12", handler: "app.handler" },
    { key: "js", runtime: "javascript", dir: sources.js, lambdaRuntime: "nodejs22.x", handler: "index.handler" },
    { key: "ts", runtime: "typescript", dir: sources.ts, lambdaRuntime: "nodejs22.x", handler: "index.handler" },
    { key: "go", runtime: "go", dir: sources.go, lambdaRuntime: "provided.al2023", handler: "bootstrap" },
    { key: "backend", runtime: "rust", dir: workspace, lambdaRuntime: "provided.al2023", handler: "bootstrap", bin: "backend" },
    { key: "java", runtime: "java", dir: sources.java, lambdaRuntime: "java21", handler: "example.Inventory::handleRequest" },
  ];
  const edit = (key: DevKey | "backend", n: number) => {
    if (key === "backend") {
      const file = path.join(workspace, "crates", "backend", "src", "routes.rs");
      const text = fs.readFileSync(file, "utf8").replace(/json!\(\{ "status": "[^"]*" \}\)/, `json!({ "status": "ok-${n}" })`);
      fs.writeFileSync(file, text);
      return { expect: { body: `ok-${n}` }, event: health };
    }
    const e = DEV_EDITS[key];
    const file = path.join(sources[key], e.file);
    const text = fs.readFileSync(file, "utf8");
    // Each edit answers something new: v2, v3, ... (Rust: rust-2, ...; Java: PEN-2's stock 7, 8, ...).
    const marks: Record<DevKey, [RegExp, string, Record<string, unknown>]> = {
      py: [/"v\d+"/, `"v${n}"`, { v: `v${n}` }],
      js: [/"v\d+"/, `"v${n}"`, { v: `v${n}` }],
      ts: [/"v\d+"/, `"v${n}"`, { v: `v${n}` }],
      go: [/"v\d+"/, `"v${n}"`, { v: `v${n}` }],
      rust: [/lang\\":\\"rust[-\d]*/, `lang\\":\\"rust-${n}`, { lang: `rust-${n}` }],
      java: [/"PEN-2", \d+/, `"PEN-2", ${n + 5}`, { inStock: n + 5 }],
    };
    const [re, to, expect] = marks[key];
    fs.writeFileSync(file, text.replace(re, to));
    return { expect, event: e.event };
  };

  const deployed = (key: string, files: Record<string, string>) => {
    const dir = path.join(tmp, "deployed", key);
    fs.mkdirSync(dir, { recursive: true });
    for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), text, { mode: f === "bootstrap" ? 0o755 : 0o644 });
    return dir;
  };
  const javaRelease = buildFunction({ name: "bench-dev-java", dir: sources.java, dependencies: "bundle" }, "x86_64", { projectRoot: tmp, store: undefined });
  const resource = (r: (typeof runtimes)[number], filename: string) => ({ function_name: `bench-dev-${r.key}`, runtime: r.lambdaRuntime, handler: r.handler, filename, memory_size: 1024, timeout: 30, environment: { variables: { TABLE_NAME: "bench-dev" } } });
  const stack: StackJson = {
    resource: {
      aws_lambda_function: Object.fromEntries(
        runtimes.map((r) => [r.key, resource(r, r.key === "java" ? javaRelease.zipPath : r.handler === "bootstrap" ? deployed(r.key, { bootstrap: "#!/bin/sh\nexit 1\n" }) : deployed(r.key, { "app.py": "", "index.js": "" }))]),
      ),
    },
  };
  const resolve = { stackDir: tmp, region: "us-east-1", projectRoot: PROJECT_ROOT };
  const { functions } = functionsFromStack(stack, resolve);
  const emulator = new RuntimeEmulator(functions);
  const lines: string[] = [];
  const targets: DevTarget[] = runtimes.map((r) => ({ key: r.key, functionName: `bench-dev-${r.key}`, entry: { source: r.dir, ...(r.bin ? { bin: r.bin } : {}) } }));
  const loop = new DevLoop({ emulator, functions, stack, resolve }, targets, { projectRoot: PROJECT_ROOT, log: (l) => lines.push(l) });
  const rows: Row[] = [];
  try {
    process.stdout.write("  first dev builds (not measured; Rust compiles the workspace's own crates in the dev profile) ...\n");
    await loop.start();
    for (const r of runtimes) {
      await untilAnswered(emulator, `bench-dev-${r.key}`, {}, r.key === "backend" ? health : undefined, performance.now()); // warm
      const dev: number[] = [];
      for (let i = 0; i < EDITS; i++) {
        const t = performance.now();
        const { expect, event } = edit(r.key, 10 + i);
        dev.push(await untilAnswered(emulator, `bench-dev-${r.key}`, expect, event, t));
      }
      rows.push({ runtime: r.runtime, dev });
      process.stdout.write(`  ${r.runtime}: npm run dev ${dev.map((x) => x.toFixed(2)).join(", ")} s\n`);
    }
  } finally {
    await loop.stop();
    await emulator.stop();
  }

  // Without npm run dev: the release build for arm64, then an invocation of it.
  for (const r of runtimes) {
    const t = performance.now();
    const { expect, event } = edit(r.key, 90);
    let zip: string;
    if (r.key === "backend") {
      const { toolchain } = chooseToolchain("arm64", false);
      const meta = cargoMetadata(workspace);
      const bins = binsFromMetadata(meta).filter((b) => b.name === "backend");
      zip = buildFunctions({ workspaceDir: workspace, functions: bins, toolchain, hashes: functionHashes(meta, bins, toolchain.target), cargoTargetDir: defaultCargoTargetDir() })[0].zipPath;
    } else {
      zip = buildFunction({ name: `bench-dev-${r.key}`, dir: r.dir, dependencies: r.key === "java" ? "bundle" : undefined }, "arm64", { projectRoot: tmp, store: undefined }).zipPath;
    }
    const release: StackJson = { resource: { aws_lambda_function: { f: { ...resource(r, zip), handler: r.key === "ts" ? "index.handler" : r.handler } } } };
    const em = new RuntimeEmulator(functionsFromStack(release, resolve).functions);
    try {
      const seconds = await untilAnswered(em, `bench-dev-${r.key}`, expect, event, t);
      const row = rows.find((x) => x.runtime === r.runtime)!;
      rows[rows.indexOf(row)] = { ...row, without: seconds };
      process.stdout.write(`  ${r.runtime}: release build and invoke ${seconds.toFixed(2)} s\n`);
    } finally {
      await em.stop();
    }
  }
  const cargoLambda = findCargoLambda();
  const rust = rows.findIndex((x) => x.runtime === "rust");
  if (!cargoLambda) {
    rows[rust] = { ...rows[rust], cargoLambda: `not measured: cargo-lambda is not installed (${CARGO_LAMBDA_INSTALL} builds it from crates.io: 16 min here)` };
  } else {
    process.stdout.write(`  ${cargoLambda.version} (${cargoLambda.bin})\n`);
    const times = await benchCargoLambda(cargoLambda.bin, workspace, (n) => edit("backend", n) as { expect: Record<string, unknown>; event: object }, health);
    rows[rust] = { ...rows[rust], cargoLambda: times };
    process.stdout.write(`  rust: cargo lambda watch ${times.map((x) => x.toFixed(2)).join(", ")} s\n`);
  }
  fs.rmSync(tmp, { recursive: true, force: true });
  return rows;
}

export async function printDevBench(): Promise<void> {
  process.stdout.write(`\n== dev: a one-line edit to the first answer with it, ${EDITS} edits per runtime (median), ${os.cpus().length} cores\n`);
  const rows = await benchDev();
  process.stdout.write(`${"runtime".padEnd(12)}  ${"npm run dev".padStart(12)}  ${"goal".padStart(6)}  ${"release build + invoke".padStart(22)}  ratio\n`);
  for (const r of rows) {
    const dev = median(r.dev);
    const goal = GOALS[r.runtime];
    process.stdout.write(
      `${r.runtime.padEnd(12)}  ${`${dev.toFixed(2)} s`.padStart(12)}  ${`< ${goal} s`.padStart(6)}  ${(r.without === undefined ? "-" : `${r.without.toFixed(2)} s`).padStart(22)}  ${r.without === undefined ? "" : `${(r.without / dev).toFixed(0)}x`}${dev < goal ? "" : "  (over the goal)"}\n`,
    );
  }
  for (const r of rows) {
    if (r.cargoLambda === undefined) continue;
    if (typeof r.cargoLambda === "string") process.stdout.write(`${r.runtime}: cargo lambda watch ${r.cargoLambda}\n`);
    else {
      const theirs = median(r.cargoLambda);
      process.stdout.write(`${r.runtime}: cargo lambda watch ${theirs.toFixed(2)} s after the same edit, npm run dev ${median(r.dev).toFixed(2)} s (${(theirs / median(r.dev)).toFixed(1)}x)\n`);
    }
  }
}
