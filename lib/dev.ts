import * as fs from "fs";
import * as path from "path";
import { DevBuilder, devBuilder, DevPackage } from "../build/dev";
import { envFile } from "../envs";
import type { EnvConfig } from "../envs/schema";
import type { FunctionSpec, RuntimeEmulator } from "../runtime/emulator";
import { functionsFromStack, ResolveOptions, StackJson } from "../runtime/functions";
import { GatewaySpec, ServedEndpoint, withLocalRelay } from "../runtime/gateway";
import type { Sandbox } from "../runtime/sandbox";
import { UsageError } from "./cli";

/**
 * `npm run dev` (issue 17): the env's functions served by the runtime emulator and the local gateway,
 * each chosen one from a dev build (build/dev.ts) that is rebuilt when one of its inputs changes and
 * swapped in without a deploy, so the next invocation answers with the edit.
 */

/** A function served from a dev build: its key, deployed name and entry. */
export interface DevTarget {
  readonly key: string;
  readonly functionName: string;
  readonly entry: EnvConfig["functions"][string];
}

/** The functions to serve from dev builds: the keys given, or every function the env builds from source. */
export function devTargets(env: EnvConfig, keys: readonly string[]): DevTarget[] {
  const built = Object.keys(env.functions).filter((k) => (env.functions[k].deployment?.mode ?? "create") !== "existing");
  for (const k of keys) {
    if (!env.functions[k]) throw new UsageError(`${env.name} has no function ${JSON.stringify(k)} (${envFile(env.name)}); its functions are ${Object.keys(env.functions).join(", ")}`);
    if (!built.includes(k)) throw new UsageError(`${k} is only referenced by ${env.name} (deployment mode "existing"): its code is not built here, so there is nothing to rebuild`);
  }
  const defaults = env.functionDefaults ?? {};
  return (keys.length ? keys : built).map((key) => {
    const e = env.functions[key];
    const d = e.deployment;
    // What the builder reads of functionDefaults too.
    const entry = { ...e, runtime: e.runtime ?? defaults.runtime, architecture: e.architecture ?? defaults.architecture, dependencies: e.dependencies ?? defaults.dependencies };
    return { key, functionName: d && d.mode !== "create" ? d.functionName : `${env.namePrefix}-${key}`, entry };
  });
}

/** What npm run dev serves the functions with (an env served by serveEnv). */
export interface DevServed {
  readonly emulator: RuntimeEmulator;
  /** The deployed packages' specs, as served. */
  readonly functions: readonly FunctionSpec[];
  readonly stack: StackJson;
  readonly resolve: ResolveOptions;
  readonly gatewaySpec?: GatewaySpec;
  readonly endpoints?: readonly ServedEndpoint[];
}

export interface DevLoopOptions {
  readonly projectRoot: string;
  /** The env's default architecture, for entries that give none. */
  readonly defaultArchitecture?: "arm64" | "x86_64";
  /** One line per build, and what each dev build differs in. */
  readonly log: (line: string) => void;
  /** Called after a dev build serves (for --deploy). */
  readonly onBuilt?: (key: string) => void;
  /** Wait this long after a change for more (an editor's save is several events). @default 40 */
  readonly settleMs?: number;
}

interface Watched {
  readonly target: DevTarget;
  readonly builder: DevBuilder;
  readonly release: FunctionSpec;
  readonly watchers: Map<string, fs.FSWatcher>;
  readonly pending: Set<string>;
  /** The input files at the last build: a change to one of them, or a new input, counts. */
  known: Set<string>;
  timer?: NodeJS.Timeout;
  building?: Promise<void>;
  /** Whether a dev build serves (else the deployed package does). */
  serving: boolean;
  builds: number;
}

/** Stops a sandbox once it is idle (an invocation in progress finishes on the build it started on). */
async function stopWhenIdle(sb: Sandbox): Promise<void> {
  for (let i = 0; i < 600 && sb.state === "invoking"; i++) await new Promise((r) => setTimeout(r, 50));
  await sb.stop();
}

export class DevLoop {
  private readonly watched: Watched[] = [];
  private stopped = false;

  constructor(
    private readonly served: DevServed,
    private readonly targets: readonly DevTarget[],
    private readonly opts: DevLoopOptions,
  ) {}

  /** Builds each chosen function once, swaps it in, and starts watching its inputs. */
  async start(): Promise<void> {
    for (const target of this.targets) {
      const release = this.served.functions.find((f) => f.name === target.functionName);
      if (!release) throw new Error(`${target.functionName} is not served by the runtime emulator: deploy the env first (npm start)`);
      const e = target.entry;
      const builder = devBuilder(
        {
          key: target.key,
          dir: path.resolve(this.opts.projectRoot, e.source),
          runtime: e.runtime,
          handler: e.handler,
          bin: e.bin,
          dependencies: e.dependencies,
          architecture: e.architecture ?? this.opts.defaultArchitecture ?? "arm64",
          classpath: javaClasspath(release),
          releaseCodeDir: release.runtime.env.LAMBDA_TASK_ROOT,
        },
        { projectRoot: this.opts.projectRoot, log: this.opts.log },
      );
      if (builder.differs) this.opts.log(`${target.key}: dev build ${builder.differs}`);
      const w: Watched = { target, builder, release, watchers: new Map(), pending: new Set(), known: new Set(), serving: false, builds: 0 };
      this.watched.push(w);
    }
    for (const w of this.watched) {
      await this.build(w, []);
      this.watch(w);
    }
  }

  /** The keys served from a dev build now. */
  get serving(): string[] {
    return this.watched.filter((w) => w.serving).map((w) => w.target.key);
  }

  /** Watches each folder holding an input (folders appear and go: refreshed after each build). */
  private watch(w: Watched): void {
    if (this.stopped) return;
    w.known = new Set(w.builder.inputs());
    const wanted = new Set(["", ...[...w.known].map((r) => (r.includes("/") ? r.slice(0, r.lastIndexOf("/")) : ""))]);
    for (const [dir, watcher] of w.watchers) {
      if (!wanted.has(dir)) {
        watcher.close();
        w.watchers.delete(dir);
      }
    }
    for (const dir of wanted) {
      if (w.watchers.has(dir)) continue;
      try {
        const watcher = fs.watch(path.join(w.builder.root, dir), (_event, file) => {
          if (!file) return;
          const rel = dir ? `${dir}/${file}` : String(file);
          if (!w.builder.isInput(rel)) return;
          w.pending.add(rel);
          clearTimeout(w.timer);
          w.timer = setTimeout(() => void this.settle(w), this.opts.settleMs ?? 40);
        });
        watcher.on("error", () => w.watchers.delete(dir));
        w.watchers.set(dir, watcher);
      } catch {
        /* the folder went away meanwhile */
      }
    }
  }

  private async settle(w: Watched): Promise<void> {
    if (w.building) return; // the build in progress looks at pending again when done
    while (w.pending.size && !this.stopped) {
      // An editor's temporary file (written, then renamed over the source) is gone by now: not a change.
      const changed = [...w.pending].filter((rel) => w.known.has(rel) || fs.existsSync(path.join(w.builder.root, rel))).sort();
      w.pending.clear();
      if (!changed.length) break;
      w.building = this.build(w, changed);
      await w.building;
      w.building = undefined;
    }
  }

  private async build(w: Watched, changed: readonly string[]): Promise<void> {
    const started = performance.now();
    const what = changed.length ? `${changed.slice(0, 3).join(", ")}${changed.length > 3 ? ` and ${changed.length - 3} more` : ""} changed; ` : "";
    const seconds = () => ((performance.now() - started) / 1000).toFixed(2);
    let pkg: DevPackage;
    try {
      pkg = await w.builder.build(changed);
    } catch (e) {
      const message = (e as Error).message.trim().split("\n").map((l) => `    ${l}`).join("\n");
      this.opts.log(`${w.target.key}: ${what}the ${w.builds ? "re" : ""}build failed in ${seconds()} s; ${w.serving ? "the previous build" : "the deployed package"} keeps serving:\n${message}`);
      return;
    }
    try {
      await this.swap(w, pkg);
    } catch (e) {
      this.opts.log(`${w.target.key}: ${what}built, but it cannot run here: ${(e as Error).message}; ${w.serving ? "the previous build" : "the deployed package"} keeps serving`);
      return;
    }
    w.builds++;
    this.opts.log(`${w.target.key}: ${what}${w.builds > 1 ? "rebuilt" : "built"} in ${seconds()} s (${pkg.how}); the next invocation runs it`);
    this.watch(w);
    if (changed.length && !this.stopped) this.opts.onBuilt?.(w.target.key);
  }

  /** The function's spec with the dev build as its code: the deployed one's environment, layers and settings. */
  devSpec(w: Watched, pkg: DevPackage): FunctionSpec {
    const resources = this.served.stack.resource?.aws_lambda_function ?? {};
    const found = Object.entries(resources).find(([, f]) => f.function_name === w.target.functionName);
    if (!found) throw new Error(`${w.target.functionName} is not in the synthesized stack`);
    const [id, fn] = found;
    const stack: StackJson = { ...this.served.stack, resource: { ...this.served.stack.resource, aws_lambda_function: { [id]: { ...fn, filename: pkg.codeDir } } } };
    const { functions } = functionsFromStack(stack, { ...this.served.resolve, only: w.target.functionName });
    let spec = functions[0];
    if (!spec) throw new Error(`the emulator cannot run ${w.target.functionName}`);
    if (this.served.gatewaySpec && this.served.endpoints) spec = withLocalRelay([spec], this.served.gatewaySpec, this.served.endpoints)[0];
    // Dependencies bundled into the deployed package stay where they are: after the dev build on the paths.
    const releaseDir = w.release.runtime.env.LAMBDA_TASK_ROOT;
    const env = { ...spec.runtime.env };
    if (w.target.entry.dependencies === "bundle" && releaseDir) {
      if (env.PYTHONPATH) env.PYTHONPATH = [pkg.codeDir, releaseDir, ...env.PYTHONPATH.split(":").slice(1)].join(":");
      if (env.NODE_PATH) env.NODE_PATH = `${env.NODE_PATH}:${path.join(releaseDir, "node_modules")}`;
    }
    return { ...spec, runtime: { ...spec.runtime, env }, description: `${spec.description.replace(/ \(.*\)$/, "")} (dev build of ${w.target.key}: ${w.builder.kind})` };
  }

  private async swap(w: Watched, pkg: DevPackage): Promise<void> {
    const spec = this.devSpec(w, pkg);
    const old = this.served.emulator.poolOf(w.target.functionName);
    this.served.emulator.add(spec);
    w.serving = true;
    if (old) await Promise.all([...old.sandboxes].map((s) => stopWhenIdle(s)));
  }

  /**
   * Serves a deployed package (after --deploy applied): a chosen function's, unless it was edited
   * again meanwhile (`since`: its build count when the deploy began); another function's when its
   * package changed.
   */
  async serveDeployed(release: FunctionSpec, since?: ReadonlyMap<string, number>): Promise<void> {
    const w = this.watched.find((x) => x.target.functionName === release.name);
    const old = this.served.emulator.poolOf(release.name);
    if (w ? w.builds !== (since?.get(w.target.key) ?? w.builds) : old?.spec.runtime.env.LAMBDA_TASK_ROOT === release.runtime.env.LAMBDA_TASK_ROOT) return;
    this.served.emulator.add(release);
    if (w) w.serving = false;
    if (old) await Promise.all([...old.sandboxes].map((s) => stopWhenIdle(s)));
  }

  /** Each chosen function's build count (see serveDeployed). */
  buildCounts(): Map<string, number> {
    return new Map(this.watched.map((w) => [w.target.key, w.builds]));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const w of this.watched) {
      clearTimeout(w.timer);
      for (const watcher of w.watchers.values()) watcher.close();
      await w.building;
      await w.builder.dispose();
    }
  }
}

/** The class path a Java function runs with here (its package and layers' jars), from its spec. */
function javaClasspath(spec: FunctionSpec): string | undefined {
  const i = spec.runtime.args.indexOf("-cp");
  return i >= 0 ? spec.runtime.args[i + 1] : undefined;
}
