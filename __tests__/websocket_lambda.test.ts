import { Apigatewayv2Integration } from "@cdktf/provider-aws/lib/apigatewayv2-integration";
import { Apigatewayv2Stage } from "@cdktf/provider-aws/lib/apigatewayv2-stage";
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { DataAwsLambdaFunction } from "@cdktf/provider-aws/lib/data-aws-lambda-function";
import { DynamodbTable } from "@cdktf/provider-aws/lib/dynamodb-table";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { LambdaFunction } from "@cdktf/provider-aws/lib/lambda-function";
import { LambdaPermission } from "@cdktf/provider-aws/lib/lambda-permission";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { ConfigError } from "../modules/errors";
import { CONNECTION_INDEX } from "../modules/websocket_lambda";
import { envWith, onlyResource, PROJECT_ROOT, resourcesOf, scoped, synthEnv, SynthJson } from "./helpers";

type Statement = { sid: string; actions: string[]; resources: string[] };

/** The statements of the function's inline policy document. */
function policyStatements(s: SynthJson): Statement[] {
  const docs = s.data?.aws_iam_policy_document ?? {};
  const [, policy] = Object.entries(docs).find(([id]) => id.startsWith("websocket_") && id.includes("_policy_"))!;
  return policy.statement as Statement[];
}

describe("websocket_lambda in create mode (dev, with the Python handler)", () => {
  const { json, parsed } = scoped(synthEnv(envWith("dev", { websocket: { handlers: "python" } })).parsed, "websocket_");

  it("creates the function from a deterministic package, arm64, with the env's settings", () => {
    const [, fn] = onlyResource(parsed, "aws_lambda_function");
    const pkg = fs.readFileSync(path.join(PROJECT_ROOT, ".build", "packages", path.basename(fn.filename as string)));
    expect(fn).toMatchObject({
      function_name: "lambdaship-dev-websocket",
      runtime: "python3.12",
      handler: "handler.lambda_handler",
      architectures: ["arm64"],
      memory_size: 256,
      timeout: 10,
      reserved_concurrent_executions: 5,
      source_code_hash: crypto.createHash("sha256").update(pkg).digest("base64"),
    });
    expect(fn.filename).toMatch(/^assets\/[^/]+\/[0-9a-f]{32}\/websocket-[0-9a-f]{16}\.zip$/);
    expect((fn.environment as { variables: Record<string, string> }).variables).toMatchObject({
      LOG_LEVEL: "DEBUG",
      ROOM_KEY: "booking_id",
      CONNECTION_INDEX,
      TABLE_NAME: expect.stringMatching(/^\$\{aws_dynamodb_table\.websocket_connections_[0-9A-F]+\.name\}$/),
    });
  });

  it("gives the function its own role, log group with the env's retention, and no import block", () => {
    expect(json).toHaveResourceWithProperties(IamRole, { name: "lambdaship-dev-websocket-role" });
    expect(json).toHaveResourceWithProperties(CloudwatchLogGroup, { name: "/aws/lambda/lambdaship-dev-websocket", retention_in_days: 14 });
    expect(json).not.toHaveDataSource(DataAwsLambdaFunction);
    expect(parsed.import).toBeUndefined();
  });

  it("scopes the policy to its own log group, table, index and API stage, with no wildcard action", () => {
    const statements = policyStatements(parsed);
    expect(statements.map((s) => s.sid)).toEqual(["WriteOwnLogs", "ConnectionsTable", "ConnectionsIndex", "PostToConnections"]);
    for (const s of statements) for (const a of s.actions) expect(a).not.toContain("*");
    const bySid = Object.fromEntries(statements.map((s) => [s.sid, s]));
    expect(bySid.WriteOwnLogs.resources).toEqual([expect.stringMatching(/^\$\{aws_cloudwatch_log_group\.websocket_handler_log-group_[0-9A-F]+\.arn\}:\*$/)]);
    expect(bySid.ConnectionsTable.resources).toEqual([expect.stringMatching(/^\$\{aws_dynamodb_table\.websocket_connections_[0-9A-F]+\.arn\}$/)]);
    expect(bySid.ConnectionsIndex.resources).toEqual([expect.stringMatching(new RegExp(`\\.arn\\}/index/${CONNECTION_INDEX}$`))]);
    expect(bySid.PostToConnections).toMatchObject({
      actions: ["execute-api:ManageConnections"],
      resources: [expect.stringMatching(/^\$\{aws_apigatewayv2_api\.websocket_api_[0-9A-F]+\.execution_arn\}\/dev\/POST\/@connections\/\*$/)],
    });
  });

  it("routes $connect, $disconnect, $default and the named routes through one AWS_PROXY integration to the function", () => {
    const [integrationId, integration] = onlyResource(parsed, "aws_apigatewayv2_integration");
    expect(integration).toMatchObject({ integration_type: "AWS_PROXY", integration_method: "POST" });
    expect(integration.integration_uri).toMatch(/^\$\{aws_lambda_function\.websocket_handler_function_[0-9A-F]+\.invoke_arn\}$/);
    const routes = Object.values(resourcesOf(parsed, "aws_apigatewayv2_route"));
    expect(routes.map((r) => r.route_key).sort()).toEqual(["$connect", "$default", "$disconnect", "sendmessage"]);
    for (const r of routes) expect(r.target).toBe(`integrations/\${aws_apigatewayv2_integration.${integrationId}.id}`);
    const [, api] = onlyResource(parsed, "aws_apigatewayv2_api");
    expect(api).toMatchObject({ protocol_type: "WEBSOCKET", route_selection_expression: "$request.body.action" });
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
    expect(permission.function_name).toMatch(/aws_lambda_function\.websocket_handler_function_[0-9A-F]+\.function_name/);
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

describe("websocket_lambda in existing mode (prod)", () => {
  const full = synthEnv(envWith("prod"));
  const { json, parsed } = scoped(full.parsed, "websocket_");
  const stack = full.stack;

  it("creates no function, role or function log group", () => {
    expect(json).not.toHaveResource(LambdaFunction);
    expect(json).not.toHaveResource(IamRole);
    const logGroups = Object.values(resourcesOf(parsed, "aws_cloudwatch_log_group")).map((g) => g.name);
    expect(logGroups).toEqual(["/aws/apigateway/lambdaship-prod-websocket/prod"]);
  });

  it("looks the function up by name and points the integration and permission at the data source", () => {
    expect(json).toHaveDataSourceWithProperties(DataAwsLambdaFunction, { function_name: "shelf-websocket-proxy" });
    const dataId = Object.keys(parsed.data!.aws_lambda_function)[0];
    expect(json).toHaveResourceWithProperties(Apigatewayv2Integration, {
      integration_uri: `\${data.aws_lambda_function.${dataId}.invoke_arn}`,
    });
    expect(json).toHaveResourceWithProperties(LambdaPermission, {
      function_name: `\${data.aws_lambda_function.${dataId}.function_name}`,
    });
  });

  it("warns that the referenced function's role is not managed here", () => {
    const warnings = stack.node
      .findAll()
      .flatMap((c) => c.node.metadata)
      .filter((m) => m.type === "@cdktf/warn")
      .map((m) => String(m.data));
    expect(warnings).toEqual([expect.stringContaining('websocket function "shelf-websocket-proxy" is referenced, not managed')]);
  });

  it("turns on point-in-time recovery and deletion protection for the prod table", () => {
    expect(json).toHaveResourceWithProperties(DynamodbTable, {
      point_in_time_recovery: { enabled: true },
      deletion_protection_enabled: true,
    });
  });
});

describe("websocket_lambda in import mode (staging)", () => {
  const { json, parsed } = scoped(synthEnv(envWith("staging")).parsed, "websocket_");

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
      synthEnv(envWith("staging", { websocket: { deployment: { mode: "import", functionName: "legacy-ws", importLogGroup: false } } })).parsed,
      "websocket_",
    );
    expect(p.import).toEqual([{ to: expect.stringMatching(/^aws_lambda_function\./), id: "legacy-ws" }]);
  });
});

describe("websocket_lambda handler source errors", () => {
  it("names the absolute path and the config field when the handler folder is missing", () => {
    const env = envWith("dev", { websocket: { handlers: "python", handler: { source: "lambda-src/nope" } } });
    expect(() => synthEnv(env)).toThrow(ConfigError);
    expect(() => synthEnv(env)).toThrow(
      `envs/dev.ts: websocket.handler.source names ${path.join(PROJECT_ROOT, "lambda-src/nope")}, which does not exist or is not a folder`,
    );
  });

  it("names the missing module file when the handler points at a file that is not there", () => {
    const env = envWith("dev", { websocket: { handlers: "python", handler: { handler: "missing.lambda_handler" } } });
    expect(() => synthEnv(env)).toThrow(/has no missing\.py for the handler "missing\.lambda_handler"/);
  });

  it("needs no handler source in existing mode, which deploys no code", () => {
    const env = envWith("prod", { websocket: { handler: { source: "lambda-src/nope" } } });
    expect(() => synthEnv(env)).not.toThrow();
  });
});

describe("websocket_lambda with the Rust handlers (dev)", () => {
  const { parsed } = scoped(synthEnv(envWith("dev")).parsed, "websocket_");
  const functions = Object.entries(resourcesOf(parsed, "aws_lambda_function"));
  const idOf = (name: string) => functions.find(([, f]) => f.function_name === name)![0];
  const policyOf = (bin: string): Statement[] =>
    Object.entries(parsed.data!.aws_iam_policy_document).find(([id]) => id.startsWith(`websocket_rust-handlers_${bin}_policy_`))![1].statement as Statement[];

  it("creates one arm64 provided.al2023 function per handler bin, each waiting for the workspace's builder", () => {
    expect(functions.map(([, f]) => f.function_name).sort()).toEqual([
      "lambdaship-dev-ws-broadcast", "lambdaship-dev-ws-connect", "lambdaship-dev-ws-default", "lambdaship-dev-ws-disconnect",
    ]);
    for (const [, f] of functions) {
      expect(f).toMatchObject({ runtime: "provided.al2023", handler: "bootstrap", architectures: ["arm64"], memory_size: 256, timeout: 10 });
      expect(f.depends_on).toContainEqual(expect.stringMatching(/^terraform_data\.rust_builder-arm64_[0-9A-F]+$/));
      expect((f.environment as { variables: Record<string, string> }).variables).toMatchObject({ ROOM_KEY: "booking_id", LOG_LEVEL: "DEBUG" });
    }
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
    const actions = (bin: string) => policyOf(bin).flatMap((s) => s.actions).sort();
    expect(actions("ws-connect")).toEqual(["dynamodb:PutItem", "logs:CreateLogStream", "logs:PutLogEvents"]);
    expect(actions("ws-disconnect")).toEqual(["dynamodb:DeleteItem", "dynamodb:Query", "logs:CreateLogStream", "logs:PutLogEvents"]);
    expect(actions("ws-default")).toEqual([
      "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:Query", "execute-api:ManageConnections", "logs:CreateLogStream", "logs:PutLogEvents",
    ]);
    expect(actions("ws-broadcast")).toEqual(["dynamodb:DeleteItem", "dynamodb:Query", "execute-api:ManageConnections", "logs:CreateLogStream", "logs:PutLogEvents"]);
    const disconnect = Object.fromEntries(policyOf("ws-disconnect").map((s) => [s.sid, s.resources]));
    expect(disconnect.FindRoomsOfConnection).toEqual([expect.stringMatching(new RegExp(`\\.arn\\}/index/${CONNECTION_INDEX}$`))]);
  });

  it("needs no Python handler source", () => {
    expect(() => synthEnv(envWith("dev", { websocket: { handler: { source: "lambda-src/nope" } } }))).not.toThrow();
  });

  it("cannot reference or import four functions as one", () => {
    const env = envWith("dev", { websocket: { deployment: { mode: "existing", functionName: "ws" } } });
    expect(() => synthEnv(env)).toThrow(/the Rust handlers are created here, so use "create"/);
  });
});
