// npm run emulator -- start|stop: the local AWS (lib/local-aws.ts).
import { exitCodesHelp, parseCommandLine, runMain, UsageError } from "../lib/cli";
import { sharedEmulator, stopSharedEmulator } from "../lib/local-aws";

const HELP = `Usage: npm run emulator -- start|stop

Starts or stops the moto server that \`npm start\` deploys the local env to (on a free loopback port,
recorded in .build/emulator.json; stop checks the recorded process is that server before it signals it).
${exitCodesHelp()}`;

runMain("npm run emulator", async () => {
  const { positionals, help } = parseCommandLine(process.argv.slice(2), {}, 1);
  const cmd = positionals[0];
  if (help || !cmd) {
    process.stdout.write(`${HELP}\n`);
    return help ? 0 : 2;
  }
  if (cmd === "stop") {
    process.stdout.write(stopSharedEmulator() ? "stopped the local AWS emulator\n" : "no local AWS emulator was running\n");
  } else if (cmd === "start") {
    const e = await sharedEmulator();
    process.stdout.write(`local AWS emulator (moto) at ${e.endpoint}, pid ${e.pid}\n`);
  } else {
    throw new UsageError(`unknown command ${JSON.stringify(cmd)}; use start or stop`);
  }
  return 0;
});
