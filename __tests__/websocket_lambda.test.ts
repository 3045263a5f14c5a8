import { Apigatewayv2Integration } from "@cdktf/provider-aws/lib/apigatewayv2-integration";
import { Apigatewayv2Stage } from "@cdktf/provider-aws/lib/apigatewayv2-stage";
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { DataAwsLambdaFunction } from "@cdktf/provider-aws/lib/data-aws-lambda-function";
import { DynamodbTable } from "@cdktf/provider-aws/lib/dynamodb-table";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { LambdaFunction } from "@cdktf/provider-aws/lib/lambda-function";
import { LambdaPermission } from "@cdktf/provider-aws/lib/lambda-permission";
import { ConfigError } from "../modules/errors";
import { CONNECTION_INDEX } from "../modules/websocket_lambda";
import { envWith, onlyResource, pythonWebsocket, resourcesOf, scoped, synthEnv, SynthJson } from "./helpers";

type Statement = { sid: string; actions: string[]; resources: string[] };

/** The statements of the inline policy document of the function whose logical IDs start with `prefix`. */
function policyStatements(s: SynthJson, prefix: string): Statement[] {
  const docs = s.data?.aws_iam_policy_document ?? {};
  const [, policy] = Object.entries(docs).find(([id]) => id.startsWith(prefix) && id.includes("_policy_"))!;
  return policy.statement as Statement[];
}

describe("websocket_lambda with one Python function serving every route (dev)", () => {
  // The live relay (a second API on the same functions) has its own tests below.
  const full = synthEnv(envWith("dev", { ...pythonWebsocket(), live: { enabled: false } } as never)).parsed;
  const { json, parsed } = scoped(full, "websocket_");
  const fnScope = scoped(full, "fn-websocket_");
  const [fnId, fn] = onlyResource(fnScope.parsed, "aws_lambda_function");

  it("is the functions entry, built at apply by its builder, arm64, with the entry's settings and the table's variables", () => {
    expect(fn).toMatchObject({
      function_name: "lambdaship-dev-websocket",
      description: "WebSocket handler of lambdaship-dev",
      runtime: "python3.12",
      handler: "handler.lambda_handler",
      architectures: ["arm64"],
      memory_size: 256,
      timeout: 10,
      reserved_concurrent_executions: 5,
    });
    expect(fn.depends_on).toContainEqual(expect.stringMatching(/^terraform_data\.fn-websocket_builder_[0-9A-F]+$/));
    expect((fn.environment as { variables: Record<string, string> }).variables).toMatchObject({
      LOG_LEVEL: "DEBUG",
      ROOM_KEY: "booking_id",
      CONNECTION_INDEX,
      TABLE_NAME: "lambdaship-dev-connections",
    });
    // It serves $connect too, so it finds the API from each request: no MANAGEMENT_API_ENDPOINT (see the Rust case).
    expect((fn.environment as { variables: Record<string, string> }).variables.MANAGEMENT_API_ENDPOINT).toBeUndefined();
  });

  it("gives the function its own role, log group with the env's retention, and no import block", () => {
    expect(fnScope.json).toHaveResourceWithProperties(IamRole, { name: "lambdaship-dev-websocket-role" });
    expect(fnScope.json).toHaveResourceWithProperties(CloudwatchLogGroup, { name: "/aws/lambda/lambdaship-dev-websocket", retention_in_days: 14 });
    expect(fnScope.json).not.toHaveDataSource(DataAwsLambdaFunction);
    expect(fnScope.parsed.import).toBeUndefined();
  });

  it("grants what its routes do, scoped to its own log group, the table, its index and the API stage, with no wildcard action", () => {
    const statements = policyStatements(full, "fn-websocket_");
    expect(statements.map((s) => s.sid)).toEqual(["WriteOwnLogs", "RegisterConnection", "FindRoomsOfConnection", "RemoveConnection", "ListRoom", "PostToConnections"]);
    for (const s of statements) for (const a of s.actions) expect(a).not.toContain("*");
    const bySid = Object.fromEntries(statements.map((s) => [s.sid, s]));
    expect(bySid.WriteOwnLogs.resources).toEqual([expect.stringMatching(/^\$\{aws_cloudwatch_log_group\.fn-websocket_function_log-group_[0-9A-F]+\.arn\}:\*$/)]);
    expect(bySid.RegisterConnection.resources).toEqual([expect.stringMatching(/^arn:\$\{data\.aws_partition\.[^}]+\}:dynamodb:eu-west-1:\$\{data\.aws_caller_identity\.[^}]+\}:table\/lambdaship-dev-connections$/)]);
    expect(bySid.FindRoomsOfConnection.resources).toEqual([expect.stringMatching(new RegExp(`:table/lambdaship-dev-connections/index/${CONNECTION_INDEX}$`))]);
    expect(bySid.PostToConnections).toMatchObject({
      actions: ["execute-api:ManageConnections"],
      resources: [expect.stringMatching(/^\$\{aws_apigatewayv2_api\.websocket_api_[0-9A-F]+\.execution_arn\}\/dev\/POST\/@connections\/\*$/)],
    });
  });

  it("routes $connect, $disconnect, $default and the named routes through one AWS_PROXY integration to the function", () => {
    const [integrationId, integration] = onlyResource(parsed, "aws_apigatewayv2_integration");
    expect(integrationId).toMatch(/^websocket_integration-fn-websocket_/);
    expect(integration).toMatchObject({ integration_type: "AWS_PROXY", integration_method: "POST", description: "Every route goes to the WebSocket handler" });
    expect(integration.integration_uri).toBe(`\${aws_lambda_function.${fnId}.invoke_arn}`);
    const routes = Object.values(resourcesOf(parsed, "aws_apigatewayv2_route"));
    expect(routes.map((r) => r.route_key).sort()).toEqual(["$connect", "$default", "$disconnect", "sendmessage"]);
    for (const r of routes) expect(r.target).toBe(`integrations/\${aws_apigatewayv2_integration.${integrationId}.id}`);
    const [, api] = onlyResource(parsed, "aws_apigatewayv2_api");
    expect(api).toMatchObject({ protocol_type: "WEBSOCKET", route_selection_expression: "$request.body.action" });
  });

  it("deletes an integration only after its routes point elsewhere: create_before_destroy, with nothing upstream that cannot be created beside itself", () => {
    const [, integration] = onlyResource(parsed, "aws_apigatewayv2_integration");
    expect(integration.lifecycle).toEqual({ create_before_destroy: true });
    // Terraform extends create_before_destroy to what an integration depends on. A table replaced under
    // the same name cannot be created beside the old one, so no function or policy refers to it.
    const upstream = JSON.stringify([fnScope.parsed.resource, fnScope.parsed.data]);
    expect(upstream).not.toContain("aws_dynamodb_table.");
  });

  it("deploys a throttled, access-logged stage automatically", () => {
    expect(json).toHaveResourceWithProperties(Apigatewayv2Stage, {
      name: "dev",
      auto_deploy: true,
      default_route_settings: { throttling_burst_limit: 50, throttling_rate_limit: 20 },
    });
    const [, stage] = onlyResource(parsed, "aws_apigatewayv2_stage");
    expect((stage.access_log_settings as { destination_arn: string }).destination_arn).toMatch(/websocket_access-logs_[0-9A-F]+\.arn/);
  });

  it("lets only its own API stage invoke the function", () => {
    const [, permission] = onlyResource(parsed, "aws_lambda_permission");
    expect(permission).toMatchObject({ action: "lambda:InvokeFunction", principal: "apigateway.amazonaws.com" });
    expect(permission.source_arn).toMatch(/^\$\{aws_apigatewayv2_api\.websocket_api_[0-9A-F]+\.execution_arn\}\/dev\/\*$/);
    expect(permission.function_name).toBe(`\${aws_lambda_function.${fnId}.function_name}`);
  });

  it("keeps connections in an on-demand table keyed by room and connection, with TTL and a connection index", () => {
    expect(json).toHaveResourceWithProperties(DynamodbTable, {
      name: "lambdaship-dev-connections",
      billing_mode: "PAY_PER_REQUEST",
      hash_key: "booking_id",
      range_key: "connection_id",
      ttl: { attribute_name: "expires_at", enabled: true },
      global_secondary_index: [{ name: CONNECTION_INDEX, hash_key: "connection_id", projection_type: "KEYS_ONLY" }],
      point_in_time_recovery: { enabled: false },
      deletion_protection_enabled: false,
    });
  });
});

describe("websocket_lambda with a referenced function (prod)", () => {
  const full = synthEnv(envWith("prod"));
  const { json, parsed } = scoped(full.parsed, "websocket_");
  const fnScope = scoped(full.parsed, "fn-websocket_");
  const stack = full.stack;

  it("creates no function, role or function log group", () => {
    expect(fnScope.json).not.toHaveResource(LambdaFunction);
    expect(fnScope.json).not.toHaveResource(IamRole);
    expect(json).not.toHaveResource(LambdaFunction);
    const logGroups = Object.values(resourcesOf(parsed, "aws_cloudwatch_log_group")).map((g) => g.name);
    expect(logGroups).toEqual(["/aws/apigateway/lambdaship-prod-websocket/prod"]);
  });

  it("looks the function up by name and points the integration and permission at the data source", () => {
    expect(fnScope.json).toHaveDataSourceWithProperties(DataAwsLambdaFunction, { function_name: "shelf-websocket-proxy" });
    const dataId = Object.keys(fnScope.parsed.data!.aws_lambda_function)[0];
    expect(json).toHaveResourceWithProperties(Apigatewayv2Integration, {
      integration_uri: `\${data.aws_lambda_function.${dataId}.invoke_arn}`,
    });
    expect(json).toHaveResourceWithProperties(LambdaPermission, {
      function_name: `\${data.aws_lambda_function.${dataId}.function_name}`,
    });
  });

  it("warns what the referenced function needs, since its role and variables are not managed here", () => {
    const warnings = stack.node
      .findAll()
      .flatMap((c) => c.node.metadata)
      .filter((m) => m.type === "@cdktf/warn")
      .map((m) => String(m.data));
    expect(warnings).toEqual([
      expect.stringContaining("shelf-websocket-proxy is only referenced, so neither its role nor its variables are managed here; for the WebSocket routes $connect, $disconnect, $default, sendmessage of lambdaship-prod-websocket it needs dynamodb:PutItem on table lambdaship-prod-connections;"),
    ]);
    expect(warnings[0]).toContain("execute-api:ManageConnections on lambdaship-prod-websocket's @connections on stage prod; variables TABLE_NAME=lambdaship-prod-connections, ROOM_KEY=booking_id");
    expect(warnings[0]).not.toContain("MANAGEMENT_API_ENDPOINT");
  });

  it("turns on point-in-time recovery and deletion protection for the prod table", () => {
    expect(json).toHaveResourceWithProperties(DynamodbTable, {
      point_in_time_recovery: { enabled: true },
      deletion_protection_enabled: true,
    });
  });
});

describe("websocket_lambda with an adopted function (staging)", () => {
  const { json, parsed } = scoped(synthEnv(envWith("staging")).parsed, "fn-websocket_");

  it("adopts the function and its log group with import blocks, under the existing name", () => {
    const [fnId] = onlyResource(parsed, "aws_lambda_function");
    const logGroupId = Object.entries(resourcesOf(parsed, "aws_cloudwatch_log_group")).find(([, g]) => (g.name as string).startsWith("/aws/lambda/"))![0];
    expect(parsed.import).toEqual(
      expect.arrayContaining([
        { to: `aws_lambda_function.${fnId}`, id: "lambdaship-staging-websocket" },
        { to: `aws_cloudwatch_log_group.${logGroupId}`, id: "/aws/lambda/lambdaship-staging-websocket" },
      ]),
    );
    expect(parsed.import).toHaveLength(2);
    expect(json).toHaveResourceWithProperties(LambdaFunction, { function_name: "lambdaship-staging-websocket" });
  });

  it("can leave the log group to be created when the function never ran", () => {
    const { parsed: p } = scoped(
      synthEnv(envWith("staging", { functions: { websocket: { deployment: { mode: "import", functionName: "legacy-ws", importLogGroup: false } } } } as never)).parsed,
      "fn-websocket_",
    );
    expect(p.import).toEqual([{ to: expect.stringMatching(/^aws_lambda_function\./), id: "legacy-ws" }]);
  });
});

describe("websocket_lambda route errors", () => {
  it("names the route when a built-in route has no function", () => {
    const env = envWith("staging", {} as never);
    env.websocket.routes = { $connect: "websocket", $default: "websocket" };
    expect(() => synthEnv(env)).toThrow(ConfigError);
    expect(() => synthEnv(env)).toThrow("envs/staging.ts: websocket.routes.$disconnect is missing;");
  });
});

describe("websocket_lambda with the Rust handlers (dev)", () => {
  const full = synthEnv(envWith("dev", { live: { enabled: false } } as never)).parsed;
  const { parsed } = scoped(full, "websocket_");
  const functions = Object.entries(resourcesOf(full, "aws_lambda_function")).filter(([, f]) => String(f.function_name).startsWith("lambdaship-dev-ws-"));
  const idOf = (name: string) => functions.find(([, f]) => f.function_name === name)![0];
  const policyOf = (key: string): Statement[] => policyStatements(full, `fn-${key}_`);

  it("creates one arm64 provided.al2023 function per handler bin, each waiting for the workspace's builder", () => {
    expect(functions.map(([, f]) => f.function_name).sort()).toEqual([
      "lambdaship-dev-ws-broadcast", "lambdaship-dev-ws-connect", "lambdaship-dev-ws-default", "lambdaship-dev-ws-disconnect",
    ]);
    for (const [, f] of functions) {
      expect(f).toMatchObject({ runtime: "provided.al2023", handler: "bootstrap", architectures: ["arm64"], memory_size: 256, timeout: 10, reserved_concurrent_executions: 5 });
      expect(f.depends_on).toContainEqual(expect.stringMatching(/^terraform_data\.rust_builder-arm64_[0-9A-F]+$/));
      expect((f.environment as { variables: Record<string, string> }).variables).toMatchObject({ ROOM_KEY: "booking_id", LOG_LEVEL: "DEBUG" });
    }
    expect(functions.find(([, f]) => f.function_name === "lambdaship-dev-ws-connect")![1].description).toBe("WebSocket connect handler of lambdaship-dev (Rust)");
    // Only the broadcaster, which serves named routes alone and may be invoked directly, posts through a configured endpoint.
    const endpointOf = (name: string) => (functions.find(([, f]) => f.function_name === name)![1].environment as { variables: Record<string, string> }).variables.MANAGEMENT_API_ENDPOINT;
    expect(endpointOf("lambdaship-dev-ws-broadcast")).toMatch(/^\$\{replace\(aws_apigatewayv2_api\.websocket_api_[0-9A-F]+\.api_endpoint, "wss:\/\/", "https:\/\/"\)\}\/dev$/);
    for (const name of ["lambdaship-dev-ws-connect", "lambdaship-dev-ws-disconnect", "lambdaship-dev-ws-default"]) expect(endpointOf(name)).toBeUndefined();
  });

  it("routes each built-in route to its own function and named routes to ws-broadcast", () => {
    const integrations = resourcesOf(parsed, "aws_apigatewayv2_integration");
    const servedBy = (routeKey: string) => {
      const route = Object.values(resourcesOf(parsed, "aws_apigatewayv2_route")).find((r) => r.route_key === routeKey)!;
      const integrationId = /aws_apigatewayv2_integration\.([^.]+)\.id/.exec(route.target as string)![1];
      return integrations[integrationId].integration_uri;
    };
    expect(servedBy("$connect")).toBe(`\${aws_lambda_function.${idOf("lambdaship-dev-ws-connect")}.invoke_arn}`);
    expect(servedBy("$disconnect")).toBe(`\${aws_lambda_function.${idOf("lambdaship-dev-ws-disconnect")}.invoke_arn}`);
    expect(servedBy("$default")).toBe(`\${aws_lambda_function.${idOf("lambdaship-dev-ws-default")}.invoke_arn}`);
    expect(servedBy("sendmessage")).toBe(`\${aws_lambda_function.${idOf("lambdaship-dev-ws-broadcast")}.invoke_arn}`);
    expect(Object.values(resourcesOf(parsed, "aws_lambda_permission")).map((p) => p.function_name).sort()).toEqual(
      functions.map(([id]) => `\${aws_lambda_function.${id}.function_name}`).sort(),
    );
  });

  it("gives each function only the access its route needs", () => {
    const actions = (key: string) => policyOf(key).flatMap((s) => s.actions).sort();
    expect(actions("ws-connect")).toEqual(["dynamodb:PutItem", "logs:CreateLogStream", "logs:PutLogEvents"]);
    expect(actions("ws-disconnect")).toEqual(["dynamodb:DeleteItem", "dynamodb:Query", "logs:CreateLogStream", "logs:PutLogEvents"]);
    expect(actions("ws-default")).toEqual([
      "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:Query", "execute-api:ManageConnections", "logs:CreateLogStream", "logs:PutLogEvents",
    ]);
    expect(actions("ws-broadcast")).toEqual(["dynamodb:DeleteItem", "dynamodb:Query", "execute-api:ManageConnections", "logs:CreateLogStream", "logs:PutLogEvents"]);
    const disconnect = Object.fromEntries(policyOf("ws-disconnect").map((s) => [s.sid, s.resources]));
    expect(disconnect.FindRoomsOfConnection).toEqual([expect.stringMatching(new RegExp(`:table/lambdaship-dev-connections/index/${CONNECTION_INDEX}$`))]);
  });
});

describe("the live relay (dev: live.enabled)", () => {
  const full = synthEnv(envWith("dev")).parsed;
  const { parsed } = scoped(full, "websocket_");
  const apis = resourcesOf(parsed, "aws_apigatewayv2_api");
  const [relayId] = Object.entries(apis).find(([, a]) => a.name === "lambdaship-dev-live")!;
  const onRelay = <T extends Record<string, unknown>>(type: string) => Object.values(resourcesOf(parsed, type)).filter((r) => String(r.api_id ?? r.source_arn).includes(relayId)) as T[];
  const functions = resourcesOf(full, "aws_lambda_function");
  const idOf = (name: string) => Object.entries(functions).find(([, f]) => f.function_name === name)![0];
  const policyOf = (key: string): Statement[] => policyStatements(full, `fn-${key}_`);

  it("is a second WebSocket API on the env's handlers whose $connect takes only SigV4-signed upgrades", () => {
    expect(Object.values(apis).map((a) => a.name).sort()).toEqual(["lambdaship-dev-live", "lambdaship-dev-websocket"]);
    expect(apis[relayId]).toMatchObject({ protocol_type: "WEBSOCKET", route_selection_expression: "$request.body.action" });
    const integrations = resourcesOf(parsed, "aws_apigatewayv2_integration");
    const routes = onRelay<{ route_key: string; authorization_type?: string; target: string }>("aws_apigatewayv2_route");
    const served = Object.fromEntries(routes.map((r) => [r.route_key, [r.authorization_type ?? "NONE", integrations[/aws_apigatewayv2_integration\.([^.]+)\.id/.exec(r.target)![1]].integration_uri]]));
    expect(served).toEqual({
      $connect: ["AWS_IAM", `\${aws_lambda_function.${idOf("lambdaship-dev-ws-connect")}.invoke_arn}`],
      $disconnect: ["NONE", `\${aws_lambda_function.${idOf("lambdaship-dev-ws-disconnect")}.invoke_arn}`],
      $default: ["NONE", `\${aws_lambda_function.${idOf("lambdaship-dev-ws-default")}.invoke_arn}`],
    });
    expect(onRelay("aws_apigatewayv2_stage")).toEqual([expect.objectContaining({ name: "dev", auto_deploy: true, access_log_settings: expect.objectContaining({ destination_arn: expect.stringContaining("live-access-logs") }) })]);
    // Each handler may be invoked by the relay's stage, and only by it, under its own statement.
    const permissions = onRelay<{ statement_id: string; function_name: string; source_arn: string }>("aws_lambda_permission");
    expect(permissions.map((p) => p.function_name).sort()).toEqual(["ws-connect", "ws-default", "ws-disconnect"].map((k) => `\${aws_lambda_function.${idOf(`lambdaship-dev-${k}`)}.function_name}`).sort());
    for (const p of permissions) expect(p).toMatchObject({ statement_id: "AllowLiveRelayInvoke", source_arn: `\${aws_apigatewayv2_api.${relayId}.execution_arn}/dev/*` });
  });

  it("lets the $default handler post to the relay's connections, and nothing else more", () => {
    const sids = (key: string) => policyOf(key).map((s) => s.sid);
    expect(sids("ws-default")).toContain("PostToRelayConnections");
    expect(policyOf("ws-default").find((s) => s.sid === "PostToRelayConnections")!.resources).toEqual([`\${aws_apigatewayv2_api.${relayId}.execution_arn}/dev/POST/@connections/*`]);
    for (const key of ["ws-connect", "ws-disconnect", "ws-broadcast"]) expect(sids(key)).not.toContain("PostToRelayConnections");
  });

  it("gives live.layer to every function created here but the relay's own handlers, and lets each in: its $connect only, and the relay's URL", () => {
    const live = ["backend", "greeter", "inventory", "orders-api", "report"];
    const env = (key: string) => (functions[idOf(`lambdaship-dev-${key}`)].environment as { variables: Record<string, string> }).variables;
    const layers = (key: string) => (functions[idOf(`lambdaship-dev-${key}`)].layers as string[] | undefined) ?? [];
    const proxyLayer = (arch: string) => Object.entries(resourcesOf(full, "aws_lambda_layer_version")).find(([, l]) => l.layer_name === `lambdaship-dev-runtime-proxy-${arch}`)![0];
    for (const key of live) {
      expect(policyOf(key).find((s) => s.sid === "ConnectToLiveRelay")).toMatchObject({ actions: ["execute-api:Invoke"], resources: [`\${aws_apigatewayv2_api.${relayId}.execution_arn}/dev/$connect`] });
      expect(env(key).LAMBDASHIP_LIVE_RELAY).toBe(`\${aws_apigatewayv2_api.${relayId}.api_endpoint}/dev`);
      expect(env(key).LAMBDASHIP_LIVE_ACK_MS).toBeUndefined();
      expect(layers(key)).toContain(`\${aws_lambda_layer_version.${proxyLayer("arm64")}.arn}`);
    }
    // Managed runtimes start through the layer's wrapper; OS-only ones are told the proxy's address (Go's bootstrap script reads it).
    expect(env("report").AWS_LAMBDA_EXEC_WRAPPER).toBe("/opt/lambdaship-runtime-proxy-wrapper");
    expect(env("greeter")).toMatchObject({ LAMBDASHIP_RUNTIME_API_PROXY: "127.0.0.1:9009" });
    expect(env("greeter").AWS_LAMBDA_EXEC_WRAPPER).toBeUndefined();
    expect(JSON.stringify(Object.entries(resourcesOf(full, "terraform_data")).find(([id]) => id.startsWith("fn-greeter_builder"))![1])).toContain("--runtime-api-proxy");
    for (const key of ["ws-connect", "ws-disconnect", "ws-default", "ws-broadcast"]) {
      expect(env(key).LAMBDASHIP_LIVE_RELAY).toBeUndefined();
      expect(layers(key)).toEqual([]);
    }
    expect(full.output?.live_relay).toMatchObject({ value: { url: `\${aws_apigatewayv2_api.${relayId}.api_endpoint}/dev` } });
    expect(Object.keys((full.output?.live_relay as { value: { functions: object } }).value.functions).sort()).toEqual(live);
  });

  it("leaves out a function whose entry sets live: false, and a referenced one", () => {
    const base = envWith("dev");
    const out = synthEnv(envWith("dev", { functions: { ...base.functions, report: { ...base.functions.report, live: false }, greeter: { ...base.functions.greeter, deployment: { mode: "existing", functionName: "team-greeter" } } } } as never)).parsed;
    const fn = Object.values(resourcesOf(out, "aws_lambda_function")).find((f) => f.function_name === "lambdaship-dev-report")!;
    expect(fn.layers ?? []).toEqual([expect.stringContaining("function-dependency-layers")]);
    expect(JSON.stringify(fn.environment)).not.toContain("LAMBDASHIP");
    expect(Object.keys((out.output?.live_relay as { value: { functions: object } }).value.functions).sort()).toEqual(["backend", "inventory", "orders-api"]);
  });

  it("passes a non-default ack time on, and deploys nothing in an env that forbids live mode (prod)", () => {
    const slow = synthEnv(envWith("dev", { live: { enabled: true, ackMs: 3000 } } as never)).parsed;
    const backend = Object.values(resourcesOf(slow, "aws_lambda_function")).find((f) => f.function_name === "lambdaship-dev-backend")!;
    expect((backend.environment as { variables: Record<string, string> }).variables.LAMBDASHIP_LIVE_ACK_MS).toBe("3000");
    const prod = synthEnv(envWith("prod")).parsed;
    expect(Object.values(resourcesOf(prod, "aws_apigatewayv2_api")).map((a) => a.name)).toEqual(["lambdaship-prod-websocket"]);
    expect(JSON.stringify(prod)).not.toContain("LAMBDASHIP_LIVE_RELAY");
    expect(prod.output?.live_relay).toBeUndefined();
  });
});
