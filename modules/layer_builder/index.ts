import { DataAwsLambdaLayerVersion } from "@cdktf/provider-aws/lib/data-aws-lambda-layer-version";
import { LambdaLayerVersion } from "@cdktf/provider-aws/lib/lambda-layer-version";
import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { S3BucketPublicAccessBlock } from "@cdktf/provider-aws/lib/s3-bucket-public-access-block";
import { S3BucketServerSideEncryptionConfigurationA } from "@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration";
import { S3Object } from "@cdktf/provider-aws/lib/s3-object";
import { DataResource, TerraformStack } from "cdktf";
import { Construct } from "constructs";
import * as path from "path";
import type { LambdaArchitecture } from "../../build/elf";
import { LayerError, LayerPlan, layerZipPath, planLayer, LayerSource } from "../../build/layer";
import { applyTimeBuilder } from "../apply_builder";
import { ConfigError, problem, PropError } from "../errors";
import { accountId } from "../account";
import { MachineProbe, thisMachine } from "../machine";

/**
 * A layer, created here or referenced by ARN: what a layer is to a function. A function is given
 * its layers as objects and asks each for the version of its own architecture.
 */
export interface ILayer {
  /** The layer's name in the env (`websocket-deps`), for messages. */
  readonly name: string;
  /** An extension that proxies the Runtime API (proxyPort): a Go package then starts through a script that routes its runtime there. @default false */
  readonly proxiesRuntimeApi?: boolean;
  /** The version for the function's architecture and the variables it needs; errors name `field`. */
  forFunction(fn: { name: string; runtime: string; architecture: LambdaArchitecture; field: string }): FunctionLayer;
}

/** A layer built here from a folder, or published versions referenced by ARN. */
export type LayerOptions =
  | {
      readonly mode: "create";
      readonly type: "dependencies" | "extension";
      /** Folder relative to the project root (the builder's command line carries it). */
      readonly source: string;
      /** Dependency layers: the runtime they are installed for. */
      readonly runtime?: string;
      /** @default - the architectures of its functions, else arm64 (extensions: both) */
      readonly architectures?: readonly LambdaArchitecture[];
      /** @default "direct" */
      readonly upload?: "direct" | "s3";
      readonly proxyPort?: number;
    }
  | {
      readonly mode: "existing";
      readonly type: "dependencies" | "extension";
      readonly arns: { readonly arm64?: string; readonly x86_64?: string };
      readonly runtime?: string;
      readonly wrapper?: string;
      readonly proxyPort?: number;
    };

/** What a function gets from one of its layers. */
export interface FunctionLayer {
  /** The layer version ARN for the function's architecture. */
  readonly arn: string;
  /** Variables the layer needs in the function (its wrapper script, the proxy's address). */
  readonly environment: Readonly<Record<string, string>>;
  /** Unzipped size, when it is known at synth (built here before). */
  readonly unzippedBytes?: number;
}

export interface LayerBuilderProps {
  /** The layer's name in the env (`websocket-deps`). */
  readonly name: string;
  readonly config: LayerOptions;
  /** `<namePrefix>-<name>-<arch>` is the published layer's name. */
  readonly namePrefix: string;
  readonly projectRoot: string;
  /** The project root from the stack's working directory (zip paths and the builder's folder). */
  readonly projectRootFromStack: string;
  /** Where the layer is configured, for errors (`envs/dev.ts`). */
  readonly configFile: string;
  /** The name of the env's artifact bucket (layers with upload "s3"); a created one is created on first use. */
  readonly artifactBucket: () => string;
  /** What synth may read of this machine (sizes of layers built here before). @default - this machine */
  readonly machine?: MachineProbe;
}

const planCache = new Map<string, LayerPlan>();

/**
 * One layer of an env. In `create` mode it builds the layer at apply, like the Rust builders: one
 * `terraform_data` runs `build/layer-cli.ts` with the input hash of each architecture the stack
 * publishes, and one `aws_lambda_layer_version` per architecture carries that hash in its zip's name
 * and `source_code_hash`. A version is published only when the hash changes, and old versions are
 * kept (`skip_destroy`), so functions still running on them keep working. In `existing` mode a data
 * source reads the published version by ARN.
 *
 * Versions are per architecture (`<prefix>-<name>-arm64`, `-x86_64`): a function always gets the one
 * built for its own architecture.
 */
export class LayerBuilder extends Construct implements ILayer {
  public readonly layerName: string;
  public readonly config: LayerOptions;
  private readonly props: LayerBuilderProps;
  private readonly versions = new Map<LambdaArchitecture, { arn: string; plan?: LayerPlan }>();
  private builder?: DataResource;

  constructor(scope: Construct, id: string, props: LayerBuilderProps) {
    super(scope, id);
    this.props = props;
    this.config = props.config;
    this.layerName = `${props.namePrefix}-${props.name}`;
  }

  public get name(): string {
    return this.props.name;
  }

  public get proxiesRuntimeApi(): boolean {
    return this.config.type === "extension" && this.config.proxyPort !== undefined;
  }

  private field(rest = ""): string {
    return `layers.${this.props.name}${rest}`;
  }

  private source(): LayerSource {
    const c = this.config;
    if (c.mode !== "create") throw new Error("only created layers have a source");
    return { name: this.props.name, kind: c.type, dir: path.resolve(this.props.projectRoot, c.source), runtime: c.runtime };
  }

  private plan(arch: LambdaArchitecture): LayerPlan {
    const src = this.source();
    const key = `${src.dir}\0${src.kind}\0${src.runtime}\0${src.name}\0${arch}`;
    let plan = planCache.get(key);
    if (!plan) {
      try {
        plan = planLayer(src, arch);
      } catch (e) {
        if (e instanceof LayerError) throw new ConfigError([problem(this.props.configFile, this.field(".source"), (this.config as { source: string }).source, e.message)]);
        throw e;
      }
      planCache.set(key, plan);
    }
    return plan;
  }

  /** The version for `arch`, published (create) or looked up (existing) on first use. */
  private version(arch: LambdaArchitecture, usedBy?: string): { arn: string; plan?: LayerPlan } {
    const have = this.versions.get(arch);
    if (have) return have;
    const c = this.config;
    let v: { arn: string; plan?: LayerPlan };
    if (c.mode === "existing") {
      const arn = c.arns[arch];
      if (!arn) {
        throw new ConfigError([
          problem(this.props.configFile, this.field(".arns"), c.arns, `${usedBy ?? "a function"} runs on ${arch}, and this layer names no ${arch} version; add arns.${arch} (a layer built for ${arch})`),
        ]);
      }
      const [, layer, version] = /^(.*):(\d+)$/.exec(arn)!;
      const data = new DataAwsLambdaLayerVersion(this, `existing-${arch}`, { layerName: layer, version: Number(version) });
      v = { arn: data.arn };
    } else {
      const plan = this.plan(arch);
      const rel = path.relative(this.props.projectRoot, layerZipPath(this.props.projectRoot, plan, this.props.name)).split(path.sep).join("/");
      const filename = path.posix.join(this.props.projectRootFromStack, rel);
      const builder = this.builderResource();
      const common = {
        layerName: `${this.layerName}-${arch}`,
        description: `lambdaship ${c.type} layer ${this.props.name}, inputs ${plan.inputHash.slice(0, 16)}`,
        sourceCodeHash: Buffer.from(plan.inputHash, "hex").toString("base64"),
        compatibleArchitectures: [arch],
        compatibleRuntimes: plan.compatibleRuntimes.length ? [...plan.compatibleRuntimes] : undefined,
        // Old versions stay published: functions not yet updated, and rollbacks, keep working.
        skipDestroy: true,
        lifecycle: { createBeforeDestroy: true },
      };
      let layer: LambdaLayerVersion;
      if (c.upload === "s3") {
        const bucket = this.props.artifactBucket();
        const object = new S3Object(this, `object-${arch}`, {
          bucket,
          key: `layers/${this.props.name}/${plan.zipName}`,
          source: filename,
          dependsOn: [builder],
        });
        layer = new LambdaLayerVersion(this, `version-${arch}`, { ...common, s3Bucket: bucket, s3Key: object.key, dependsOn: [object] });
      } else {
        layer = new LambdaLayerVersion(this, `version-${arch}`, { ...common, filename, dependsOn: [builder] });
      }
      v = { arn: layer.arn, plan };
    }
    this.versions.set(arch, v);
    return v;
  }

  /** The builder: one `terraform_data` for every architecture the stack publishes. */
  private builderResource(): DataResource {
    if (this.builder) return this.builder;
    const c = this.config as Extract<LayerOptions, { mode: "create" }>;
    const planned = () => [...this.versions.entries()].filter(([, v]) => v.plan).sort(([a], [b]) => a.localeCompare(b)) as Array<[LambdaArchitecture, { plan: LayerPlan }]>;
    this.builder = applyTimeBuilder(this, "builder", {
      cli: "build/layer-cli.ts",
      projectRoot: this.props.projectRoot,
      workingDir: this.props.projectRootFromStack,
      // A new input hash replaces the builder, which builds before the new version is published.
      triggers: () => Object.fromEntries(planned().map(([arch, v]) => [arch, v.plan.inputHash])),
      args: () => [
        `--name ${this.props.name} --kind ${c.type} --source ${c.source}`,
        ...(c.runtime ? [`--runtime ${c.runtime}`] : []),
        `--upload ${c.upload}`,
        ...planned().map(([arch, v]) => `--arch ${arch} --expect ${arch}=${v.plan.inputHash}`),
      ],
    });
    return this.builder;
  }

  /** Publishes the architectures the env asks for that no function used (at the end of the stack). */
  public publishRemaining(): void {
    const c = this.config;
    if (c.mode !== "create") return;
    const wanted = c.architectures ?? (this.versions.size > 0 ? [] : c.type === "extension" ? (["arm64", "x86_64"] as const) : (["arm64"] as const));
    for (const arch of wanted) this.version(arch);
  }

  /**
   * What a function of `runtime` on `arch` gets from this layer. Dependency layers must be for the
   * function's runtime; extension layers that proxy the Runtime API add the variables that route the
   * runtime through them.
   */
  public forFunction(fn: { name: string; runtime: string; architecture: LambdaArchitecture; field: string }): FunctionLayer {
    const c = this.config;
    if (c.type === "dependencies" && c.runtime && c.runtime !== fn.runtime) {
      throw new ConfigError([`${fn.field}.layers includes ${this.props.name}, which holds packages for ${c.runtime}, and ${fn.name} runs ${fn.runtime}; use a layer built for ${fn.runtime}`]);
    }
    const v = this.version(fn.architecture, fn.name);
    const environment: Record<string, string> = {};
    if (c.type === "extension") {
      const wrapper = c.mode === "existing" ? c.wrapper : v.plan?.wrapper;
      const osOnly = fn.runtime.startsWith("provided");
      if (c.proxyPort !== undefined) {
        environment.LAMBDASHIP_PROXY_PORT = String(c.proxyPort);
        // Lambda runs wrapper scripts for managed runtimes only; OS-only runtimes read the proxy's address themselves.
        if (osOnly) environment.LAMBDASHIP_RUNTIME_API_PROXY = `127.0.0.1:${c.proxyPort}`;
      }
      if (wrapper && !osOnly) environment.AWS_LAMBDA_EXEC_WRAPPER = wrapper;
    }
    const size = v.plan ? (this.props.machine ?? thisMachine).builtSize(layerZipPath(this.props.projectRoot, v.plan, this.props.name), "layer-artifacts") : undefined;
    return { arn: v.arn, environment, unzippedBytes: size?.unzippedBytes };
  }
}

/** The env's layers by name, looked up by the functions that use them. */
export class LayerRegistry extends Construct {
  public readonly layers: ReadonlyMap<string, LayerBuilder>;
  private bucket?: S3Bucket;

  constructor(
    scope: TerraformStack,
    props: Omit<LayerBuilderProps, "name" | "config" | "artifactBucket"> & {
      readonly layers: Readonly<Record<string, LayerOptions>>;
      /** An existing bucket for artifacts; @default - one is created when a layer needs it */
      readonly artifactBucketName?: string;
    },
  ) {
    super(scope, "layers");
    const bucket = () => props.artifactBucketName ?? this.artifactBucket(props.namePrefix).bucket;
    this.layers = new Map(Object.entries(props.layers).map(([name, config]) => [name, new LayerBuilder(this, name, { ...props, name, config, artifactBucket: bucket })]));
  }

  /** The env's own artifact bucket (`<prefix>-artifacts-<account>`): private, encrypted, created when a layer goes through S3. */
  public artifactBucket(namePrefix: string): S3Bucket {
    if (this.bucket) return this.bucket;
    const bucket = new S3Bucket(this, "artifact-bucket", { bucket: `${namePrefix.toLowerCase()}-artifacts-${accountId(this)}`, forceDestroy: false });
    new S3BucketPublicAccessBlock(this, "artifact-bucket-public-access", {
      bucket: bucket.id,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    new S3BucketServerSideEncryptionConfigurationA(this, "artifact-bucket-encryption", {
      bucket: bucket.id,
      rule: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }],
    });
    this.bucket = bucket;
    return bucket;
  }

  /** The layers named in `<field>.layers`, as objects for the functions that use them. */
  public resolve(names: readonly string[], field: string): LayerBuilder[] {
    return names.map((n, i) => {
      const layer = this.layers.get(n);
      if (!layer) throw new ConfigError([`${field}.layers[${i}] is ${JSON.stringify(n)}, which is not a layer of the env; add it under layers or remove it here`]);
      return layer;
    });
  }

  public publishRemaining(): void {
    for (const l of this.layers.values()) l.publishRemaining();
  }
}

/** Where the dependency layers of functions come from: the stack's names and paths. */
export interface DependencyLayersProps {
  /** `<namePrefix>-<function key>-deps-<arch>` is a published layer's name. */
  readonly namePrefix: string;
  readonly projectRoot: string;
  /** The project root from the stack's working directory (zip paths and the builder's folder). */
  readonly projectRootFromStack: string;
  /** The name of the artifact bucket, were a layer uploaded through S3 (these are not). */
  readonly artifactBucket?: () => string;
  /** What synth may read of this machine. @default - this machine */
  readonly machine?: MachineProbe;
}

/**
 * The dependency layers built from functions' own dependency files (seed 001's `layer_auto`): a
 * function whose dependencies go in a layer gets one built from its folder's requirements.txt or
 * package.json and lock file, and functions whose files (and runtime) are the same share it.
 */
export class DependencyLayers extends Construct {
  private readonly props: DependencyLayersProps;
  private readonly byContent = new Map<string, LayerBuilder>();

  constructor(scope: Construct, id: string, props: DependencyLayersProps) {
    super(scope, id);
    this.props = props;
  }

  /**
   * The dependency layer of the function `key` whose folder is `sourceDir` (absolute), for its
   * runtime and architecture. Throws a PropError on `source` when the dependency files are unusable.
   */
  public forFunction(fn: { key: string; functionName: string; sourceDir: string; runtime: string; architecture: LambdaArchitecture }): FunctionLayer {
    const source = path.relative(this.props.projectRoot, fn.sourceDir).split(path.sep).join("/");
    if (!/^[A-Za-z0-9._/-]+$/.test(source) || source.startsWith("..")) {
      throw new PropError("source", source, "a dependency layer's folder is inside the project, of letters, digits, '.', '_', '-' and '/' (the builder's command line carries it)");
    }
    let content: string;
    try {
      content = planLayer({ name: fn.key, kind: "dependencies", dir: fn.sourceDir, runtime: fn.runtime }, "arm64").inputHash;
    } catch (e) {
      if (e instanceof LayerError) throw new PropError("source", source, e.message);
      throw e;
    }
    const key = `${fn.runtime}\0${content}`;
    let layer = this.byContent.get(key);
    if (!layer) {
      const name = `${fn.key}-deps`;
      layer = new LayerBuilder(this, name, {
        name,
        config: { mode: "create", type: "dependencies", source, runtime: fn.runtime, upload: "direct" },
        namePrefix: this.props.namePrefix,
        projectRoot: this.props.projectRoot,
        projectRootFromStack: this.props.projectRootFromStack,
        configFile: source,
        artifactBucket: this.props.artifactBucket ?? (() => { throw new Error("dependency layers are uploaded directly"); }),
        machine: this.props.machine,
      });
      this.byContent.set(key, layer);
    }
    return layer.forFunction({ name: fn.functionName, runtime: fn.runtime, architecture: fn.architecture, field: "dependencies" });
  }
}

