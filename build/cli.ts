import * as path from "path";
import { LambdaArchitecture } from "./elf";
import { formatBytes, table } from "./util";
import { binsFromMetadata, buildFunctions, BuildRequest, cargoMetadata, chooseToolchain, defaultArtifactCache, defaultCargoTargetDir, fetchFromSharedStore, functionHashes, publishToSharedStore } from "./rust";
import { checkSharedStoreArgs, SHARED_STORE_HELP, SharedStoreArgs, sharedStoreFromArgs, takeSharedStoreArg } from "./shared-store";

const HELP = `Usage: npm run build:lambda [-- --clean] [--bin NAME ...] [--arch arm64|x86_64] [--require-arch] [--workspace DIR]

Builds the Rust Lambda functions of a cargo workspace (default lambda-src/rust): every [[bin]] that
\`cargo metadata\` lists, in one cargo invocation, for arm64 (aarch64-unknown-linux-gnu) by default.
Writes target/lambda/<bin>/bootstrap and a deterministic zip whose name carries the function's input
hash. A function whose zip for that hash exists (built by the same toolchain) is skipped; one built
from the same inputs in another clone on this machine is copied from ~/.cache/lambdaship/rust-artifacts.
The stacks' builders run this command at apply, with --require-arch and --expect.

  --clean              rebuild everything, ignoring existing artifacts and the artifact store
  --bin NAME           only this function (repeatable)
  --arch ARCH          arm64 (default) or x86_64
  --require-arch       fail instead of falling back to x86_64 when no toolchain can build ARCH
  --no-cache           neither read nor write the machine's artifact store
  --expect NAME=HASH   fail before building unless NAME's input hash starts with HASH (the plan's)
  --workspace DIR      another cargo workspace
${SHARED_STORE_HELP}

Environment: LAMBDASHIP_ARTIFACT_STORE moves the machine's stores (default ~/.cache/lambdaship).

Exit codes: 0 built (or nothing to build), 1 failed (nothing was packaged), 2 wrong arguments.`;

export interface CliOptions {
  clean: boolean;
  bins: string[];
  arch: LambdaArchitecture;
  requireArch: boolean;
  workspace: string;
  cache: boolean;
  /** Input hash (or a prefix of it) per function, as the plan recorded it. */
  expect: Record<string, string>;
  sharedStore?: SharedStoreArgs;
}

export function parseArgs(argv: string[], projectRoot: string): CliOptions | "help" {
  const o: CliOptions = { clean: false, bins: [], arch: "arm64", requireArch: false, workspace: path.join(projectRoot, "lambda-src", "rust"), cache: true, expect: {} };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--help" || a === "-h") return "help";
    else if (a === "--clean") o.clean = true;
    else if (a === "--require-arch") o.requireArch = true;
    else if (a === "--no-cache") o.cache = false;
    else if (a === "--bin") o.bins.push(value());
    else if (a === "--expect") {
      const v = value();
      const m = /^([^=]+)=([0-9a-f]{16,64})$/.exec(v);
      if (!m) throw new Error(`--expect is ${JSON.stringify(v)}; write NAME=HASH with the hex input hash the plan shows`);
      o.expect[m[1]] = m[2];
    }
    else if (a === "--workspace") o.workspace = path.resolve(value());
    else if (takeSharedStoreArg(o, a, value)) continue;
    else if (a === "--arch") {
      const v = value();
      if (v !== "arm64" && v !== "x86_64") throw new Error(`--arch is ${JSON.stringify(v)}; use arm64 or x86_64`);
      o.arch = v;
    } else throw new Error(`unknown option ${a}; see --help`);
  }
  checkSharedStoreArgs(o.sharedStore);
  return o;
}

async function main(): Promise<number> {
  const projectRoot = path.resolve(__dirname, "..");
  const opts = parseArgs(process.argv.slice(2), projectRoot);
  if (opts === "help") {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const meta = cargoMetadata(opts.workspace);
  const all = binsFromMetadata(meta);
  const unknown = opts.bins.filter((b) => !all.some((f) => f.name === b));
  if (unknown.length) throw new Error(`no bin named ${unknown.join(", ")} in ${opts.workspace}; the bins are ${all.map((f) => f.name).join(", ")}`);
  const selected = opts.bins.length ? all.filter((f) => opts.bins.includes(f.name)) : all;
  const choice = chooseToolchain(opts.arch, opts.requireArch);
  if (choice.fallbackWarning) process.stderr.write(`\nWARNING: ${choice.fallbackWarning}\n\n`);
  const t = choice.toolchain;
  const hashes = functionHashes(meta, selected, t.target);
  const stale = Object.entries(opts.expect).filter(([name, want]) => !hashes[name]?.startsWith(want));
  if (stale.length > 0) {
    const lines = stale.map(([name, want]) => `  ${name}: the plan has ${want}, the sources give ${hashes[name] ? hashes[name].slice(0, want.length) : `nothing (${name} is not selected or not a bin)`}`);
    throw new Error(
      `the Rust sources changed after the plan was made, so its packages would not match them:\n${lines.join("\n")}\n` +
        "Nothing was built and no function was updated. Plan again (npm run deploy, cdktf deploy or terraform plan) and apply the new plan.",
    );
  }
  const log = (l: string) => process.stderr.write(`[build:lambda] ${l}\n`);
  const req: BuildRequest = {
    workspaceDir: opts.workspace,
    functions: selected,
    toolchain: t,
    hashes,
    cargoTargetDir: process.env.CARGO_TARGET_DIR ?? defaultCargoTargetDir(),
    artifactCache: opts.cache ? defaultArtifactCache() : undefined,
    clean: opts.clean,
    log,
  };
  // The shared store is the second level: only with the machine's store (the first) in use.
  const shared = await sharedStoreFromArgs(opts.sharedStore, req.artifactCache, log);
  if (shared) await fetchFromSharedStore(req, shared);
  const built = buildFunctions(req);
  if (shared) await publishToSharedStore(req, built, shared);
  const rows = built.map((b) => [b.name, b.architecture, formatBytes(b.zipBytes), b.status, b.status === "built" ? `${b.seconds.toFixed(1)} s` : "-"]);
  process.stdout.write(`${table(["function", "arch", "zip", "status", "time"], rows)}\n`);
  return 0;
}

if (require.main === module) {
  main().then(
    (code) => (process.exitCode = code),
    (e) => {
      process.stderr.write(`build:lambda: ${(e as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
