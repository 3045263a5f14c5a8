import * as path from "path";
import { parseArgs } from "util";
import { DetectError } from "./detect";
import { LambdaArchitecture } from "./elf";
import { fetchIntoStore, publishArtifact } from "./artifact";
import { buildFunction, defaultFunctionStore, Dependencies, FunctionBuildError, functionStoreZip, functionZipPath, planFunction } from "./function";
import { checkSharedStoreArgs, SHARED_STORE_HELP, SharedStoreArgs, sharedStoreFromArgs } from "./shared-store";
import { SourceError } from "./source";
import { formatBytes, table } from "./util";

const HELP = `Usage: npm run build:function -- --source DIR [--name KEY] [--arch arm64|x86_64 ...]
                              [--runtime R] [--handler H] [--dependencies layer|bundle]
                              [--runtime-api-proxy] [--expect ARCH=HASH ...] [--no-cache]
       npm run build:function -- --env ENV [--no-cache]

Builds a function from its folder into .build/functions/<key>/<key>-<arch>-<hash16>.zip, once per
input hash. The runtime and handler are detected from the folder unless given:
  Python   sources (requirements.txt, when --dependencies bundle, installed by pip as wheels for the
           architecture; otherwise the stack puts them in a dependency layer)
  Node.js  TypeScript and ES modules bundled by esbuild into one CommonJS file; CommonJS as it is;
           production dependencies in the dependency layer, or bundled in
  Go       CGO_ENABLED=0 GOOS=linux GOARCH=<arch> go build -trimpath -buildvcs=false into bootstrap
  Java     mvn compile in a copy; classes at the zip's root, runtime jars in the dependency layer's
           java/lib, or in the zip's lib/ when bundled
A zip already built for the same inputs is skipped; one built in another clone on this machine is
copied from ~/.cache/lambdaship/function-artifacts. The stacks' builders run this command at apply,
with --expect.

  --source DIR            the function's folder
  --env ENV               instead of --source: every function of envs/<ENV>.ts that is built from a
                          folder (not Rust: npm run build:lambda), as its entry says
  --name KEY              the function's key in the env (default: the folder's name)
  --arch ARCH             arm64 (default) or x86_64; repeatable
  --runtime R             e.g. python3.12, nodejs22.x, java21, provided.al2023 (default: detected)
  --handler H             e.g. app.lambda_handler, index.handler, example.Fn::handleRequest (default: detected)
  --dependencies D        layer (default) or bundle
  --runtime-api-proxy     Go: the function has a Runtime API proxy layer, so bootstrap is a script
                          that routes its runtime through the proxy and runs bootstrap.bin (Lambda
                          runs no exec wrapper for OS-only runtimes); the other languages ignore it
  --expect ARCH=HASH      fail before building unless the input hash for ARCH starts with HASH
  --no-cache              neither read nor write the machine's store (nor a shared one)
${SHARED_STORE_HELP}

Exit codes: 0 built or skipped, 1 a build failed (nothing written), 2 bad arguments or input.`;

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      source: { type: "string" },
      name: { type: "string" },
      arch: { type: "string", multiple: true },
      runtime: { type: "string" },
      handler: { type: "string" },
      dependencies: { type: "string" },
      "runtime-api-proxy": { type: "boolean" },
      expect: { type: "string", multiple: true },
      "no-cache": { type: "boolean" },
      env: { type: "string" },
      "shared-store": { type: "string" },
      "shared-store-region": { type: "string" },
      "shared-store-endpoint": { type: "string" },
      "shared-store-setting": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (values.env) return buildEnv(values.env, values["no-cache"] ?? false);
  if (!values.source) throw new UsageError("--source DIR (or --env ENV) is required; see --help");
  const archs = (values.arch ?? ["arm64"]).map((a) => {
    if (a !== "arm64" && a !== "x86_64") throw new UsageError(`--arch is ${JSON.stringify(a)}; use arm64 or x86_64`);
    return a as LambdaArchitecture;
  });
  const deps = values.dependencies ?? "layer";
  if (deps !== "layer" && deps !== "bundle") throw new UsageError(`--dependencies is ${JSON.stringify(deps)}; use layer or bundle`);
  const expect: Record<string, string> = {};
  for (const e of values.expect ?? []) {
    const m = /^(arm64|x86_64)=([0-9a-f]{16,64})$/.exec(e);
    if (!m) throw new UsageError(`--expect is ${JSON.stringify(e)}; write ARCH=HASH with the hex input hash the plan shows`);
    expect[m[1]] = m[2];
  }
  const dir = path.resolve(values.source);
  const src = { name: values.name ?? path.basename(dir), dir, runtime: values.runtime, handler: values.handler, dependencies: deps as Dependencies, runtimeApiProxy: values["runtime-api-proxy"] ?? false };
  const plans = archs.map((arch) => planFunction(src, arch));
  const stale = plans.filter((p) => expect[p.architecture] && !p.inputHash.startsWith(expect[p.architecture]));
  if (stale.length > 0) {
    throw new FunctionBuildError(
      `the sources of ${src.name} changed after the plan was made, so its package would not match them:\n` +
        stale.map((p) => `  ${p.architecture}: the plan has ${expect[p.architecture]}, the sources give ${p.inputHash.slice(0, expect[p.architecture].length)}`).join("\n") +
        "\nNothing was built and no function was updated. Plan again (npm run deploy, cdktf deploy or terraform plan) and apply the new plan.",
    );
  }
  const projectRoot = process.cwd();
  const log = (l: string) => process.stderr.write(`[build:function] ${l}\n`);
  const store = values["no-cache"] ? undefined : defaultFunctionStore();
  const sharedArgs: SharedStoreArgs | undefined =
    values["shared-store"] || values["shared-store-region"] || values["shared-store-endpoint"] || values["shared-store-setting"]
      ? { url: values["shared-store"] ?? "", region: values["shared-store-region"], endpoint: values["shared-store-endpoint"], setting: values["shared-store-setting"] }
      : undefined;
  try {
    checkSharedStoreArgs(sharedArgs);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const shared = await sharedStoreFromArgs(sharedArgs, store, log);
  const key = (plan: (typeof plans)[number]) => `functions/${src.name}/${path.basename(functionStoreZip(store ?? "", plan))}`;
  if (shared && store) for (const plan of plans) await fetchIntoStore(shared, key(plan), functionZipPath(projectRoot, plan, src.name), functionStoreZip(store, plan), log, `${src.name} (${plan.architecture})`);
  const built = plans.map((plan) => {
    process.stderr.write(`[build:function] ${src.name} (${plan.architecture}): ${plan.runtime}, handler ${plan.deployedHandler}, inputs ${plan.inputHash.slice(0, 16)}\n`);
    return buildFunction(src, plan.architecture, { projectRoot, store, log }, plan);
  });
  if (shared) for (const [i, b] of built.entries()) await publishArtifact(shared, key(plans[i]), b.zipPath, b.status);
  const rows = built.map((b) => [b.name, b.architecture, formatBytes(b.zipBytes), formatBytes(b.unzippedBytes), b.status, b.status === "built" ? `${b.seconds.toFixed(1)} s` : "-"]);
  process.stdout.write(`${table(["function", "arch", "zip", "unzipped", "status", "time"], rows)}\n`);
  return 0;
}

class UsageError extends Error {}

/** Every function of an env built from a folder, each skipped when its zip exists. */
function buildEnv(name: string, noCache: boolean): number {
  const { loadEnv } = require("../envs") as typeof import("../envs");
  const { proxiesRuntimeApi } = require("../envs/schema") as typeof import("../envs/schema");
  const env = loadEnv(name);
  const projectRoot = process.cwd();
  const rows: string[][] = [];
  for (const [key, entry] of Object.entries(env.functions)) {
    const dir = path.resolve(projectRoot, entry.source);
    if ((entry.deployment?.mode ?? "create") === "existing" || entry.bin !== undefined) continue;
    const src = { name: key, dir, runtime: entry.runtime ?? env.functionDefaults.runtime, handler: entry.handler, dependencies: entry.dependencies ?? env.functionDefaults.dependencies, runtimeApiProxy: proxiesRuntimeApi(env, key) };
    const arch = entry.architecture ?? env.functionDefaults.architecture ?? "arm64";
    const b = buildFunction(src, arch, { projectRoot, store: noCache ? undefined : defaultFunctionStore(), log: (l) => process.stderr.write(`[build:function] ${l}\n`) });
    rows.push([key, b.architecture, formatBytes(b.zipBytes), b.status, b.status === "built" ? `${b.seconds.toFixed(1)} s` : "-"]);
  }
  process.stdout.write(`${table(["function", "arch", "zip", "status", "time"], rows)}\n`);
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (e) => {
      const bad = e instanceof UsageError || e instanceof DetectError || e instanceof SourceError || (e as { code?: string }).code?.startsWith("ERR_PARSE_ARGS");
      process.stderr.write(`build:function: ${(e as Error).message}\n`);
      process.exitCode = bad ? 2 : 1;
    },
  );
}
