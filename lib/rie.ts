import { execFileSync, spawn, ChildProcess } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { cacheRoot } from "../build/util";
import { buildGoProgram, goEnv, GoProgram, PROJECT_ROOT } from "./toolchain";

/**
 * AWS's Runtime Interface Emulator, the baseline the runtime emulator is compared with (conformance
 * tests, npm run bench): built from its Go module on the module proxy, pinned, into the cache; and
 * the two handlers nobody here wrote the runtime of (aws-lambda-go, awslambdaric) that both run.
 */

export const RIE: GoProgram = {
  name: "aws-lambda-rie",
  module: "github.com/aws/aws-lambda-runtime-interface-emulator",
  // The only version this machine's module proxy serves (v1.23.0 is not served).
  goVersion: "v0.0.0-20261030222936-bef5c4ba774d",
  version: "0.0.0-20261030222936-bef5c4ba774d",
  pkg: "./cmd/aws-lambda-rie",
  ldflags: "-s -w",
};

/** The RIE binary, built once into the cache (about a minute cold). */
export function ensureRie(): string {
  const bin = path.join(cacheRoot(), "bin", `aws-lambda-rie-${RIE.version}`, "aws-lambda-rie");
  if (!fs.existsSync(bin)) buildGoProgram(RIE, bin);
  return bin;
}

export const CONFORMANCE_FIXTURES = path.join(PROJECT_ROOT, "__tests__", "fixtures", "conformance");

/** The Go conformance handler (aws-lambda-go), built natively into `outDir`/bootstrap; returns the folder. */
export function buildGoHandler(outDir: string, sourceDir = path.join(CONFORMANCE_FIXTURES, "go")): string {
  fs.mkdirSync(outDir, { recursive: true });
  execFileSync("go", ["build", "-tags", "lambda.norpc", "-trimpath", "-o", path.join(outDir, "bootstrap"), "."], { cwd: sourceDir, env: goEnv(), stdio: ["ignore", "ignore", "inherit"] });
  return outDir;
}

/** The command that runs the Python conformance handler through awslambdaric (the project's .venv). */
export function pythonHandlerCommand(): { command: string; args: string[]; cwd: string } {
  const python = path.join(PROJECT_ROOT, ".venv", "bin", "python");
  if (!fs.existsSync(python)) throw new Error(`${python} is missing: npm run setup -- --only python installs it (with awslambdaric)`);
  return { command: python, args: ["-m", "awslambdaric", "handler.handler"], cwd: path.join(CONFORMANCE_FIXTURES, "python") };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** One running RIE, serving `cmd` at `url` (RIE's invoke path: <url>/2015-03-31/functions/function/invocations). */
export interface RieInstance {
  readonly url: string;
  readonly proc: ChildProcess;
  readonly output: () => string;
  stop(): Promise<void>;
}

/** Starts RIE on a free loopback port in front of `cmd`; resolves once it accepts connections. */
export async function startRie(cmd: { command: string; args: readonly string[]; cwd: string; env?: Record<string, string> }): Promise<RieInstance> {
  const port = await freePort();
  // RIE names its own Runtime API port 9001 unless told: one per instance.
  const apiPort = await freePort();
  const proc = spawn(ensureRie(), ["--runtime-interface-emulator-address", `127.0.0.1:${port}`, "--runtime-api-address", `127.0.0.1:${apiPort}`, "--log-level", "error", cmd.command, ...cmd.args], {
    cwd: cmd.cwd,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...cmd.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout!.on("data", (d: Buffer) => (out = (out + d.toString()).slice(-200_000)));
  proc.stderr!.on("data", (d: Buffer) => (out = (out + d.toString()).slice(-200_000)));
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, "127.0.0.1", () => {
        s.end();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) break;
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`RIE did not start on 127.0.0.1:${port}: ${out.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    proc,
    output: () => out,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once("exit", () => resolve());
        proc.kill("SIGKILL");
      }),
  };
}
