import * as path from "path";
import { LambdaArchitecture } from "./elf";
import { fetchIntoStore, publishArtifact } from "./artifact";
import { buildLayer, BuiltLayerArtifact, defaultLayerStore, DIRECT_UPLOAD_MAX_BYTES, formatMiB, LayerKind, LayerSource, layerStoreKey, layerZipPath, planLayer } from "./layer";
import { checkSharedStoreArgs, SHARED_STORE_HELP, SharedStoreArgs, sharedStoreFromArgs, takeSharedStoreArg } from "./shared-store";
import { formatBytes, table } from "./util";

const HELP = `Usage: npm run build:layer -- --source DIR [--kind dependencies|extension] [--runtime RUNTIME]
                           [--name NAME] [--arch arm64|x86_64 ...] [--upload direct|s3]
                           [--expect ARCH=HASH ...] [--no-cache]

Builds a Lambda layer into .build/layers/<name>/<name>-<arch>-<hash16>.zip, once per input hash:

  dependencies  DIR holds requirements.txt (Python: pip installs wheels for the target platform into
                python/) or package.json with package-lock.json (Node.js: npm ci --omit=dev into
                nodejs/node_modules/). --runtime names the Lambda runtime, e.g. python3.12, nodejs20.x.
  extension     DIR is a cargo package; its bins are built statically for the architecture and laid
                out as extensions/<bin>, with DIR/wrapper.sh (if any) as /opt/<bin>-wrapper.

A zip already built for the same inputs is skipped; one built in another clone on this machine is
copied from ~/.cache/lambdaship/layer-artifacts. The stacks' layer builders run this command at
apply, with --expect and --upload.

  --source DIR         the layer's folder (required)
  --kind KIND          dependencies (default) or extension
  --runtime RUNTIME    dependency layers: the runtime they are for (required for them)
  --name NAME          the layer's name in the env (default: the folder's name)
  --arch ARCH          arm64 or x86_64; repeatable (default: arm64)
  --upload MODE        how the stack uploads it: direct (the default; Lambda takes at most 50 MB
                       zipped that way) or s3 (through the env's artifact bucket)
  --expect ARCH=HASH   fail before building unless the layer's input hash for ARCH starts with HASH
  --no-cache           neither read nor write the machine's layer store (nor a shared one)
${SHARED_STORE_HELP}

Exit codes: 0 built or skipped, 1 failed (nothing published).`;

export interface LayerCliOptions {
  source: LayerSource;
  archs: LambdaArchitecture[];
  upload: "direct" | "s3";
  expect: Partial<Record<LambdaArchitecture, string>>;
  cache: boolean;
  sharedStore?: SharedStoreArgs;
}

export function parseLayerArgs(argv: string[]): LayerCliOptions | "help" {
  let dir: string | undefined;
  let kind: LayerKind = "dependencies";
  let runtime: string | undefined;
  let name: string | undefined;
  const archs: LambdaArchitecture[] = [];
  let upload: "direct" | "s3" = "direct";
  const expect: Partial<Record<LambdaArchitecture, string>> = {};
  let cache = true;
  const shared: { sharedStore?: SharedStoreArgs } = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value; see --help`);
      return v;
    };
    const arch = (v: string): LambdaArchitecture => {
      if (v !== "arm64" && v !== "x86_64") throw new Error(`${a} names architecture ${JSON.stringify(v)}; use arm64 or x86_64`);
      return v;
    };
    if (a === "--help" || a === "-h") return "help";
    else if (a === "--source") dir = path.resolve(value());
    else if (a === "--kind") {
      const v = value();
      if (v !== "dependencies" && v !== "extension") throw new Error(`--kind is ${JSON.stringify(v)}; use dependencies or extension`);
      kind = v;
    } else if (a === "--runtime") runtime = value();
    else if (a === "--name") name = value();
    else if (a === "--arch") archs.push(arch(value()));
    else if (a === "--upload") {
      const v = value();
      if (v !== "direct" && v !== "s3") throw new Error(`--upload is ${JSON.stringify(v)}; use direct or s3`);
      upload = v;
    } else if (a === "--expect") {
      const v = value();
      const m = /^([^=]+)=([0-9a-f]{16,64})$/.exec(v);
      if (!m) throw new Error(`--expect is ${JSON.stringify(v)}; write ARCH=HASH with the hex input hash the plan shows`);
      expect[arch(m[1])] = m[2];
    } else if (a === "--no-cache") cache = false;
    else if (takeSharedStoreArg(shared, a, value)) continue;
    else throw new Error(`unknown option ${a}; see --help`);
  }
  if (!dir) throw new Error("--source is required: the layer's folder, e.g. --source lambda-src/layers/websocket-deps");
  if (kind === "dependencies" && !runtime) throw new Error("--runtime is required for a dependency layer: the Lambda runtime it is for, e.g. --runtime python3.12");
  checkSharedStoreArgs(shared.sharedStore);
  return { source: { name: name ?? path.basename(dir), kind, dir, runtime }, archs: archs.length ? [...new Set(archs)] : ["arm64"], upload, expect, cache, sharedStore: shared.sharedStore };
}

async function main(): Promise<number> {
  const projectRoot = path.resolve(__dirname, "..");
  const opts = parseLayerArgs(process.argv.slice(2));
  if (opts === "help") {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  // Every check before any build: stale sources fail with nothing built.
  const plans = new Map(opts.archs.map((arch) => [arch, planLayer(opts.source, arch)]));
  const stale = opts.archs
    .map((arch) => ({ arch, want: opts.expect[arch], have: plans.get(arch)!.inputHash }))
    .filter((s) => s.want !== undefined && !s.have.startsWith(s.want));
  if (stale.length > 0) {
    throw new Error(
      `the sources of layer ${opts.source.name} changed after the plan was made:\n${stale.map((s) => `  ${s.arch}: the plan has ${s.want}, the sources give ${s.have.slice(0, s.want!.length)}`).join("\n")}\n` +
        "Nothing was built and no layer was published. Plan again and apply the new plan.",
    );
  }
  const log = (l: string) => process.stderr.write(`[build:layer] ${l}\n`);
  const store = opts.cache ? defaultLayerStore() : undefined;
  const shared = await sharedStoreFromArgs(opts.sharedStore, store, log);
  const key = (arch: LambdaArchitecture) => `layers/${opts.source.name}/${layerStoreKey(opts.source, plans.get(arch)!, arch)}`;
  if (shared && store) {
    for (const arch of opts.archs) {
      const plan = plans.get(arch)!;
      await fetchIntoStore(shared, key(arch), layerZipPath(projectRoot, plan, opts.source.name), path.join(store, layerStoreKey(opts.source, plan, arch)), log, `${opts.source.name} (${arch})`);
    }
  }
  const built = opts.archs.map((arch) => buildLayer(opts.source, arch, { projectRoot, store, log }, plans.get(arch)));
  if (shared) for (const b of built) await publishArtifact(shared, key(b.architecture), b.zipPath, b.status);
  const rows = built.map((b) => [b.name, b.architecture, formatBytes(b.zipBytes), formatBytes(b.unzippedBytes), b.status, b.status === "built" ? `${b.seconds.toFixed(1)} s` : "-"]);
  process.stdout.write(`${table(["layer", "arch", "zip", "unzipped", "status", "time"], rows)}\n`);
  const tooBig = directUploadError(opts.source.name, opts.upload, built);
  if (tooBig) throw new Error(tooBig);
  return 0;
}

/** The error for zips a direct upload cannot take (Lambda: 50 MB), naming the setting that fixes it. */
export function directUploadError(name: string, upload: "direct" | "s3", built: ReadonlyArray<Pick<BuiltLayerArtifact, "zipBytes" | "architecture">>): string | undefined {
  const tooBig = built.filter((b) => b.zipBytes > DIRECT_UPLOAD_MAX_BYTES);
  if (upload !== "direct" || tooBig.length === 0) return undefined;
  return (
    `layer ${name} is ${tooBig.map((b) => `${formatMiB(b.zipBytes)} zipped for ${b.architecture}`).join(" and ")}, over Lambda's 50 MB limit for a direct upload. ` +
    `Nothing was published. Set upload: "s3" on layers.${name} in the env file, so it goes through the env's artifact bucket; the zip is kept and not built again.`
  );
}

if (require.main === module) {
  main().then(
    (code) => (process.exitCode = code),
    (e) => {
      process.stderr.write(`build:layer: ${(e as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
