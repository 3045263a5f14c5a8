import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { buildApp, synthesize } from "../main";
import { ConfigError } from "../modules/errors";
import { stackName } from "../modules/stack";

/** Reads a synthesized stack's Terraform JSON. */
export interface StackJson {
  resource?: Record<string, Record<string, Record<string, unknown>>>;
  data?: Record<string, Record<string, Record<string, unknown>>>;
  import?: Array<{ to: string; id: string }>;
}

export const OUTDIR = path.join(__dirname, "..", "cdktf.out");

/**
 * Synthesizes every env into cdktf.out (in process: no CLI start-up), or only `only`'s stack, when a
 * command is about one env (another env's config error is then a note, not a stop). Exits 1 on a
 * config error of what it synthesizes.
 */
export function synthAll(outdir = OUTDIR, only?: string): void {
  try {
    synthesize(buildApp({ outdir, only }));
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`\n${e.message}\n\nNothing was synthesized.\n`);
      process.exit(1);
    }
    throw e;
  }
}

export function stackDir(env: string, outdir = OUTDIR): string {
  return path.join(outdir, "stacks", stackName(env));
}

export function readStack(env: string, outdir = OUTDIR): StackJson {
  return JSON.parse(fs.readFileSync(path.join(stackDir(env, outdir), "cdk.tf.json"), "utf8")) as StackJson;
}

export interface FunctionSummary {
  readonly address: string;
  readonly name: string;
  readonly mode: "create" | "import" | "existing";
  readonly runtime?: string;
  readonly handler?: string;
  readonly architecture?: string;
  readonly packageBytes?: number;
}

/** The functions of a synthesized stack, created, imported or referenced. */
export function functionsOf(env: string, outdir = OUTDIR): FunctionSummary[] {
  const s = readStack(env, outdir);
  const imports = new Map((s.import ?? []).map((i) => [i.to, i.id]));
  const out: FunctionSummary[] = [];
  for (const [id, fn] of Object.entries(s.resource?.aws_lambda_function ?? {})) {
    const address = `aws_lambda_function.${id}`;
    const file = path.join(stackDir(env, outdir), String(fn.filename));
    out.push({
      address,
      name: String(fn.function_name),
      mode: imports.has(address) ? "import" : "create",
      runtime: String(fn.runtime),
      handler: String(fn.handler),
      architecture: (fn.architectures as string[] | undefined)?.[0] ?? "x86_64",
      packageBytes: fs.existsSync(file) ? fs.statSync(file).size : undefined,
    });
  }
  for (const [id, fn] of Object.entries(s.data?.aws_lambda_function ?? {})) {
    out.push({ address: `data.aws_lambda_function.${id}`, name: String(fn.function_name), mode: "existing" });
  }
  return out;
}

export function resourceCount(env: string, outdir = OUTDIR): number {
  const s = readStack(env, outdir);
  return Object.values(s.resource ?? {}).reduce((n, byId) => n + Object.keys(byId).length, 0);
}



/**
 * Runs one of the stack's builders (a terraform_data local-exec command: a Rust or layer build,
 * which skips what is already built) from the stack's folder, as the engine would at apply.
 */
export function runBuilder(stack: StackJson, dir: string, id: string, quiet = false): void {
  const b = (stack as { resource?: Record<string, Record<string, Record<string, unknown>>> }).resource?.terraform_data?.[id];
  const exec = (b?.provisioner as Array<{ "local-exec"?: { command: string; working_dir: string } }> | undefined)?.[0]?.["local-exec"];
  if (!exec) return;
  if (!quiet) process.stderr.write(`building: ${exec.command}\n`);
  const r = spawnSync("sh", ["-c", exec.command], { cwd: path.resolve(dir, exec.working_dir), stdio: ["ignore", quiet ? "ignore" : "inherit", "inherit"] });
  if (r.status !== 0) throw new Error(`the builder ${id} failed (exit ${r.status}); its output is above`);
}
