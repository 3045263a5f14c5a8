import { Apigatewayv2Api } from "@cdktf/provider-aws/lib/apigatewayv2-api";
import { Apigatewayv2Integration } from "@cdktf/provider-aws/lib/apigatewayv2-integration";
import { Apigatewayv2Route } from "@cdktf/provider-aws/lib/apigatewayv2-route";
import { Apigatewayv2Stage } from "@cdktf/provider-aws/lib/apigatewayv2-stage";
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { DynamodbTable } from "@cdktf/provider-aws/lib/dynamodb-table";
import { LambdaPermission } from "@cdktf/provider-aws/lib/lambda-permission";
import { Fn } from "cdktf";
import { Construct } from "constructs";
import { AccountContext } from "../account";
import { PropError } from "../errors";
import { acceptCheck, LOG_GROUP_KMS, logRetentionReason, PITR_OFF, TABLE_KMS } from "../policy-checks";
import type { IFunction, PolicyStatement } from "../lambda_function";

export interface WebsocketLambdaProps {
  /** Prefix of every resource name (`<prefix>-websocket`, `<prefix>-connections`, ...). */
  readonly namePrefix: string;
  /**
   * The function serving each route key: `$connect`, `$disconnect` and `$default`, and any named
   * route (`sendmessage`). One function may serve several routes. Each function is granted exactly
   * what its routes do to the connections table and the `@connections` API, and given the table's
   * settings as variables (TABLE_NAME, ROOM_KEY, ...); a function whose role is not managed here is
   * warned about instead.
   */
  readonly routes: Readonly<Record<string, IFunction>>;
  /** Days CloudWatch keeps the stage's access logs. */
  readonly logRetentionDays: number;
  /** The region the table is in (its ARN is written out, see the integrations below). */
  readonly region: string;
  /** Partition key of the connections table: the room a connection joined. @default "room_id" */
  readonly roomKey?: string;
  /** Query string parameter `$connect` reads the room from. @default "room" */
  readonly roomQueryParam?: string;
  /** Seconds until an idle connection item expires (DynamoDB TTL). @default 7200 */
  readonly connectionTtlSeconds?: number;
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
  /**
   * The live relay (`npm run live`): a second WebSocket API, `<prefix>-live`, on the same functions
   * and table, serving `$connect`, `$disconnect` and `$default` only, whose `$connect` takes only
   * SigV4-signed upgrades (AWS_IAM). Functions are let in with `allowLiveRelay`. The handlers keep
   * rooms named `live-*` to signed connections, so clients of the public API cannot join them.
   * @default false
   */
  readonly liveRelay?: boolean;
}

/** The live relay's API, when there is one. */
export interface LiveRelay {
  /** `<prefix>-live`. */
  readonly name: string;
  readonly api: Apigatewayv2Api;
  readonly stage: Apigatewayv2Stage;
  readonly stageName: string;
  /** `wss://<api>.execute-api.<region>.amazonaws.com/<stage>`: what LAMBDASHIP_LIVE_RELAY holds. */
  readonly url: string;
  readonly accessLogGroup: CloudwatchLogGroup;
}

/** The route keys every WebSocket API of this construct serves, with the construct ID suffix each keeps. */
const BUILT_IN_ROUTES: ReadonlyArray<[string, string]> = [
  ["$connect", "connect"],
  ["$disconnect", "disconnect"],
  ["$default", "default"],
];

/** What a route's handler does to the table and API, by statement (see `access` in the constructor); named routes broadcast. */
const ROUTE_ACCESS: Readonly<Record<string, readonly AccessKind[]>> = {
  $connect: ["put"],
  $disconnect: ["rooms", "remove"],
  $default: ["rooms", "room", "remove", "post"],
};
const NAMED_ROUTE_ACCESS: readonly AccessKind[] = ["room", "remove", "post"];
type AccessKind = "put" | "remove" | "room" | "rooms" | "post";

/** The stages' access log line. */
const ACCESS_LOG_FORMAT = JSON.stringify({
  requestId: "$context.requestId",
  connectionId: "$context.connectionId",
  routeKey: "$context.routeKey",
  eventType: "$context.eventType",
  status: "$context.status",
  requestTime: "$context.requestTimeEpoch",
  integrationError: "$context.integrationErrorMessage",
});

export const CONNECTION_INDEX = "connection_id-index";
export const TTL_ATTRIBUTE = "expires_at";

/**
 * An API Gateway v2 WebSocket API whose routes invoke Lambda functions given as references, with a
 * DynamoDB connections table (seed 003's setup): routes `$connect` / `$disconnect` / `$default` plus
 * named ones, one AWS_PROXY integration per function, an auto-deployed stage with throttling and
 * access logs, and each function granted only what its routes need. The functions are created,
 * imported or referenced elsewhere (`FolderFunction`, `RustLambda`, `ManagedFunction.fromFunctionName`).
 */
export class WebsocketLambda extends Construct {
  public readonly api: Apigatewayv2Api;
  public readonly stage: Apigatewayv2Stage;
  public readonly table: DynamodbTable;
  /** The functions serving the routes, each once, in the order of their first route. */
  public readonly functions: readonly IFunction[];
  /** The function each route key invokes. */
  public readonly routeTargets: ReadonlyMap<string, IFunction>;
  public readonly accessLogGroup: CloudwatchLogGroup;
  /** The live relay (props.liveRelay). */
  public readonly liveRelay?: LiveRelay;

  constructor(scope: Construct, id: string, props: WebsocketLambdaProps) {
    super(scope, id);
    const prefix = props.namePrefix;
    const roomKey = props.roomKey ?? "room_id";
    const stageName = props.stageName ?? "live";
    for (const [routeKey] of BUILT_IN_ROUTES) {
      if (!props.routes[routeKey]) throw new PropError(`routes.${routeKey}`, undefined, `every route key ${BUILT_IN_ROUTES.map(([r]) => r).join(", ")} needs a function: the connections table is kept by $connect and $disconnect`);
    }
    for (const routeKey of Object.keys(props.routes)) {
      if (!routeKey.startsWith("$") ? !/^[A-Za-z0-9_-]{1,128}$/.test(routeKey) : !BUILT_IN_ROUTES.some(([r]) => r === routeKey)) {
        throw new PropError(`routes.${routeKey}`, routeKey, "a route key is $connect, $disconnect, $default or a name of 1-128 letters, digits, '-' and '_' (the value of the message's action)");
      }
    }

    this.table = new DynamodbTable(this, "connections", {
      name: `${props.namePrefix}-connections`,
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

    const relayApi = props.liveRelay
      ? new Apigatewayv2Api(this, "live-api", {
          name: `${prefix}-live`,
          protocolType: "WEBSOCKET",
          routeSelectionExpression: "$request.body.action",
          description: `Live relay of ${prefix}: npm run live sessions and the functions' runtime-proxy extensions, SigV4-signed only`,
        })
      : undefined;

    const managementArn = `${this.api.executionArn}/${stageName}/POST/@connections/*`;
    const routes: Array<[string, string]> = [
      ...BUILT_IN_ROUTES,
      ...Object.keys(props.routes)
        .filter((r) => !r.startsWith("$"))
        .map((r): [string, string] => [r, `named-${r}`]),
    ];
    // The functions name the table by its name and ARN as written, not by reference: an integration is
    // create_before_destroy (below), which Terraform extends to everything it depends on, and a table
    // replaced under the same name cannot be created before the old one is gone.
    const tableName = `${prefix}-connections`;
    const account = AccountContext.of(this);
    const tableArn = `arn:${account.partition}:dynamodb:${props.region}:${account.accountId}:table/${tableName}`;
    const moduleEnvironment: Record<string, string> = {
      TABLE_NAME: tableName,
      ROOM_KEY: roomKey,
      ROOM_QUERY_PARAM: props.roomQueryParam ?? "room",
      CONNECTION_INDEX,
      TTL_ATTRIBUTE,
      CONNECTION_TTL_SECONDS: String(props.connectionTtlSeconds ?? 7200),
    };
    // A function serving only named routes (a broadcaster) may also be invoked directly (SDK,
    // EventBridge), with no request context to find the API from: it posts through this endpoint.
    // Only it gets the variable: its value is unknown until the API exists, and the aws provider
    // plans an adopted function's first environment with an unknown value as no environment at all
    // (then fails the apply with "inconsistent final plan").
    const managementEndpoint = { MANAGEMENT_API_ENDPOINT: `${Fn.replace(this.api.apiEndpoint, "wss://", "https://")}/${stageName}` };
    const table = `table ${prefix}-connections`;
    const access: Record<AccessKind, PolicyStatement> = {
      put: { sid: "RegisterConnection", actions: ["dynamodb:PutItem"], resources: [tableArn], shownAs: table },
      remove: { sid: "RemoveConnection", actions: ["dynamodb:DeleteItem"], resources: [tableArn], shownAs: table },
      room: { sid: "ListRoom", actions: ["dynamodb:Query"], resources: [tableArn], shownAs: table },
      rooms: { sid: "FindRoomsOfConnection", actions: ["dynamodb:Query"], resources: [`${tableArn}/index/${CONNECTION_INDEX}`], shownAs: `its index ${CONNECTION_INDEX}` },
      post: { sid: "PostToConnections", actions: ["execute-api:ManageConnections"], resources: [managementArn], shownAs: `${prefix}-websocket's @connections on stage ${stageName}` },
    };
    // The relay's $default handler posts to the relay's connections too.
    const relayPost: PolicyStatement | undefined = relayApi && {
      sid: "PostToRelayConnections",
      actions: ["execute-api:ManageConnections"],
      resources: [`${relayApi.executionArn}/${stageName}/POST/@connections/*`],
      shownAs: `${prefix}-live's @connections on stage ${stageName}`,
    };

    // Each function once, with what its routes need, in route order.
    const routeFunction = new Map<string, IFunction>();
    const needs = new Map<IFunction, AccessKind[]>();
    for (const [routeKey] of routes) {
      const fn = props.routes[routeKey];
      routeFunction.set(routeKey, fn);
      const kinds = needs.get(fn) ?? [];
      for (const k of ROUTE_ACCESS[routeKey] ?? NAMED_ROUTE_ACCESS) if (!kinds.includes(k)) kinds.push(k);
      needs.set(fn, kinds);
    }
    this.functions = [...needs.keys()];
    this.routeTargets = routeFunction;
    for (const [fn, kinds] of needs) {
      const served = routes.filter(([r]) => routeFunction.get(r) === fn).map(([r]) => r);
      const broadcaster = served.every((r) => !r.startsWith("$"));
      const onRelay = relayPost !== undefined && served.includes("$default");
      fn.grant(`the WebSocket route${served.length > 1 ? "s" : ""} ${served.join(", ")} of ${prefix}-websocket${relayPost && !broadcaster ? ` and ${prefix}-live` : ""}`, {
        statements: [...kinds.map((k) => access[k]), ...(onRelay ? [relayPost] : [])],
        environment: { ...moduleEnvironment, ...(broadcaster ? managementEndpoint : {}) },
      });
    }

    // One integration and one invoke permission per function, named after the function's construct.
    const names = new Map<IFunction, string>();
    for (const fn of this.functions) {
      const base = Construct.isConstruct(fn) ? fn.node.id : "function";
      let name = base;
      for (let i = 2; [...names.values()].includes(name); i++) name = `${base}-${i}`;
      names.set(fn, name);
    }
    const integrations = new Map<IFunction, Apigatewayv2Integration>();
    for (const fn of this.functions) {
      integrations.set(
        fn,
        new Apigatewayv2Integration(this, `integration-${names.get(fn)}`, {
          apiId: this.api.id,
          integrationType: "AWS_PROXY",
          integrationMethod: "POST",
          integrationUri: fn.invokeArn,
          description: this.functions.length === 1 ? "Every route goes to the WebSocket handler" : `Routes served by ${names.get(fn)}`,
          // An integration that goes (its function now serves no route, or another function took its
          // routes) is deleted only after the routes that pointed at it point elsewhere: by default
          // Terraform deletes first, and an apply failing between the two leaves routes on a deleted
          // integration.
          lifecycle: { createBeforeDestroy: true },
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
      accessLogSettings: { destinationArn: this.accessLogGroup.arn, format: ACCESS_LOG_FORMAT },
      dependsOn: routeResources,
    });
    acceptCheck(this.stage, "CKV2_AWS_51", "client certificates authenticate API Gateway to HTTP backends; every integration of this stage is a Lambda proxy");

    for (const fn of this.functions) {
      new LambdaPermission(this, `invoke-permission-${names.get(fn)}`, {
        statementId: "AllowWebsocketApiInvoke",
        action: "lambda:InvokeFunction",
        functionName: fn.functionName,
        principal: "apigateway.amazonaws.com",
        sourceArn: `${this.api.executionArn}/${stageName}/*`,
      });
    }

    if (relayApi) this.liveRelay = this.relay(relayApi, props, stageName, routeFunction, names);
  }

  /** The relay's integrations, routes ($connect AWS_IAM), stage with access logs, and invoke permissions. */
  private relay(api: Apigatewayv2Api, props: WebsocketLambdaProps, stageName: string, routeFunction: ReadonlyMap<string, IFunction>, names: ReadonlyMap<IFunction, string>): LiveRelay {
    const prefix = props.namePrefix;
    const fns = [...new Set(BUILT_IN_ROUTES.map(([r]) => routeFunction.get(r)!))];
    const integrations = new Map(
      fns.map((fn) => [
        fn,
        new Apigatewayv2Integration(this, `live-integration-${names.get(fn)}`, {
          apiId: api.id,
          integrationType: "AWS_PROXY",
          integrationMethod: "POST",
          integrationUri: fn.invokeArn,
          description: `Live relay routes served by ${names.get(fn)}`,
          lifecycle: { createBeforeDestroy: true },
        }),
      ]),
    );
    const routeResources = BUILT_IN_ROUTES.map(([routeKey, idSuffix]) => {
      const route = new Apigatewayv2Route(this, `live-route-${idSuffix}`, {
        apiId: api.id,
        routeKey,
        target: `integrations/${integrations.get(routeFunction.get(routeKey)!)!.id}`,
        ...(routeKey === "$connect" ? { authorizationType: "AWS_IAM" } : {}),
      });
      if (routeKey !== "$connect") acceptCheck(route, "CKV_AWS_309", "API Gateway authorizes a WebSocket API at $connect only, which takes SigV4-signed upgrades (AWS_IAM)");
      return route;
    });
    const accessLogGroup = new CloudwatchLogGroup(this, "live-access-logs", { name: `/aws/apigateway/${prefix}-live/${stageName}`, retentionInDays: props.logRetentionDays });
    acceptCheck(accessLogGroup, "CKV_AWS_158", LOG_GROUP_KMS);
    if (props.logRetentionDays < 365) acceptCheck(accessLogGroup, "CKV_AWS_338", logRetentionReason(props.logRetentionDays));
    const stage = new Apigatewayv2Stage(this, "live-stage", {
      apiId: api.id,
      name: stageName,
      autoDeploy: true,
      defaultRouteSettings: { throttlingBurstLimit: props.throttlingBurstLimit ?? 100, throttlingRateLimit: props.throttlingRateLimit ?? 50 },
      accessLogSettings: { destinationArn: accessLogGroup.arn, format: ACCESS_LOG_FORMAT },
      dependsOn: routeResources,
    });
    acceptCheck(stage, "CKV2_AWS_51", "client certificates authenticate API Gateway to HTTP backends; every integration of this stage is a Lambda proxy");
    for (const fn of fns) {
      new LambdaPermission(this, `live-invoke-permission-${names.get(fn)}`, {
        statementId: "AllowLiveRelayInvoke",
        action: "lambda:InvokeFunction",
        functionName: fn.functionName,
        principal: "apigateway.amazonaws.com",
        sourceArn: `${api.executionArn}/${stageName}/*`,
      });
    }
    return { name: `${prefix}-live`, api, stage, stageName, accessLogGroup, url: `${api.apiEndpoint}/${stageName}` };
  }

  /**
   * Lets a function served live connect to the relay: execute-api:Invoke on the relay's `$connect`
   * only, and LAMBDASHIP_LIVE_RELAY (its URL) and LAMBDASHIP_LIVE_ACK_MS for its runtime-proxy
   * extension. A function of a stack without a relay cannot be let in.
   */
  allowLiveRelay(fn: IFunction, ackMs?: number): void {
    const relay = this.liveRelay;
    if (!relay) throw new PropError("liveRelay", undefined, "this WebSocket API has no live relay: set liveRelay: true to let functions be served live");
    fn.grant(`the live relay ${relay.name} (npm run live)`, {
      statements: [{ sid: "ConnectToLiveRelay", actions: ["execute-api:Invoke"], resources: [`${relay.api.executionArn}/${relay.stageName}/$connect`], shownAs: `${relay.name}'s $connect` }],
      environment: { LAMBDASHIP_LIVE_RELAY: relay.url, ...(ackMs !== undefined ? { LAMBDASHIP_LIVE_ACK_MS: String(ackMs) } : {}) },
    });
  }
}
