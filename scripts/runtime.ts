import { loadEnv } from "../envs";
import { exitCodesHelp, parseCommandLine, runMain, UsageError } from "../lib/cli";
import { stackName } from "../modules/stack";
import type { StackJson } from "../runtime/functions";
import { table } from "../build/util";
import { buildIfNeeded, localRuntime } from "../lib/local-runtime";
import { readStack, stackDir, synthAll } from "../lib/synth";

const HELP = `Usage: npm run runtime -- <env> [--port PORT]

Serves every function an env's stack deploys, run locally from its real package, until stopped
(Ctrl-C):
  POST /2015-03-31/functions/<name>/invocations   Lambda's Invoke API (point @aws-sdk/client-lambda's
                                                  endpoint here), also RIE's .../function/invocations
                                                  (RequestResponse, Event with Lambda's retries, DryRun;
                                                  LogType Tail; client context; trace header)
  GET  /health, GET /status                       functions; each sandbox's state, memory and CPU;
                                                  active and queued invocations, throttles, durations;
                                                  the last finished invocations (Event ones included)
  POST|GET|DELETE /<stage>/@connections/<id>      where the WebSocket handlers post (recorded, bounded)
Every line a function writes is printed as it comes, prefixed [<function> <request id>]. Functions'
AWS SDK calls go to the local AWS emulator (moto). A function with reserved concurrency runs at most
that many sandboxes, and synchronous invocations past it get Lambda's 429; one without runs up to 10
and further invocations wait (Lambda would scale to the account's limit). A sandbox whose runtime
exited, crashed, timed out or ran out of memory never gets another invocation: the next one starts a
fresh sandbox (a cold start).
${exitCodesHelp()}`;

async function main(): Promise<number | void> {
  const { values, positionals, help } = parseCommandLine(process.argv.slice(2), { port: { type: "string" } }, 1);
  if (help || positionals.length === 0) {
    process.stdout.write(`${HELP}\n`);
    return help ? 0 : 2;
  }
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!(Number.isInteger(port) && port >= 0 && port < 65536)) throw new UsageError(`--port is ${JSON.stringify(values.port)}; give a TCP port number`);
  const env = loadEnv(positionals[0]);
  synthAll(undefined, env.name);
  const dir = stackDir(env.name);
  const stack = readStack(env.name) as StackJson;
  for (const r of Object.values(stack.resource?.aws_lambda_function ?? {})) buildIfNeeded(stack, dir, r);
  const { emulator, url, functions, aws } = await localRuntime(env, { port, console: (line) => process.stdout.write(`${line}\n`) });
  process.stdout.write(`${table(["function", "runs", "concurrency", "timeout"], functions.map((f) => [f.name, f.description.replace(/ \(.*\)$/, ""), String(f.maxConcurrency), `${f.timeoutSeconds} s`]))}\n\n`);
  process.stdout.write(`${stackName(env.name)}: runtime emulator at ${url} (AWS calls go to ${aws.endpoint}); Ctrl-C stops it\n`);
  const stop = () => void emulator.stop().then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

runMain("npm run runtime", main);
