import * as fs from "fs";
import * as path from "path";
import { stackName } from "../modules/stack";
import { PROJECT_ROOT } from "./toolchain";

/**
 * The local state file of an env and the files that hold what it holds (plans, their JSON): guarded,
 * because they carry variable values in clear, and because an empty state file is read by the
 * engine as "nothing deployed": the next apply would create a second copy of everything and
 * overwrite the state, orphaning the first.
 */

/** The env's local state file: `terraform.<stack>.tfstate` in LAMBDASHIP_STATE_DIR, else the project root (as the stack's backend says). */
export function localStateFile(env: string): string {
  return path.join(process.env.LAMBDASHIP_STATE_DIR ?? PROJECT_ROOT, `terraform.${stackName(env)}.tfstate`);
}

export class StateError extends Error {}

/** How many resources a state file holds, or why it cannot be read. */
export function readStateFile(file: string): { resources: number } | { unreadable: string } | undefined {
  if (!fs.existsSync(file)) return undefined;
  const text = fs.readFileSync(file, "utf8");
  if (text.trim() === "") return { unreadable: `is empty (${fs.statSync(file).size} bytes)` };
  try {
    const s = JSON.parse(text) as { resources?: Array<{ mode?: string }> };
    return { resources: (s.resources ?? []).filter((r) => r.mode === "managed").length };
  } catch (e) {
    return { unreadable: `is not a state file (${(e as Error).message.split("\n")[0]})` };
  }
}

/**
 * Refuses to go on with an empty or unreadable state file when something says resources exist: its
 * backup (`.backup`, written by the engine before each change) holds some, or `deployed` (what the
 * account or the local AWS has under the env's names) is not empty. Names the file and the recovery.
 */
export function checkStateFile(file: string, deployed: readonly string[] = []): void {
  const state = readStateFile(file);
  if (!state || !("unreadable" in state)) return;
  const backup = readStateFile(`${file}.backup`);
  const rel = path.relative(process.cwd(), file) || file;
  const evidence = [
    ...(backup && "resources" in backup && backup.resources > 0 ? [`its backup ${rel}.backup holds ${backup.resources} resources`] : []),
    ...(deployed.length > 0 ? [`the account has ${deployed.slice(0, 3).join(", ")}${deployed.length > 3 ? ` and ${deployed.length - 3} more` : ""}`] : []),
  ];
  if (evidence.length === 0) return;
  const recovery =
    backup && "resources" in backup && backup.resources > 0
      ? `restore it with cp ${rel}.backup ${rel} (and check it), then run again`
      : `restore it from where it was copied or backed up, or (the local env) start over with npm run emulator -- stop, which empties the local AWS, and remove ${rel}`;
  throw new StateError(`${rel} ${state.unreadable}, but ${evidence.join(", and ")}: planning from it would create everything a second time and overwrite the state. Nothing was planned; ${recovery}.`);
}

/** Makes a state file and its backup readable by their owner only (they hold variable values in clear). */
export function protectStateFiles(file: string): void {
  for (const f of [file, `${file}.backup`]) if (fs.existsSync(f)) fs.chmodSync(f, 0o600);
}

/** Writes a file only its owner can read (a plan, its JSON, its summary). */
export function writePrivate(file: string, data: string | Buffer): void {
  fs.writeFileSync(file, data, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
}

/**
 * The functions the local AWS at `endpoint` has in `region` under the env's name prefix (moto routes
 * a request by its credential scope and checks no signature).
 */
export async function functionsOnEmulator(endpoint: string, namePrefix: string, region: string): Promise<string[]> {
  try {
    const r = await fetch(`${endpoint}/2015-03-31/functions/`, {
      headers: { Authorization: `AWS4-HMAC-SHA256 Credential=test/20260101/${region}/lambda/aws4_request, SignedHeaders=host, Signature=0` },
    });
    if (!r.ok) return [];
    const body = (await r.json()) as { Functions?: Array<{ FunctionName: string }> };
    return (body.Functions ?? []).map((f) => f.FunctionName).filter((n) => n.startsWith(`${namePrefix}-`)).sort();
  } catch {
    return [];
  }
}
