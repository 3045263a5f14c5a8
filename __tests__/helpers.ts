import "cdktf/lib/testing/adapters/jest";
import { Testing } from "cdktf";
import * as path from "path";
import { loadEnv } from "../envs";
import { EnvConfig } from "../envs/schema";
import { binsFromMetadata, cargoMetadata, functionHashes } from "../build/rust";
import { MachineProbe, thisMachine } from "../modules/machine";
import { LambdaStack } from "../modules/stack";
import { LayerSource, planLayer } from "../build/layer";

export const PROJECT_ROOT = path.resolve(__dirname, "..");

type DeepPartial<T> = { [K in keyof T]?: T[K] extends Array<unknown> ? T[K] : T[K] extends object ? DeepPartial<T[K]> : T[K] };

function merge<T>(base: T, patch: DeepPartial<T> | undefined): T {
  if (patch === undefined) return base;
  if (Array.isArray(base) || typeof base !== "object" || base === null) return patch as T;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    const b = (base as Record<string, unknown>)[k];
    out[k] = v !== null && typeof v === "object" && !Array.isArray(v) && typeof b === "object" && b !== null ? merge(b, v as never) : v;
  }
  return out as T;
}

/**
 * A patch giving an env the Python WebSocket handler (lambdaship-<env>-websocket) serving every route,
 * as staging and prod have it, with the given layers.
 */
export function pythonWebsocket(layers: string[] = [], extra: Record<string, unknown> = {}): DeepPartial<EnvConfig> {
  return {
    functions: {
      websocket: { source: "lambda-src/websocket", handler: "handler.lambda_handler", runtime: "python3.12", reservedConcurrency: 5, environment: { LOG_LEVEL: "DEBUG" }, layers, ...extra },
    },
    websocket: { routes: { $connect: "websocket", $disconnect: "websocket", $default: "websocket", sendmessage: "websocket" } },
  } as DeepPartial<EnvConfig>;
}

/** A validated env with fields replaced (objects merged, arrays and scalars replaced). */
export function envWith(name: string, patch?: DeepPartial<EnvConfig>): EnvConfig {
  return merge(loadEnv(name), patch);
}

export interface Synthesized {
  readonly stack: LambdaStack;
  readonly json: string;
  readonly parsed: SynthJson;
}

export interface SynthJson {
  resource: Record<string, Record<string, Record<string, unknown>>>;
  data?: Record<string, Record<string, Record<string, unknown>>>;
  import?: Array<{ to: string; id: string }>;
  terraform: Record<string, unknown>;
  provider: Record<string, Array<Record<string, unknown>>>;
  output?: Record<string, unknown>;
}

/**
 * A machine on which both architectures build (Debian's rustc-web with the arm64 standard library and
 * cross linker): stacks synthesized with it are the same wherever the tests run.
 */
export function fakeRustMachine(opts: { arm64?: boolean } = {}): MachineProbe {
  const arm64 = opts.arm64 ?? true;
  return {
    // Sizes of packages built here: this machine's (the layer tests put one in a store of their own).
    builtSize: thisMachine.builtSize,
    fileSize: thisMachine.fileSize,
    localAwsEndpoint: () => undefined,
    which: (cmd) => (cmd === "aarch64-linux-gnu-gcc" && arm64 ? "/usr/bin/aarch64-linux-gnu-gcc" : undefined),
    run: (_cmd, args) => (args[0] === "--print" ? "/usr" : args[0] === "--version" ? "rustc 1.96.0 (debian)" : undefined),
    exists: (p) => p === "/usr/bin/cargo" || p === "/usr/bin/rustc" || p.endsWith("x86_64-unknown-linux-gnu/lib") || (arm64 && p.endsWith("aarch64-unknown-linux-gnu/lib")),
  };
}

export function synthEnv(env: EnvConfig, opts: { rustProbe?: MachineProbe; projectRoot?: string } = {}): Synthesized {
  const app = Testing.app();
  const stack = new LambdaStack(app, { env, projectRoot: opts.projectRoot ?? PROJECT_ROOT, projectRootFromStack: "../../..", machine: opts.rustProbe ?? fakeRustMachine() });
  const json = Testing.synth(stack);
  return { stack, json, parsed: JSON.parse(json) as SynthJson };
}

/** All resources of one type, keyed by their logical ID. */
export function resourcesOf(s: SynthJson, type: string): Record<string, Record<string, unknown>> {
  return s.resource[type] ?? {};
}

export function onlyResource(s: SynthJson, type: string): [string, Record<string, unknown>] {
  const all = Object.entries(resourcesOf(s, type));
  if (all.length !== 1) throw new Error(`expected one ${type}, found ${all.length}`);
  return all[0];
}

/** The part of a synthesized stack whose logical IDs start with `prefix` (one module's resources and data sources). */
export function scoped(s: SynthJson, prefix: string): { parsed: SynthJson; json: string } {
  const pick = (blocks: Record<string, Record<string, Record<string, unknown>>> | undefined) =>
    Object.fromEntries(
      Object.entries(blocks ?? {})
        .map(([type, byId]) => [type, Object.fromEntries(Object.entries(byId).filter(([id]) => id.startsWith(prefix)))] as const)
        .filter(([, byId]) => Object.keys(byId).length > 0),
    );
  const parsed: SynthJson = {
    ...s,
    resource: pick(s.resource),
    data: pick(s.data),
    import: s.import?.filter((i) => i.to.split(".")[1].startsWith(prefix)),
  };
  if (parsed.import?.length === 0) delete parsed.import;
  return { parsed, json: JSON.stringify(parsed) };
}

/**
 * The synthesized JSON with the Rust functions' and the extension layer's input hashes (hex, 16-digit
 * prefix, base64) replaced by `<bin hash>`: they change with every edit of the Rust sources, and are
 * asserted in the rust_lambda and layer_builder tests.
 */
export function withoutRustHashes(json: string): string {
  const meta = cargoMetadata(path.join(PROJECT_ROOT, "lambda-src", "rust"));
  const bins = binsFromMetadata(meta);
  let out = json;
  for (const target of ["aarch64-unknown-linux-gnu", "x86_64-unknown-linux-gnu"]) {
    for (const [bin, hash] of Object.entries(functionHashes(meta, bins, target))) {
      const b64 = Buffer.from(hash, "hex").toString("base64");
      out = out.split(hash).join(`<${bin} hash>`).split(hash.slice(0, 16)).join(`<${bin} hash>`).split(b64).join(`<${bin} hash>`);
    }
  }
  const proxy: LayerSource = { name: "runtime-proxy", kind: "extension", dir: path.join(PROJECT_ROOT, "lambda-src", "extensions", "runtime-proxy") };
  for (const arch of ["arm64", "x86_64"] as const) {
    const hash = planLayer(proxy, arch).inputHash;
    const b64 = Buffer.from(hash, "hex").toString("base64");
    out = out.split(hash).join(`<runtime-proxy ${arch} hash>`).split(hash.slice(0, 16)).join(`<runtime-proxy ${arch} hash>`).split(b64).join(`<runtime-proxy ${arch} hash>`);
  }
  return out;
}
