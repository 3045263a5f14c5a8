import { loadEnv } from "../envs";
import { exitCodesHelp, parseCommandLine, runMain, UsageError } from "../lib/cli";
import { deployedVariables, liveSession, liveTargets, LocalHandlers } from "../lib/live";
import { runningGateway, startGateway } from "../lib/local-gateway";
import { localState } from "../lib/local-runtime";
import { readStack, synthAll } from "../lib/synth";
import type { StackJson } from "../runtime/functions";

const HELP = `Usage: npm run live -- <env> [function ...]

Serves the env's deployed functions from this machine: while it runs, each invocation of a chosen
function (by key; all that can be served live by default) is handed by the function's runtime-proxy
extension, through the env's live relay, to this session, which runs the function's handler here
from its sources, with the deployed function's variables, and sends the answer back. An edit is
live at the next invocation: the sources are checked before each one and rebuilt when they changed
(a Rust bin natively with cargo's dev profile; other languages as npm run invoke -- --source
builds them). A build that fails answers with the error, or keeps the previous build serving.

Nothing is deployed or changed in the env: with no session listening, the extension hands each
invocation to the deployed code at once. Ctrl-C says bye; from the next invocation on, the
deployed code answers again.

A function can be served live when the env allows it (live: { enabled: true }; prod does not) and
it is created by the env with a Runtime API proxy layer (an extension layer with proxyPort).
The relay takes only SigV4-signed connections; locally, with the local AWS's credentials.
Only the local env for now: the extension reaches the relay over ws://, which the local gateway
serves (API Gateway's wss:// needs TLS, which the extension does not speak yet).
${exitCodesHelp()}`;

async function main(): Promise<number | void> {
  const { positionals, help } = parseCommandLine(process.argv.slice(2), {});
  if (help || positionals.length === 0) {
    process.stdout.write(`${HELP}\n`);
    return help ? 0 : 2;
  }
  const env = loadEnv(positionals[0]);
  const targets = liveTargets(env, positionals.slice(1));
  if (!env.emulator) throw new UsageError(`npm run live serves the local env only for now (the extension speaks ws://, which only the local gateway serves); ${env.name} is on AWS`);
  const out = (line: string) => process.stdout.write(`${line}\n`);
  synthAll(undefined, env.name);
  const stack = readStack(env.name) as StackJson;
  const state = env.stateBackend ? undefined : localState(env.name);
  const gw = runningGateway(env.name) ?? (out(`starting the local gateway of ${env.name} in the background (npm run emulator -- stop stops it)`), await startGateway(env.name, { log: out }));
  const relay = gw.endpoints.find((e) => e.kind === "websocket" && e.name === `${env.namePrefix}-live`);
  if (!relay) throw new UsageError(`the local gateway serves no ${env.namePrefix}-live relay: deploy the env with its relay first (npm start)`);
  const handlers = new LocalHandlers(targets, {
    region: env.region,
    variables: new Map(targets.map((t) => [t.functionName, deployedVariables(stack, t.functionName, state)])),
    log: out,
    console: out,
  });
  for (const t of targets) {
    try {
      await handlers.ensureBuilt(t.functionName);
    } catch (e) {
      out(`${t.key}: the build failed; the next invocation tries again:\n${(e as Error).message}`);
    }
  }
  const session = liveSession(relay.url, targets, handlers, { accessKeyId: "test", secretAccessKey: "test", region: env.region }, out);
  await session.start();
  out(`\nlive: ${targets.map((t) => `${t.key} (${t.functionName})`).join(", ")} served from this machine through ${relay.url} (session ${session.id})`);
  out("each invocation of these functions runs here, with your edits; Ctrl-C hands them back to their deployed code");
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void session
      .stop()
      .then(() => handlers.stop())
      .then(() => {
        const one = targets.length === 1;
        out(`live mode off: ${targets.map((t) => t.key).join(", ")} ${one ? "answers from its" : "answer from their"} deployed code again`);
        process.exit(0);
      });
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  await new Promise(() => {});
}

runMain("npm run live", main);
