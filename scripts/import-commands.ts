import * as path from "path";
import { exitCodesHelp, parseCommandLine, runMain, UsageError } from "../lib/cli";
import { ENV_NAMES, loadEnv } from "../envs";
import { stackName } from "../modules/stack";
import { recordedEmulator } from "../lib/local-aws";
import { functionsOf, readStack, synthAll } from "../lib/synth";
import { ensureToolchain, PROJECT_ROOT, Toolchain } from "../lib/toolchain";

const HELP = `Usage: npm run import-commands -- <env> [--engine terraform|tofu]

Prints, for each function the env's stack manages, the commands that adopt an existing function of
that name into the stack's state: the function and its /aws/lambda/<name> log group, with the
engine and CLI config setup chose (--engine names another engine on PATH). They run as printed
from the project root. CDKTF addresses carry a hash of the construct path, so they are not guessable:
this reads them from the synthesized stack (of this env only; for local, aimed at the running local
AWS). Envs: ${ENV_NAMES.join(", ")}.

Prefer the import mode in envs/<env>.ts (an import block: reviewed in the plan, applied with it).

${exitCodesHelp()}`;

const ENGINES = ["terraform", "tofu"] as const;

/** Single-quotes a word for sh. */
function sh(word: string): string {
  return /^[\w./:=@-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals, help } = parseCommandLine(argv, { engine: { type: "string" } }, 1);
  if (help || positionals.length === 0) {
    process.stdout.write(`${HELP}\n`);
    return help ? 0 : 2;
  }
  const envName = positionals[0];
  if (!(ENV_NAMES as readonly string[]).includes(envName)) throw new UsageError(`unknown environment "${envName}"; choose one of ${ENV_NAMES.join(", ")}`);
  const asked = values.engine;
  if (asked !== undefined && !(ENGINES as readonly string[]).includes(asked)) {
    throw new UsageError(`--engine is ${JSON.stringify(asked)}; it is one of ${ENGINES.join(", ")} (leave it out for the one npm run setup chose)`);
  }
  // The engine and CLI config setup chose (found again, or set up, as every command does).
  const t: Toolchain = await ensureToolchain();
  const env = loadEnv(envName);
  // The local env's stack names the running local AWS, as npm start deployed it.
  if (env.emulator && !process.env.LAMBDASHIP_AWS_ENDPOINT) {
    const running = recordedEmulator();
    if (running) process.env.LAMBDASHIP_AWS_ENDPOINT = running.endpoint;
  }
  synthAll(undefined, envName);
  const dir = path.relative(process.cwd(), path.join(PROJECT_ROOT, "cdktf.out", "stacks", stackName(envName))) || ".";
  const engine = asked ?? t.engine.path;
  const envVars = [`TF_CLI_CONFIG_FILE=${sh(t.cliConfigFile)}`, ...(env.emulator ? ["AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test"] : [])].join(" ");
  const stack = readStack(envName);
  const logGroups = new Map(Object.entries(stack.resource?.aws_cloudwatch_log_group ?? {}).map(([id, g]) => [String((g as { name?: string }).name), `aws_cloudwatch_log_group.${id}`]));
  const lines: string[] = [`(cd ${sh(dir)} && ${envVars} ${sh(engine)} init -input=false >/dev/null)`];
  const imports = new Map((stack.import ?? []).map((i) => [i.to, i.id]));
  for (const f of functionsOf(envName)) {
    if (f.mode === "existing") {
      lines.push(`# ${f.name}: referenced through ${f.address} (existing mode); nothing to import`);
      continue;
    }
    if (f.mode === "import") lines.push(`# ${f.name}: already adopted by an import block in envs/${envName}.ts; the commands below are the manual equivalent`);
    const run = (address: string, id: string) => `(cd ${sh(dir)} && ${envVars} ${sh(engine)} import -input=false ${sh(address)} ${sh(id)})`;
    lines.push(run(f.address, f.name));
    const logGroup = logGroups.get(`/aws/lambda/${f.name}`);
    // A function that never ran has no log group: then there is nothing to adopt, and the apply creates it.
    if (logGroup) lines.push(`${run(logGroup, `/aws/lambda/${f.name}`)} || echo "no log group /aws/lambda/${f.name} to adopt: the apply creates it"`);
  }
  for (const [address, id] of imports) {
    if (!address.startsWith("aws_lambda_function.") && !address.startsWith("aws_cloudwatch_log_group.")) lines.push(`# with it, by import block: ${address} <- ${id}`);
  }
  process.stdout.write(`${lines.join("\n")}\n`);
  return 0;
}

runMain("npm run import-commands", () => main(process.argv.slice(2)));
