import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { buildFunction, planFunction } from "../build/function";
import { cargoDevBuild, chooseBin } from "../build/rust-dev";
import { collectFiles, createZip, writeFileAtomic } from "../build/zip";
import type { EnvConfig } from "../envs/schema";
import { FunctionSpec, RuntimeEmulator } from "../runtime/emulator";
import { functionsFromStack, ResolveOptions, StackJson, StateValues } from "../runtime/functions";
import type { AwsCredentials } from "./aws-client";
import { UsageError } from "./cli";
import { recordedEmulator, sharedEmulator } from "./local-aws";
import { localStateFile } from "./state-guard";
import { readStack, runBuilder, stackDir } from "./synth";
import { PROJECT_ROOT } from "./toolchain";

/**
 * An env's functions run on this machine: which function a key names, its sample event, the
 * packages a run needs (built as an apply would), and the runtime emulator serving them.
 */

/** A function's name without the env's prefix: `backend`, `ws-connect`. */
export function shortName(env: EnvConfig, name: string): string {
  return name.startsWith(`${env.namePrefix}-`) ? name.slice(env.namePrefix.length + 1) : name;
}

/**
 * The key each deployed function has in the env (`orders-api` for `functions["orders-api"]`), by
 * deployed name, whatever that name is (an imported function keeps its own).
 */
export function functionKeys(env: EnvConfig): Map<string, string> {
  const keys = new Map<string, string>();
  for (const [key, f] of Object.entries(env.functions)) {
    const d = f.deployment ?? { mode: "create" };
    keys.set(d.mode === "create" ? `${env.namePrefix}-${key}` : d.functionName, key);
  }
  return keys;
}

/** A function's key: its entry in the env, else its name without the env's prefix (`backend`, `ws-connect`). */
export function functionKey(env: EnvConfig, name: string): string {
  return functionKeys(env).get(name) ?? shortName(env, name);
}

/**
 * The sample event of a function: `lambda-src/events/<key>.json`, else `events/sample.json` in its
 * own folder, when there is one.
 */
export function sampleEvent(env: EnvConfig, name: string): string | undefined {
  const key = functionKey(env, name);
  const source = env.functions[key]?.source;
  const candidates = [path.join(PROJECT_ROOT, "lambda-src", "events", `${key}.json`), ...(source ? [path.join(PROJECT_ROOT, source, "events", "sample.json")] : [])];
  return candidates.find((f) => fs.existsSync(f));
}

/** Attribute values of a local state file's resources, by address. */
export function localState(env: string): StateValues | undefined {
  const file = localStateFile(env);
  if (!fs.existsSync(file)) return undefined;
  const s = JSON.parse(fs.readFileSync(file, "utf8")) as { resources?: Array<{ mode: string; type: string; name: string; instances: Array<{ attributes: Record<string, unknown> }> }> };
  // Data sources as `data.<type>.<name>`, as the stack refers to them.
  return new Map((s.resources ?? []).filter((r) => r.instances[0]).map((r) => [`${r.mode === "data" ? "data." : ""}${r.type}.${r.name}`, r.instances[0].attributes]));
}

/** Runs the stack's Rust builder when a Rust function's package is missing (what an apply would do). */
export function buildIfNeeded(stack: StackJson, dir: string, fnResource: Record<string, unknown>): void {
  // The function's package, and each of its layers' zips (a layer through S3 has its object's source).
  const needs: Array<{ file: string; resource: Record<string, unknown> }> = [{ file: String(fnResource.filename), resource: fnResource }];
  for (const ref of (fnResource.layers as string[] | undefined) ?? []) {
    const layer = stack.resource?.aws_lambda_layer_version?.[/aws_lambda_layer_version\.([\w-]+)\.arn/.exec(ref)?.[1] ?? ""];
    const object = stack.resource?.aws_s3_object?.[/aws_s3_object\.([\w-]+)\.key/.exec(String(layer?.s3_key ?? ""))?.[1] ?? ""];
    if (layer?.filename) needs.push({ file: String(layer.filename), resource: layer });
    else if (object?.source) needs.push({ file: String(object.source), resource: object });
  }
  for (const { file, resource } of needs) {
    const zip = path.resolve(dir, file);
    if (fs.existsSync(zip)) continue;
    const deps = (resource.depends_on as string[] | undefined) ?? [];
    for (const id of Object.keys(stack.resource?.terraform_data ?? {})) if (deps.includes(`terraform_data.${id}`)) runBuilder(stack, dir, id);
    if (!fs.existsSync(zip)) throw new Error(`${zip} is missing and no builder of the stack makes it`);
  }
}

/**
 * The runtime emulator for an env's synthesized stack, listening on `port`: its functions (or only
 * `only`) run from their packages, their AWS calls go to the shared local AWS emulator, and their
 * WebSocket posts to the emulator's stand-in. Prints what could not be resolved.
 */
export async function localRuntime(
  env: EnvConfig,
  opts: { port?: number; only?: string; state?: StateValues; log?: (line: string) => void; console?: (line: string) => void; external?: { key: string; port: number } } = {},
) {
  const dir = stackDir(env.name);
  const stack = readStack(env.name) as StackJson;
  const aws = await sharedEmulator();
  const emulator = new RuntimeEmulator([], { console: opts.console });
  const url = await emulator.listen(opts.port ?? 0);
  const resolve: ResolveOptions = {
    stackDir: dir,
    region: env.region,
    projectRoot: PROJECT_ROOT,
    awsEndpoint: aws.endpoint,
    state: opts.state ?? (env.stateBackend ? undefined : localState(env.name)),
    managementEndpoint: `${url}/${env.websocket.stage.name}`,
  };
  const { functions, problems } = functionsFromStack(stack, { ...resolve, only: opts.only });
  for (const p of problems) (opts.log ?? ((l: string) => process.stderr.write(`${l}\n`)))(`note: ${p}`);
  const external = opts.external;
  if (external && !functions.some((f) => f.name === external.key || functionKey(env, f.name) === external.key)) {
    await emulator.stop();
    throw new UsageError(`--external ${external.key}: the env runs no such function; it runs ${functions.map((f) => functionKey(env, f.name)).join(", ")}`);
  }
  const served = functions.map((f) => (external && (f.name === external.key || functionKey(env, f.name) === external.key) ? { ...f, externalPort: external.port, maxConcurrency: 1, enforceTimeout: false } : f));
  for (const f of served) emulator.add(f);
  return { emulator, url, functions: served, aws, stack, dir, resolve };
}

/** `--env KEY=VALUE` flags (repeatable) as a function's variables; a malformed one names itself and the fix. */
export function envFlags(given: readonly string[] | undefined): Record<string, string> | undefined {
  if (!given?.length) return undefined;
  const vars: Record<string, string> = {};
  for (const g of given) {
    const eq = g.indexOf("=");
    const key = eq > 0 ? g.slice(0, eq) : "";
    if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(key)) throw new UsageError(`--env ${JSON.stringify(g)} is not KEY=VALUE with a variable name Lambda accepts (a letter, then letters, digits and _), e.g. --env TABLE_NAME=orders`);
    vars[key] = g.slice(eq + 1);
  }
  return vars;
}

/** A function given on the command line (`--source DIR|ZIP --runtime R --handler H`), not one of an env's. */
export interface SourceFunction {
  readonly source: string;
  readonly runtime?: string;
  readonly handler?: string;
  /** A cargo workspace's bin to run. @default - its only bin */
  readonly bin?: string;
  readonly memoryMiB?: number;
  readonly timeoutSeconds?: number;
  readonly log?: (line: string) => void;
  /** The function's name. @default - the folder's or zip's name */
  readonly name?: string;
  /** Its environment variables (what a deployed function has, for npm run live). @default - none */
  readonly environment?: Readonly<Record<string, string>>;
  /** @default "us-east-1" */
  readonly region?: string;
  /** The credentials its AWS calls use (npm run live: its role's, or the user's). @default - the local AWS's `test` */
  readonly credentials?: AwsCredentials;
  /**
   * Where its AWS calls go: an endpoint, or null for AWS itself (a function of an env on AWS).
   * @default - the local AWS when one is running (npm run emulator -- start), else nowhere
   */
  readonly awsEndpoint?: string | null;
  /** Called with the binary a Rust bin built to, once built. @default - nothing */
  readonly onBinary?: (file: string) => void;
}

/**
 * The runtime emulator's spec of a function from a folder or a zip, outside any env: a zip runs as
 * it is; a folder holding an executable `bootstrap` runs it; any other folder is built as
 * `functions` entries are (runtime and handler detected unless given), for this machine's
 * architecture and with its dependencies in the package, so it runs natively; a cargo workspace's
 * bin is built natively with cargo's dev profile (fast and incremental; the deployed build is the
 * release profile, usually for arm64). Its AWS calls go to the local AWS when one is running
 * (npm run emulator -- start), else nowhere.
 */
export async function sourceFunction(src: SourceFunction): Promise<FunctionSpec> {
  const given = path.resolve(src.source);
  if (!fs.existsSync(given)) throw new UsageError(`--source is ${src.source}, which does not exist; give a function's folder or a zip`);
  const isFile = fs.statSync(given).isFile();
  const rust = !isFile && fs.existsSync(path.join(given, "Cargo.toml")) && !fs.existsSync(path.join(given, "bootstrap")) && (!src.runtime || src.runtime.startsWith("provided"));
  if (src.bin !== undefined && !rust) throw new UsageError(`--bin ${src.bin} names a cargo bin, and ${src.source} is not a cargo workspace (no Cargo.toml); leave out --bin`);
  let bin: string | undefined;
  if (rust) {
    try {
      bin = chooseBin(given, src.bin);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  }
  const name = src.name ?? ((bin ?? path.basename(given).replace(/\.zip$/, "")).toLowerCase().replace(/[^a-z0-9_-]/g, "-") || "function");
  const log = src.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const scratch = (suffix: string) => path.join(PROJECT_ROOT, ".build", "source", `${name}-${crypto.createHash("sha256").update(given).digest("hex").slice(0, 12)}${suffix}`);
  let zip: string;
  let runtime = src.runtime;
  let handler = src.handler;
  if (bin !== undefined) {
    const started = Date.now();
    log(`building ${src.source} (Rust, bin ${bin}) natively with cargo's dev profile; what is deployed is the release profile for the function's architecture`);
    // Pinned beside the package (a link): what runs stays as built whatever the shared target folder sees next.
    const pins = path.dirname(scratch(""));
    const pinPrefix = `${path.basename(scratch(""))}.bin-`;
    const binary = await cargoDevBuild(given, bin, log, "the command again", scratch(`.bin-${Date.now().toString(36)}`));
    // The two newest pins stay (a sandbox of the previous build may still be running it).
    const older = fs.readdirSync(pins).filter((n) => n.startsWith(pinPrefix)).sort().slice(0, -2);
    for (const n of older) fs.rmSync(path.join(pins, n), { force: true });
    log(`built ${binary} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    src.onBinary?.(binary);
    zip = scratch(".zip");
    fs.mkdirSync(path.dirname(zip), { recursive: true });
    writeFileAtomic(zip, createZip([{ name: "bootstrap", data: Buffer.from(`#!/bin/sh\nexec ${JSON.stringify(binary)} "$@"\n`), executable: true }]));
    runtime ??= "provided.al2023";
    handler ??= "bootstrap";
  } else if (isFile) {
    if (!given.endsWith(".zip")) throw new UsageError(`--source is ${src.source}, a file that is not a .zip; give a function's folder or its zip`);
    if (!runtime) throw new UsageError(`--runtime is needed with a zip (${src.source}): e.g. --runtime provided.al2023, python3.12, nodejs22.x, java21`);
    handler ??= runtime.startsWith("provided") ? "bootstrap" : undefined;
    if (!handler) throw new UsageError(`--handler is needed with a ${runtime} zip (${src.source}): e.g. handler.handler`);
    zip = given;
  } else if (fs.existsSync(path.join(given, "bootstrap")) && (!runtime || runtime.startsWith("provided"))) {
    // Executables stay executable (bootstrap above all), as Lambda keeps a zip's modes.
    const files = collectFiles(given, { executable: (rel) => (fs.statSync(path.join(given, rel)).mode & 0o111) !== 0 });
    zip = scratch(".zip");
    fs.mkdirSync(path.dirname(zip), { recursive: true });
    writeFileAtomic(zip, createZip(files));
    runtime ??= "provided.al2023";
    handler ??= "bootstrap";
  } else {
    const arch = os.arch() === "arm64" ? "arm64" : "x86_64";
    const fnSrc = { name, dir: given, runtime, handler, dependencies: "bundle" as const };
    const plan = planFunction(fnSrc, arch);
    log(`building ${src.source} (${plan.language}, ${plan.runtime}, handler ${plan.handler}) for ${arch}, this machine's architecture`);
    const built = buildFunction(fnSrc, arch, { projectRoot: PROJECT_ROOT, log }, plan);
    log(`built ${built.zipPath} in ${built.seconds.toFixed(1)} s (${built.status})`);
    zip = built.zipPath;
    runtime = plan.runtime;
    handler = plan.deployedHandler;
  }
  const recorded = recordedEmulator();
  const stack: StackJson = {
    resource: {
      aws_lambda_function: {
        source: { function_name: name, runtime, handler, filename: zip, memory_size: src.memoryMiB ?? 128, timeout: src.timeoutSeconds ?? 3, ...(src.environment ? { environment: { variables: { ...src.environment } } } : {}) },
      },
    },
  };
  const awsEndpoint = src.awsEndpoint === undefined ? recorded?.endpoint : src.awsEndpoint;
  const { functions, problems } = functionsFromStack(stack, { stackDir: PROJECT_ROOT, region: src.region ?? "us-east-1", projectRoot: PROJECT_ROOT, awsEndpoint, credentials: src.credentials });
  for (const p of problems) log(`note: ${p}`);
  if (!functions[0]) throw new UsageError(`${src.source}: runtime ${runtime} is not one the emulator runs (provided.*, python3.*, nodejs*, java*)`);
  return functions[0];
}
