import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { DataAwsIamPolicyDocument } from "@cdktf/provider-aws/lib/data-aws-iam-policy-document";
import { DataAwsLambdaFunction } from "@cdktf/provider-aws/lib/data-aws-lambda-function";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { LambdaFunction } from "@cdktf/provider-aws/lib/lambda-function";
import { LambdaFunctionEventInvokeConfig } from "@cdktf/provider-aws/lib/lambda-function-event-invoke-config";
import { Annotations, ITerraformDependable, Token } from "cdktf";
import { Construct } from "constructs";
import { unzippedLimitError } from "../../build/layer";
import { PropError } from "../errors";
import type { FunctionLayer, ILayer } from "../layer_builder";

/** A function's settings, whatever module deploys it. */
export interface FunctionSettings {
  /** 128-10240. */
  readonly memoryMiB: number;
  /** 1-900. */
  readonly timeoutSeconds: number;
  /** The user's variables; they win over a module's. */
  readonly environment: Readonly<Record<string, string>>;
  /** @default - unreserved */
  readonly reservedConcurrency?: number;
  readonly architecture: "arm64" | "x86_64";
  /** Asynchronous invocation (its event invoke config). @default - Lambda's: 2 retries, events kept 6 hours */
  readonly async?: AsyncInvokeSettings;
}

/** What Lambda does with a failed asynchronous (Event) invocation. */
export interface AsyncInvokeSettings {
  /** Retries after a failed attempt, 0-2. @default 2 */
  readonly retries?: number;
  /** How long an event may wait (for a retry), 60-21600 s; older ones are dropped. @default 21600 */
  readonly maxEventAgeSeconds?: number;
}

/**
 * How a function is had: `create` manages it here; `existing` only references one by name (data
 * source); `import` adopts an existing one with an import block (and its `/aws/lambda/<name>` log
 * group unless `importLogGroup` is false; @default true).
 */
export type Deployment =
  | { readonly mode: "create" }
  | { readonly mode: "existing"; readonly functionName: string }
  | { readonly mode: "import"; readonly functionName: string; readonly importLogGroup?: boolean };
import { acceptCheck, FUNCTION_CHECKS, LOG_GROUP_KMS, logRetentionReason } from "../policy-checks";

/**
 * What other constructs need of a function, whether it was created here, imported or only referenced:
 * a created, an imported and an existing function are interchangeable behind it.
 */
export interface ILambdaTarget {
  readonly functionName: string;
  readonly functionArn: string;
  /** ARN API Gateway integrations call (`.../functions/<arn>/invocations`). */
  readonly invokeArn: string;
}

/**
 * A function other constructs can wire up: they grant it access to what they own and hand it the
 * names it needs (CDK's `addToRolePolicy` / `addEnvironment`). Where the function's role or
 * configuration is not managed here (a referenced function, an adopted function keeping its own role,
 * a role given by ARN), nothing is changed and a synth warning says what must be granted by hand.
 */
export interface IFunction extends ILambdaTarget {
  /**
   * Adds statements to the execution role's least-privilege policy and sets variables the composing
   * construct computes (the user's own variables win on a clash), for `purpose` (named in the warning
   * given where they cannot be applied).
   */
  grant(purpose: string, needs: FunctionNeeds): void;
}

/** What a composing construct needs of a function it wires up. */
export interface FunctionNeeds {
  /** @default - none */
  readonly statements?: readonly PolicyStatement[];
  /** @default - none */
  readonly environment?: Readonly<Record<string, string>>;
}

/** One IAM statement; wildcards in actions are not accepted (least privilege). */
export interface PolicyStatement {
  readonly sid: string;
  readonly actions: readonly string[];
  readonly resources: readonly string[];
  /** IAM conditions, e.g. an S3 prefix on ListBucket. @default - none */
  readonly conditions?: ReadonlyArray<{ readonly test: string; readonly variable: string; readonly values: readonly string[] }>;
  /** How the resources read in a warning, where they are tokens until apply (`table lambdaship-dev-items`). @default - the resources */
  readonly shownAs?: string;
}

/** The function's code: a local zip and the hash that tells Terraform when it changed. */
export interface FunctionCode {
  /** Path of the zip, relative to the stack's working directory (stable across machines). */
  readonly filename: string;
  /** base64 SHA-256 the provider compares to decide a code update. */
  readonly sourceCodeHash: string;
}

/** Settings shared by every module that deploys functions (rust_lambda, websocket_lambda). */
export interface FunctionOptions {
  /** Memory, timeout, environment, reserved concurrency and architecture. */
  readonly settings: FunctionSettings;
  /** Days CloudWatch keeps the function's logs. */
  readonly logRetentionDays: number;
  /** create, existing or import. @default - create */
  readonly deployment?: Deployment;
  /** Where `settings` are configured, for errors and warnings (`envs/dev.ts: functions.backend`). @default "function" */
  readonly settingsField?: string;
  /** Layers, as objects, in the order Lambda extracts them into /opt. @default - none */
  readonly layers?: readonly ILayer[];
}

/** What a function is when this stack creates or adopts it (not needed to reference an existing one). */
export interface FunctionDefinition {
  /** Name of the function when this stack creates it (import mode uses the adopted function's name). */
  readonly functionName: string;
  /** Name of the function's execution role (at most 64 characters). */
  readonly roleName: string;
  readonly description: string;
  /** Lambda runtime, e.g. `python3.12` or `provided.al2023`. */
  readonly runtime: string;
  /** Handler entry point (`module.function` for Python; `bootstrap` for custom runtimes). */
  readonly handler: string;
  readonly code: FunctionCode;
  /** Statements besides writing its own log group, which every function gets. */
  readonly policyStatements: readonly PolicyStatement[];
  /** Environment variables computed by the module (table names, ...); the user's win on a clash. @default - none */
  readonly moduleEnvironment?: Record<string, string>;
  /** Resources the function waits for, such as a builder. @default - none */
  readonly dependsOn?: ITerraformDependable[];
  /** Size of the package unzipped, when known at synth (for Lambda's 250 MB limit with layers). */
  readonly unzippedBytes?: number;
  /** Layers the definition brings (a function's dependency layer), resolved already, before `layers`. @default - none */
  readonly layers?: readonly FunctionLayer[];
  /** Tags of the function, besides the provider's default tags. @default - none */
  readonly tags?: Readonly<Record<string, string>>;
  /**
   * The execution role: "managed" (created here with the least-privilege policy), or an existing
   * role by ARN. @default - "managed" when created; when imported, the function's own role, kept
   */
  readonly role?: RoleChoice;
}

/** Which execution role a function runs with (see FunctionDefinition.role). */
export type RoleChoice = "managed" | { readonly arn: string };

export interface ManagedFunctionProps extends FunctionOptions {
  /** Required in create and import modes; ignored in existing mode, which deploys nothing. */
  readonly definition?: FunctionDefinition;
}

/**
 * A Lambda function in one of three modes, chosen as data:
 * - `create`: function, execution role with an inline least-privilege policy, and log group;
 * - `import`: the same resources, with import blocks adopting the existing function (and its log
 *   group) so the plan shows an import and never a create or a replace;
 * - `existing`: nothing is created; a data source looks the function up by name.
 */
export class ManagedFunction extends Construct implements IFunction {
  /**
   * A function that exists already, looked up by name (a data source): the same interface a created
   * one has, with nothing managed here.
   */
  public static fromFunctionName(scope: Construct, id: string, functionName: string): IFunction {
    return new ManagedFunction(scope, id, { deployment: { mode: "existing", functionName }, settings: REFERENCED_SETTINGS, logRetentionDays: 1 });
  }

  public readonly functionName: string;
  public readonly functionArn: string;
  public readonly invokeArn: string;
  public readonly mode: Deployment["mode"];
  /** The managed function, absent in `existing` mode. */
  public readonly resource?: LambdaFunction;
  public readonly role?: IamRole;
  public readonly logGroup?: CloudwatchLogGroup;
  /** In import mode: the adopted function's name, and whether its log group is adopted too. */
  public readonly adopted?: { readonly functionName: string; readonly logGroup: boolean };
  /** The function's name as written (the functionName attribute is a token until apply). */
  private readonly shownName: string;
  /** Where this function's props came from, for warnings. */
  private readonly field: string;
  /** The role policy's statements, and its document, while the role is managed here. */
  private readonly statements: PolicyStatement[] = [];
  /** Present exactly when the role is managed here. */
  private policyDocument?: DataAwsIamPolicyDocument;
  /** The variables of the function: module's, then layers', then the user's (which win). */
  private readonly environment: { module: Record<string, string>; layers: Record<string, string>; user: Readonly<Record<string, string>> } = { module: {}, layers: {}, user: {} };

  constructor(scope: Construct, id: string, props: ManagedFunctionProps) {
    super(scope, id);
    const deployment: Deployment = props.deployment ?? { mode: "create" };
    this.mode = deployment.mode;
    this.field = props.settingsField ?? "function";
    this.shownName = deployment.mode === "create" ? (props.definition?.functionName ?? id) : deployment.functionName;

    if (deployment.mode === "existing") {
      if ((props.layers ?? []).length > 0) {
        Annotations.of(this).addWarning(`${props.settingsField ?? "function"}.layers is set, but the function "${deployment.functionName}" is only referenced: its layers are managed where it is, and these are not attached.`);
      }
      const existing = new DataAwsLambdaFunction(this, "existing", { functionName: deployment.functionName });
      this.functionName = existing.functionName;
      this.functionArn = existing.arn;
      this.invokeArn = existing.invokeArn;
      return;
    }

    const def = props.definition;
    if (!def) throw new Error(`${this.node.path}: a function in ${deployment.mode} mode needs its definition (code, runtime, handler, role)`);
    const name = deployment.mode === "import" ? deployment.functionName : def.functionName;
    const logGroupName = `/aws/lambda/${name}`;
    this.logGroup = new CloudwatchLogGroup(this, "log-group", {
      name: logGroupName,
      retentionInDays: props.logRetentionDays,
    });
    if (deployment.mode === "import") {
      this.adopted = { functionName: deployment.functionName, logGroup: deployment.importLogGroup ?? true };
      if (this.adopted.logGroup) this.logGroup.importFrom(logGroupName);
    }
    acceptCheck(this.logGroup, "CKV_AWS_158", LOG_GROUP_KMS);
    if (props.logRetentionDays < 365) acceptCheck(this.logGroup, "CKV_AWS_338", logRetentionReason(props.logRetentionDays));

    const statements = this.statements;
    statements.push({ sid: "WriteOwnLogs", actions: ["logs:CreateLogStream", "logs:PutLogEvents"], resources: [`${this.logGroup.arn}:*`] });
    for (const s of def.policyStatements) statements.push(this.checked(s));
    // The execution role: managed here (created, with the least-privilege policy), the adopted
    // function's own (import keeps it unless asked), or one named by ARN.
    const roleChoice = def.role ?? (deployment.mode === "import" ? "own" : "managed");
    let roleArn: string;
    const waitFor: ITerraformDependable[] = [this.logGroup];
    if (roleChoice === "managed") {
      const assume = new DataAwsIamPolicyDocument(this, "assume-role", {
        statement: [
          {
            effect: "Allow",
            actions: ["sts:AssumeRole"],
            principals: [{ type: "Service", identifiers: ["lambda.amazonaws.com"] }],
          },
        ],
      });
      this.role = new IamRole(this, "role", {
        name: def.roleName,
        description: `Execution role of ${name}`,
        assumeRolePolicy: assume.json,
      });
      const policy = new DataAwsIamPolicyDocument(this, "policy", { statement: statements.map(toDocumentStatement) });
      this.policyDocument = policy;
      waitFor.push(
        new IamRolePolicy(this, "role-policy", {
          name: "least-privilege",
          role: this.role.id,
          policy: policy.json,
        }),
      );
      roleArn = this.role.arn;
    } else {
      if (roleChoice === "own") {
        // Read at plan from the function being adopted: its role stays what it is.
        const adopted = new DataAwsLambdaFunction(this, "adopted", { functionName: name });
        roleArn = adopted.role;
      } else roleArn = roleChoice.arn;
      const needs = statements.slice(1).map(describeStatement);
      Annotations.of(this).addWarning(
        `${props.settingsField ?? "function"}: ${name} runs with ${roleChoice === "own" ? "the role it already has (an imported function keeps its own role)" : `the role ${roleChoice.arn}`}, which this stack does not manage: ` +
          `it must allow logs:CreateLogStream and logs:PutLogEvents on ${logGroupName}${needs.length ? `, and ${needs.join("; ")}` : ""}. Set role to "managed" to have the stack create a least-privilege role instead.`,
      );
    }

    const field = props.settingsField ?? "function";
    const given = (props.layers ?? []).map((l) => ({ name: l.name, ...l.forFunction({ name, runtime: def.runtime, architecture: props.settings.architecture, field }) }));
    const layers: FunctionLayer[] = [...(def.layers ?? []), ...given];
    if (layers.length > 5) throw new PropError("layers", given.map((l) => l.name), `${name} has ${layers.length} layers with its dependency layer; Lambda allows 5`);
    const tooBig = unzippedLimitError(name, def.unzippedBytes, [...(def.layers ?? []).map((l) => ({ name: "its dependency layer", ...l })), ...given]);
    if (tooBig) throw new PropError("layers", given.map((l) => l.name), tooBig);
    Object.assign(this.environment, { module: { ...(def.moduleEnvironment ?? {}) }, layers: Object.assign({}, ...layers.map((l) => l.environment)), user: props.settings.environment });
    const variables = this.variables();
    const fn = new LambdaFunction(this, "function", {
      functionName: name,
      description: def.description,
      role: roleArn,
      runtime: def.runtime,
      handler: def.handler,
      filename: def.code.filename,
      sourceCodeHash: def.code.sourceCodeHash,
      architectures: [props.settings.architecture],
      layers: layers.length > 0 ? layers.map((l) => l.arn) : undefined,
      memorySize: props.settings.memoryMiB,
      timeout: props.settings.timeoutSeconds,
      environment: Object.keys(variables).length > 0 ? { variables } : undefined,
      reservedConcurrentExecutions: props.settings.reservedConcurrency,
      tags: def.tags && Object.keys(def.tags).length > 0 ? { ...def.tags } : undefined,
      // The role's policy and the log group must exist before the first invocation can log.
      dependsOn: [...waitFor, ...(def.dependsOn ?? [])],
    });
    if (deployment.mode === "import") fn.importFrom(deployment.functionName);
    const async = props.settings.async;
    if (async) {
      // Only when asked: without one, Lambda's defaults apply and an adopted function's own config is left alone.
      new LambdaFunctionEventInvokeConfig(this, "async", { functionName: fn.functionName, maximumRetryAttempts: async.retries ?? 2, maximumEventAgeInSeconds: async.maxEventAgeSeconds });
    }
    for (const [check, reason] of Object.entries(FUNCTION_CHECKS)) acceptCheck(fn, check, reason);
    if (props.settings.reservedConcurrency === undefined) {
      acceptCheck(fn, "CKV_AWS_115", `${props.settingsField ?? "function"}.reservedConcurrency is unset: the function shares the account's unreserved pool, as this env chooses`);
    }
    this.resource = fn;
    this.functionName = fn.functionName;
    this.functionArn = fn.arn;
    this.invokeArn = fn.invokeArn;
  }

  public grant(purpose: string, needs: FunctionNeeds): void {
    const unmanaged: string[] = [];
    const statements = (needs.statements ?? []).map((st) => this.checked(st));
    if (this.policyDocument) {
      this.statements.push(...statements);
      if (statements.length > 0) this.policyDocument.putStatement(this.statements.map(toDocumentStatement));
    } else unmanaged.push(...statements.map(describeStatement));
    const variables = Object.entries(needs.environment ?? {});
    if (this.resource) {
      for (const [name, value] of variables) this.environment.module[name] = value;
      if (variables.length > 0) this.resource.putEnvironment({ variables: this.variables() });
    } else if (variables.length > 0) {
      unmanaged.push(`variables ${variables.map(([name, value]) => (Token.isUnresolved(value) ? name : `${name}=${value}`)).join(", ")}`);
    }
    if (unmanaged.length > 0) {
      const why = this.mode === "existing" ? "is only referenced, so neither its role nor its variables are managed here" : "runs with a role this stack does not manage";
      Annotations.of(this).addWarning(`${this.field}: ${this.shownName} ${why}; for ${purpose} it needs ${unmanaged.join("; ")}.`);
    }
  }

  private variables(): Record<string, string> {
    return { ...this.environment.module, ...this.environment.layers, ...this.environment.user };
  }

  private checked(s: PolicyStatement): PolicyStatement {
    const wildcard = s.actions.find((a) => a.includes("*"));
    if (wildcard) throw new Error(`${this.node.path}: policy statement ${s.sid} has the wildcard action ${wildcard}; name each action`);
    return s;
  }
}

/** The settings a referenced function is given: unused, since nothing is deployed. */
const REFERENCED_SETTINGS: FunctionSettings = { memoryMiB: 128, timeoutSeconds: 3, environment: {}, architecture: "arm64" };

function toDocumentStatement(s: PolicyStatement) {
  return {
    sid: s.sid,
    effect: "Allow",
    actions: [...s.actions],
    resources: [...s.resources],
    ...(s.conditions ? { condition: s.conditions.map((c) => ({ test: c.test, variable: c.variable, values: [...c.values] })) } : {}),
  };
}

function describeStatement(s: PolicyStatement): string {
  return `${s.actions.join(", ")} on ${s.shownAs ?? s.resources.join(", ")}`;
}

