import { LambdaFunctionUrl } from "@cdktf/provider-aws/lib/lambda-function-url";
import { DataResource } from "cdktf";
import { Construct } from "constructs";
import * as fs from "fs";
import * as path from "path";
import { DetectError } from "../../build/detect";
import type { LambdaArchitecture } from "../../build/elf";
import { Dependencies, FunctionPlan, functionZipPath, planFunction } from "../../build/function";
import { applyTimeBuilder } from "../apply_builder";
import { PropError } from "../errors";
import { MachineProbe, thisMachine } from "../machine";
import { DependencyLayers, FunctionLayer, ILayer } from "../layer_builder";
import { AsyncInvokeSettings, Deployment, FunctionNeeds, IFunction, ManagedFunction, PolicyStatement, RoleChoice } from "../lambda_function";
import { PolicyTemplateOptions, statementsFromTemplates } from "../lambda_function/policy-templates";
import { addFunctionUrl, FunctionUrlOptions } from "../lambda_function/url";

export interface FolderFunctionProps {
  /** The function's name when this stack creates it (1-64 of letters, digits, '-', '_'). */
  readonly functionName: string;
  /** A short name for the function's builder and its zip (`orders-api`). @default - the folder's name */
  readonly key?: string;
  /** Absolute path of the function's folder. */
  readonly sourceDir: string;
  /** Absolute project root: the folder, the build output and the builder's command are relative to it. */
  readonly projectRoot: string;
  /** The project root as the engine sees it from the stack's working directory (`../../..`). */
  readonly projectRootFromStack: string;
  /** Lambda runtime. @default - detected from the folder (python3.12, nodejs22.x, provided.al2023 for Go) */
  readonly runtime?: string;
  /** Handler. @default - detected from the code */
  readonly handler?: string;
  /** Where dependencies go: a dependency layer shared with functions of the same files, or the zip. @default "layer" */
  readonly dependencies?: Dependencies;
  /** @default "arm64" */
  readonly architecture?: LambdaArchitecture;
  /** @default 128 */
  readonly memoryMiB?: number;
  /** @default 3 */
  readonly timeoutSeconds?: number;
  /** @default - none */
  readonly environment?: Readonly<Record<string, string>>;
  /** @default - unreserved */
  readonly reservedConcurrency?: number;
  /** Asynchronous invocation: retries and the events' maximum age. @default - Lambda's (2 retries, 6 hours) */
  readonly async?: AsyncInvokeSettings;
  /** Tags of the function, besides the provider's default tags. @default - none */
  readonly tags?: Readonly<Record<string, string>>;
  /** Layers, as objects, after the function's dependency layer (5 in all). @default - none */
  readonly layers?: readonly ILayer[];
  /** Days CloudWatch keeps the function's logs. */
  readonly logRetentionDays: number;
  /** create, existing or import. @default - create */
  readonly deployment?: Deployment;
  /** Region of the env: policy templates name resources in it. */
  readonly region: string;
  /** Named policy templates on named resources. @default - none */
  readonly policies?: readonly PolicyTemplateOptions[];
  /** Statements for resources the composing code owns. @default - none */
  readonly policyStatements?: readonly PolicyStatement[];
  /** A function URL. @default - none */
  readonly url?: FunctionUrlOptions;
  /** @default - "<key> (<runtime>)" */
  readonly description?: string;
  /** @default - `<functionName>-role` */
  readonly roleName?: string;
  /** The execution role. @default - managed when created; an imported function keeps its own */
  readonly role?: RoleChoice;
  /** Where the function is configured, for errors and warnings that name it (`envs/dev.ts: functions.report`). @default - the key */
  readonly settingsField?: string;
  /** What synth may read of this machine (the size of a package built here before). @default - this machine */
  readonly machine?: MachineProbe;
  /** Where the dependency layer comes from; share one between functions to share layers. @default - one of its own */
  readonly dependencyLayers?: DependencyLayers;
}

/**
 * A function from a folder, in Python, Node.js (JavaScript or TypeScript) or Go: the runtime and
 * handler are detected unless given; the package is built at apply by an apply-time builder whose
 * trigger is the input hash computed here, so a plan changes only when an input does; dependencies
 * go in a dependency layer (default) or the zip. Created, imported or referenced like every function.
 */
export class FolderFunction extends Construct implements IFunction {
  public readonly functionName: string;
  public readonly functionArn: string;
  public readonly invokeArn: string;
  public readonly function: ManagedFunction;
  /** What synth found: runtime, handler (detected or given), input hash; absent for an existing function. */
  public readonly plan?: FunctionPlan;
  public readonly builder?: DataResource;
  public readonly url?: LambdaFunctionUrl;

  constructor(scope: Construct, id: string, props: FolderFunctionProps) {
    super(scope, id);
    const key = props.key ?? path.basename(props.sourceDir);
    const deployment: Deployment = props.deployment ?? { mode: "create" };
    const architecture = props.architecture ?? "arm64";
    const roleName = props.roleName ?? `${props.functionName}-role`;
    if (roleName.length > 64) throw new PropError("roleName", roleName, `IAM allows 64 characters and it has ${roleName.length}; shorten the function's name or set roleName`);
    if (props.url && deployment.mode === "existing") {
      throw new PropError("url", props.url, 'a referenced function\'s URL belongs where the function is managed; remove url, or adopt the function with deployment mode "import"');
    }
    const settings = {
      memoryMiB: props.memoryMiB ?? 128,
      timeoutSeconds: props.timeoutSeconds ?? 3,
      environment: { ...(props.environment ?? {}) },
      reservedConcurrency: props.reservedConcurrency,
      architecture,
      async: props.async,
    };

    let definition;
    if (deployment.mode !== "existing") {
      const source = path.relative(props.projectRoot, props.sourceDir).split(path.sep).join("/");
      if (!fs.existsSync(props.sourceDir)) throw new PropError("source", source, `the folder ${props.sourceDir} does not exist; point it at the function's folder, relative to the project root`);
      if (!/^[A-Za-z0-9._/-]+$/.test(source) || source.startsWith("..")) {
        throw new PropError("source", source, "a function folder is inside the project, named with letters, digits, '.', '_', '-' and '/' (the builder's command line carries it)");
      }
      let plan: FunctionPlan;
      try {
        const runtimeApiProxy = (props.layers ?? []).some((l) => l.proxiesRuntimeApi);
        plan = planFunction({ name: key, dir: props.sourceDir, runtime: props.runtime, handler: props.handler, dependencies: props.dependencies, runtimeApiProxy }, architecture);
      } catch (e) {
        if (e instanceof DetectError) throw new PropError(e.field === "bin" ? "bin" : e.field, e.field === "runtime" ? props.runtime : e.field === "handler" ? props.handler : source, e.message);
        throw e;
      }
      this.plan = plan;
      const layers: FunctionLayer[] = [];
      if (plan.dependencyLayer) {
        const pool = props.dependencyLayers ?? new DependencyLayers(this, "dependency-layers", { namePrefix: props.functionName, projectRoot: props.projectRoot, projectRootFromStack: props.projectRootFromStack, machine: props.machine });
        layers.push(pool.forFunction({ key, functionName: props.functionName, sourceDir: props.sourceDir, runtime: plan.runtime, architecture }));
      }
      const given = props.layers ?? [];
      if (layers.length + given.length > 5) throw new PropError("layers", given.map((l) => l.name), `Lambda allows 5 layers per function, and its dependency layer takes one; list at most ${5 - layers.length}`);
      const zip = path.relative(props.projectRoot, functionZipPath(props.projectRoot, plan, key)).split(path.sep).join("/");
      this.builder = applyTimeBuilder(this, "builder", {
        cli: "build/function-cli.ts",
        projectRoot: props.projectRoot,
        workingDir: props.projectRootFromStack,
        triggers: () => ({ [architecture]: plan.inputHash }),
        args: () => [
          `--name ${key} --source ${source} --runtime ${plan.runtime} --handler ${plan.handler} --dependencies ${plan.dependencies}${plan.runtimeApiProxy ? " --runtime-api-proxy" : ""}`,
          `--arch ${architecture} --expect ${architecture}=${plan.inputHash}`,
        ],
      });
      definition = {
        functionName: props.functionName,
        roleName,
        description: props.description ?? `${key} (${plan.runtime})`,
        runtime: plan.runtime,
        handler: plan.deployedHandler,
        code: { filename: path.posix.join(props.projectRootFromStack, zip), sourceCodeHash: Buffer.from(plan.inputHash, "hex").toString("base64") },
        policyStatements: [...(props.policyStatements ?? []), ...statementsFromTemplates(this, props.policies ?? [], props.region)],
        dependsOn: [this.builder],
        unzippedBytes: (props.machine ?? thisMachine).builtSize(functionZipPath(props.projectRoot, plan, key), "function-artifacts")?.unzippedBytes,
        layers,
        tags: props.tags,
        role: props.role,
      };
    }
    this.function = new ManagedFunction(this, "function", { settings, logRetentionDays: props.logRetentionDays, deployment, definition, layers: props.layers, settingsField: props.settingsField ?? key });
    this.functionName = this.function.functionName;
    this.functionArn = this.function.functionArn;
    this.invokeArn = this.function.invokeArn;
    if (props.url) this.url = addFunctionUrl(this, key, this.function, props.url, key, deployment.mode === "create" ? props.functionName : deployment.functionName);
  }

  public grant(purpose: string, needs: FunctionNeeds): void {
    this.function.grant(purpose, needs);
  }
}
