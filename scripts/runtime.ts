import { loadEnv } from "../envs";
import { exitCodesHelp, parseCommandLine, runMain, UsageError } from "../lib/cli";
import { stackName } from "../modules/stack";
import { table } from "../build/util";
import { envFlags, sourceFunction } from "../lib/local-runtime";
import { endpointsTable, gatewayLogFile, recordGateway, runningGateway, startGateway } from "../lib/local-gateway";
import { LocalGateway, ServedEndpoint } from "../runtime/gateway";
import { serveEnv } from "../lib/serve-env";
import { freePort } from "../lib/local-aws";
import { FunctionSpec, RuntimeEmulator } from "../runtime/emulator";
import { synthAll } from "../lib/synth";

const HELP = `Usage: npm run runtime -- <env> [--port PORT] [--external KEY] [--detach]
       npm run runtime -- --source DIR|ZIP [--runtime R] [--handler H] [--bin NAME] [--env K=V ...] [--port PORT] [--external]

Serves every function an env's stack deploys, run locally from its real package, until stopped
(Ctrl-C):
  POST /2015-03-31/functions/<name>/invocations   Lambda's Invoke API (point @aws-sdk/client-lambda's
                                                  endpoint here), also RIE's .../function/invocations
                                                  (RequestResponse, Event with Lambda's retries, DryRun;
                                                  LogType Tail; client context; trace header)
  GET  /health, GET /status                       functions; each sandbox's state, memory and CPU;
                                                  active and queued invocations, throttles, durations;
                                                  the last finished invocations (Event ones included)
  POST|GET|DELETE /<stage>/@connections/<id>      where the WebSocket handlers post: to the gateway's
                                                  sockets (410 GoneException for a closed one)
and, for an env, the local gateway in front of them, each API and function URL on its own loopback
port (the same ports as last time where free), printed at start:
  ws://127.0.0.1:<port>/<stage>    the WebSocket API: $connect (may refuse), route selection on
                                   $request.body.action, $default, $disconnect, @connections;
                                   API Gateway's limits (128 KB messages, 10 min idle, 2 h)
  http://127.0.0.1:<port>/         the HTTP API's routes (payload 2.0, CORS, AWS_IAM, JWT) and each
                                   function URL (AWS_IAM: sign with SigV4 as test/test)
Every line a function writes is printed as it comes, prefixed [<function> <request id>]. Functions'
AWS SDK calls go to the local AWS emulator (moto). A function with reserved concurrency runs at most
that many sandboxes, and synchronous invocations past it get Lambda's 429; one without runs up to 10
and further invocations wait (Lambda would scale to the account's limit). A sandbox whose runtime
exited, crashed, timed out or ran out of memory never gets another invocation: the next one starts a
fresh sandbox (a cold start).

  --external KEY   serve that function's Runtime API without starting its process, and print the
                   AWS_LAMBDA_RUNTIME_API and the environment to start it by hand (under a
                   debugger); one sandbox, no init limit, and no timeout (as sam local does when
                   debugging: the runtime is told Lambda's longest deadline, 15 min, and nothing is
                   killed while it sits on a breakpoint). A runtime that exits or reports an init
                   error resets the sandbox: start the process again. With --source, --external
                   takes no KEY.
  --source ...     one function outside any env, taken as npm run invoke -- --source takes it
  --detach         start the env's emulator and gateway in the background (as npm start leaves
                   them), print the URLs and return; its output goes to .build/gateway/<env>.log;
                   npm run emulator -- stop stops it
${exitCodesHelp()}`;

/** Prints how to start an external runtime by hand: its API address, environment and command. */
function printExternal(f: FunctionSpec): void {
  const env = { ...f.runtime.env, AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${f.externalPort}` };
  const quote = (v: string) => (/^[\w@%+=:,./-]*$/.test(v) ? v : `'${v.replace(/'/g, "'\\''")}'`);
  process.stdout.write(
    `\n${f.name}: not started here; its Runtime API waits at 127.0.0.1:${f.externalPort}. Start it by hand (under a debugger), in ${f.runtime.cwd}:\n\n` +
      Object.entries(env).map(([k, v]) => `  export ${k}=${quote(v)}\n`).join("") +
      `  ${[f.runtime.command, ...f.runtime.args].map(quote).join(" ")}\n\n` +
      `Invocations wait until it asks for one (GET /2018-06-01/runtime/invocation/next).\n`,
  );
}

function printEndpoints(endpoints: readonly ServedEndpoint[]): void {
  process.stdout.write(`\nlocal gateway:\n${endpointsTable(endpoints)}\n`);
}

function parsePort(text: string | undefined): number {
  const port = text === undefined ? 0 : Number(text);
  if (!(Number.isInteger(port) && port >= 0 && port < 65536)) throw new UsageError(`--port is ${JSON.stringify(text)}; give a TCP port number`);
  return port;
}

async function main(): Promise<number | void> {
  const argv = process.argv.slice(2);
  // --external takes a KEY with an env, and none with --source.
  const withSource = argv.includes("--source");
  const { values, positionals, help } = parseCommandLine(
    argv,
    {
      port: { type: "string" },
      external: withSource ? { type: "boolean" } : { type: "string" },
      source: { type: "string" },
      runtime: { type: "string" },
      handler: { type: "string" },
      bin: { type: "string" },
      env: { type: "string", multiple: true },
      detach: { type: "boolean" },
      "serve-detached": { type: "boolean" },
    },
    1,
  );
  if (help || (positionals.length === 0 && !withSource)) {
    process.stdout.write(`${HELP}\n`);
    return help ? 0 : 2;
  }
  const port = parsePort(values.port);
  const lineOut = (line: string) => process.stdout.write(`${line}\n`);
  let emulator: RuntimeEmulator;
  let served: FunctionSpec[];
  let heading: string;
  let url: string;
  let gateway: LocalGateway | undefined;
  let endpoints: readonly ServedEndpoint[] = [];
  if (withSource) {
    if (positionals.length) throw new UsageError(`--source runs a function outside any env; leave out ${positionals.join(" ")}`);
    const spec = await sourceFunction({ source: values.source!, runtime: values.runtime, handler: values.handler, bin: values.bin, environment: envFlags(values.env) });
    const external = (values.external as unknown) === true ? { externalPort: await freePort(), maxConcurrency: 1, enforceTimeout: false } : {};
    served = [{ ...spec, ...external }];
    emulator = new RuntimeEmulator(served, { console: lineOut });
    url = await emulator.listen(port);
    heading = `${spec.name} (from ${values.source})`;
  } else {
    if (values.runtime || values.handler || values.bin || values.env) throw new UsageError("--runtime, --handler, --bin and --env go with --source (an env's functions have the env's variables)");
    const env = loadEnv(positionals[0]);
    if (values.detach) {
      if (values.external !== undefined) throw new UsageError("--external runs a process by hand, in the foreground; leave out --detach");
      synthAll(undefined, env.name);
      const rec = await startGateway(env.name, { log: lineOut });
      printEndpoints(rec.endpoints);
      process.stdout.write(`\nruntime emulator of ${stackName(env.name)} at ${rec.runtimeUrl} (pid ${rec.pid}, output in ${gatewayLogFile(env.name)}); npm run emulator -- stop stops it\n`);
      return;
    }
    const detached = values["serve-detached"] === true;
    const running = !detached && runningGateway(env.name);
    if (running) throw new UsageError(`the local gateway of ${env.name} already runs in the background (pid ${running.pid}, ${running.runtimeUrl}); stop it first with npm run emulator -- stop`);
    synthAll(undefined, env.name);
    const external = typeof values.external === "string" ? { key: values.external, port: await freePort() } : undefined;
    const ports = process.env.LAMBDASHIP_GATEWAY_PORTS ? (JSON.parse(process.env.LAMBDASHIP_GATEWAY_PORTS) as Record<string, number>) : {};
    const s = await serveEnv(env, { port, console: lineOut, log: lineOut, external, ports });
    emulator = s.emulator;
    served = s.functions;
    url = s.url;
    gateway = s.gateway;
    endpoints = s.endpoints;
    heading = `${stackName(env.name)} (AWS calls go to ${s.awsEndpoint})`;
    if (detached) recordGateway({ env: env.name, pid: process.pid, runtimeUrl: url, endpoints, startedAt: new Date().toISOString(), log: gatewayLogFile(env.name) });
  }
  process.stdout.write(`${table(["function", "runs", "concurrency", "timeout"], served.map((f) => [f.name, f.externalPort !== undefined ? `external, Runtime API at 127.0.0.1:${f.externalPort}` : f.description.replace(/ \(.*\)$/, ""), String(f.maxConcurrency), f.enforceTimeout === false ? "none (debugging)" : `${f.timeoutSeconds} s`]))}\n`);
  for (const f of served.filter((x) => x.externalPort !== undefined)) printExternal(f);
  if (endpoints.length) printEndpoints(endpoints);
  process.stdout.write(`\n${heading}: runtime emulator at ${url}; Ctrl-C stops it\n`);
  const stop = () => void (gateway?.stop() ?? Promise.resolve()).then(() => emulator.stop()).then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

runMain("npm run runtime", main);
