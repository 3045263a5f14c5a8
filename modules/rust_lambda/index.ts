import { LambdaFunctionUrl } from "@cdktf/provider-aws/lib/lambda-function-url";
import { Construct } from "constructs";
import { PropError } from "../errors";
import { FunctionOptions, ManagedFunction, PolicyStatement, RoleChoice } from "../lambda_function";
import { PolicyTemplateOptions, statementsFromTemplates } from "../lambda_function/policy-templates";
import { addFunctionUrl, FunctionUrlOptions } from "../lambda_function/url";
import { RustWorkspace } from "./workspace";

export { RustArtifact, RustWorkspace, RustWorkspaceProps } from "./workspace";

/** Custom runtime every Rust function runs on (the binary is `bootstrap`). */
export const RUST_RUNTIME = "provided.al2023";

/** One function: a bin of the workspace and how it is deployed. */
export interface RustFunctionProps extends FunctionOptions {
  /** The `[[bin]]` target that becomes the function's `bootstrap`. */
  readonly bin: string;
  /** Name of the function when this stack creates it. */
  readonly functionName: string;
  /** Name of its execution role (at most 64 characters). @default - `<functionName>-role` */
  readonly roleName?: string;
  /** @default - "<bin> (Rust)" */
  readonly description?: string;
  /** Named policy templates on named resources (seed 001's list). @default - none */
  readonly policies?: readonly PolicyTemplateOptions[];
  /** Statements the composing module adds for resources it owns (a table, an API). @default - none */
  readonly policyStatements?: readonly PolicyStatement[];
  /** Variables computed by the composing module; the user's `settings.environment` wins on a clash. @default - none */
  readonly moduleEnvironment?: Record<string, string>;
  /** The execution role. @default - managed when created; an imported function keeps its own */
  readonly role?: RoleChoice;
  /** A function URL; AWS_IAM unless NONE is asked for. @default - no URL */
  readonly url?: FunctionUrlOptions;
  /** Where this function is configured, for the warnings that name it (`envs/dev.ts: functions.backend`). @default - the bin's name */
  readonly settingsField?: string;
}

export interface RustLambdaProps {
  /** The cargo workspace the bins come from; it builds them. */
  readonly workspace: RustWorkspace;
  /** Region of the env: policy templates name resources in it. */
  readonly region: string;
  /** The functions, at most one per bin. */
  readonly functions: readonly RustFunctionProps[];
}

/**
 * Rust functions from one cargo workspace (seed 000's functions, done inside the stack): each bin is a
 * function with its own settings, log group, least-privilege role from named policy templates, and an
 * optional function URL; created, imported or referenced through the shared ManagedFunction. Each
 * created or imported function waits for its workspace's builder and declares the architecture its
 * binary is really built for.
 */
export class RustLambda extends Construct {
  /** The functions by bin. */
  public readonly functions: Readonly<Record<string, ManagedFunction>>;
  /** The function URLs by bin. */
  public readonly urls: Readonly<Record<string, LambdaFunctionUrl>>;

  constructor(scope: Construct, id: string, props: RustLambdaProps) {
    super(scope, id);
    const functions: Record<string, ManagedFunction> = {};
    const urls: Record<string, LambdaFunctionUrl> = {};
    for (const spec of props.functions) {
      const field = spec.settingsField ?? spec.bin;
      if (functions[spec.bin]) throw new PropError("bin", spec.bin, `the bin is deployed twice in ${this.node.path}; deploy each bin once per RustLambda`);
      const deployment = spec.deployment ?? { mode: "create" };
      if (spec.url && deployment.mode === "existing") {
        throw new PropError("url", spec.url, `${spec.bin}'s deployment mode is "existing": a referenced function's URL belongs where the function is managed. Remove url, or adopt the function with mode "import"`);
      }
      const roleName = spec.roleName ?? `${spec.functionName}-role`;
      if (roleName.length > 64) throw new PropError("roleName", roleName, `it has ${roleName.length} characters; IAM allows 64. Shorten the function's name or set roleName`);
      const artifact = deployment.mode === "existing" ? undefined : props.workspace.artifact(spec.bin, spec.settings.architecture);
      const fn = new ManagedFunction(this, spec.bin, {
        // The architecture is the binary's, which a fallback build may have changed.
        settings: artifact ? { ...spec.settings, architecture: artifact.architecture } : spec.settings,
        logRetentionDays: spec.logRetentionDays,
        deployment,
        layers: spec.layers,
        settingsField: field,
        definition: artifact && {
          functionName: spec.functionName,
          roleName,
          description: spec.description ?? `${spec.bin} (Rust)`,
          runtime: RUST_RUNTIME,
          handler: "bootstrap",
          code: { filename: artifact.filename, sourceCodeHash: artifact.sourceCodeHash },
          policyStatements: [...(spec.policyStatements ?? []), ...statementsFromTemplates(this, spec.policies ?? [], props.region)],
          moduleEnvironment: spec.moduleEnvironment,
          dependsOn: [artifact.builder],
          unzippedBytes: artifact.unzippedBytes,
          role: spec.role,
        },
      });
      functions[spec.bin] = fn;
      const shownName = deployment.mode === "create" ? spec.functionName : deployment.functionName;
      if (spec.url) urls[spec.bin] = addFunctionUrl(this, spec.bin, fn, spec.url, field, shownName);
    }
    this.functions = functions;
    this.urls = urls;
  }
}
