import "cdktf/lib/testing/adapters/jest";
import { Testing } from "cdktf";
import * as path from "path";
import { loadEnv } from "../envs";
import { EnvConfig } from "../envs/schema";
import { LambdaStack } from "../modules/stack";

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

export function synthEnv(env: EnvConfig): Synthesized {
  const app = Testing.app();
  const stack = new LambdaStack(app, { env, projectRoot: PROJECT_ROOT });
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
