import { spawnSync } from "child_process";
import * as path from "path";
import { ENV_NAMES, loadEnv } from "../envs";
import { EXIT, exitCodesHelp, runMain, UsageError } from "../lib/cli";
import { stackName } from "../modules/stack";
import { ALLOW_IMPORT_CHANGES, PlanJsonDocument, summarize } from "../review/plan-summary";
import { init, plan } from "../lib/engine";
import { stackDir, synthAll } from "../lib/synth";
import { engineEnv, PROJECT_ROOT, readToolchain } from "../lib/toolchain";

const HELP = `Usage: npm run deploy -- <env> [--allow-import-changes] [cdktf deploy flags]
       npm run diff -- <env> [cdktf diff flags]

Wraps \`cdktf deploy\` / \`cdktf diff\` for one env's stack (${ENV_NAMES.map(stackName).join(", ")}), with the
engine and provider mirror that \`npm run setup\` prepared (TERRAFORM_BINARY_NAME, TF_CLI_CONFIG_FILE).
These talk to real AWS with your usual credentials (AWS_PROFILE, AWS_REGION, ...); the env's config is
validated first. Before deploy, a plan of the stack is checked: an import that would change what it
adopts (its code, role, variables or tags) is refused (exit 4) unless --allow-import-changes is
given. For the local emulator use \`npm start\`.
Every other flag goes to cdktf as given (cdktf checks it).
${exitCodesHelp(["ok", "failed", "usage", "refusedImportChange"])} Otherwise cdktf's own exit code.`;

async function main(argv: string[]): Promise<number> {
  const [command, env, ...given] = argv;
  const allowImportChanges = given.includes(ALLOW_IMPORT_CHANGES);
  const rest = given.filter((a) => a !== ALLOW_IMPORT_CHANGES && a !== "--allow-destroy");
  if (env === "--help" || env === "-h" || given.includes("--help") || given.includes("-h")) {
    process.stdout.write(`${HELP}\n`);
    return EXIT.ok;
  }
  if (!env) throw new UsageError(`name the env, e.g. npm run ${command} -- dev`);
  if (!(ENV_NAMES as readonly string[]).includes(env)) throw new UsageError(`unknown environment "${env}"; choose one of ${ENV_NAMES.join(", ")}`);
  // An env file with problems stops here, listed (exit 1), before anything is synthesized.
  loadEnv(env);
  const t = readToolchain();
  if (command === "deploy" && !allowImportChanges) {
    // cdktf deploy applies what it plans: first a plan of our own, refused when an import would
    // change what it adopts.
    synthAll(undefined, env);
    const dir = stackDir(env);
    await init(t, dir, { progress: `[init] ${env}` });
    const p = await plan(t, dir, { progress: `[plan] ${env}` });
    const review = summarize({ env, plan: p.json as PlanJsonDocument, applying: true, allowDestroy: given.includes("--allow-destroy") });
    if (review.exitCode === 4) {
      for (const g of review.adoptedDestroyed) process.stderr.write(`  adopted by an import, its entry gone, destroyed by this plan: ${g.name} (${g.address}); add it to forgotten in envs/${env}.ts to leave it in AWS, or pass --allow-destroy\n`);
      for (const i of review.imports) process.stderr.write(`  import: ${i.message}\n`);
      process.stderr.write(`\nthe plan would change or destroy what an import adopted (above); nothing was deployed. Keep those values in envs/${env}.ts (variables, tags, role), or run npm run deploy -- ${env} ${ALLOW_IMPORT_CHANGES}\n`);
      return EXIT.refusedImportChange;
    }
  }
  const cli = path.join(PROJECT_ROOT, "node_modules", ".bin", "cdktf");
  const r = spawnSync(cli, [command, stackName(env), ...rest], { cwd: PROJECT_ROOT, stdio: "inherit", env: engineEnv(t) });
  return r.status ?? EXIT.failed;
}

runMain(`npm run ${process.argv[2] ?? "deploy"}`, () => main(process.argv.slice(2)));
