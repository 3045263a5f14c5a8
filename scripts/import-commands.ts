import { ENV_NAMES } from "../envs";
import { stackName } from "../modules/stack";
import { functionsOf, readStack, synthAll } from "./synth";

const HELP = `Usage: npm run import-commands -- <env> [--engine terraform|tofu]

Prints, for each function in the env's stack, the exact command that adopts an existing function
into that stack's state. CDKTF addresses carry a hash of the construct path, so they are not guessable:
this reads them from the synthesized stack. Envs: ${ENV_NAMES.join(", ")}.

Prefer the import mode in envs/<env>.ts (an import block: reviewed in the plan, applied with it).`;

function main(argv: string[]): number {
  if (argv.length === 0 || argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`${HELP}\n`);
    return argv.length === 0 ? 2 : 0;
  }
  const env = argv[0];
  if (!(ENV_NAMES as readonly string[]).includes(env)) {
    process.stderr.write(`unknown environment "${env}"; choose one of ${ENV_NAMES.join(", ")}\n`);
    return 2;
  }
  const e = argv.indexOf("--engine");
  const engine = e >= 0 ? argv[e + 1] : "terraform";
  synthAll();
  const dir = `cdktf.out/stacks/${stackName(env)}`;
  const lines: string[] = [];
  const imports = new Map((readStack(env).import ?? []).map((i) => [i.to, i.id]));
  for (const f of functionsOf(env)) {
    if (f.mode === "existing") {
      lines.push(`# ${f.name}: referenced through ${f.address} (existing mode); nothing to import`);
      continue;
    }
    if (f.mode === "import") lines.push(`# ${f.name}: already adopted by an import block in envs/${env}.ts; the command below is the manual equivalent`);
    lines.push(`cd ${dir} && ${engine} init && ${engine} import '${f.address}' ${f.name}`);
  }
  for (const [address, id] of imports) {
    if (!address.startsWith("aws_lambda_function.")) lines.push(`# with it, by import block: ${address} <- ${id}`);
  }
  process.stdout.write(`${lines.join("\n")}\n`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
