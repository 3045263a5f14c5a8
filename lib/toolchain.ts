import { execFileSync, spawnSync } from "child_process";
import { heartbeatWhileBlocked } from "../build/progress";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { cacheRoot, which } from "../build/util";
import { ENV_NAMES } from "../envs";
import {
  defaultRegistryHost,
  derivedHeader,
  derivedFrom,
  derivedLockFile,
  formatLockFile,
  installedLines,
  LOCK_FILE_NAME,
  parseLockFile,
  probeRegistry,
  PROVIDER_SOURCE_VARIABLE,
  ProviderSource,
  providerSourceSetting,
  readCommittedLocks,
  runEngineSync,
  scratchConfig,
  sha256Hex,
  userCliConfig,
  withRegistryHost,
  withStackConstraints,
  writeIfChanged,
} from "./providers";

/**
 * The Terraform engine and providers: an engine already on PATH when it is recent enough, otherwise
 * OpenTofu built from the Go module proxy; the aws provider from the registry when it answers (see
 * ./providers), else built from the Go module proxy and served through a filesystem mirror and a CLI
 * config that uses nothing else; everything cached outside the clone, keyed by version.
 */

export const PROJECT_ROOT = path.resolve(__dirname, "..");

/** A Go program fetched from the module proxy and built with its own go.mod (replace and godebug lines honoured). */
export interface GoProgram {
  readonly name: string;
  readonly module: string;
  /** What to ask the proxy for: a tag, or a pseudo-version for majors without a /vN module path. */
  readonly goVersion: string;
  /** The version the program reports, and the mirror folder name for providers. */
  readonly version: string;
  readonly pkg: string;
  readonly ldflags: string;
  /** Cache key beside the version, when one version can be built several ways. @default - none */
  readonly variant?: string;
  /** Adjusts the downloaded source before the build (in the cache's copy, never the module cache). @default - none */
  readonly prepare?: (srcDir: string) => void;
}

export const OPENTOFU: GoProgram = {
  name: "tofu",
  module: "github.com/opentofu/opentofu",
  goVersion: "v1.11.14",
  version: "1.11.14",
  pkg: "./cmd/tofu",
  ldflags: "-s -w -X github.com/opentofu/opentofu/version.dev=no",
};

/**
 * hashicorp/aws. The bindings (@cdktf/provider-aws 21.22.1) were generated from 6.25.0, but this
 * workplace's Go module proxy serves only one 6.x source of the provider: commit 5f2286d6d836
 * (2026-06-02), whose version/VERSION says 6.47.1. The stacks accept >= 6.25.0, < 7.0.0.
 */
const AWS_PROVIDER_SOURCE = {
  name: "terraform-provider-aws",
  module: "github.com/hashicorp/terraform-provider-aws",
  goVersion: "v1.60.1-0.20260602190131-5f2286d6d836",
  version: "6.47.1",
  pkg: ".",
  ldflags: "-s -w -X github.com/hashicorp/terraform-provider-aws/version.ProviderVersion=6.47.1",
} as const;

/**
 * The provider's service packages the stacks use (resources and data sources), plus `meta`
 * (partition, region, caller identity). Building only these takes a fraction of the full build's
 * time; a resource of another service fails at plan with "provider does not support resource type":
 * add its package here, or set LAMBDASHIP_AWS_PROVIDER=full.
 */
export const AWS_SERVICES = ["apigateway", "apigatewayv2", "dynamodb", "iam", "kms", "lambda", "logs", "meta", "s3", "scheduler", "sns", "sqs", "sts"];

const SERVICE_REGISTRY = path.join("internal", "provider", "sdkv2", "service_packages_gen.go");

/** Rewrites the provider's generated service registry to register only `services`. */
export function trimServiceRegistry(source: string, services: readonly string[]): string {
  const keep = new Set(services);
  const out: string[] = [];
  let registered = 0;
  for (const line of source.split("\n")) {
    const imp = /^\t"github\.com\/hashicorp\/terraform-provider-aws\/internal\/service\/([a-z0-9]+)"$/.exec(line);
    const reg = /^\t\t([a-z0-9]+)\.ServicePackage\(ctx\),$/.exec(line);
    if (imp && !keep.has(imp[1])) continue;
    if (reg) {
      if (!keep.has(reg[1])) continue;
      registered++;
    }
    out.push(line);
  }
  if (registered !== keep.size) {
    throw new Error(`${SERVICE_REGISTRY}: found ${registered} of the ${keep.size} service packages ${[...keep].join(", ")}; the provider's layout changed`);
  }
  return out.join("\n");
}

/**
 * hashicorp/aws. The bindings (@cdktf/provider-aws 21.22.1) were generated from 6.25.0, but this
 * workplace's Go module proxy serves only one 6.x source of the provider: commit 5f2286d6d836
 * (2026-06-02), whose version/VERSION says 6.47.1. The stacks accept >= 6.25.0, < 7.0.0.
 * LAMBDASHIP_AWS_PROVIDER=services (default) builds the services in AWS_SERVICES; `full` builds all.
 */
export function awsProvider(): GoProgram {
  const variant = process.env.LAMBDASHIP_AWS_PROVIDER ?? "services";
  if (variant === "full") return { ...AWS_PROVIDER_SOURCE, variant: "full" };
  if (variant !== "services") throw new Error(`LAMBDASHIP_AWS_PROVIDER is ${JSON.stringify(variant)}; use services (default) or full`);
  return {
    ...AWS_PROVIDER_SOURCE,
    variant: `services-${AWS_SERVICES.join("_")}`,
    prepare: (dir) => {
      const file = path.join(dir, SERVICE_REGISTRY);
      fs.writeFileSync(file, trimServiceRegistry(fs.readFileSync(file, "utf8"), AWS_SERVICES));
    },
  };
}

/** Oldest engine versions with everything the stacks use (import blocks, S3 `use_lockfile`). */
export const MIN_TERRAFORM = [1, 10, 0] as const;
export const MIN_TOFU = [1, 10, 0] as const;

export { cacheRoot };

/** One mirror per provider build variant, so a full and a trimmed build of one version never mix. */
export function mirrorDir(program: GoProgram = awsProvider()): string {
  return path.join(cacheRoot(), "provider-mirror", program.variant ?? "default");
}

export function cliConfigFile(program: GoProgram = awsProvider()): string {
  return path.join(cacheRoot(), "tf", `cli-${program.variant ?? "default"}.tfrc`);
}

export interface Engine {
  readonly kind: "terraform" | "tofu";
  readonly path: string;
  readonly version: string;
}

/** What the project's scripts and tests need to run the engine: written by setup, read by everyone else. */
export interface Toolchain {
  readonly engine: Engine;
  readonly cliConfigFile: string;
  /** Where the providers come from: the registry (official, signed) or a build from the Go module proxy. */
  readonly providerSource?: ProviderSource;
  /** The source build's mirror (build only). */
  readonly mirror?: string;
  readonly providers: Record<string, string>;
  /** Each stack's derived lock file, restored into its folder at synth. */
  readonly locks?: Record<string, string>;
}

export const TOOLCHAIN_FILE = path.join(PROJECT_ROOT, ".build", "toolchain.json");

export function log(message: string): void {
  process.stderr.write(`[setup] ${message}\n`);
}

function parseVersion(text: string): number[] | undefined {
  const m = /v?(\d+)\.(\d+)\.(\d+)/.exec(text);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

function atLeast(v: number[], min: readonly number[]): boolean {
  for (let i = 0; i < 3; i++) if (v[i] !== min[i]) return v[i] > min[i];
  return true;
}

function engineVersion(bin: string): number[] | undefined {
  const r = spawnSync(bin, ["version", "-json"], { encoding: "utf8", env: { ...process.env, TF_CLI_CONFIG_FILE: "/dev/null" } });
  if (r.status !== 0) return undefined;
  try {
    return parseVersion(JSON.parse(r.stdout).terraform_version);
  } catch {
    return parseVersion(r.stdout);
  }
}

/** An engine already on PATH, if recent enough; LAMBDASHIP_ENGINE=tofu forces the OpenTofu build. */
export function findInstalledEngine(): Engine | undefined {
  const wanted = process.env.LAMBDASHIP_ENGINE;
  const candidates: Array<["terraform" | "tofu", readonly number[]]> =
    wanted === "tofu" ? [["tofu", MIN_TOFU]] : wanted === "terraform" ? [["terraform", MIN_TERRAFORM]] : [["tofu", MIN_TOFU], ["terraform", MIN_TERRAFORM]];
  for (const [kind, min] of candidates) {
    const bin = which(kind);
    if (!bin) continue;
    const v = engineVersion(bin);
    if (v && atLeast(v, min)) return { kind, path: bin, version: v.join(".") };
    log(`${bin} is ${v ? v.join(".") : "of unknown version"}; the stacks need ${kind} >= ${min.join(".")}, so it is not used`);
  }
  return undefined;
}

export function goEnv(): NodeJS.ProcessEnv {
  const root = cacheRoot();
  return {
    ...process.env,
    GOMODCACHE: path.join(root, "go", "mod"),
    GOCACHE: path.join(root, "go", "build"),
    GOTOOLCHAIN: "local",
    GOFLAGS: "-mod=mod",
    CGO_ENABLED: "0",
  };
}

function requireGo(): string {
  const go = which("go");
  if (!go) {
    throw new Error(
      "Go is needed to build the Terraform engine and providers from the Go module proxy, and `go` is not on PATH. " +
        "Install Go >= 1.26.3 (the aws provider's go.mod asks for it; from go.dev, or a package manager that has that version), then run `npm run setup` again.",
    );
  }
  return go;
}

/**
 * Builds a Go program from the module proxy into `out` (atomically: a failed or interrupted build
 * leaves no binary), and logs how long it took.
 */
export function buildGoProgram(program: GoProgram, out: string): void {
  const go = requireGo();
  const env = goEnv();
  const started = Date.now();
  log(`downloading ${program.module}@${program.goVersion} from the Go module proxy`);
  const info = JSON.parse(execFileSync(go, ["mod", "download", "-json", `${program.module}@${program.goVersion}`], { env, encoding: "utf8" }));
  if (info.Error) throw new Error(`go mod download ${program.module}@${program.goVersion}: ${info.Error}`);
  const src = path.join(cacheRoot(), "src", `${program.name}-${program.version}${program.variant ? `-${program.variant}` : ""}`);
  if (!fs.existsSync(path.join(src, "go.mod"))) {
    const tmp = `${src}.tmp-${process.pid}`;
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.cpSync(info.Dir, tmp, { recursive: true });
    execFileSync("chmod", ["-R", "u+w", tmp]);
    program.prepare?.(tmp);
    fs.renameSync(tmp, src);
  }
  log(`downloading ${program.name}'s dependencies`);
  heartbeatWhileBlocked(`[setup] go mod download (${program.name})`, () => execFileSync(go, ["mod", "download"], { cwd: src, env, stdio: ["ignore", "inherit", "inherit"] }));
  log(`building ${program.name} ${program.version} from source (cold on 2 cores: OpenTofu about 3 min, the aws provider about 17 min)`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const tmpOut = `${out}.tmp-${process.pid}`;
  // go build -v names each package as it compiles it: the heartbeat counts them against the program's
  // dependency count, then says it is linking (the last minutes, silent otherwise).
  const listed = spawnSync(go, ["list", "-deps", program.pkg], { cwd: src, env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  const total = listed.status === 0 ? listed.stdout.split("\n").filter(Boolean).length : undefined;
  const logFile = `${tmpOut}.log`;
  const logFd = fs.openSync(logFile, "w");
  let r: ReturnType<typeof spawnSync>;
  try {
    r = heartbeatWhileBlocked(`[setup] building ${program.name}`, () =>
      spawnSync(go, ["build", "-v", "-p", String(Math.max(1, Math.min(os.cpus().length, 4))), "-trimpath", "-ldflags", program.ldflags, "-o", tmpOut, program.pkg], {
        cwd: src,
        env,
        stdio: ["ignore", "inherit", logFd],
      }),
      { watch: logFile, total, unit: "packages compiled (then the link)" },
    );
  } finally {
    fs.closeSync(logFd);
  }
  const goOutput = fs.readFileSync(logFile, "utf8");
  fs.rmSync(logFile, { force: true });
  if (r.status !== 0) {
    fs.rmSync(tmpOut, { force: true });
    const errors = goOutput.split("\n").filter((l) => l && !/^[\w./-]+$/.test(l)).slice(-60).join("\n");
    throw new Error(`go build of ${program.name} ${program.version} failed (exit ${r.status}):\n${errors || goOutput.slice(-4000)}`);
  }
  fs.renameSync(tmpOut, out);
  const seconds = (Date.now() - started) / 1000;
  log(`built ${program.name} ${program.version} in ${seconds.toFixed(0)} s (${(fs.statSync(out).size / 1e6).toFixed(0)} MB)`);
}

/** The engine: on PATH when recent enough, otherwise OpenTofu from the cache, built when missing. */
export function ensureEngine(): Engine {
  const installed = findInstalledEngine();
  if (installed) {
    log(`engine: ${installed.kind} ${installed.version} at ${installed.path}`);
    return installed;
  }
  const bin = path.join(cacheRoot(), "bin", `tofu-${OPENTOFU.version}`, "tofu");
  if (!fs.existsSync(bin)) buildGoProgram(OPENTOFU, bin);
  log(`engine: tofu ${OPENTOFU.version} at ${bin}`);
  return { kind: "tofu", path: bin, version: OPENTOFU.version };
}

const PLATFORM = `${process.platform}_${process.arch === "x64" ? "amd64" : process.arch}`;

/**
 * The provider in the mirror, under both registry hosts (cdktf writes sources without a host, which
 * Terraform resolves to registry.terraform.io and OpenTofu to registry.opentofu.org).
 */
export function ensureProvider(program: GoProgram): string {
  const type = program.name.replace(/^terraform-provider-/, "");
  const file = `${program.name}_v${program.version}_x5`;
  const primary = path.join(mirrorDir(program), "registry.terraform.io", "hashicorp", type, program.version, PLATFORM, file);
  if (!fs.existsSync(primary)) buildGoProgram(program, primary);
  else log(`provider: hashicorp/${type} ${program.version} (cached)`);
  const second = path.join(mirrorDir(program), "registry.opentofu.org", "hashicorp", type, program.version, PLATFORM, file);
  if (!fs.existsSync(second)) {
    fs.mkdirSync(path.dirname(second), { recursive: true });
    try {
      fs.linkSync(primary, second);
    } catch {
      fs.copyFileSync(primary, second);
    }
  }
  return primary;
}

/** A CLI config that installs hashicorp/* providers from the mirror only, never from a registry. */
export function writeCliConfig(program: GoProgram): string {
  const file = cliConfigFile(program);
  const text = [
    "# Written by lambdaship's `npm run setup`: providers come from the local mirror only.",
    `plugin_cache_dir = ${JSON.stringify(path.join(cacheRoot(), "tf", `plugin-cache-${program.variant ?? "default"}`))}`,
    "provider_installation {",
    "  filesystem_mirror {",
    `    path    = ${JSON.stringify(mirrorDir(program))}`,
    '    include = ["registry.terraform.io/hashicorp/*", "registry.opentofu.org/hashicorp/*"]',
    "  }",
    "  direct {",
    '    exclude = ["registry.terraform.io/hashicorp/*", "registry.opentofu.org/hashicorp/*"]',
    "  }",
    "}",
    "",
  ].join("\n");
  fs.mkdirSync(path.join(cacheRoot(), "tf", `plugin-cache-${program.variant ?? "default"}`), { recursive: true });
  if (!fs.existsSync(file) || fs.readFileSync(file, "utf8") !== text) fs.writeFileSync(file, text);
  return file;
}

/**
 * Sets up engine, providers and CLI config, and records them in .build/toolchain.json. The provider
 * comes from the registry when it answers (LAMBDASHIP_PROVIDER_SOURCE=auto, the default) or is asked
 * for (`registry`), else from a source build (`build`); either way each stack gets a derived lock.
 */
export async function ensureToolchain(stacks: readonly string[] = STACKS): Promise<Toolchain> {
  const setting = providerSourceSetting();
  const engine = ensureEngine();
  ensureDefaultCliConfig();
  const committed = readCommittedLocks(PROJECT_ROOT, stacks);
  const host = defaultRegistryHost(engine.kind);
  let source: ProviderSource = setting === "auto" ? "build" : setting;
  const user = userCliConfig(process.env, path.join(cacheRoot(), "tf"));
  const recorded = recordedToolchain();
  if (setting === "auto" && recorded?.providerSource) {
    // Decided once per clone: a laptop that goes offline keeps the registry's provider (cached), and
    // one that gets a network does not switch under a deployed stack.
    source = recorded.providerSource;
    log(`provider source: ${source === "registry" ? "the registry" : "a build from the Go module proxy"}, as setup chose before (${PROVIDER_SOURCE_VARIABLE}=registry|build chooses again)`);
  } else if (setting !== "build") {
    const first = withRegistryHost([...committed.values()][0].providers, host)[0];
    const probe = await probeRegistry(first.address, user.text);
    if (probe.reachable) {
      source = "registry";
      log(`provider source: the registry (${probe.detail} answered${user.file ? `; CLI config ${user.file}` : ""})`);
    } else if (setting === "registry") {
      throw new Error(
        `${PROVIDER_SOURCE_VARIABLE}=registry, but the registry does not answer (${probe.detail}). Check the network or the host block of your CLI config` +
          `${user.file ? ` (${user.file})` : ""}, or set ${PROVIDER_SOURCE_VARIABLE}=build (or auto) to build the provider from the Go module proxy.`,
      );
    } else {
      log(`provider source: a build from the Go module proxy (the registry does not answer: ${probe.detail})`);
    }
  } else {
    log(`provider source: a build from the Go module proxy (${PROVIDER_SOURCE_VARIABLE}=build)`);
  }
  const toolchain = source === "registry" ? registryToolchain(engine, committed, host, user.text, recorded) : buildToolchain(engine, stacks);
  fs.mkdirSync(path.dirname(TOOLCHAIN_FILE), { recursive: true });
  fs.writeFileSync(TOOLCHAIN_FILE, `${JSON.stringify(toolchain, null, 2)}\n`);
  return toolchain;
}

/**
 * cdktf points TF_CLI_CONFIG_FILE at ~/.terraformrc when it is unset, and the engine then logs a
 * warning that cdktf prints as an [ERROR] on every `npx cdktf` command when that file does not exist.
 * An empty one (the engine's defaults) stops that; an existing one is never touched.
 */
function ensureDefaultCliConfig(): void {
  const file = path.join(os.homedir(), ".terraformrc");
  const given = process.env.TF_CLI_CONFIG_FILE;
  if ((given && path.resolve(given) !== file) || fs.existsSync(file)) return;
  try {
    fs.writeFileSync(file, "# Created empty by lambdaship's npm run setup: the engine's defaults. cdktf points the engine here, which\n# warns (an [ERROR] line in cdktf's output) when the file is missing. Yours to edit or delete.\n", { flag: "wx" });
    log(`wrote an empty ${file} (cdktf points the engine at it; a missing one is an [ERROR] line on every npx cdktf command)`);
  } catch {
    /* a read-only home only costs the warning */
  }
}

/** The stacks of this project's envs (lock files are kept per stack). */
export const STACKS: readonly string[] = ENV_NAMES.map((e) => `lambdaship-${e}`);

/**
 * The registry path: a CLI config that keeps the user's own (host overrides, credentials) and adds a
 * plugin cache; one init per distinct committed lock, in a scratch folder, installs and verifies the
 * providers (signature, the lock's hashes) into that cache; the lock that init leaves (the committed
 * pins plus the hashes it verified for this platform) is each stack's derived lock.
 */
function registryToolchain(engine: Engine, committed: ReturnType<typeof readCommittedLocks>, host: string, userConfig: string, recorded: Toolchain | undefined): Toolchain {
  const cliConfigFile = path.join(cacheRoot(), "tf", "cli-registry.tfrc");
  const pluginCache = path.join(cacheRoot(), "tf", "plugin-cache-registry");
  fs.mkdirSync(pluginCache, { recursive: true });
  const text = [
    "# Written by lambdaship's `npm run setup`: providers from the registry, cached; the lines after the first block are your own CLI config.",
    /^\s*plugin_cache_dir\s*=/m.test(userConfig) ? "" : `plugin_cache_dir = ${JSON.stringify(pluginCache)}`,
    "",
    userConfig,
  ].join("\n");
  writeIfChanged(cliConfigFile, text);
  const locks: Record<string, string> = {};
  const providers: Record<string, string> = {};
  const done = new Map<string, string>();
  const warm = recorded?.providerSource === "registry" && recorded.engine.path === engine.path && recorded.cliConfigFile === cliConfigFile;
  for (const [stack, lock] of committed) {
    const key = sha256Hex(lock.text);
    const file = derivedLockFile(PROJECT_ROOT, stack);
    // Warm: the derived lock is from this committed file and the plugin cache holds what it pins.
    if (warm && !done.has(key) && fs.existsSync(file) && derivedFrom(fs.readFileSync(file, "utf8")) === key) {
      const derived = parseLockFile(fs.readFileSync(file, "utf8"), file);
      if (derived.every((p) => fs.existsSync(path.join(pluginCache, p.address, p.version, PLATFORM)))) done.set(key, fs.readFileSync(file, "utf8"));
    }
    let verified = done.get(key);
    if (verified === undefined) {
      const locked = withStackConstraints(withRegistryHost(lock.providers, host));
      const dir = path.join(cacheRoot(), "tf", "registry-init", key.slice(0, 16));
      scratchConfig(dir, locked, formatLockFile(locked));
      for (const p of locked) if (!p.hashes.length) log(`warning: ${path.relative(PROJECT_ROOT, lock.file)} pins ${p.address} ${p.version} with no hashes: the engine trusts what the registry signs on first use. Run npm run providers -- lock and commit the file to pin the hashes.`);
      const out = runEngineSync(engine, dir, ["init", "-input=false", "-no-color", "-backend=false"], cliConfigFile, `[setup] ${engine.kind} init: providers from the registry for ${stack}`);
      for (const l of installedLines(out)) {
        log(`provider: ${l}`);
        providers[l.split(" ")[0]] = `${l} from ${host}`;
      }
      verified = fs.readFileSync(path.join(dir, LOCK_FILE_NAME), "utf8");
      done.set(key, verified);
    }
    writeIfChanged(file, formatLockFile(withStackConstraints(parseLockFile(verified)), derivedHeader("registry", lock, PROJECT_ROOT)));
    locks[stack] = file;
  }
  if (!Object.keys(providers).length) {
    for (const [k, v] of Object.entries(recorded?.providers ?? {})) providers[k] = v;
    log(`provider: ${Object.values(providers).join("; ") || "from the registry"} (cached, verified when installed)`);
  }
  return { engine, cliConfigFile, providerSource: "registry", providers, locks };
}

/** The source-build path: the provider built into a mirror; its own lock (its own hash), the same for every stack. */
function buildToolchain(engine: Engine, stacks: readonly string[]): Toolchain {
  const program = awsProvider();
  const aws = ensureProvider(program);
  const cliConfigFile = writeCliConfig(program);
  const type = program.name.replace(/^terraform-provider-/, "");
  const address = `${defaultRegistryHost(engine.kind)}/hashicorp/${type}`;
  // Keyed by the binary's size and time, so a rebuilt provider is locked again.
  const bin = fs.statSync(aws);
  const lockFile = path.join(cacheRoot(), "tf", "mirror-lock", `${program.variant ?? "default"}-${engine.kind}-${bin.size}-${Math.round(bin.mtimeMs)}${LOCK_FILE_NAME}`);
  if (!fs.existsSync(lockFile)) {
    const dir = path.join(cacheRoot(), "tf", "mirror-lock", "scratch");
    const providers = [{ address, version: program.version, hashes: [] }];
    scratchConfig(dir, providers, undefined, true);
    runEngineSync(engine, dir, ["providers", "lock", "-no-color", `-fs-mirror=${mirrorDir(program)}`, `-platform=${PLATFORM}`], cliConfigFile, `[setup] ${engine.kind} providers lock (the source build)`);
    writeIfChanged(lockFile, fs.readFileSync(path.join(dir, LOCK_FILE_NAME), "utf8"));
  }
  const locked = withStackConstraints(parseLockFile(fs.readFileSync(lockFile, "utf8"), lockFile));
  const locks: Record<string, string> = {};
  for (const stack of stacks) {
    const file = derivedLockFile(PROJECT_ROOT, stack);
    writeIfChanged(file, formatLockFile(locked, derivedHeader("build")));
    locks[stack] = file;
  }
  log(`provider: hashicorp/${type} ${program.version} built from source, locked by its own hash (${locked[0]?.hashes[0] ?? "?"}); the committed stacks/*/${LOCK_FILE_NAME} are not used`);
  return {
    engine,
    cliConfigFile,
    providerSource: "build",
    mirror: mirrorDir(program),
    providers: { "hashicorp/aws": `${program.version} built from source ${program.variant === "full" ? "(all services)" : `(services: ${AWS_SERVICES.join(", ")})`} ${aws}` },
    locks,
  };
}

/** What setup recorded before, if anything usable. */
function recordedToolchain(): Toolchain | undefined {
  try {
    return JSON.parse(fs.readFileSync(TOOLCHAIN_FILE, "utf8")) as Toolchain;
  } catch {
    return undefined;
  }
}

/** Reads what setup recorded; throws with the fix when setup has not run. */
export function readToolchain(): Toolchain {
  if (!fs.existsSync(TOOLCHAIN_FILE)) {
    throw new Error(`${TOOLCHAIN_FILE} is missing: the Terraform engine and providers are not set up. Run \`npm run setup\` (idempotent; cold, it builds the aws provider from source).`);
  }
  const t = JSON.parse(fs.readFileSync(TOOLCHAIN_FILE, "utf8")) as Toolchain;
  if (!fs.existsSync(t.engine.path) || !fs.existsSync(t.cliConfigFile)) {
    throw new Error(`the toolchain recorded in ${TOOLCHAIN_FILE} is gone (${t.engine.path}); run \`npm run setup\` again.`);
  }
  return t;
}

/** Environment for running the engine or cdktf with this toolchain. */
export function engineEnv(t: Toolchain, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    TF_CLI_CONFIG_FILE: t.cliConfigFile,
    TERRAFORM_BINARY_NAME: t.engine.path,
    TF_IN_AUTOMATION: "1",
    TF_INPUT: "0",
    CHECKPOINT_DISABLE: "1",
    ...extra,
  };
}
