import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { heartbeat } from "../build/progress";
import { engineEnv, Toolchain } from "./toolchain";

/** Runs the Terraform engine (terraform or tofu, per setup) in a synthesized stack's folder. */

export interface EngineResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface EngineOptions {
  readonly env?: NodeJS.ProcessEnv;
  /**
   * Show progress on stderr under this label (`[apply] lambdaship-local`): every 15 s the elapsed
   * time, how many resources are done, and the engine's last line (a builder's cargo line, say);
   * and at the end what it took. @default - silent (the output is returned)
   */
  readonly progress?: string;
}

/** What a line of apply output says is finished: a resource created, changed, imported or destroyed. */
const FINISHED = /: (Creation|Modifications|Destruction|Import) complete/;

export function runEngine(t: Toolchain, cwd: string, args: string[], options: EngineOptions = {}): Promise<EngineResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(t.engine.path, args, { cwd, env: engineEnv(t, options.env), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let done = 0;
    let last = "";
    const beat = options.progress
      ? heartbeat(options.progress, { detail: () => [done > 0 ? `${done} resources done` : undefined, last ? `last: ${last.slice(0, 120)}` : undefined].filter(Boolean).join(", ") })
      : undefined;
    child.stdout.on("data", (d: Buffer) => {
      stdout += d;
      if (!beat) return;
      for (const line of d.toString("utf8").split("\n")) {
        const l = line.trim();
        if (!l) continue;
        if (FINISHED.test(l)) done++;
        last = l;
      }
    });
    child.stderr.on("data", (d: Buffer) => (stderr += d));
    child.on("error", (e) => {
      beat?.stop("failed");
      reject(e);
    });
    child.on("close", (code) => {
      beat?.stop(code === 0 || (code === 2 && args[0] === "plan") ? "done" : `failed (exit ${code})`);
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}

/** Like runEngine, but throws with the engine's own output when the exit code is not one of `ok`. */
export async function engine(t: Toolchain, cwd: string, args: string[], options: EngineOptions & { ok?: number[] } = {}): Promise<EngineResult> {
  const r = await runEngine(t, cwd, args, options);
  if (!(options.ok ?? [0]).includes(r.code)) {
    throw new Error(`${path.basename(t.engine.path)} ${args.join(" ")} failed in ${cwd} (exit ${r.code}):\n${r.stderr || r.stdout}`);
  }
  return r;
}

/** `init` against the mirror (providers are linked from the plugin cache, not copied). */
export async function init(t: Toolchain, cwd: string, options: EngineOptions = {}): Promise<void> {
  await engine(t, cwd, ["init", "-input=false", "-no-color"], options);
}

export interface PlanSummary {
  /** 0: no changes, 2: changes (plan -detailed-exitcode). */
  readonly exitCode: number;
  readonly add: number;
  readonly change: number;
  readonly destroy: number;
  readonly import: number;
  /** Addresses per action, from the plan's JSON. */
  readonly actions: Record<string, string[]>;
  readonly json: PlanJson;
}

export interface PlanJson {
  resource_changes?: Array<{
    address: string;
    type: string;
    change: { actions: string[]; before: Record<string, unknown> | null; after: Record<string, unknown> | null; importing?: { id: string } };
  }>;
}

export const PLAN_FILE = "lambdaship.tfplan";

/**
 * Plans into a file and reads it back as JSON: what would be created, updated, replaced, imported.
 * With `keep`, the plan file stays for `apply(..., { planFile: PLAN_FILE })`.
 */
export async function plan(t: Toolchain, cwd: string, options: EngineOptions & { keep?: boolean } = {}): Promise<PlanSummary> {
  const planFile = PLAN_FILE;
  const r = await engine(t, cwd, ["plan", "-input=false", "-no-color", "-detailed-exitcode", `-out=${planFile}`], { ...options, ok: [0, 2] });
  const show = await engine(t, cwd, ["show", "-json", "-no-color", planFile], { env: options.env });
  if (!options.keep) fs.rmSync(path.join(cwd, planFile), { force: true });
  const json = JSON.parse(show.stdout) as PlanJson;
  const actions: Record<string, string[]> = {};
  let imports = 0;
  for (const rc of json.resource_changes ?? []) {
    const key = rc.change.actions.join("+");
    if (key !== "no-op" && key !== "read") (actions[key] ??= []).push(rc.address);
    if (rc.change.importing) {
      imports++;
      (actions.import ??= []).push(rc.address);
    }
  }
  const count = (k: string) => (actions[k] ?? []).length;
  const replace = count("delete+create") + count("create+delete");
  return {
    exitCode: r.code,
    add: count("create") + replace,
    change: count("update"),
    destroy: count("delete") + replace,
    import: imports,
    actions,
    json,
  };
}

export interface ApplySummary {
  readonly added: number;
  readonly changed: number;
  readonly destroyed: number;
  readonly imported: number;
}

/** `apply -auto-approve` (of a saved plan, when given); returns the counts the engine printed. */
export async function apply(t: Toolchain, cwd: string, options: EngineOptions & { planFile?: string } = {}): Promise<ApplySummary> {
  const args = ["apply", "-auto-approve", "-input=false", "-no-color", ...(options.planFile ? [options.planFile] : [])];
  const r = await engine(t, cwd, args, options);
  if (options.planFile) fs.rmSync(path.join(cwd, options.planFile), { force: true });
  const m = /Apply complete! Resources: (?:(\d+) imported, )?(\d+) added, (\d+) changed, (\d+) destroyed/.exec(r.stdout);
  if (!m) throw new Error(`could not read the apply summary from the engine's output:\n${r.stdout.slice(-2000)}`);
  return { imported: Number(m[1] ?? 0), added: Number(m[2]), changed: Number(m[3]), destroyed: Number(m[4]) };
}

export interface StateResource {
  readonly address: string;
  readonly type: string;
  readonly values: Record<string, unknown>;
}

/** Managed resources and outputs in the stack's state (`show -json`). */
export async function state(t: Toolchain, cwd: string, options: EngineOptions = {}): Promise<{ resources: StateResource[]; outputs: Record<string, unknown> }> {
  const r = await engine(t, cwd, ["show", "-json", "-no-color"], options);
  const j = JSON.parse(r.stdout) as {
    values?: { outputs?: Record<string, { value: unknown }>; root_module?: { resources?: Array<StateResource & { mode: string }> } };
  };
  const resources = (j.values?.root_module?.resources ?? []).filter((res) => res.mode === "managed");
  const outputs = Object.fromEntries(Object.entries(j.values?.outputs ?? {}).map(([k, v]) => [k, v.value]));
  return { resources, outputs };
}
