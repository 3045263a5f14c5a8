import * as fs from "fs";
import * as path from "path";
import { loadEnv } from "../envs";
import { exitCodesHelp, parseCommandLine, runMain, UsageError } from "../lib/cli";
import { buildIfNeeded, envFlags, functionKey, functionKeys, localRuntime, sampleEvent, sourceFunction } from "../lib/local-runtime";
import { RuntimeEmulator } from "../runtime/emulator";
import { stackName } from "../modules/stack";
import type { StackJson } from "../runtime/functions";
import { readStack, stackDir, synthAll } from "../lib/synth";

const HELP = `Usage: npm run invoke -- <env> <function> [--event FILE]
       npm run invoke -- --source DIR|ZIP [--runtime R] [--handler H] [--bin NAME] [--env K=V ...] [--memory MIB] [--timeout S] [--event FILE]

Runs one function of an env's stack on this machine, exactly as packaged for deployment, and prints
its response and logs; exits 0 when the function succeeded, 1 when it returned an error.

  <function>     its key in the env (orders-api, backend, ws-connect, websocket) or its deployed
                 name (lambdaship-local-orders-api)
  --event FILE   the event (JSON); default lambda-src/events/<key>.json, else the function folder's
                 events/sample.json, else {}
  --source       any function, in no env: a zip (give --runtime, and --handler unless provided.*), a
                 folder with an executable bootstrap, or a function's source folder in any language
                 (built as env functions are, runtime and handler detected unless given, for this
                 machine's architecture, dependencies bundled; a cargo workspace's bin, --bin NAME
                 unless it has one, natively with cargo's dev profile); Lambda's 128 MB and 3 s unless
                 --memory and --timeout say otherwise. Its AWS calls go to the local AWS when one is
                 running (npm run emulator -- start); --env KEY=VALUE (repeatable) sets its
                 variables

What it starts: a synth of that env; the Rust builder when the function's package is missing (the
same command the stack's builder runs at apply); the local AWS emulator (moto), which the function's
AWS SDK calls go to (never a real account); and the runtime emulator, which runs the package's
bootstrap natively or under qemu-aarch64 (arm64), a Python handler through awslambdaric, or a Node.js
handler through lambdaship's Node.js runtime client.
Deployed resources (tables) exist in the emulator once the env is deployed there: npm start does it
for local.
${exitCodesHelp()} A function that returned an error exits 1.`;

async function main(): Promise<number> {
  const { values, positionals, help } = parseCommandLine(
    process.argv.slice(2),
    { event: { type: "string" }, source: { type: "string" }, runtime: { type: "string" }, handler: { type: "string" }, bin: { type: "string" }, env: { type: "string", multiple: true }, memory: { type: "string" }, timeout: { type: "string" } },
    2,
  );
  if (help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (values.source !== undefined) {
    if (positionals.length) throw new UsageError(`--source runs a function outside any env; leave out ${positionals.join(" ")}`);
    return invokeSource(values);
  }
  for (const flag of ["runtime", "handler", "bin", "env", "memory", "timeout"] as const) if (values[flag] !== undefined) throw new UsageError(`--${flag} goes with --source`);
  if (positionals.length !== 2) throw new UsageError("name an env and a function, e.g. npm run invoke -- local backend");
  const opts = { env: positionals[0], fn: positionals[1], event: values.event };
  const env = loadEnv(opts.env);
  synthAll(undefined, env.name);
  const dir = stackDir(env.name);
  const stack = readStack(env.name) as StackJson;
  const resources = Object.values(stack.resource?.aws_lambda_function ?? {});
  const names = resources.map((r) => String(r.function_name));
  const byKey = [...functionKeys(env)].find(([, key]) => key === opts.fn)?.[0];
  const fullName = [byKey, opts.fn, `${env.namePrefix}-${opts.fn}`].find((n) => n !== undefined && names.includes(n));
  if (!fullName) {
    throw new UsageError(
      `${stackName(env.name)} deploys no function ${JSON.stringify(opts.fn)}; it deploys ${names.join(", ") || "none"}` +
        `${names.length ? ` (by key: ${names.map((n) => functionKey(env, n)).sort().join(", ")})` : ""} (functions it only references run elsewhere)`,
    );
  }
  const resource = resources.find((r) => r.function_name === fullName)!;
  buildIfNeeded(stack, dir, resource);

  const eventFile = opts.event ? path.resolve(opts.event) : sampleEvent(env, fullName);
  const { emulator, functions, aws } = await localRuntime(env, { only: fullName });
  if (aws.fresh) process.stderr.write(`note: started the local AWS emulator at ${aws.endpoint}; it is empty until the env is deployed to it (npm start)\n`);
  return invokeOnce(emulator, fullName, functions[0].description, eventFile);
}

/** The event of an invocation: the file's JSON, else {}. */
function readEvent(eventFile: string | undefined): Buffer {
  const payload = eventFile ? fs.readFileSync(eventFile) : Buffer.from("{}");
  try {
    JSON.parse(payload.toString());
  } catch (e) {
    throw new UsageError(`--event ${eventFile} is not JSON: ${(e as Error).message}`);
  }
  return payload;
}

function whole(flag: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${flag} is ${JSON.stringify(text)}; Lambda allows ${min}-${max}`);
  return n;
}

async function invokeSource(values: { source?: string; runtime?: string; handler?: string; bin?: string; env?: string[]; memory?: string; timeout?: string; event?: string }): Promise<number> {
  const spec = await sourceFunction({ source: values.source!, runtime: values.runtime, handler: values.handler, bin: values.bin, environment: envFlags(values.env), memoryMiB: whole("memory", values.memory, 128, 10240), timeoutSeconds: whole("timeout", values.timeout, 1, 900) });
  const emulator = new RuntimeEmulator([spec]);
  return invokeOnce(emulator, spec.name, spec.description, values.event ? path.resolve(values.event) : undefined);
}

async function invokeOnce(emulator: RuntimeEmulator, fullName: string, description: string, eventFile: string | undefined): Promise<number> {
  const payload = readEvent(eventFile);
  try {
    process.stderr.write(`invoking ${fullName} (${description}) with ${eventFile ? path.relative(process.cwd(), eventFile) : "{}"}\n\n`);
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

runMain("npm run invoke", main);
