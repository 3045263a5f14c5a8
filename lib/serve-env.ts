import type { EnvConfig } from "../envs/schema";
import type { FunctionSpec, RuntimeEmulator } from "../runtime/emulator";
import type { ResolveOptions, StackJson } from "../runtime/functions";
import { gatewayFromStack, GatewaySpec, LocalGateway, ServedEndpoint, withLocalRelay } from "../runtime/gateway";
import { rememberPorts } from "./local-gateway";
import { buildIfNeeded, localRuntime, localState } from "./local-runtime";
import { readStack, stackDir } from "./synth";

/** An env served on this machine: the runtime emulator with its functions, and the local gateway in front. */
export interface ServedEnv {
  readonly emulator: RuntimeEmulator;
  /** The functions as served (the live relay pointed at the gateway's). */
  readonly functions: FunctionSpec[];
  /** The emulator's Invoke API. */
  readonly url: string;
  readonly gateway: LocalGateway;
  readonly gatewaySpec: GatewaySpec;
  readonly endpoints: readonly ServedEndpoint[];
  readonly stack: StackJson;
  /** How the functions were resolved (state, local AWS): to resolve one again with other code. */
  readonly resolve: ResolveOptions;
  readonly awsEndpoint: string;
}

/**
 * Serves an env's synthesized stack (synthesize it first): its packages built where missing, the
 * runtime emulator on `port`, the local gateway on the ports given where free (the last run's), which
 * are remembered for the next. `npm run runtime -- <env>` and `npm run dev` serve through this.
 */
export async function serveEnv(
  env: EnvConfig,
  opts: { port?: number; console: (line: string) => void; log: (line: string) => void; external?: { key: string; port: number }; ports?: Record<string, number> },
): Promise<ServedEnv> {
  const dir = stackDir(env.name);
  const stack = readStack(env.name) as StackJson;
  for (const r of Object.values(stack.resource?.aws_lambda_function ?? {})) buildIfNeeded(stack, dir, r);
  const local = await localRuntime(env, { port: opts.port, console: opts.console, external: opts.external });
  const spec = gatewayFromStack(stack, env.region, env.stateBackend ? undefined : localState(env.name));
  for (const p of spec.problems) opts.log(`note: ${p}`);
  const gateway = new LocalGateway(spec, local.emulator, { log: opts.log, ports: opts.ports ?? {}, portsArePreferences: true, chatPage: true, aws: { endpoint: local.aws.endpoint, region: env.region } });
  const endpoints = await gateway.start();
  rememberPorts(env.name, endpoints);
  // The functions' live relay is the gateway's (no sandbox has started yet: none sees the AWS URL).
  const relayed = withLocalRelay(local.functions, spec, endpoints);
  for (const [i, f] of relayed.entries()) if (f !== local.functions[i]) local.emulator.add(f);
  return { emulator: local.emulator, functions: relayed, url: local.url, gateway, gatewaySpec: spec, endpoints, stack, resolve: local.resolve, awsEndpoint: local.aws.endpoint };
}
