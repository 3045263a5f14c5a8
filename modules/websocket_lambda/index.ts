import { Apigatewayv2Api } from "@cdktf/provider-aws/lib/apigatewayv2-api";
import { Apigatewayv2Integration } from "@cdktf/provider-aws/lib/apigatewayv2-integration";
import { Apigatewayv2Route } from "@cdktf/provider-aws/lib/apigatewayv2-route";
import { Apigatewayv2Stage } from "@cdktf/provider-aws/lib/apigatewayv2-stage";
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { DynamodbTable } from "@cdktf/provider-aws/lib/dynamodb-table";
import { LambdaPermission } from "@cdktf/provider-aws/lib/lambda-permission";
import { Annotations, TerraformAsset, AssetType, Fn } from "cdktf";
import { Construct } from "constructs";
import * as fs from "fs";
import * as path from "path";
import { packagePythonHandler, PythonPackage } from "../../build/python-package";
import { ConfigError } from "../errors";
import { acceptCheck, LOG_GROUP_KMS, logRetentionReason, PITR_OFF, TABLE_KMS } from "../policy-checks";
import { FunctionOptions, ILambdaTarget, ManagedFunction, PolicyStatement, RoleChoice } from "../lambda_function";
import { RustLambda, RustWorkspace } from "../rust_lambda";

/** The Python handler that serves every route. */
export interface PythonHandlerProps {
  /** Absolute path of the folder holding the handler. */
  readonly sourceDir: string;
  /** `<module>.<function>`, e.g. `handler.lambda_handler`. */
  readonly handler: string;
  /** Lambda runtime, e.g. `python3.12`. */
  readonly runtime: string;
  /** Where the folder was configured, for errors: e.g. `envs/dev.ts: websocket.handler.source`. @default - "websocket.handler.source" */
  readonly configField?: string;
}

/** The Rust handlers: one function per route, built from a cargo workspace's ws-* bins. */
export interface RustHandlersProps {
  readonly workspace: RustWorkspace;
  /** Region of the env (where rust_lambda's policy templates name resources). */
  readonly region: string;
}

export interface WebsocketLambdaProps extends FunctionOptions {
  /** Prefix of every resource name (`<prefix>-websocket`, `<prefix>-connections`, ...). */
  /** Where the function settings are configured, for errors (`envs/dev.ts: websocket.function`). @default "websocket.function" */
  readonly settingsField?: string;
  readonly namePrefix: string;
  /** The Python handler serving every route; used unless `rust` is given. */
  readonly handler: PythonHandlerProps;
  /**
   * Serve the routes with the Rust ws-* functions instead of the Python handler: `$connect` ->
   * ws-connect, `$disconnect` -> ws-disconnect, `$default` -> ws-default, named routes -> ws-broadcast.
   * Each is created here with `settings`, and only the table and API access its route needs.
   * @default - the Python handler
   */
  readonly rust?: RustHandlersProps;
  /** Folder for built packages (content-addressed file names). */
  readonly buildDir: string;
  /** Partition key of the connections table: the room a connection joined. @default "room_id" */
  readonly roomKey?: string;
  /** Query string parameter `$connect` reads the room from. @default "room" */
  readonly roomQueryParam?: string;
  /** Seconds until an idle connection item expires (DynamoDB TTL). @default 7200 */
  readonly connectionTtlSeconds?: number;
  /** Route keys besides `$connect`, `$disconnect` and `$default`. @default - none */
  readonly routes?: readonly string[];
  /** Stage name. @default "live" */
  readonly stageName?: string;
  /** Stage throttling: burst. @default 100 */
  readonly throttlingBurstLimit?: number;
  /** Stage throttling: steady requests per second. @default 50 */
  readonly throttlingRateLimit?: number;
  /** Point-in-time recovery on the connections table. @default false */
  readonly pointInTimeRecovery?: boolean;
  /** Deletion protection on the connections table. @default false */
  readonly deletionProtection?: boolean;
  /** The Python handler's execution role. @default - managed when created; an imported function keeps its own */
  readonly role?: RoleChoice;
}

/** The route keys every WebSocket API gets, with the construct ID suffix each one keeps. */
const BUILT_IN_ROUTES: ReadonlyArray<[string, string]> = [
  ["$connect", "connect"],
  ["$disconnect", "disconnect"],
  ["$default", "default"],
];

/** The Rust handler bins, the route each serves (none: every named route), and their function name suffix. */
const RUST_HANDLERS = [
  { bin: "ws-connect", routeKey: "$connect", role: "connect" },
  { bin: "ws-disconnect", routeKey: "$disconnect", role: "disconnect" },
  { bin: "ws-default", routeKey: "$default", role: "default" },
  { bin: "ws-broadcast", routeKey: undefined, role: "broadcast" },
] as const;

/** What each Rust handler does to the table and API, by statement (see `access` in the constructor). */
const RUST_HANDLER_ACCESS = {
  connect: ["put"],
  disconnect: ["rooms", "remove"],
  default: ["rooms", "room", "remove", "post"],
  broadcast: ["room", "remove", "post"],
} as const;

export const CONNECTION_INDEX = "connection_id-index";
export const TTL_ATTRIBUTE = "expires_at";

/**
 * An API Gateway v2 WebSocket API backed by one Lambda handler and a DynamoDB connections table
 * (seed 003's setup): routes `$connect` / `$disconnect` / `$default` plus named ones, AWS_PROXY
 * integration, an auto-deployed stage with throttling and access logs, and a least-privilege role.
 * The function is created, imported or referenced, per `deployment`.
 */
export class WebsocketLambda extends Construct {
  public readonly api: Apigatewayv2Api;
  public readonly stage: Apigatewayv2Stage;
  public readonly table: DynamodbTable;
  /** The functions serving the routes: one (Python) or four (Rust), created, imported or referenced. */
  public readonly functions: readonly ManagedFunction[];
  /** The function each route key invokes. */
  public readonly routeTargets: ReadonlyMap<string, ILambdaTarget>;
  /** The built package; absent in `existing` mode, which deploys no code. */
  public readonly package?: PythonPackage;
  public readonly accessLogGroup: CloudwatchLogGroup;

  constructor(scope: Construct, id: string, props: WebsocketLambdaProps) {
    super(scope, id);
    const prefix = props.namePrefix;
    const roomKey = props.roomKey ?? "room_id";
    const stageName = props.stageName ?? "live";
    const deployment = props.deployment ?? { mode: "create" };

    this.table = new DynamodbTable(this, "connections", {
      name: `${prefix}-connections`,
      billingMode: "PAY_PER_REQUEST",
      hashKey: roomKey,
      rangeKey: "connection_id",
      attribute: [
        { name: roomKey, type: "S" },
        { name: "connection_id", type: "S" },
      ],
      globalSecondaryIndex: [{ name: CONNECTION_INDEX, hashKey: "connection_id", projectionType: "KEYS_ONLY" }],
      ttl: { attributeName: TTL_ATTRIBUTE, enabled: true },
      pointInTimeRecovery: { enabled: props.pointInTimeRecovery ?? false },
      deletionProtectionEnabled: props.deletionProtection ?? false,
      serverSideEncryption: { enabled: true },
    });
    acceptCheck(this.table, "CKV_AWS_119", TABLE_KMS);
    if (!(props.pointInTimeRecovery ?? false)) acceptCheck(this.table, "CKV_AWS_28", PITR_OFF);

    this.api = new Apigatewayv2Api(this, "api", {
      name: `${prefix}-websocket`,
      protocolType: "WEBSOCKET",
      routeSelectionExpression: "$request.body.action",
      description: `WebSocket API of ${prefix}`,
    });

    const managementArn = `${this.api.executionArn}/${stageName}/POST/@connections/*`;
    const routes: Array<[string, string]> = [
      ...BUILT_IN_ROUTES,
      ...(props.routes ?? []).map((r): [string, string] => [r, `named-${r}`]),
    ];
    const moduleEnvironment = {
      TABLE_NAME: this.table.name,
      ROOM_KEY: roomKey,
      ROOM_QUERY_PARAM: props.roomQueryParam ?? "room",
      CONNECTION_INDEX,
      TTL_ATTRIBUTE,
      CONNECTION_TTL_SECONDS: String(props.connectionTtlSeconds ?? 7200),
    };
    const access = {
      put: { sid: "RegisterConnection", actions: ["dynamodb:PutItem"], resources: [this.table.arn] },
      remove: { sid: "RemoveConnection", actions: ["dynamodb:DeleteItem"], resources: [this.table.arn] },
      room: { sid: "ListRoom", actions: ["dynamodb:Query"], resources: [this.table.arn] },
      rooms: { sid: "FindRoomsOfConnection", actions: ["dynamodb:Query"], resources: [`${this.table.arn}/index/${CONNECTION_INDEX}`] },
      post: { sid: "PostToConnections", actions: ["execute-api:ManageConnections"], resources: [managementArn] },
    } satisfies Record<string, PolicyStatement>;

    // Which function serves each route, and the integration (one per function) routes point at.
    const routeFunction = new Map<string, ManagedFunction>();
    if (props.rust) {
      if (deployment.mode !== "create") throw new ConfigError([`websocket.deployment.mode is "${deployment.mode}"; the Rust handlers are created here, so use "create" (or the Python handler)`]);
      const handlers = new RustLambda(this, "rust-handlers", {
        workspace: props.rust.workspace,
        region: props.rust.region,
        functions: RUST_HANDLERS.map(({ bin, role }) => ({
          bin,
          functionName: `${prefix}-ws-${role}`,
          description: `WebSocket ${role} handler of ${prefix} (Rust)`,
          settings: props.settings,
          logRetentionDays: props.logRetentionDays,
          policyStatements: RUST_HANDLER_ACCESS[role].map((k) => access[k]),
          moduleEnvironment: {
            ...moduleEnvironment,
            // Direct invocations of ws-broadcast (not through the API) post through this endpoint.
            MANAGEMENT_API_ENDPOINT: `${Fn.replace(this.api.apiEndpoint, "wss://", "https://")}/${stageName}`,
          },
          layers: props.layers,
          configField: `websocket (${bin})`,
          settingsField: props.settingsField ?? "websocket.function",
        })),
      });
      const byBin = handlers.functions;
      for (const [routeKey] of routes) {
        const handler = RUST_HANDLERS.find((h) => h.routeKey === routeKey) ?? RUST_HANDLERS.find((h) => h.routeKey === undefined)!;
        routeFunction.set(routeKey, byBin[handler.bin]);
      }
      this.functions = Object.values(byBin);
    } else {
      // Existing mode deploys no code, so it needs no handler source.
      this.package = deployment.mode === "existing" ? undefined : this.buildPackage(props);
      const asset =
        this.package &&
        new TerraformAsset(this, "package", { path: this.package.zipPath, type: AssetType.FILE, assetHash: this.package.sha256Hex.slice(0, 32) });
      const fn = new ManagedFunction(this, "handler", {
        settings: props.settings,
        logRetentionDays: props.logRetentionDays,
        deployment,
        layers: props.layers,
        settingsField: props.settingsField ?? "websocket.function",
        definition: asset && {
          functionName: `${prefix}-websocket`,
          roleName: `${prefix}-websocket-role`,
          description: `WebSocket handler of ${prefix}`,
          runtime: props.handler.runtime,
          handler: props.handler.handler,
          code: { filename: asset.path, sourceCodeHash: this.package!.sourceCodeHash },
          policyStatements: [
            { sid: "ConnectionsTable", actions: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Query"], resources: [this.table.arn] },
            { sid: "ConnectionsIndex", actions: ["dynamodb:Query"], resources: [`${this.table.arn}/index/${CONNECTION_INDEX}`] },
            access.post,
          ],
          moduleEnvironment,
          unzippedBytes: this.package?.unzippedBytes,
          role: props.role,
        },
      });
      if (deployment.mode === "existing") {
        Annotations.of(this).addWarning(
          `websocket function "${deployment.functionName}" is referenced, not managed, so its role is not either: it must allow ` +
            `dynamodb:GetItem, PutItem, DeleteItem and Query on ${prefix}-connections, dynamodb:Query on its index ${CONNECTION_INDEX}, ` +
            `and execute-api:ManageConnections on ${prefix}-websocket's @connections; and its environment must set TABLE_NAME=${prefix}-connections.`,
        );
      }
      for (const [routeKey] of routes) routeFunction.set(routeKey, fn);
      this.functions = [fn];
    }
    this.routeTargets = routeFunction;

    // One integration per function; the Python handler's keeps the ID it always had.
    const integrations = new Map<ManagedFunction, Apigatewayv2Integration>();
    for (const fn of this.functions) {
      integrations.set(
        fn,
        new Apigatewayv2Integration(this, props.rust ? `integration-${fn.node.id}` : "integration", {
          apiId: this.api.id,
          integrationType: "AWS_PROXY",
          integrationMethod: "POST",
          integrationUri: fn.invokeArn,
          description: props.rust ? `Routes served by ${fn.node.id}` : "Every route goes to the WebSocket handler",
        }),
      );
    }
    const routeResources = routes.map(([routeKey, idSuffix]) => {
      const route = new Apigatewayv2Route(this, `route-${idSuffix}`, {
        apiId: this.api.id,
        routeKey,
        target: `integrations/${integrations.get(routeFunction.get(routeKey)!)!.id}`,
      });
      acceptCheck(route, "CKV_AWS_309", "a public chat-room API by design: $connect admits anyone, who joins a room by query parameter; put an authorizer on $connect to restrict it");
      return route;
    });

    this.accessLogGroup = new CloudwatchLogGroup(this, "access-logs", {
      name: `/aws/apigateway/${prefix}-websocket/${stageName}`,
      retentionInDays: props.logRetentionDays,
    });
    acceptCheck(this.accessLogGroup, "CKV_AWS_158", LOG_GROUP_KMS);
    if (props.logRetentionDays < 365) acceptCheck(this.accessLogGroup, "CKV_AWS_338", logRetentionReason(props.logRetentionDays));

    this.stage = new Apigatewayv2Stage(this, "stage", {
      apiId: this.api.id,
      name: stageName,
      autoDeploy: true,
      defaultRouteSettings: {
        throttlingBurstLimit: props.throttlingBurstLimit ?? 100,
        throttlingRateLimit: props.throttlingRateLimit ?? 50,
      },
      accessLogSettings: {
        destinationArn: this.accessLogGroup.arn,
        format: JSON.stringify({
          requestId: "$context.requestId",
          connectionId: "$context.connectionId",
          routeKey: "$context.routeKey",
          eventType: "$context.eventType",
          status: "$context.status",
          requestTime: "$context.requestTimeEpoch",
          integrationError: "$context.integrationErrorMessage",
        }),
      },
      dependsOn: routeResources,
    });
    acceptCheck(this.stage, "CKV2_AWS_51", "client certificates authenticate API Gateway to HTTP backends; every integration of this stage is a Lambda proxy");

    for (const fn of this.functions) {
      new LambdaPermission(this, props.rust ? `invoke-permission-${fn.node.id}` : "invoke-permission", {
        statementId: "AllowWebsocketApiInvoke",
        action: "lambda:InvokeFunction",
        functionName: fn.functionName,
        principal: "apigateway.amazonaws.com",
        sourceArn: `${this.api.executionArn}/${stageName}/*`,
      });
    }
  }

  private buildPackage(props: WebsocketLambdaProps): PythonPackage {
    const field = props.handler.configField ?? "websocket.handler.source";
    const dir = props.handler.sourceDir;
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
      throw new ConfigError([
        `${field} names ${dir}, which does not exist or is not a folder; point it at the folder holding the handler (relative to the project root).`,
      ]);
    }
    const moduleFile = `${props.handler.handler.split(".").slice(0, -1).join("/")}.py`;
    if (!fs.existsSync(path.join(dir, moduleFile))) {
      throw new ConfigError([
        `${field} names ${dir}, which has no ${moduleFile} for the handler "${props.handler.handler}"; add the file or fix websocket.handler.handler.`,
      ]);
    }
    return packagePythonHandler(dir, props.buildDir, "websocket");
  }
}
