import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { heartbeatWhileBlocked } from "../build/progress";

/**
 * Where the stacks' providers come from, and the lock files that pin them.
 *
 * - `registry`: the engine installs the official, signed provider from the registry (or the host a
 *   user's CLI config names for it), at the version and hashes of the lock files kept in the
 *   repository (`stacks/<stack>/.terraform.lock.hcl`).
 * - `build`: the provider built from the Go module proxy (where no registry answers), served from a
 *   local mirror; its own lock, with its own hash, is written under `.build/locks` and the committed
 *   lock files are never rewritten.
 *
 * Either way, synth restores the lock setup derived into each stack's folder before any init, so
 * every machine and CI plans with the provider setup chose.
 */

export type ProviderSource = "registry" | "build";
export type ProviderSourceSetting = ProviderSource | "auto";

export const PROVIDER_SOURCE_VARIABLE = "LAMBDASHIP_PROVIDER_SOURCE";

export function providerSourceSetting(env: NodeJS.ProcessEnv = process.env): ProviderSourceSetting {
  const v = env[PROVIDER_SOURCE_VARIABLE] || "auto";
  if (v === "auto" || v === "registry" || v === "build") return v;
  throw new Error(`${PROVIDER_SOURCE_VARIABLE} is ${JSON.stringify(v)}; use auto (default: the registry when it answers, else a source build), registry or build`);
}

/** The registry host an engine resolves `hashicorp/*` to when a source names no host. */
export function defaultRegistryHost(engine: "terraform" | "tofu"): string {
  return engine === "tofu" ? "registry.opentofu.org" : "registry.terraform.io";
}

export const LOCK_FILE_NAME = ".terraform.lock.hcl";

/**
 * The aws provider versions the synthesized stacks accept. The bindings were generated from 6.25.0;
 * any later 6.x takes the same configuration. A lock restored into a stack records this as its
 * constraint, as init writes it: cdktf compares the two and re-locks (asking the registry) when they
 * differ.
 */
export const AWS_PROVIDER_CONSTRAINT = ">= 6.25.0, < 7.0.0";

/** The committed lock file of a stack: `stacks/<stack>/.terraform.lock.hcl`. */
export function committedLockFile(projectRoot: string, stack: string): string {
  return path.join(projectRoot, "stacks", stack, LOCK_FILE_NAME);
}

/** The lock setup derived for this machine (registry: the committed one with what init verified; build: the source build's). */
export function derivedLockFile(projectRoot: string, stack: string): string {
  return path.join(projectRoot, ".build", "locks", `${stack}${LOCK_FILE_NAME}`);
}

export interface LockedProvider {
  /** `registry.terraform.io/hashicorp/aws` */
  readonly address: string;
  readonly version: string;
  readonly constraints?: string;
  readonly hashes: string[];
}

/** The provider blocks of a lock file (the subset of HCL the engines write). */
export function parseLockFile(text: string, file = LOCK_FILE_NAME): LockedProvider[] {
  const out: LockedProvider[] = [];
  const block = /provider\s+"([^"]+)"\s*\{([\s\S]*?)\n\}/g;
  for (let m = block.exec(text); m; m = block.exec(text)) {
    const body = m[2];
    const version = /\bversion\s*=\s*"([^"]+)"/.exec(body)?.[1];
    if (!version) throw new Error(`${file}: the block for ${m[1]} has no version; write version = "<x.y.z>" (or run npm run providers -- lock)`);
    const constraints = /\bconstraints\s*=\s*"([^"]+)"/.exec(body)?.[1];
    const hashes = /\bhashes\s*=\s*\[([\s\S]*?)\]/.exec(body)?.[1].match(/"[^"]+"/g)?.map((h) => h.slice(1, -1)) ?? [];
    out.push({ address: m[1], version, constraints, hashes });
  }
  return out;
}

/** A lock file's text for `providers`, as the engines write it. */
export function formatLockFile(providers: readonly LockedProvider[], header: string[] = []): string {
  const lines = [...header.map((h) => `# ${h}`), ...(header.length ? [""] : [])];
  for (const p of providers) {
    lines.push(`provider "${p.address}" {`, `  version     = "${p.version}"`);
    if (p.constraints) lines.push(`  constraints = "${p.constraints}"`);
    if (p.hashes.length) lines.push("  hashes = [", ...p.hashes.map((h) => `    "${h}",`), "  ]");
    lines.push("}", "");
  }
  return lines.join("\n");
}

/** The same providers under another registry host (OpenTofu reads `hashicorp/aws` as registry.opentofu.org's). */
export function withRegistryHost(providers: readonly LockedProvider[], host: string): LockedProvider[] {
  return providers.map((p) => ({ ...p, address: p.address.replace(/^[^/]+\//, `${host}/`) }));
}

/** `{ aws: { source, version } }` with each provider's constraint (the stacks' own, the lock pins the version), or its exact version. */
export function requiredProvidersOf(providers: readonly LockedProvider[], exact = false): Record<string, { source: string; version: string }> {
  return Object.fromEntries(providers.map((p) => [p.address.split("/").pop() as string, { source: p.address.split("/").slice(1).join("/"), version: exact ? `= ${p.version}` : (p.constraints ?? `= ${p.version}`) }]));
}

/** The providers with the constraint the stacks declare (what init writes into a stack's lock). */
export function withStackConstraints(providers: readonly LockedProvider[]): LockedProvider[] {
  return providers.map((p) => (p.address.endsWith("/hashicorp/aws") ? { ...p, constraints: AWS_PROVIDER_CONSTRAINT } : p));
}

export function sha256Hex(text: string | Buffer): string {
  return crypto.createHash("sha256").update(text).digest("hex");
}

/**
 * The user's own CLI config: TF_CLI_CONFIG_FILE when it is not one this project wrote, else
 * ~/.terraformrc (the engine's default). Its `host` blocks, credentials and mirrors stay in force on
 * the registry path.
 */
export function userCliConfig(env: NodeJS.ProcessEnv = process.env, ownDir?: string): { file?: string; text: string } {
  const given = env.TF_CLI_CONFIG_FILE;
  const candidates = [given && !(ownDir && path.resolve(given).startsWith(path.resolve(ownDir) + path.sep)) ? given : undefined, path.join(os.homedir(), ".terraformrc")];
  for (const file of candidates) {
    if (file && fs.existsSync(file)) return { file, text: fs.readFileSync(file, "utf8") };
  }
  return { text: "" };
}

/** The `providers.v1` URL a CLI config's `host "<host>"` block sets, if any. */
export function hostOverride(cliConfig: string, host: string): string | undefined {
  const esc = host.replace(/[.]/g, "\\.");
  const block = new RegExp(`host\\s+"${esc}"\\s*\\{([\\s\\S]*?)\\n\\s*\\}\\s*(?:\\n|$)`).exec(cliConfig);
  return block ? /"providers\.v1"\s*=\s*"([^"]+)"/.exec(block[1])?.[1] : undefined;
}

export interface RegistryProbe {
  readonly reachable: boolean;
  /** The providers API that answered, or what was asked and why it failed. */
  readonly detail: string;
}

/**
 * Whether the registry answers for `address`'s provider: its service discovery (or the CLI config's
 * host override), then the provider's version list. Fails fast when nothing resolves (no network).
 */
export async function probeRegistry(address: string, cliConfig: string, timeoutMs = 5000): Promise<RegistryProbe> {
  const [host, namespace, type] = address.split("/");
  const signal = AbortSignal.timeout(timeoutMs);
  let base = hostOverride(cliConfig, host);
  try {
    if (!base) {
      const disco = `https://${host}/.well-known/terraform.json`;
      const r = await fetch(disco, { signal });
      if (!r.ok) return { reachable: false, detail: `${disco} answered ${r.status}` };
      const services = (await r.json()) as Record<string, string>;
      if (!services["providers.v1"]) return { reachable: false, detail: `${disco} names no providers.v1 service` };
      base = new URL(services["providers.v1"], disco).toString();
    }
    const versions = new URL(`${namespace}/${type}/versions`, base.endsWith("/") ? base : `${base}/`).toString();
    const r = await fetch(versions, { signal });
    if (!r.ok) return { reachable: false, detail: `${versions} answered ${r.status}` };
    return { reachable: true, detail: versions };
  } catch (e) {
    const err = e as Error & { cause?: { code?: string; message?: string } };
    return { reachable: false, detail: `${base ?? `https://${host}/.well-known/terraform.json`}: ${err.cause?.code ?? err.cause?.message ?? err.message}` };
  }
}

/** The committed lock of every stack, read and checked: one error naming each missing or unreadable file and the fix. */
export function readCommittedLocks(projectRoot: string, stacks: readonly string[]): Map<string, { file: string; text: string; providers: LockedProvider[] }> {
  const out = new Map<string, { file: string; text: string; providers: LockedProvider[] }>();
  const problems: string[] = [];
  for (const stack of stacks) {
    const file = committedLockFile(projectRoot, stack);
    if (!fs.existsSync(file)) {
      problems.push(`${path.relative(projectRoot, file)} is missing: copy another stack's lock file there (they pin the same providers), or run npm run providers -- lock where the registry answers, and commit it`);
      continue;
    }
    const text = fs.readFileSync(file, "utf8");
    try {
      const providers = parseLockFile(text, path.relative(projectRoot, file));
      if (!providers.length) throw new Error(`${path.relative(projectRoot, file)} locks no provider; run npm run providers -- lock where the registry answers`);
      out.set(stack, { file, text, providers });
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  if (problems.length) throw new Error(problems.join("\n"));
  return out;
}

export interface EngineRef {
  readonly kind: "terraform" | "tofu";
  readonly path: string;
}

/** Runs the engine in `dir` with `cliConfigFile`, showing a heartbeat; throws with its output on failure. */
export function runEngineSync(engine: EngineRef, dir: string, args: string[], cliConfigFile: string, label: string): string {
  const r = heartbeatWhileBlocked(label, () =>
    spawnSync(engine.path, args, {
      cwd: dir,
      encoding: "utf8",
      env: { ...process.env, TF_CLI_CONFIG_FILE: cliConfigFile, TF_IN_AUTOMATION: "1", TF_INPUT: "0", CHECKPOINT_DISABLE: "1" },
      maxBuffer: 16 * 1024 * 1024,
    }),
  );
  if (r.status !== 0) throw new Error(`${path.basename(engine.path)} ${args.join(" ")} failed in ${dir} (exit ${r.status}):\n${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

/** A scratch folder requiring exactly `providers`, with `lock` as its lock file. */
export function scratchConfig(dir: string, providers: readonly LockedProvider[], lock?: string, exact = false): void {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "main.tf.json"), `${JSON.stringify({ terraform: { required_providers: requiredProvidersOf(providers, exact) } }, null, 2)}\n`);
  if (lock !== undefined) fs.writeFileSync(path.join(dir, LOCK_FILE_NAME), lock);
}

/** How init reported each provider it installed: `hashicorp/aws v6.25.0 (signed by HashiCorp)`. */
export function installedLines(initOutput: string): string[] {
  return initOutput
    .split("\n")
    .map((l) => /^- Installed (.+)$/.exec(l.trim())?.[1] ?? /^- Using (.+) from the shared cache directory$/.exec(l.trim())?.[1])
    .filter((l): l is string => Boolean(l));
}

/** Writes `text` to `file` atomically, when it differs. */
export function writeIfChanged(file: string, text: string): void {
  if (fs.existsSync(file) && fs.readFileSync(file, "utf8") === text) return;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

const DERIVED_FROM = /^# derived from (\S+) sha256 ([0-9a-f]{64})$/m;

/** The sha256 of the committed lock a derived lock came from (registry path), if it says. */
export function derivedFrom(text: string): string | undefined {
  return DERIVED_FROM.exec(text)?.[2];
}

/** The header of a derived lock: what it came from, so synth can tell when the committed file changed since setup. */
export function derivedHeader(source: ProviderSource, committed?: { file: string; text: string }, projectRoot?: string): string[] {
  return [
    `Written by lambdaship's npm run setup for this machine (${source === "registry" ? "providers from the registry" : "the provider built from source"}); restored into the stack's folder at synth. Not for version control.`,
    ...(committed && projectRoot ? [`derived from ${path.relative(projectRoot, committed.file)} sha256 ${sha256Hex(committed.text)}`] : []),
  ];
}

/**
 * Copies each stack's derived lock into its synthesized folder before any init. Throws when a
 * committed lock changed since setup derived from it (a pull that moved a provider version).
 */
export function restoreLocks(projectRoot: string, stacksDir: string, stacks: readonly string[], locks: Record<string, string> | undefined): void {
  if (!locks) return;
  for (const stack of stacks) {
    const derived = locks[stack];
    if (!derived || !fs.existsSync(derived)) continue;
    const text = fs.readFileSync(derived, "utf8");
    const from = DERIVED_FROM.exec(text);
    if (from) {
      const committed = path.join(projectRoot, from[1]);
      const now = fs.existsSync(committed) ? sha256Hex(fs.readFileSync(committed, "utf8")) : "missing";
      if (now !== from[2]) throw new Error(`${from[1]} changed since npm run setup derived ${path.relative(projectRoot, derived)} from it: run npm run setup (seconds) so the engine installs what it pins`);
    }
    const dir = path.join(stacksDir, stack);
    if (fs.existsSync(dir)) writeIfChanged(path.join(dir, LOCK_FILE_NAME), text);
  }
}
