import { loadEnv } from "../envs";
import { exitCodesHelp, parseCommandLine, runMain, UsageError } from "../lib/cli";
import { AwsTarget, LOCAL_AWS_CREDENTIALS, userCredentials } from "../lib/aws-client";
import { deployedConfiguration, findRelay, liveSession, LiveTarget, liveTargets, LocalHandlers, roleCredentials } from "../lib/live";
import { recordedEmulator } from "../lib/local-aws";
import { runningGateway, startGateway } from "../lib/local-gateway";

const HELP = `Usage: npm run live -- <env> [function ...] [--relay URL]

Serves the env's deployed functions from this machine: while it runs, each invocation of a chosen
function (by key; all that can be served live by default) is handed by the function's runtime-proxy
extension, through the env's live relay, to this session, which runs the function's handler here
from its sources and sends the answer back. An edit is live at the next invocation: the sources
are checked before each one and rebuilt when they changed (a Rust bin natively with cargo's dev
profile; other languages as npm run invoke -- --source builds them). A build that fails answers
with the error, or keeps the previous build serving.

Each function runs with its deployed variables (read from Lambda: lambda:GetFunctionConfiguration)
and the credentials of its role when yours can assume it (sts:AssumeRole; renewed before they run
out), else with yours, as the line at start says.

Nothing is deployed or changed in the env: with no session listening, the extension hands each
invocation to the deployed code at once. Ctrl-C says bye; from the next invocation on, the
deployed code answers again.

A function can be served live when the env allows it (live: { enabled: true }; prod does not) and
it is created by the env with a Runtime API proxy layer (an extension layer with proxyPort): every
function but the WebSocket handlers (the relay runs on them) when live.layer names that layer, as
in dev and local, else those listing it in their layers; an entry with live: false never is.
The relay takes only SigV4-signed connections, signed with your credentials:
  local        the local AWS's (npm start first); the relay is the local gateway's
  on AWS       AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), or the keys of
               AWS_PROFILE in ~/.aws/credentials; the relay is the API <namePrefix>-live, found
               through API Gateway (apigateway:GET), or --relay

Options:
  --relay URL  the relay's ws:// or wss:// URL (the stack's live_relay output), instead of finding it
${exitCodesHelp()}`;

async function main(): Promise<number | void> {
  const { values, positionals, help } = parseCommandLine(process.argv.slice(2), { relay: { type: "string" } });
  if (help || positionals.length === 0) {
    process.stdout.write(`${HELP}\n`);
    return help ? 0 : 2;
  }
  const env = loadEnv(positionals[0]);
  const targets = liveTargets(env, positionals.slice(1));
  if (values.relay !== undefined && !/^wss?:\/\/[^/]+/.test(values.relay)) throw new UsageError(`--relay is ${JSON.stringify(values.relay)}, not a ws:// or wss:// URL: give the stack's live_relay output (terraform output live_relay)`);
  const out = (line: string) => process.stdout.write(`${line}\n`);
  // Where the env's AWS is: the local AWS (moto, which npm start leaves running) or AWS itself.
  let aws: AwsTarget;
  let relayUrl: string;
  if (env.emulator) {
    // The endpoint the env's stack was deployed to, found as the stack finds it.
    const endpoint = env.emulator.endpoint ?? process.env.LAMBDASHIP_AWS_ENDPOINT ?? recordedEmulator()?.endpoint;
    if (!endpoint) throw new UsageError(`the local AWS is not running: deploy ${env.name} first (npm start), then npm run live -- ${env.name}`);
    aws = { region: env.region, credentials: LOCAL_AWS_CREDENTIALS, endpoint };
    if (values.relay) relayUrl = values.relay;
    else {
      const gw = runningGateway(env.name) ?? (out(`starting the local gateway of ${env.name} in the background (npm run emulator -- stop stops it)`), await startGateway(env.name, { log: out }));
      const relay = gw.endpoints.find((e) => e.kind === "websocket" && e.name === `${env.namePrefix}-live`);
      if (!relay) throw new UsageError(`the local gateway serves no ${env.namePrefix}-live relay: deploy the env with its relay first (npm start)`);
      relayUrl = relay.url;
    }
  } else {
    aws = { region: env.region, credentials: userCredentials() };
    relayUrl = values.relay ?? (await findRelay(env.namePrefix, aws, env.name));
  }
  out(`${env.name}: AWS calls as ${aws.credentials.source}${aws.endpoint ? ` at ${aws.endpoint}` : ` in ${env.region}`}; relay ${relayUrl}`);
  // Each function as deployed: its variables and its role, from Lambda itself.
  const deployed = new Map<string, { variables: Record<string, string>; role?: string }>();
  for (const t of targets) {
    try {
      deployed.set(t.functionName, await deployedConfiguration(t.functionName, aws));
    } catch (e) {
      throw new UsageError(`${t.key}: cannot read ${t.functionName}'s deployed configuration: ${(e as Error).message}; deploy ${env.name} first${env.emulator ? " (npm start)" : ` (cdktf deploy ${env.name})`}, and let your credentials call lambda:GetFunctionConfiguration`);
    }
  }
  const credentials = (t: LiveTarget) => roleCredentials(t, deployed.get(t.functionName)?.role, aws, out);
  const handlers = new LocalHandlers(targets, {
    region: env.region,
    variables: new Map(targets.map((t) => [t.functionName, deployed.get(t.functionName)!.variables])),
    credentials,
    awsEndpoint: aws.endpoint ?? null,
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
  const session = liveSession(relayUrl, targets, handlers, { ...aws.credentials, region: env.region }, out);
  await session.start();
  out(`\nlive: ${targets.map((t) => `${t.key} (${t.functionName})`).join(", ")} served from this machine through ${relayUrl} (session ${session.id})`);
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
