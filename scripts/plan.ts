import * as fs from "fs";
import * as path from "path";
import { exitCodesHelp, parseCommandLine, runMain, UsageError } from "../lib/cli";
import { loadEnv } from "../envs";
import { formatBytes } from "../build/util";
import { stackName } from "../modules/stack";
import { ALLOW_IMPORT_CHANGES, PlanJsonDocument, StackDocument, summarize } from "../review/plan-summary";
import { apply, init, plan, PLAN_FILE } from "../lib/engine";
import { sharedEmulator } from "../lib/local-aws";
import { checkStateFile, functionsOnEmulator, localStateFile, protectStateFiles, writePrivate } from "../lib/state-guard";
import { readStack, runBuilder, stackDir, synthAll } from "../lib/synth";
import { ensureToolchain, PROJECT_ROOT } from "../lib/toolchain";

const HELP = `Usage: npm run plan -- <env> [--allow-destroy] [--out DIR] [--apply [--allow-import-changes]]

Plans one env's stack for review:
  1. synth of every env (a config error stops here);
  2. the stack's builders (Rust functions, layers), so that package sizes are real; each skips what
     is already built;
  3. the engine's plan of lambdaship-<env>, saved as plan-<env>.tfplan with its JSON (plan-<env>.json);
  4. plan-<env>.md: counts (add, change, destroy, replace, import), a table per changed function
     (code hash old -> new, architecture, package size, memory, timeout, names of the environment
     variables that change, never their values), and warnings: a function, table, log group, bucket
     or API destroyed or replaced; an architecture change; a new wildcard in a policy; a function URL
     with auth NONE; deletion protection or point-in-time recovery turned off; and for each import,
     what its first apply changes on what it adopts (the function's code, old and new hash; its
     variables and tags removed, by name; its role; the log group's retention).

The local env plans against the local AWS emulator (started if needed); the others against AWS with
the credentials in the environment. An env with review.blockStatefulChanges (prod) exits 3 when a
table, bucket, log group or API would be destroyed or replaced, unless --allow-destroy is given.

  --allow-destroy   accept the destruction or replacement of stateful resources in a protected env,
                    and (with --apply) the destruction of an adopted function whose entry was
                    removed (to leave it in AWS instead, add its address to the env's forgotten)
  --out DIR         where plan-<env>.* are written (default: the project root)
  --apply           then apply exactly this plan (what was summarised is what changes); not when
                    the plan was refused, nor (exit 4) when an import would remove variables or
                    tags, or change the role or the code of what it adopts
  --allow-import-changes  with --apply: apply such an import anyway

${exitCodesHelp(["ok", "failed", "usage", "refusedDestroy", "refusedImportChange"])}`;

function parseArgs(argv: string[]): { env: string; allowDestroy: boolean; out: string; apply: boolean; allowImportChanges: boolean } | "help" {
  const { values, positionals, help } = parseCommandLine(
    argv,
    { "allow-destroy": { type: "boolean" }, apply: { type: "boolean" }, "allow-import-changes": { type: "boolean" }, out: { type: "string" } },
    2,
  );
  if (help) return "help";
  if (positionals.length > 1) throw new UsageError(`one env at a time; got ${positionals.join(" and ")}`);
  const env = positionals[0];
  if (!env) throw new UsageError("name the env to plan, e.g. npm run plan -- local");
  const apply = values.apply === true;
  const allowImportChanges = values["allow-import-changes"] === true;
  if (allowImportChanges && !apply) throw new UsageError(`${ALLOW_IMPORT_CHANGES} goes with --apply`);
  return { env, allowDestroy: values["allow-destroy"] === true, out: values.out ? path.resolve(values.out) : PROJECT_ROOT, apply, allowImportChanges };
}

/** Runs every builder of the stack (each skips what is built), so that package sizes are real. */
function runBuilders(stack: StackDocument, dir: string): void {
  for (const id of Object.keys(stack.resource?.terraform_data ?? {})) runBuilder(stack as never, dir, id, true);
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (args === "help") {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const env = loadEnv(args.env);
  const t = await ensureToolchain();
  if (env.emulator && !process.env.LAMBDASHIP_AWS_ENDPOINT) process.env.LAMBDASHIP_AWS_ENDPOINT = (await sharedEmulator()).endpoint;
  synthAll(undefined, env.name);
  const dir = stackDir(env.name);
  const stack = readStack(env.name) as StackDocument;
  runBuilders(stack, dir);
  // A previous plan's files go first: a plan that fails leaves none behind to be mistaken for it.
  fs.mkdirSync(args.out, { recursive: true });
  const base = path.join(args.out, `plan-${env.name}`);
  for (const ext of [".tfplan", ".json", ".md"]) fs.rmSync(`${base}${ext}`, { force: true });
  const stateFile = env.stateBackend ? undefined : localStateFile(env.name);
  if (stateFile) checkStateFile(stateFile, env.emulator && process.env.LAMBDASHIP_AWS_ENDPOINT ? await functionsOnEmulator(process.env.LAMBDASHIP_AWS_ENDPOINT, env.namePrefix, env.region) : []);
  await init(t, dir, { progress: `[init] ${stackName(env.name)}` });
  const planned = await plan(t, dir, { keep: true, progress: `[plan] ${stackName(env.name)}` });
  // The plan and its JSON hold variable values in clear: readable by their owner only.
  writePrivate(`${base}.tfplan`, fs.readFileSync(path.join(dir, PLAN_FILE)));
  fs.chmodSync(path.join(dir, PLAN_FILE), 0o600);
  writePrivate(`${base}.json`, JSON.stringify(planned.json));
  const summary = summarize({
    env: env.name,
    plan: planned.json as PlanJsonDocument,
    stack,
    packageSize: (filename) => formatBytes(fs.statSync(path.resolve(dir, filename), { throwIfNoEntry: false })?.size),
    protectedEnv: env.review.blockStatefulChanges,
    allowDestroy: args.allowDestroy,
    applying: args.apply,
    allowImportChanges: args.allowImportChanges,
  });
  writePrivate(`${base}.md`, `${summary.markdown}\n`);
  process.stdout.write(`${summary.markdown}\n`);
  process.stderr.write(`\n${stackName(env.name)}: plan ${planned.exitCode === 0 ? "has no changes" : "has changes"}; wrote ${path.relative(process.cwd(), base) || base}.md, .json and .tfplan\n`);
  if (summary.exitCode !== 0) return summary.exitCode;
  if (args.apply && planned.exitCode === 2) {
    process.stderr.write(`applying the plan above to ${stackName(env.name)}\n`);
    const a = await apply(t, dir, { planFile: PLAN_FILE, progress: `[apply] ${stackName(env.name)}` });
    if (stateFile) protectStateFiles(stateFile);
    process.stderr.write(`applied: ${a.added} added, ${a.changed} changed, ${a.destroyed} destroyed, ${a.imported} imported\n`);
  }
  return 0;
}

runMain("npm run plan", main, { exit: true });
