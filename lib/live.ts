import * as fs from "fs";
import * as path from "path";
import { envFile } from "../envs";
import type { EnvConfig } from "../envs/schema";
import { isLiveCapable, relayFunctions } from "../envs/schema";
import { FunctionSpec, RuntimeEmulator } from "../runtime/emulator";
import type { InvocationContext } from "../runtime/live-protocol";
import { LiveSession } from "../runtime/live-session";
import { signRequest } from "../runtime/sigv4";
import { assumeRole, AwsCredentials, awsJson, AwsTarget } from "./aws-client";
import { UsageError } from "./cli";
import { sourceFunction } from "./local-runtime";
import { PROJECT_ROOT } from "./toolchain";

/**
 * `npm run live` (issue 16): a session on the env's live relay serving the chosen functions, each
 * run here from its sources by the runtime emulator, rebuilt when its sources change (checked at each
 * invocation, so an edit is live on the next one), with the deployed function's variables.
 */

/** A function served live: its key, deployed name and entry. */
export interface LiveTarget {
  readonly key: string;
  readonly functionName: string;
  readonly entry: EnvConfig["functions"][string];
}

/** The functions to serve: the keys given, or every function that can be served live. */
export function liveTargets(env: EnvConfig, keys: readonly string[]): LiveTarget[] {
  if (!env.live.enabled) {
    throw new UsageError(`${env.name} does not allow live mode (live.enabled is false in ${envFile(env.name)}): nothing of it can be served from this machine`);
  }
  const capable = Object.keys(env.functions).filter((k) => isLiveCapable(env, k));
  if (!capable.length) {
    throw new UsageError(`${env.name} has no function that can be served live: set live.layer to its Runtime API proxy layer (an extension layer with proxyPort, e.g. live: { enabled: true, layer: "runtime-proxy" }) in ${envFile(env.name)}, or list that layer in a function's layers`);
  }
  for (const k of keys) {
    if (!env.functions[k]) throw new UsageError(`${env.name} has no function ${JSON.stringify(k)}; the ones that can be served live are ${capable.join(", ")}`);
    if (!capable.includes(k)) throw new UsageError(`${k} cannot be served live: ${whyNotLive(env, k)}; the ones that can are ${capable.join(", ")}`);
  }
  return (keys.length ? keys : capable).map((key) => ({ key, functionName: `${env.namePrefix}-${key}`, entry: env.functions[key] }));
}

/**
 * Whether a Rust binary reads LAMBDASHIP_RUNTIME_API_PROXY (the variable's name is in its data, as
 * with the workspace's `common` crate). Lambda runs no wrapper for provided.*, so a binary that reads
 * only AWS_LAMBDA_RUNTIME_API (the `lambda_runtime` crate alone) talks to Lambda's Runtime API
 * directly and its invocations never reach the proxy, nor a live session.
 */
export function readsRuntimeApiProxy(file: string): boolean {
  return fs.readFileSync(file).includes("LAMBDASHIP_RUNTIME_API_PROXY");
}

/** The line npm run live prints for a Rust function whose binary would never hand it an invocation. */
export function notProxiedWarning(t: LiveTarget): string {
  return (
    `${t.key}: warning: its binary does not read LAMBDASHIP_RUNTIME_API_PROXY, so its deployed code (provided.*, where Lambda runs no wrapper) ` +
    `asks Lambda's Runtime API directly and no invocation reaches this session. Fix: first thing in main, ` +
    `if let Ok(a) = std::env::var("LAMBDASHIP_RUNTIME_API_PROXY") { unsafe { std::env::set_var("AWS_LAMBDA_RUNTIME_API", a) } } ` +
    `(as lambda-src/rust/crates/common's runtime_api::use_proxy does), then deploy`
  );
}

/** Why a function of the env is not live-capable, for the error that names it. */
function whyNotLive(env: EnvConfig, key: string): string {
  const entry = env.functions[key];
  if ((entry.deployment?.mode ?? "create") !== "create") return `it is ${entry.deployment?.mode === "import" ? "adopted" : "referenced"} (deployment mode ${entry.deployment?.mode}), and keeps the configuration it has`;
  if (relayFunctions(env).has(key)) return "it serves a WebSocket route, and the live relay runs on those handlers";
  if (entry.live === false) return `its entry sets live: false in ${envFile(env.name)}`;
  return `it has no Runtime API proxy layer; set live.layer in ${envFile(env.name)}, or list that layer in its layers`;
}

/** Variables the proxy layer and the relay set, which a function run here without them must not see. */
const PROXY_VARIABLES = ["AWS_LAMBDA_EXEC_WRAPPER", "LAMBDASHIP_PROXY_PORT", "LAMBDASHIP_RUNTIME_API_PROXY", "LAMBDASHIP_LIVE_RELAY", "LAMBDASHIP_LIVE_ACK_MS", "LAMBDASHIP_LIVE_CA_FILE"];

/** A deployed function's configuration, as Lambda reports it: its variables (without the proxy's and the relay's) and its role. */
export async function deployedConfiguration(functionName: string, target: AwsTarget): Promise<{ variables: Record<string, string>; role?: string }> {
  const c = await awsJson("lambda", "lambda", `/2015-03-31/functions/${encodeURIComponent(functionName)}/configuration`, target);
  const vars = (c.Environment as { Variables?: Record<string, string> } | undefined)?.Variables ?? {};
  return { variables: Object.fromEntries(Object.entries(vars).filter(([k]) => !PROXY_VARIABLES.includes(k))), ...(typeof c.Role === "string" ? { role: c.Role } : {}) };
}

/** The wss:// URL of the env's relay on API Gateway: the stage of the WebSocket API `<namePrefix>-live`. */
export async function findRelay(namePrefix: string, target: AwsTarget, envName: string): Promise<string> {
  type Page = { items?: Array<Record<string, unknown>>; nextToken?: string };
  const all = async (p: string) => {
    const items: Array<Record<string, unknown>> = [];
    for (let token: string | undefined, first = true; first || token; first = false) {
      const page = (await awsJson("apigateway", "apigateway", `${p}${token ? `?nextToken=${encodeURIComponent(token)}` : ""}`, target)) as Page;
      items.push(...(page.items ?? []));
      token = page.nextToken;
    }
    return items;
  };
  const name = `${namePrefix}-live`;
  const api = (await all("/v2/apis")).find((a) => a.name === name);
  const where = `${target.endpoint ?? `AWS ${target.region}`} (as ${target.credentials.source})`;
  if (!api) throw new UsageError(`no API named ${name} in ${where}: deploy ${envName} with live.enabled first (cdktf deploy ${envName}), or give --relay with the stack's live_relay output`);
  const stages = await all(`/v2/apis/${String(api.apiId)}/stages`);
  if (stages.length !== 1) throw new UsageError(`${name} (${String(api.apiId)}) has ${stages.length} stages in ${where}, not the one ${envName} deploys: give --relay with the stack's live_relay output`);
  // A WebSocket API's endpoint is wss:// on AWS (moto says https://).
  return `${String(api.apiEndpoint).replace(/^https:\/\//, "wss://")}/${String(stages[0].stageName)}`;
}

/**
 * The credentials a function served here runs with: its role's, assumed with the user's (`aws`), or
 * the user's own when the role cannot be assumed; the line it logs says which, and why.
 */
export async function roleCredentials(t: LiveTarget, role: string | undefined, aws: AwsTarget, log: (line: string) => void): Promise<AwsCredentials> {
  if (!role) return aws.credentials;
  try {
    const c = await assumeRole(role, aws.credentials, { region: aws.region, endpoint: aws.endpoint, sessionName: `lambdaship-live-${t.key}` });
    log(`${t.key}: runs with the credentials of its role ${role}${c.expiration ? ` (until ${c.expiration.toISOString().slice(11, 16)} UTC, renewed before then)` : ""}`);
    return c;
  } catch (e) {
    log(`${t.key}: runs with your credentials (${aws.credentials.source}), not its role's: ${(e as Error).message}. To run it as it runs deployed, let your principal assume ${role} (its trust policy)`);
    return aws.credentials;
  }
}

/** Newest modification time and file count under `dir` (skipping build output), for a cheap "did it change". */
function fingerprint(dir: string): string {
  let newest = 0;
  let count = 0;
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.name === "target" || e.name === "node_modules" || e.name === "dist" || e.name.startsWith(".")) continue;
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const st = fs.statSync(p);
        newest = Math.max(newest, st.mtimeMs);
        count++;
      }
    }
  };
  walk(dir);
  return `${newest}:${count}`;
}

export interface LocalHandlerOptions {
  readonly region: string;
  /** The deployed functions' variables, by name. */
  readonly variables: ReadonlyMap<string, Record<string, string>>;
  readonly log: (line: string) => void;
  /** Each line the functions print. */
  readonly console?: (line: string) => void;
  /** The credentials a function runs with, asked at each build and again before they run out. @default - the local AWS's */
  readonly credentials?: (target: LiveTarget) => Promise<AwsCredentials>;
  /** Where the functions' AWS calls go: the local AWS's endpoint, or null for AWS. @default - the local AWS when one runs */
  readonly awsEndpoint?: string | null;
}

/** Temporary credentials are renewed (a new sandbox) when they have less than this left. */
const RENEW_BEFORE_MS = 5 * 60_000;

/**
 * The chosen functions run here from source: built for this machine (a Rust bin natively with
 * cargo's dev profile; other languages as `npm run invoke -- --source` builds a folder), rebuilt
 * when their sources changed since the last build, checked before each invocation. A failed build
 * answers the invocation with the error and keeps the previous build for the next one.
 */
export class LocalHandlers {
  readonly emulator: RuntimeEmulator;
  private readonly built = new Map<string, string>();
  /** When each function's credentials run out (ms). */
  private readonly expires = new Map<string, number>();
  private readonly building = new Map<string, Promise<void>>();
  /** Rust functions whose binary was checked for the proxy's variable. */
  private readonly checked = new Set<string>();

  constructor(
    private readonly targets: readonly LiveTarget[],
    private readonly opts: LocalHandlerOptions,
  ) {
    this.emulator = new RuntimeEmulator([], { console: opts.console });
  }

  private target(functionName: string): LiveTarget {
    const t = this.targets.find((x) => x.functionName === functionName);
    if (!t) throw new Error(`${functionName} is not served by this session`);
    return t;
  }

  /** Builds (or rebuilds, when its sources changed) and puts the new build in place. */
  async ensureBuilt(functionName: string): Promise<void> {
    const pending = this.building.get(functionName);
    if (pending) return pending;
    const t = this.target(functionName);
    const sourceDir = path.resolve(PROJECT_ROOT, t.entry.source);
    const print = fingerprint(sourceDir);
    const renew = (this.expires.get(functionName) ?? Infinity) < Date.now() + RENEW_BEFORE_MS;
    if (this.built.get(functionName) === print && !renew) return;
    const p = (async () => {
      const started = Date.now();
      const first = !this.built.has(functionName);
      const from = `from ${t.entry.source}${t.entry.bin ? ` (bin ${t.entry.bin})` : ""}`;
      this.opts.log(`${t.key}: ${first ? `building ${from}` : this.built.get(functionName) !== print ? `sources changed, rebuilding ${from}` : "its credentials run out within 5 minutes: renewing them (a new sandbox)"}`);
      const spec = await this.spec(t, sourceDir);
      const old = this.emulator.poolOf(functionName);
      this.emulator.add(spec);
      if (old) await Promise.all([...old.sandboxes].map((s) => s.stop()));
      this.built.set(functionName, print);
      this.opts.log(`${t.key}: built in ${((Date.now() - started) / 1000).toFixed(1)} s; the next invocation runs it`);
    })();
    this.building.set(functionName, p);
    try {
      await p;
    } finally {
      this.building.delete(functionName);
    }
  }

  private async spec(t: LiveTarget, sourceDir: string): Promise<FunctionSpec> {
    const environment = this.opts.variables.get(t.functionName) ?? {};
    const credentials = this.opts.credentials ? await this.opts.credentials(t) : undefined;
    if (credentials?.expiration) this.expires.set(t.functionName, credentials.expiration.getTime());
    else this.expires.delete(t.functionName);
    const aws = { ...(credentials ? { credentials } : {}), ...(this.opts.awsEndpoint !== undefined ? { awsEndpoint: this.opts.awsEndpoint } : {}) };
    const common = { name: t.functionName, environment, region: this.opts.region, memoryMiB: t.entry.memoryMiB, timeoutSeconds: t.entry.timeoutSeconds, log: this.opts.log, ...aws };
    const onBinary = (file: string) => {
      if (this.checked.has(t.functionName)) return;
      this.checked.add(t.functionName);
      if (!readsRuntimeApiProxy(file)) this.opts.log(notProxiedWarning(t));
    };
    return sourceFunction({ ...common, source: sourceDir, runtime: t.entry.runtime, handler: t.entry.handler, bin: t.entry.bin, onBinary });
  }

  /** Runs one invocation here: the session's handler. */
  async handle(functionName: string, payload: Buffer, context: InvocationContext): Promise<{ payload: Buffer; errorType?: string }> {
    try {
      await this.ensureBuilt(functionName);
    } catch (e) {
      const message = (e as Error).message;
      this.opts.log(`${this.target(functionName).key}: the build failed${this.built.has(functionName) ? "; the previous build answers" : ""}:\n${message}`);
      if (!this.built.has(functionName)) return { payload: Buffer.from(JSON.stringify({ errorMessage: `npm run live could not build ${functionName}: ${message}`, errorType: "Live.BuildError" })), errorType: "Live.BuildError" };
    }
    const r = await this.emulator.invoke(functionName, payload, { traceId: context.traceId, clientContext: context.clientContext });
    return { payload: r.payload, ...(r.errorType ? { errorType: r.errorType } : {}) };
  }

  async stop(): Promise<void> {
    await this.emulator.stop();
  }
}

/** A session on `relayUrl` whose invocations run in `handlers`; SigV4 with the given credentials. */
export function liveSession(relayUrl: string, targets: readonly LiveTarget[], handlers: LocalHandlers, credentials: AwsCredentials & { region: string }, log: (line: string) => void): LiveSession {
  return new LiveSession({
    url: relayUrl,
    functions: targets.map((t) => t.functionName),
    headers: (url) => signRequest({ method: "GET", url: url.replace(/^ws/, "http") }, { ...credentials, service: "execute-api" }),
    handler: (fn, payload, context) => handlers.handle(fn, payload, context),
    log,
  });
}
