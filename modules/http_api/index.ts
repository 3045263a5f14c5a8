import { Apigatewayv2Api } from "@cdktf/provider-aws/lib/apigatewayv2-api";
import { Apigatewayv2Authorizer } from "@cdktf/provider-aws/lib/apigatewayv2-authorizer";
import { Apigatewayv2Integration } from "@cdktf/provider-aws/lib/apigatewayv2-integration";
import { Apigatewayv2Route } from "@cdktf/provider-aws/lib/apigatewayv2-route";
import { Apigatewayv2Stage } from "@cdktf/provider-aws/lib/apigatewayv2-stage";
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { LambdaPermission } from "@cdktf/provider-aws/lib/lambda-permission";
import * as crypto from "crypto";
import { Construct } from "constructs";
import { PropError } from "../errors";
import type { IFunction } from "../lambda_function";
import { acceptCheck, LOG_GROUP_KMS, logRetentionReason } from "../policy-checks";
import { httpRouteProblem } from "../triggers/expressions";

export interface HttpApiRoute {
  /** `GET /items/{id}`, `ANY /{proxy+}` or `$default`. */
  readonly routeKey: string;
  readonly function: IFunction;
  /** NONE (public), AWS_IAM (SigV4 with execute-api:Invoke) or JWT (the API's `jwt` authorizer). @default "AWS_IAM" */
  readonly auth?: "NONE" | "AWS_IAM" | "JWT";
  /** JWT routes: the token must carry one of these scopes. @default - any */
  readonly scopes?: readonly string[];
}

export interface HttpApiCors {
  readonly allowOrigins: readonly string[];
  /** @default ["GET"] */
  readonly allowMethods?: readonly string[];
  readonly allowHeaders?: readonly string[];
  readonly exposeHeaders?: readonly string[];
  /** @default false */
  readonly allowCredentials?: boolean;
  /** @default 0 */
  readonly maxAgeSeconds?: number;
}

export interface HttpApiProps {
  /** The API's name. */
  readonly name: string;
  readonly routes: readonly HttpApiRoute[];
  /** @default - no CORS headers */
  readonly cors?: HttpApiCors;
  /** The authorizer of JWT routes. @default - none (a JWT route is refused) */
  readonly jwt?: { readonly issuer: string; readonly audiences: readonly string[] };
  /** Days CloudWatch keeps the access logs. */
  readonly logRetentionDays: number;
  /** Stage throttling. @default 100 burst, 50 per second */
  readonly throttlingBurstLimit?: number;
  readonly throttlingRateLimit?: number;
}

/**
 * An HTTP API (API Gateway v2) whose routes invoke Lambda functions with payload format 2.0: one
 * AWS_PROXY integration per function, routes with NONE, AWS_IAM or JWT auth, CORS, the `$default`
 * stage auto-deployed with throttling and access logs, and one invoke permission per route scoped to
 * that route's method and path (`<api>/*\/GET/items/{id}`), so a function is callable only through
 * the routes it serves.
 */
export class HttpApi extends Construct {
  public readonly api: Apigatewayv2Api;
  public readonly stage: Apigatewayv2Stage;
  public readonly accessLogGroup: CloudwatchLogGroup;
  /** The function each route key invokes. */
  public readonly routeTargets: ReadonlyMap<string, IFunction>;

  constructor(scope: Construct, id: string, props: HttpApiProps) {
    super(scope, id);
    const seen = new Map<string, string>();
    props.routes.forEach((r, i) => {
      const problem = httpRouteProblem(r.routeKey);
      if (problem) throw new PropError(`routes[${i}].routeKey`, r.routeKey, problem);
      const normal = r.routeKey.replace(/\{[^}+]+\}/g, "{}");
      if (seen.has(normal)) throw new PropError(`routes[${i}].routeKey`, r.routeKey, `routes[${seen.get(normal)}] is the same route; one function per route`);
      seen.set(normal, String(i));
      if ((r.auth ?? "AWS_IAM") === "JWT" && !props.jwt) throw new PropError(`routes[${i}].auth`, "JWT", "a JWT route needs the jwt prop (issuer and audiences)");
    });
    this.routeTargets = new Map(props.routes.map((r) => [r.routeKey, r.function]));

    const c = props.cors;
    this.api = new Apigatewayv2Api(this, "api", {
      name: props.name,
      protocolType: "HTTP",
      description: `HTTP API of ${props.name}`,
      ...(c
        ? {
            corsConfiguration: {
              allowOrigins: [...c.allowOrigins],
              allowMethods: [...(c.allowMethods ?? ["GET"])],
              allowHeaders: c.allowHeaders?.length ? [...c.allowHeaders] : undefined,
              exposeHeaders: c.exposeHeaders?.length ? [...c.exposeHeaders] : undefined,
              allowCredentials: c.allowCredentials ?? false,
              maxAge: c.maxAgeSeconds ?? 0,
            },
          }
        : {}),
    });
    const authorizer = props.jwt
      ? new Apigatewayv2Authorizer(this, "jwt", {
          apiId: this.api.id,
          authorizerType: "JWT",
          name: `${props.name}-jwt`,
          identitySources: ["$request.header.Authorization"],
          jwtConfiguration: { issuer: props.jwt.issuer, audience: [...props.jwt.audiences] },
        })
      : undefined;

    // One integration per function, named after the function's construct.
    const names = new Map<IFunction, string>();
    for (const r of props.routes) {
      if (names.has(r.function)) continue;
      const base = Construct.isConstruct(r.function) ? r.function.node.id : "function";
      let name = base;
      for (let i = 2; [...names.values()].includes(name); i++) name = `${base}-${i}`;
      names.set(r.function, name);
    }
    const integrations = new Map<IFunction, Apigatewayv2Integration>();
    for (const [fn, name] of names) {
      integrations.set(
        fn,
        new Apigatewayv2Integration(this, `integration-${name}`, {
          apiId: this.api.id,
          integrationType: "AWS_PROXY",
          integrationMethod: "POST",
          integrationUri: fn.invokeArn,
          payloadFormatVersion: "2.0",
          description: `Routes served by ${name}`,
          lifecycle: { createBeforeDestroy: true },
        }),
      );
    }
    const routeResources = props.routes.map((r) => {
      const auth = r.auth ?? "AWS_IAM";
      const key = routeId(r.routeKey);
      const route = new Apigatewayv2Route(this, `route-${key}`, {
        apiId: this.api.id,
        routeKey: r.routeKey,
        target: `integrations/${integrations.get(r.function)!.id}`,
        authorizationType: auth,
        ...(auth === "JWT" ? { authorizerId: authorizer!.id, authorizationScopes: r.scopes?.length ? [...r.scopes] : undefined } : {}),
      });
      if (auth === "NONE") acceptCheck(route, "CKV_AWS_309", `the route ${r.routeKey} is public by its env's choice (auth NONE)`);
      // Invoked only through this route: its method and path (any stage).
      const [method, path] = r.routeKey === "$default" ? ["", "$default"] : r.routeKey.split(" ");
      new LambdaPermission(this, `permission-${key}`, {
        statementId: `AllowHttpApi-${key}`.slice(0, 100),
        action: "lambda:InvokeFunction",
        functionName: r.function.functionName,
        principal: "apigateway.amazonaws.com",
        sourceArn: r.routeKey === "$default" ? `${this.api.executionArn}/*/$default` : `${this.api.executionArn}/*/${method === "ANY" ? "*" : method}${path}`,
      });
      return route;
    });

    this.accessLogGroup = new CloudwatchLogGroup(this, "access-logs", {
      name: `/aws/apigateway/${props.name}/default-stage`,
      retentionInDays: props.logRetentionDays,
    });
    acceptCheck(this.accessLogGroup, "CKV_AWS_158", LOG_GROUP_KMS);
    if (props.logRetentionDays < 365) acceptCheck(this.accessLogGroup, "CKV_AWS_338", logRetentionReason(props.logRetentionDays));
    this.stage = new Apigatewayv2Stage(this, "stage", {
      apiId: this.api.id,
      name: "$default",
      autoDeploy: true,
      defaultRouteSettings: { throttlingBurstLimit: props.throttlingBurstLimit ?? 100, throttlingRateLimit: props.throttlingRateLimit ?? 50 },
      accessLogSettings: {
        destinationArn: this.accessLogGroup.arn,
        format: JSON.stringify({
          requestId: "$context.requestId",
          routeKey: "$context.routeKey",
          httpMethod: "$context.httpMethod",
          path: "$context.path",
          status: "$context.status",
          sourceIp: "$context.identity.sourceIp",
          requestTime: "$context.requestTimeEpoch",
          responseLatency: "$context.responseLatency",
          integrationError: "$context.integrationErrorMessage",
          authorizerError: "$context.authorizer.error",
        }),
      },
      dependsOn: routeResources,
    });
  }
}

/** A construct id for a route key: readable, and unique by a short hash (`GET-items-id-1a2b3c`). */
function routeId(routeKey: string): string {
  const readable = routeKey.replace(/[^A-Za-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 40) || "default";
  return `${readable}-${crypto.createHash("sha256").update(routeKey).digest("hex").slice(0, 6)}`;
}
