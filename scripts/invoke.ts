import * as fs from "fs";
import * as path from "path";
import { localStateFile } from "../lib/state-guard";
import { loadEnv } from "../envs";
import type { EnvConfig } from "../envs/schema";
import { ConfigError } from "../modules/errors";
import { stackName } from "../modules/stack";
import { RuntimeEmulator } from "../runtime/emulator";
import { functionsFromStack, StackJson, StateValues } from "../runtime/functions";
import { sharedEmulator } from "../lib/local-aws";
import { readStack, runBuilder, stackDir, synthAll } from "../lib/synth";
import { PROJECT_ROOT } from "../lib/toolchain";

const HELP = `Usage: npm run invoke -- <env> <function> [--event FILE]

Runs one function of an env's stack on this machine, exactly as packaged for deployment, and prints
its response and logs; exits 0 when the function succeeded, 1 when it returned an error.

  <function>     its key in the env (orders-api, backend, ws-connect, websocket) or its deployed
                 name (lambdaship-local-orders-api)
  --event FILE   the event (JSON); default lambda-src/events/<key>.json, else the function folder's
                 events/sample.json, else {}

What it starts: a synth of every env; the Rust builder when the function's package is missing (the
same command the stack's builder runs at apply); the local AWS emulator (moto), which the function's
AWS SDK calls go to (never a real account); and the runtime emulator, which runs the package's
bootstrap natively or under qemu-aarch64 (arm64), a Python handler through awslambdaric, or a Node.js
handler through lambdaship's Node.js runtime client.
Deployed resources (tables) exist in the emulator once the env is deployed there: npm start does it
for local.`;

interface Options {
  env: string;
  fn: string;
  event?: string;
}

function parse(argv: string[]): Options | "help" {
  const positional: string[] = [];
  let event: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--help" || a === "-h") return "help";
    if (a === "--event") {
      event = argv[++i];
      if (!event) throw new Error("--event needs a file");
    } else if (a.startsWith("-")) throw new Error(`unknown option ${a}; see --help`);
    else positional.push(a);
  }
  if (positional.length !== 2) throw new Error("name an env and a function, e.g. npm run invoke -- local backend (see --help)");
  return { env: positional[0], fn: positional[1], event };
}

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
  return new Map((s.resources ?? []).filter((r) => r.mode === "managed" && r.instances[0]).map((r) => [`${r.type}.${r.name}`, r.instances[0].attributes]));
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
export async function localRuntime(env: EnvConfig, opts: { port?: number; only?: string; state?: StateValues; log?: (line: string) => void } = {}) {
  const dir = stackDir(env.name);
  const stack = readStack(env.name) as StackJson;
  const aws = await sharedEmulator();
  const emulator = new RuntimeEmulator();
  const url = await emulator.listen(opts.port ?? 0);
  const { functions, problems } = functionsFromStack(stack, {
    stackDir: dir,
    region: env.region,
    projectRoot: PROJECT_ROOT,
    awsEndpoint: aws.endpoint,
    state: opts.state ?? (env.stateBackend ? undefined : localState(env.name)),
    managementEndpoint: `${url}/${env.websocket.stage.name}`,
    only: opts.only,
  });
  for (const p of problems) (opts.log ?? ((l: string) => process.stderr.write(`${l}\n`)))(`note: ${p}`);
  for (const f of functions) emulator.add(f);
  return { emulator, url, functions, aws, stack, dir };
}

async function main(): Promise<number> {
  const opts = parse(process.argv.slice(2));
  if (opts === "help") {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const env = loadEnv(opts.env);
  synthAll(undefined, env.name);
  const dir = stackDir(env.name);
  const stack = readStack(env.name) as StackJson;
  const resources = Object.values(stack.resource?.aws_lambda_function ?? {});
  const names = resources.map((r) => String(r.function_name));
  const byKey = [...functionKeys(env)].find(([, key]) => key === opts.fn)?.[0];
  const fullName = [byKey, opts.fn, `${env.namePrefix}-${opts.fn}`].find((n) => n !== undefined && names.includes(n));
  if (!fullName) {
    throw new Error(
      `${stackName(env.name)} deploys no function ${JSON.stringify(opts.fn)}; it deploys ${names.join(", ") || "none"}` +
        `${names.length ? ` (by key: ${names.map((n) => functionKey(env, n)).sort().join(", ")})` : ""} (functions it only references run elsewhere)`,
    );
  }
  const resource = resources.find((r) => r.function_name === fullName)!;
  buildIfNeeded(stack, dir, resource);

  const eventFile = opts.event ? path.resolve(opts.event) : sampleEvent(env, fullName);
  const payload = eventFile ? fs.readFileSync(eventFile) : Buffer.from("{}");
  try {
    JSON.parse(payload.toString());
  } catch (e) {
    throw new Error(`${eventFile} is not JSON: ${(e as Error).message}`);
  }

  const { emulator, functions, aws } = await localRuntime(env, { only: fullName });
  if (aws.fresh) process.stderr.write(`note: started the local AWS emulator at ${aws.endpoint}; it is empty until the env is deployed to it (npm start)\n`);
  try {
    process.stderr.write(`invoking ${fullName} (${functions[0].description}) with ${eventFile ? path.relative(process.cwd(), eventFile) : "{}"}\n\n`);
    const r = await emulator.invoke(fullName, payload);
    process.stdout.write(`--- logs\n${r.logs}\n--- response${r.functionError ? ` (error: ${r.errorType})` : ""}\n`);
    let shown = r.payload.toString();
    try {
      shown = JSON.stringify(JSON.parse(shown), null, 2);
    } catch {
      /* not JSON: as returned */
    }
    process.stdout.write(`${shown}\n`);
    for (const m of emulator.posted) process.stdout.write(`--- posted to connection ${m.connectionId}: ${m.data}\n`);
    return r.functionError ? 1 : 0;
  } finally {
    await emulator.stop();
  }
}

if (require.main === module) {
  main()
    .then((code) => (process.exitCode = code))
    .catch((e) => {
      process.stderr.write(`invoke: ${e instanceof ConfigError ? e.message : (e as Error).message}\n`);
      process.exitCode = 2;
    });
}
