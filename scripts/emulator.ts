// npm run emulator -- start|stop: the local AWS (lib/local-aws.ts).
import { exitCodesHelp, parseCommandLine, runMain, UsageError } from "../lib/cli";
import { sharedEmulator, stopSharedEmulator } from "../lib/local-aws";
import { runningGateways, stopGateway } from "../lib/local-gateway";

const HELP = `Usage: npm run emulator -- start|stop

Starts or stops the moto server that \`npm start\` deploys the local env to (on a free loopback port,
recorded in .build/local-aws/emulator.json; stop checks the recorded process is that server before it
signals it). stop also stops the runtime emulator and local gateway npm start (or npm run runtime --
<env> --detach) left running (.build/gateway/<env>.json).
${exitCodesHelp()}`;

runMain("npm run emulator", async () => {
  const { positionals, help } = parseCommandLine(process.argv.slice(2), {}, 1);
  const cmd = positionals[0];
  if (help || !cmd) {
    process.stdout.write(`${HELP}\n`);
    return help ? 0 : 2;
  }
  if (cmd === "stop") {
    for (const g of runningGateways()) {
      await stopGateway(g.env);
      process.stdout.write(`stopped the local gateway of ${g.env} (pid ${g.pid})\n`);
    }
    process.stdout.write(stopSharedEmulator() ? "stopped the local AWS emulator\n" : "no local AWS emulator was running\n");
  } else if (cmd === "start") {
    const e = await sharedEmulator();
    process.stdout.write(`local AWS emulator (moto) at ${e.endpoint}, pid ${e.pid}\n`);
  } else {
    throw new UsageError(`unknown command ${JSON.stringify(cmd)}; use start or stop`);
  }
  return 0;
});
