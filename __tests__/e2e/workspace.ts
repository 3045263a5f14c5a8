import { CreateRoleCommand, IAMClient } from "@aws-sdk/client-iam";
import { CreateFunctionCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { apply, engine, init, plan, PlanSummary, state } from "../../lib/engine";
import { Emulator, startEmulator } from "../../lib/local-aws";
import { readToolchain, Toolchain } from "../../lib/toolchain";
import { packagePythonHandler } from "../../build/python-package";
import { createZip } from "../../build/zip";

/**
 * A throwaway copy of the project (sources only: no cdktf.out, no .build, node_modules and .venv
 * linked) with its own moto server and state, so each end-to-end case starts from nothing, as a
 * fresh clone would.
 */

export const PROJECT_ROOT = path.resolve(__dirname, "..", "..");
const SOURCES = ["main.ts", "lib", "stacks", "envs", "modules", "build", "runtime", "review", "lambda-src", "scripts", "cdktf.json", "package.json", "tsconfig.json", "requirements-dev.txt"];
const LINKED = ["node_modules", ".venv"];

export const ENV = "local";
export const STACK = "lambdaship-local";

function copyTree(src: string, dst: string): void {
  const stat = fs.statSync(src);
  if (stat.isDirectory()) {
    const base = path.basename(src);
    if (base === "__pycache__" || base === "target" || base === ".pytest_cache" || base === "node_modules") return;
    fs.mkdirSync(dst, { recursive: true });
    for (const name of fs.readdirSync(src)) copyTree(path.join(src, name), path.join(dst, name));
  } else {
    fs.copyFileSync(src, dst);
  }
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d));
    child.stderr.on("data", (d: Buffer) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

export class Workspace {
  public readonly toolchain: Toolchain;

  private constructor(
    public readonly root: string,
    public readonly emulator: Emulator,
    /** Folder holding the local state file (shared between workspaces to act as a second clone). */
    public readonly stateDir: string,
    toolchain: Toolchain,
  ) {
    this.toolchain = toolchain;
  }

  /** A fresh copy with its own emulator; pass `from` to share another workspace's emulator and state. */
  static async create(from?: Workspace): Promise<Workspace> {
    const toolchain = readToolchain(); // fails first, with the fix, when setup has not run
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "lambdaship-e2e-"));
    for (const rel of SOURCES) copyTree(path.join(PROJECT_ROOT, rel), path.join(root, rel));
    for (const rel of LINKED) fs.symlinkSync(path.join(PROJECT_ROOT, rel), path.join(root, rel));
    const emulator = from?.emulator ?? (await startEmulator({ logFile: path.join(root, "moto.log") }));
    const stateDir = from?.stateDir ?? path.join(root, "state");
    fs.mkdirSync(stateDir, { recursive: true });
    return new Workspace(root, emulator, stateDir, toolchain);
  }

  get env(): NodeJS.ProcessEnv {
    return { LAMBDASHIP_AWS_ENDPOINT: this.emulator.endpoint, LAMBDASHIP_STATE_DIR: this.stateDir };
  }

  get stackDir(): string {
    return path.join(this.root, "cdktf.out", "stacks", STACK);
  }

  get stateFile(): string {
    return path.join(this.stateDir, `terraform.${STACK}.tfstate`);
  }

  /** Rewrites envs/local.ts as the original merged with `patch` (objects merged, null removes a key, the rest replaced). */
  patchLocalEnv(patch: Record<string, unknown>): void {
    const envs = path.join(this.root, "envs");
    if (!fs.existsSync(path.join(envs, "local_base.ts"))) fs.renameSync(path.join(envs, "local.ts"), path.join(envs, "local_base.ts"));
    fs.writeFileSync(
      path.join(envs, "local.ts"),
      [
        'import base from "./local_base";',
        'import { defineEnv, EnvInput } from "./schema";',
        "function merge(a: any, b: any): any {",
        "  if (b === null || typeof b !== 'object' || Array.isArray(b) || a === null || typeof a !== 'object') return b;",
        "  const out: any = { ...a };",
        "  for (const k of Object.keys(b)) {",
        "    if (b[k] === null) delete out[k];",
        "    else out[k] = merge(a[k], b[k]);",
        "  }",
        "  return out;",
        "}",
        `export default defineEnv(merge(base, ${JSON.stringify(patch)}) as EnvInput);`,
        "",
      ].join("\n"),
    );
  }

  /** Synthesizes every env through the app command cdktf runs. */
  synth(): Promise<RunResult> {
    return run(process.execPath, ["-r", "./scripts/register.js", "main.ts"], this.root, this.env);
  }

  async synthOrThrow(): Promise<void> {
    const r = await this.synth();
    if (r.code !== 0) throw new Error(`synth failed (exit ${r.code}):\n${r.stderr}`);
  }

  async init(): Promise<void> {
    await init(this.toolchain, this.stackDir, { env: this.env });
  }

  plan(): Promise<PlanSummary> {
    return plan(this.toolchain, this.stackDir, { env: this.env });
  }

  apply() {
    return apply(this.toolchain, this.stackDir, { env: this.env });
  }

  state() {
    return state(this.toolchain, this.stackDir, { env: this.env });
  }

  engine(args: string[], ok: number[] = [0]) {
    return engine(this.toolchain, this.stackDir, args, { env: this.env, ok });
  }

  /** synth + init + apply. */
  async deploy() {
    await this.synthOrThrow();
    await this.init();
    return this.apply();
  }

  async dispose(options: { keepEmulator?: boolean } = {}): Promise<void> {
    if (!options.keepEmulator) await this.emulator.stop();
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

/** AWS SDK client settings for the workspace's emulator. */
export function sdkConfig(ws: Workspace) {
  return {
    endpoint: ws.emulator.endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
    forcePathStyle: true,
  };
}

export const FN_ADDRESS = /^aws_lambda_function\.fn-websocket_function_[0-9A-F]+$/;
export const BACKEND_ADDRESS = /^aws_lambda_function\.fn-backend_function_[0-9A-F]+$/;

/**
 * A patch of the local env: the Python WebSocket handler (`functions.websocket`, deployed as given)
 * serves every route, in place of the four Rust handlers.
 */
export function pythonWebsocket(deployment: Record<string, unknown>): Record<string, unknown> {
  return {
    functions: {
      websocket: { source: "lambda-src/websocket", handler: "handler.lambda_handler", runtime: "python3.12", deployment },
      "ws-connect": null, "ws-disconnect": null, "ws-default": null, "ws-broadcast": null,
    },
    websocket: { routes: { $connect: "websocket", $disconnect: "websocket", $default: "websocket", sendmessage: "websocket" } },
  };
}

/** Builds the Rust functions into the machine's artifact store, once per test file (warm: a skip). */
export async function buildRustFunctionsUpFront(): Promise<void> {
  const r = await run(process.execPath, ["-r", "./scripts/register.js", "build/cli.ts"], PROJECT_ROOT);
  if (r.code !== 0) throw new Error(`npm run build:lambda failed:\n${r.stderr}`);
}

/**
 * Creates a Lambda function in the emulator the way a user would have, outside Terraform. It is arm64
 * like the config: moto's UpdateFunctionCode ignores Architectures (AWS applies it), so adopting an
 * x86_64 function would re-plan the architecture forever on the emulator.
 */
export async function createFunctionOutside(ws: Workspace, name: string, runtime: "python" | "rust" | "nodejs" = "python", extra: { variables?: Record<string, string>; tags?: Record<string, string> } = {}): Promise<string> {
  const iam = new IAMClient(sdkConfig(ws));
  const role = await iam.send(
    new CreateRoleCommand({
      RoleName: `${name}-manual-role`,
      AssumeRolePolicyDocument: JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }],
      }),
    }),
  );
  // Any valid package: a hand-made zip for the Rust function (the stack redeploys its own after import).
  const zip =
    runtime === "python"
      ? fs.readFileSync(packagePythonHandler(path.join(ws.root, "lambda-src", "websocket"), path.join(ws.root, ".build", "manual"), "manual").zipPath)
      : runtime === "nodejs"
        ? createZip([{ name: "handler.js", data: Buffer.from("exports.handler = async () => 'made by hand';\n") }])
        : createZip([{ name: "bootstrap", data: Buffer.from("#!/bin/sh\n"), executable: true }]);
  const lambda = new LambdaClient(sdkConfig(ws));
  const fn = await lambda.send(
    new CreateFunctionCommand({
      FunctionName: name,
      Runtime: ({ python: "python3.12", nodejs: "nodejs22.x", rust: "provided.al2023" } as const)[runtime],
      Handler: { python: "handler.lambda_handler", nodejs: "handler.handler", rust: "bootstrap" }[runtime],
      Role: role.Role!.Arn!,
      Code: { ZipFile: zip },
      Architectures: ["arm64"],
      MemorySize: 128,
      Timeout: 3,
      Environment: extra.variables ? { Variables: extra.variables } : undefined,
      Tags: extra.tags,
    }),
  );
  return fn.FunctionArn!;
}

