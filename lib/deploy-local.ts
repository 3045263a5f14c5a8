import * as fs from "fs";
import * as path from "path";
import { loadEnv } from "../envs";
import { stackName } from "../modules/stack";
import { ALLOW_IMPORT_CHANGES, PlanJsonDocument, summarize } from "../review/plan-summary";
import { apply, init, plan, PLAN_FILE } from "./engine";
import { sharedEmulator } from "./local-aws";
import { ensureFunctionDependencies } from "./functions-setup";
import { ensurePythonEnv } from "./python-env";
import { ensureRustToolchain } from "./rust-setup";
import { checkStateFile, functionsOnEmulator, localStateFile, protectStateFiles } from "./state-guard";
import { stackDir, synthAll } from "./synth";
import { ensureToolchain, log } from "./toolchain";

/**
 * Steps 1-4 of `npm start` for an env that deploys to the local AWS: setup, the local AWS emulator,
 * synth, plan and apply (refusing an import that would change what it adopts, or a destroy of an
 * adopted function, unless allowed). `npm run dev` deploys through this too. `step` announces each.
 */
export async function deployLocal(
  envName: string,
  flags: { allowImportChanges?: boolean; allowDestroy?: boolean; step?: (n: number, text: string) => void; skipSetup?: boolean } = {},
) {
  const env = loadEnv(envName);
  const step = flags.step ?? (() => undefined);
  const rerun = envName === "local" ? "npm start --" : `npm run dev -- ${envName}`;
  step(1, "setup");
  const t = await ensureToolchain();
  if (!flags.skipSetup) {
    ensurePythonEnv();
    ensureFunctionDependencies();
    try {
      ensureRustToolchain();
    } catch (e) {
      // Without it the Rust functions are built and deployed as x86_64, with a warning at synth.
      log(`warning: ${(e as Error).message}`);
    }
  }

  step(2, "local AWS emulator");
  const emu = await sharedEmulator();
  const stateFile = localStateFile(envName);
  if (emu.fresh && fs.existsSync(stateFile)) {
    // The emulator keeps everything in memory: a new one is empty, so old state describes nothing.
    fs.renameSync(stateFile, `${stateFile}.stale-${Date.now()}`);
    log(`moved aside ${path.basename(stateFile)}: it described an emulator that is no longer running`);
  }
  process.stdout.write(`moto server at ${emu.endpoint} (pid ${emu.pid}, ${emu.fresh ? "started" : "already running"})\n`);

  step(3, "synth");
  process.env.LAMBDASHIP_AWS_ENDPOINT = emu.endpoint;
  synthAll(undefined, envName);
  const cwd = stackDir(envName);
  process.stdout.write(`synthesized ${stackName(envName)} into cdktf.out/stacks\n`);

  step(4, `plan and apply ${stackName(envName)} with ${t.engine.kind} ${t.engine.version}`);
  checkStateFile(stateFile, await functionsOnEmulator(emu.endpoint, env.namePrefix, env.region));
  await init(t, cwd, { progress: `[init] ${stackName(envName)}` });
  const p = await plan(t, cwd, { keep: true, progress: `[plan] ${stackName(envName)}` });
  if (p.exitCode === 0) {
    process.stdout.write("No changes: the emulator matches the configuration.\n");
  } else {
    process.stdout.write(`plan: ${p.add} to add, ${p.change} to change, ${p.destroy} to destroy, ${p.import} to import\n`);
    // This applies with no review: an import that would change what it adopts is refused.
    const review = summarize({ env: envName, plan: p.json as PlanJsonDocument, applying: true, allowImportChanges: flags.allowImportChanges === true, allowDestroy: flags.allowDestroy === true });
    if (review.exitCode === 4) {
      if (review.adoptedDestroyed.length) {
        for (const g of review.adoptedDestroyed) process.stdout.write(`  adopted by an import, its entry gone, destroyed by this plan: ${g.name} (${g.address})\n`);
        throw new Error(`the plan destroys what an import adopted (above); nothing was applied. To forget it instead, add to envs/${envName}.ts: forgotten: [${review.adoptedDestroyed.map((g) => JSON.stringify(g.address)).join(", ")}]; to destroy it, run ${rerun} --allow-destroy`);
      }
      for (const i of review.imports) process.stdout.write(`  import: ${i.message}\n`);
      throw new Error(`an import would change what it adopts (above); nothing was applied. Keep those values in envs/${envName}.ts (variables, tags, role), or run ${rerun} ${ALLOW_IMPORT_CHANGES}`);
    }
    const a = await apply(t, cwd, { planFile: PLAN_FILE, progress: `[apply] ${stackName(envName)}` });
    process.stdout.write(`applied: ${a.added} added, ${a.changed} changed, ${a.destroyed} destroyed, ${a.imported} imported\n`);
  }
  protectStateFiles(stateFile);

  return { t, cwd, emu, applied: p.exitCode !== 0 };
}
