import { envFile, loadEnv } from "../envs";
import { exitCodesHelp, parseCommandLine, runMain, UsageError } from "../lib/cli";
import { deployLocal } from "../lib/deploy-local";
import { DevLoop, devTargets } from "../lib/dev";
import { endpointsTable, gatewayRecordFile, readPorts, recordGateway, runningGateway, startGateway, stopGateway } from "../lib/local-gateway";
import { localState } from "../lib/local-runtime";
import { serveEnv } from "../lib/serve-env";
import { readStack } from "../lib/synth";
import { PROJECT_ROOT } from "../lib/toolchain";
import { stackName } from "../modules/stack";
import { functionsFromStack, StackJson } from "../runtime/functions";
import { withLocalRelay } from "../runtime/gateway";
import * as fs from "fs";

const HELP = `Usage: npm run dev -- <env> [key ...] [--deploy] [--port PORT]

The inner loop on an env that deploys to the local AWS (local): an edit to a function's source is
answered by its next invocation, without a deploy.
  1. deploys the env to the local AWS once, as npm start does (setup, local AWS, synth, plan, apply)
  2. serves the env in this process: the runtime emulator and the local gateway (its WebSocket API,
     HTTP routes and function URLs, on the ports npm start's gateway had; that background gateway is
     stopped meanwhile and started again when npm run dev stops), every function's output printed
  3. builds each chosen function (every function the env builds, unless keys are given) with a dev
     build and serves it instead of the deployed package: Python and JavaScript run their checked
     source files (no build), TypeScript through esbuild's incremental rebuild, Go with go build,
     Rust with cargo's dev profile (no LTO), all for this machine's architecture, Java with javac of
     the changed sources only; where that differs from what is deployed, it says so once
  4. watches each function's inputs (the files its input hash covers) and, on a change, rebuilds only
     that function and swaps it in: a line says what changed, how long the build took and whether it
     built. A build error is shown and the previous build keeps serving. Dev builds go to
     .build/dev/<key>/ and never into the release artifact store.

  --deploy     also apply each edit to the local AWS (the release build, plan and apply, as npm
               start does); once applied, the deployed package serves that function again
  --port PORT  the runtime emulator's Invoke API port (default: a free one)

Invoke through the gateway's URLs, or: npm run invoke -- <env> <key> still runs the deployed package.
Ctrl-C stops the watching, the gateway and the emulator, and starts the background gateway again
when one ran; npm run emulator -- stop stops npm run dev too (and the local AWS, as always).
${exitCodesHelp()}`;

async function main(): Promise<number | void> {
  const { values, positionals, help } = parseCommandLine(process.argv.slice(2), { deploy: { type: "boolean" }, port: { type: "string" } });
  if (help || positionals.length === 0) {
    process.stdout.write(`${HELP}\n`);
    return help ? 0 : 2;
  }
  const [envName, ...keys] = positionals;
  const env = loadEnv(envName);
  if (!env.emulator) throw new UsageError(`${envName} deploys to AWS (${envFile(envName)} has no emulator): npm run dev works on an env of the local AWS, such as local; npm run live -- ${envName} serves an AWS env's functions from here`);
  const targets = devTargets(env, keys);
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port is ${JSON.stringify(values.port)}; give a TCP port number`);
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const dev = (line: string) => out(`[dev] ${line}`);

  await deployLocal(envName, { step: (n, text) => out(`\n[${n}/6] ${text}`) });

  out(`\n[5/6] serve ${stackName(envName)}: the runtime emulator and the local gateway`);
  const background = runningGateway(envName);
  if (background) {
    await stopGateway(envName);
    out(`stopped the background gateway of ${envName} (pid ${background.pid}) while npm run dev serves; it starts again when npm run dev stops`);
  }
  const served = await serveEnv(env, { port, console: out, log: out, ports: readPorts(envName) });
  recordGateway({ env: envName, pid: process.pid, runtimeUrl: served.url, endpoints: served.endpoints, startedAt: new Date().toISOString(), log: "(npm run dev's output)" });
  out(`${endpointsTable(served.endpoints)}\nruntime emulator at ${served.url}`);

  out(`\n[6/6] dev builds of ${targets.map((t) => t.key).join(", ")}, watched`);
  let deploying: Promise<void> | undefined;
  let deployAgain = false;
  const deploy = async (): Promise<void> => {
    do {
      deployAgain = false;
      const started = Date.now();
      dev(`--deploy: applying the edits to the local AWS (release build, plan, apply)`);
      const since = loop.buildCounts();
      try {
        await deployLocal(envName, { skipSetup: true, step: (n, text) => (n >= 3 ? dev(`  ${text}`) : undefined) });
        const stack = readStack(envName) as StackJson;
        const { functions } = functionsFromStack(stack, { ...served.resolve, state: localState(envName) });
        // An edit made while this deploy ran is newer than what it applied: its dev build keeps serving.
        for (const f of withLocalRelay(functions, served.gatewaySpec, served.endpoints)) await loop.serveDeployed(f, since);
        dev(`--deploy: applied in ${((Date.now() - started) / 1000).toFixed(1)} s${deployAgain ? "; another edit came meanwhile, deploying again" : "; the deployed packages serve"}`);
      } catch (e) {
        dev(`--deploy: the deploy failed; the dev builds keep serving:\n    ${(e as Error).message.split("\n").join("\n    ")}`);
      }
    } while (deployAgain);
  };
  const loop = new DevLoop(served, targets, {
    projectRoot: PROJECT_ROOT,
    log: dev,
    onBuilt: values.deploy
      ? () => {
          if (deploying) {
            deployAgain = true;
            return;
          }
          deploying = deploy().finally(() => (deploying = undefined));
        }
      : undefined,
  });
  await loop.start();
  dev(`watching ${targets.length} function${targets.length === 1 ? "" : "s"}; edit a source file and invoke. Ctrl-C stops.`);

  await new Promise<void>((resolve) => {
    let stopping = false;
    // Ctrl-C (SIGINT) gives the background gateway back; SIGTERM is npm run emulator -- stop, which stops it all.
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      out("\nstopping npm run dev ...");
      void (async () => {
        await loop.stop();
        if (deploying) out("waiting for the deploy in progress to finish (an apply is not cut short) ...");
        await deploying;
        await served.gateway.stop();
        await served.emulator.stop();
        // Our record goes; the background gateway comes back when it ran before.
        const rec = runningGateway(envName);
        if (rec?.pid === process.pid) fs.rmSync(gatewayRecordFile(envName), { force: true });
        if (background && signal === "SIGINT") {
          const again = await startGateway(envName, { log: out });
          // It synthesizes and builds what the sources are now: an edit that was never deployed runs there too.
          out(`the background gateway of ${envName} serves again (pid ${again.pid}), with packages of the sources as they are now (npm start deploys an edit)`);
        }
        out("npm run dev stopped");
        resolve();
      })();
    };
    process.on("SIGINT", () => stop("SIGINT"));
    process.on("SIGTERM", () => stop("SIGTERM"));
  });
}

runMain("npm run dev", main);
