import { DynamodbTable } from "@cdktf/provider-aws/lib/dynamodb-table";
import { AwsProvider, AwsProviderConfig } from "@cdktf/provider-aws/lib/provider";
import type { LambdaFunctionUrl } from "@cdktf/provider-aws/lib/lambda-function-url";
import type { FunctionPlan } from "../../build/function";
import { App, DataResource, Lazy, LocalBackend, S3Backend, TerraformOutput, TerraformStack } from "cdktf";
import { Construct } from "constructs";
import * as fs from "fs";
import * as path from "path";
import { functionLayers, httpTriggerRoute, isLiveCapable, websocketRoutes } from "../../envs/schema";
import type { EnvConfig } from "../../envs/schema";
import { HttpApi, HttpApiRoute } from "../http_api";
import { ScheduleTrigger, SqsTrigger } from "../triggers";
import { AccountContext } from "../account";
import { envFile } from "../../envs";
import { MachineProbe, thisMachine } from "../machine";
import { ConfigError, problem, PropError } from "../errors";
import { FolderFunction } from "../folder_function";
import { IFunction, ManagedFunction } from "../lambda_function";
import { RustLambda, RustWorkspace } from "../rust_lambda";
import { SHARED_STORE_CONTEXT, SharedStoreRef } from "../apply_builder";
import { AWS_PROVIDER_CONSTRAINT } from "../../lib/providers";
import { DependencyLayers, LayerRegistry } from "../layer_builder";
import { acceptCheck, PITR_OFF, TABLE_KMS } from "../policy-checks";
import { WebsocketLambda } from "../websocket_lambda";
import { moveFromEarlierAddresses } from "./moved";

export const APP_NAME = "lambdaship";

/** Provider versions the synthesized stacks accept. */
export { AWS_PROVIDER_CONSTRAINT };

/** Every AWS service the stacks call, for pointing the provider at an emulator. */
export const EMULATED_SERVICES = [
  "apigateway", "apigatewayv2", "cloudwatchlogs", "dynamodb", "iam", "lambda", "s3", "s3control", "scheduler", "sqs", "sts",
] as const;

export interface LambdaStackProps {
  readonly env: EnvConfig;
  /** Project root: handler sources and the build folder are resolved from here. */
  readonly projectRoot: string;
  /**
   * Folder for local state files.
   * @default - the project root (`terraform.<stack>.tfstate`)
   */
  readonly stateDir?: string;
  /**
   * The project root as seen from the stack's working directory, where the engine runs.
   * @default - computed from the app's outdir (`../../..` for `<project>/cdktf.out/stacks/<stack>`)
   */
  readonly projectRootFromStack?: string;
  /** What synth may read of the machine (Rust toolchains, sizes of packages built here); tests pass a fake one. @default - this machine */
  readonly machine?: MachineProbe;
}

/** One entry of the env's `functions`, as deployed. */
export interface EnvFunction {
  readonly target: IFunction;
  readonly url?: LambdaFunctionUrl;
  /** Rust (a bin of a cargo workspace) or a folder of another runtime. */
  readonly kind: "rust" | "folder";
  /** Folder functions: what synth detected and hashed. */
  readonly plan?: FunctionPlan;
}

/** The id of the stack's ledger of adopted functions (`terraform_data.<id>`), read by the plan review. */
export const ADOPTED_LEDGER = "adopted-functions";

/** The stack name of an env: `<app>-<env>`. */
export function stackName(env: string): string {
  return `${APP_NAME}-${env}`;
}

/** One environment: provider with default tags, backend, and the modules it composes. */
export class LambdaStack extends TerraformStack {
  public readonly websocket: WebsocketLambda;
  public readonly rustWorkspace: RustWorkspace;
  /** The function serving the REST backend (`backend.function`). */
  public readonly backend: IFunction;
  public readonly itemsTable: DynamodbTable;
  /** The env's `functions`, by key. */
  public readonly functions: Readonly<Record<string, EnvFunction>>;
  /** The env's HTTP API, when a function has an http trigger. */
  public readonly httpApi?: HttpApi;
  /** Schedules and queue mappings, by function key. */
  public readonly schedules: readonly ScheduleTrigger[];
  public readonly queues: readonly SqsTrigger[];
  /** Keys of the functions that can be served live (env.live), in the env's order. */
  public readonly liveFunctions: readonly string[];

  constructor(scope: Construct, props: LambdaStackProps) {
    const { env } = props;
    const name = stackName(env.name);
    super(scope, name);

    const providerConfig: AwsProviderConfig = {
      region: env.region,
      defaultTags: [{ tags: { ...env.tags, environment: env.name, app: APP_NAME, "managed-by": "cdktf" } }],
    };
    // The local AWS: the env's own endpoint, else the one the command was given, else the one
    // npm start left running for this project, else moto's default port.
    const emulator =
      env.emulator &&
      (env.emulator.endpoint ?? process.env.LAMBDASHIP_AWS_ENDPOINT ?? (props.machine ?? thisMachine).localAwsEndpoint(props.projectRoot) ?? "http://127.0.0.1:5000");
    const sharedStore: SharedStoreRef | undefined = env.artifacts.cache && {
      bucket: env.artifacts.cache.bucket,
      prefix: env.artifacts.cache.prefix,
      region: env.artifacts.cache.region ?? env.region,
      endpoint: emulator,
      setting: `artifacts.cache in ${envFile(env.name)}`,
    };
    // Every builder in the stack (Rust, layers, functions) finds it here.
    if (sharedStore) this.node.setContext(SHARED_STORE_CONTEXT, sharedStore);
    new AwsProvider(this, "aws", emulator ? { ...providerConfig, ...emulatorProviderConfig(emulator) } : providerConfig);
    // The bindings pin the exact provider they were generated from (6.25.0). Any later 6.x accepts the
    // same configuration, and the lock file records the one actually used.
    this.addOverride("terraform.required_providers.aws.version", AWS_PROVIDER_CONSTRAINT);

    if (env.stateBackend) {
      const backend = new S3Backend(this, {
        bucket: env.stateBackend.bucket,
        key: `${env.stateBackend.keyPrefix}/${name}.tfstate`,
        region: env.stateBackend.region ?? env.region,
        encrypt: true,
        ...(emulator ? emulatorBackendConfig(emulator) : {}),
      });
      // S3-native locking (a conditional write of <key>.tflock); cdktf 0.21's typings predate the option.
      backend.addOverride("use_lockfile", true);
    } else {
      // Relative to the stack's working directory (cdktf.out/stacks/<stack>), so the synthesized JSON
      // is the same on every machine; LAMBDASHIP_STATE_DIR moves it (the end-to-end tests do).
      const file = `terraform.${name}.tfstate`;
      new LocalBackend(this, { path: props.stateDir ? path.join(props.stateDir, file) : `../../../${file}` });
    }

    const file = envFile(env.name);
    const projectRootFromStack =
      props.projectRootFromStack ?? (path.relative(path.resolve(App.of(this).outdir, "stacks", name), props.projectRoot).split(path.sep).join("/") || ".");
    this.rustWorkspace = new RustWorkspace(this, "rust", {
      workspaceDir: path.resolve(props.projectRoot, env.rust.workspace),
      projectRoot: props.projectRoot,
      projectRootFromStack,
      requireArm64: env.rust.requireArm64,
      configField: `${file}: rust.workspace`,
      machine: props.machine,
    });

    // The env's layers, before the functions that look them up by name.
    const layers = new LayerRegistry(this, {
      layers: env.layers,
      artifactBucketName: env.artifacts.bucket,
      namePrefix: env.namePrefix,
      projectRoot: props.projectRoot,
      projectRootFromStack,
      configFile: file,
      machine: props.machine,
    });

    // Every function of the env, from its folder (Rust entries from their cargo workspace).
    this.functions = this.envFunctions(env, props, projectRootFromStack, file, layers);

    // The REST backend's items table; the function serving it gets its name and access to its items.
    const be = env.backend;
    this.itemsTable = new DynamodbTable(this, "items", {
      name: `${env.namePrefix}-items`,
      billingMode: "PAY_PER_REQUEST",
      hashKey: "id",
      attribute: [{ name: "id", type: "S" }],
      pointInTimeRecovery: { enabled: be.table.pointInTimeRecovery },
      deletionProtectionEnabled: be.table.deletionProtection,
      serverSideEncryption: { enabled: true },
    });
    acceptCheck(this.itemsTable, "CKV_AWS_119", TABLE_KMS);
    if (!be.table.pointInTimeRecovery) acceptCheck(this.itemsTable, "CKV_AWS_28", PITR_OFF);
    const entry = (field: string, key: string): EnvFunction => {
      const f = this.functions[key];
      if (!f) throw new ConfigError([problem(file, field, key, `no function with that key in functions (the env has ${Object.keys(this.functions).join(", ") || "none"}); add the entry or name one of them`)]);
      return f;
    };
    this.backend = entry("backend.function", be.function).target;
    this.backend.grant(`the items table ${env.namePrefix}-items`, {
      statements: [{ sid: "ItemsTable", actions: ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem"], resources: [this.itemsTable.arn], shownAs: `table ${env.namePrefix}-items` }],
      environment: { TABLE_NAME: this.itemsTable.name },
    });

    const ws = env.websocket;
    try {
      this.websocket = new WebsocketLambda(this, "websocket", {
        namePrefix: env.namePrefix,
        routes: Object.fromEntries(Object.entries(websocketRoutes(env)).map(([route, key]) => [route, entry(ws.routes[route] ? `websocket.routes.${route}` : `functions.${key}.triggers.websocket`, key).target])),
        logRetentionDays: env.logRetentionDays,
        region: env.region,
        roomKey: ws.roomKey,
        roomQueryParam: ws.roomQueryParam,
        connectionTtlSeconds: ws.connectionTtlSeconds,
        stageName: ws.stage.name,
        throttlingBurstLimit: ws.stage.throttlingBurstLimit,
        throttlingRateLimit: ws.stage.throttlingRateLimit,
        pointInTimeRecovery: ws.table.pointInTimeRecovery,
        deletionProtection: ws.table.deletionProtection,
        liveRelay: env.live.enabled,
      });
    } catch (e) {
      if (e instanceof PropError) throw new ConfigError([problem(file, `websocket.${e.prop}`, e.value, e.fix)]);
      throw e;
    }

    // Live functions: those created here with a Runtime API proxy layer may be served by a session.
    this.liveFunctions = env.live.enabled ? Object.keys(this.functions).filter((key) => isLiveCapable(env, key)) : [];
    for (const key of this.liveFunctions) this.websocket.allowLiveRelay(this.functions[key].target, env.live.ackMs === 1500 ? undefined : env.live.ackMs);

    ({ httpApi: this.httpApi, schedules: this.schedules, queues: this.queues } = this.triggers(env, file));

    layers.publishRemaining();
    this.recordAdoptions(env.forgotten);
    moveFromEarlierAddresses(this, this.functions);

    new TerraformOutput(this, "websocket_url", { value: this.websocket.stage.invokeUrl, description: "wss:// URL of the WebSocket stage" });
    new TerraformOutput(this, "websocket_functions", {
      value: this.websocket.functions.map((f) => f.functionName),
      description: "The functions serving the WebSocket routes",
    });
    new TerraformOutput(this, "backend_function", { value: this.backend.functionName });
    const backendUrl = this.functions[be.function].url;
    if (backendUrl) new TerraformOutput(this, "backend_url", { value: backendUrl.functionUrl, description: `Function URL of the backend (auth ${env.functions[be.function].url?.authType ?? "AWS_IAM"})` });
    new TerraformOutput(this, "items_table", { value: this.itemsTable.name });
    new TerraformOutput(this, "functions", {
      description: "The env's functions by key: name, ARN and function URL",
      value: Object.fromEntries(
        Object.entries(this.functions).map(([key, f]) => [key, { name: f.target.functionName, arn: f.target.functionArn, ...(f.url ? { url: f.url.functionUrl } : {}) }]),
      ),
    });
    new TerraformOutput(this, "connections_table", { value: this.websocket.table.name });
    const relay = this.websocket.liveRelay;
    if (relay) {
      new TerraformOutput(this, "live_relay", {
        description: "The live relay (npm run live): its wss:// URL and the functions that can be served live",
        value: { url: relay.url, functions: Object.fromEntries(this.liveFunctions.map((k) => [k, this.functions[k].target.functionName])) },
      });
    }
    if (this.httpApi) new TerraformOutput(this, "http_api_url", { value: this.httpApi.api.apiEndpoint, description: "URL of the HTTP API's $default stage" });
    const created = this.queues.filter((q) => q.queue);
    if (created.length) {
      new TerraformOutput(this, "queues", {
        description: "Queues created for sqs triggers, with their dead-letter queues",
        value: Object.fromEntries(created.map((q) => [q.queue!.name, { url: q.queue!.url, arn: q.queue!.arn, dead_letter_url: q.deadLetterQueue!.url }])),
      });
    }
  }

  /** The functions' triggers: the env's HTTP API (one, for every http route), schedules and SQS mappings. */
  private triggers(env: EnvConfig, file: string): { httpApi?: HttpApi; schedules: ScheduleTrigger[]; queues: SqsTrigger[] } {
    const problems: string[] = [];
    const routes: HttpApiRoute[] = [];
    const schedules: ScheduleTrigger[] = [];
    const queues: SqsTrigger[] = [];
    const wrap = (field: string, fn: () => void) => {
      try {
        fn();
      } catch (e) {
        if (e instanceof PropError) problems.push(problem(file, field, e.value, e.fix));
        else throw e;
      }
    };
    for (const [key, entry] of Object.entries(env.functions)) {
      const f = this.functions[key];
      const t = entry.triggers;
      if (!f || !t) continue;
      for (const h of t.http ?? []) {
        const { route, auth, scopes } = httpTriggerRoute(h);
        routes.push({ routeKey: route, function: f.target, auth: auth ?? env.httpApi.defaultAuth, scopes });
      }
      (t.schedule ?? []).forEach((sch, i) => {
        const name = `${env.namePrefix}-${key}-${sch.name ?? String(i + 1)}`;
        wrap(`functions.${key}.triggers.schedule[${i}]`, () => {
          if (name.length > 64) throw new PropError("name", name, `the schedule's name ${name} is over 64 characters: shorten its name (or the function's key)`);
          schedules.push(new ScheduleTrigger(this, `schedule-${key}-${sch.name ?? String(i + 1)}`, { function: f.target, name, expression: sch.expression, timezone: sch.timezone, input: sch.input, enabled: sch.enabled }));
        });
      });
      (t.sqs ?? []).forEach((q, i) => {
        const timeout = entry.timeoutSeconds ?? env.functionDefaults.timeoutSeconds ?? 3;
        const account = AccountContext.of(this);
        const name = q.create ? `${env.namePrefix}-${q.queue}` : q.queue;
        wrap(`functions.${key}.triggers.sqs[${i}]`, () => {
          if (q.create && name.length > 80) throw new PropError("queue", name, `the queue's name ${name} is over SQS's 80 characters: shorten it`);
          queues.push(
            new SqsTrigger(this, `sqs-${key}-${i + 1}`, {
              function: f.target,
              functionTimeoutSeconds: timeout,
              ...(q.create
                ? { create: { name, maxReceiveCount: q.create.maxReceiveCount, visibilityTimeoutSeconds: q.create.visibilityTimeoutSeconds, retentionSeconds: q.create.retentionSeconds } }
                : { queueArn: q.queue.startsWith("arn:") ? q.queue : `arn:${account.partition}:sqs:${env.region}:${account.accountId}:${q.queue}`, shownAs: `queue ${q.queue}` }),
              batchSize: q.batchSize,
              batchingWindowSeconds: q.batchingWindowSeconds,
              reportBatchItemFailures: q.reportBatchItemFailures,
            }),
          );
        });
      });
    }
    let httpApi: HttpApi | undefined;
    if (routes.length) {
      wrap("httpApi", () => {
        httpApi = new HttpApi(this, "http-api", { name: `${env.namePrefix}-http`, routes, cors: env.httpApi.cors, jwt: env.httpApi.jwt, logRetentionDays: env.logRetentionDays });
      });
    }
    if (problems.length) throw new ConfigError(problems);
    return { httpApi, schedules, queues };
  }


  /**
   * The ledger of what this stack adopted by import (`terraform_data.adopted-functions`: address ->
   * name), kept in the state: when an adopted function's entry is removed, the plan shows it leaving
   * the ledger, and the applying commands refuse to destroy it (see review/plan-summary). Addresses in
   * the env's `forgotten` get a removed block with destroy = false: Terraform forgets them, AWS keeps them.
   */
  private recordAdoptions(forgotten: readonly string[]): void {
    const adopted = this.node.findAll().filter((c): c is ManagedFunction => c instanceof ManagedFunction && c.adopted !== undefined && c.resource !== undefined);
    if (adopted.length > 0) {
      const address = (r: { terraformResourceType: string; node: Construct["node"] }) => `${r.terraformResourceType}.${this.getLogicalId(r as never)}`;
      new DataResource(this, ADOPTED_LEDGER, {
        input: Lazy.anyValue({
          produce: () =>
            Object.fromEntries(
              adopted
                .flatMap((f) => [
                  [address(f.resource!), f.adopted!.functionName],
                  ...(f.adopted!.logGroup && f.logGroup ? [[address(f.logGroup), `/aws/lambda/${f.adopted!.functionName}`]] : []),
                ])
                .sort(([a], [b]) => a.localeCompare(b)),
            ),
        }),
      });
    }
    if (forgotten.length > 0) this.addOverride("removed", forgotten.map((from) => ({ from, lifecycle: { destroy: false } })));
  }
  /** The env's `functions` entries, each on the construct for its language; construct errors become env-file errors. */
  private envFunctions(env: EnvConfig, props: LambdaStackProps, projectRootFromStack: string, file: string, registry: LayerRegistry): Record<string, EnvFunction> {
    const out: Record<string, EnvFunction> = {};
    const problems: string[] = [];
    const names = new Map<string, string>();
    const pool = new DependencyLayers(this, "function-dependency-layers", { namePrefix: env.namePrefix, projectRoot: props.projectRoot, projectRootFromStack, machine: props.machine });
    const workspaces = new Map<string, RustWorkspace>([[this.rustWorkspace.workspaceDir, this.rustWorkspace]]);
    for (const [key, entry] of Object.entries(env.functions)) {
      const d = env.functionDefaults;
      const field = `functions.${key}`;
      const deployment = entry.deployment ?? { mode: "create" as const };
      const functionName = `${env.namePrefix}-${key}`;
      const shown = deployment.mode === "create" ? functionName : deployment.functionName;
      const clash = names.get(shown);
      if (clash) {
        problems.push(problem(file, `${field}`, shown, `${clash} already deploys a function named ${shown}; choose another key or functionName`));
        continue;
      }
      names.set(shown, field);
      const sourceDir = path.resolve(props.projectRoot, entry.source);
      const settings = {
        architecture: entry.architecture ?? d.architecture ?? "arm64",
        memoryMiB: entry.memoryMiB ?? d.memoryMiB ?? 128,
        timeoutSeconds: entry.timeoutSeconds ?? d.timeoutSeconds ?? 3,
        environment: { ...(d.environment ?? {}), ...(entry.environment ?? {}) },
        reservedConcurrency: entry.reservedConcurrency ?? d.reservedConcurrency,
        async: entry.async ?? d.async,
        layers: functionLayers(env, key),
      };
      const tags = { ...(d.tags ?? {}), ...(entry.tags ?? {}) };
      const isRust = entry.bin !== undefined || fs.existsSync(path.join(sourceDir, "Cargo.toml"));
      const description = entry.description ?? roleDescription(env, key, isRust);
      const policies = [...(d.policies ?? []), ...(entry.policies ?? [])];
      try {
        if (isRust) {
          if (entry.bin === undefined) throw new PropError("bin", undefined, `${entry.source} is a cargo workspace; name the bin that becomes this function`);
          let workspace = workspaces.get(sourceDir);
          if (!workspace) {
            workspace = new RustWorkspace(this, `rust-workspace-${key}`, { workspaceDir: sourceDir, projectRoot: props.projectRoot, projectRootFromStack, requireArm64: env.rust.requireArm64, configField: `${file}: ${field}.source`, machine: props.machine });
            workspaces.set(sourceDir, workspace);
          }
          const rust = new RustLambda(this, `fn-${key}`, {
            workspace,
            region: env.region,
            functions: [{ bin: entry.bin, functionName, description, settings, layers: registry.resolve(settings.layers, `${file}: ${field}`), logRetentionDays: env.logRetentionDays, deployment, policies, url: entry.url, role: entry.role, settingsField: `${file}: ${field}` }],
          });
          out[key] = { kind: "rust", target: rust.functions[entry.bin], url: rust.urls[entry.bin] };
        } else {
          const fn = new FolderFunction(this, `fn-${key}`, {
            key,
            functionName,
            sourceDir,
            projectRoot: props.projectRoot,
            projectRootFromStack,
            runtime: entry.runtime ?? d.runtime,
            handler: entry.handler,
            dependencies: entry.dependencies ?? d.dependencies,
            ...settings,
            layers: registry.resolve(settings.layers, `${file}: ${field}`),
            tags,
            logRetentionDays: env.logRetentionDays,
            deployment,
            region: env.region,
            policies,
            url: entry.url,
            description,
            role: entry.role,
            dependencyLayers: pool,
            machine: props.machine,
            settingsField: `${file}: ${field}`,
          });
          out[key] = { kind: "folder", target: fn, url: fn.url, plan: fn.plan };
        }
      } catch (e) {
        if (e instanceof PropError) problems.push(problem(file, `${field}.${e.prop}`, e.prop === "source" ? entry.source : e.value, e.fix));
        else if (e instanceof ConfigError) problems.push(...e.problems);
        else throw e;
      }
    }
    if (problems.length > 0) throw new ConfigError(problems);
    return out;
  }
}

/**
 * What a function does for the app, as its default description: the REST backend, or the WebSocket
 * routes it serves (`WebSocket connect handler of <prefix> (Rust)`); else the construct's default.
 */
function roleDescription(env: EnvConfig, key: string, rust: boolean): string | undefined {
  const suffix = rust ? " (Rust)" : "";
  if (env.backend.function === key) return `REST backend of ${env.namePrefix}${suffix}`;
  const served = Object.entries(websocketRoutes(env)).filter(([, k]) => k === key).map(([route]) => (route.startsWith("$") ? route.slice(1) : "broadcast"));
  const labels = [...new Set(served)];
  if (labels.length === 0) return undefined;
  return `WebSocket ${labels.length === 1 ? `${labels[0]} ` : ""}handler of ${env.namePrefix}${suffix}`;
}

/** Provider settings that point every service at one emulator endpoint, with the checks AWS-only APIs need skipped. */
export function emulatorProviderConfig(endpoint: string): Partial<AwsProviderConfig> {
  return {
    accessKey: "test",
    secretKey: "test",
    skipCredentialsValidation: true,
    skipMetadataApiCheck: "true",
    skipRegionValidation: true,
    s3UsePathStyle: true,
    endpoints: [Object.fromEntries(EMULATED_SERVICES.map((s) => [s, endpoint]))],
  };
}

function emulatorBackendConfig(endpoint: string) {
  return {
    accessKey: "test",
    secretKey: "test",
    skipCredentialsValidation: true,
    skipMetadataApiCheck: true,
    skipRegionValidation: true,
    skipRequestingAccountId: true,
    usePathStyle: true,
    endpoints: { s3: endpoint, sts: endpoint, iam: endpoint, dynamodb: endpoint },
  };
}
