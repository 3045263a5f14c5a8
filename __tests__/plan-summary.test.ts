import { changedVariableNames, countChanges, PlanJsonDocument, ResourceChange, summarize, wildcardsOf } from "../review/plan-summary";

/** Plan summaries from hand-written plan JSON: each rule alone. The e2e suite builds them from real plans. */

const rc = (address: string, actions: string[], before: Record<string, unknown> | null, after: Record<string, unknown> | null, extra: Partial<ResourceChange["change"]> = {}): ResourceChange => ({
  address,
  type: address.split(".")[0],
  change: { actions, before, after, ...extra },
});
const fn = (over: Record<string, unknown> = {}) => ({
  function_name: "app-backend",
  source_code_hash: "AAAAAAAAAAAAAAAAAAAA",
  filename: "../../../x.zip",
  architectures: ["arm64"],
  memory_size: 256,
  timeout: 10,
  environment: [{ variables: { TABLE_NAME: "items", SECRET_TOKEN: "hunter2" } }],
  ...over,
});
const policy = (actions: string[], resources: string[]) => JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: actions, Resource: resources }] });

describe("plan summary", () => {
  it("says so when nothing changes", () => {
    const s = summarize({ env: "local", plan: { resource_changes: [rc("aws_lambda_function.f", ["no-op"], fn(), fn())] } });
    expect(s.markdown).toContain("**No changes.**");
    expect(s.markdown).toContain("### Warnings\n\nNone.");
    expect(s.functions).toEqual([]);
    expect(s.exitCode).toBe(0);
  });

  it("counts adds, changes, destroys, replaces and imports", () => {
    const plan: PlanJsonDocument = {
      resource_changes: [
        rc("aws_iam_role.a", ["create"], null, {}),
        rc("aws_iam_role.b", ["update"], {}, {}),
        rc("aws_iam_role.c", ["delete"], {}, null),
        rc("aws_iam_role.d", ["delete", "create"], {}, {}),
        rc("aws_iam_role.e", ["create", "delete"], {}, {}),
        rc("aws_lambda_function.f", ["no-op"], fn(), fn(), { importing: { id: "app-backend" } }),
      ],
    };
    expect(countChanges(plan)).toEqual({ add: 1, change: 1, destroy: 1, replace: 2, import: 1 });
  });

  it("shows a function's old and new code hash and the names, never the values, of variables that change", () => {
    const after = fn({ source_code_hash: "BBBBBBBBBBBBBBBBBBBB", memory_size: 512, environment: [{ variables: { TABLE_NAME: "items", SECRET_TOKEN: "hunter3", NEW_FLAG: "1" } }] });
    const s = summarize({ env: "local", plan: { resource_changes: [rc("aws_lambda_function.f", ["update"], fn(), after)] }, packageSize: () => "2.54 MB" });
    expect(s.functions).toEqual([
      expect.objectContaining({ name: "app-backend", action: "update", codeHash: "AAAAAAAAAAAA -> BBBBBBBBBBBB", architecture: "arm64", packageSize: "2.54 MB", memory: "256 MB -> 512 MB", timeout: "10 s", envVarsChanged: "+NEW_FLAG ~SECRET_TOKEN" }),
    ]);
    expect(s.markdown).toContain("| app-backend | update | AAAAAAAAAAAA -> BBBBBBBBBBBB | arm64 | 2.54 MB | 256 MB -> 512 MB | 10 s | +NEW_FLAG ~SECRET_TOKEN | - |");
    expect(s.markdown).not.toContain("hunter");
    expect(changedVariableNames(fn(), fn({ environment: [{ variables: { TABLE_NAME: "items" } }] }))).toBe("-SECRET_TOKEN");
  });

  it("shows a function's triggers when they change: routes, schedules and queue mappings, each with its function", () => {
    const stack = {
      resource: {
        aws_lambda_function: { report: { function_name: "app-report" }, api: { function_name: "app-api" } },
        aws_apigatewayv2_integration: { api: { integration_uri: "${aws_lambda_function.api.invoke_arn}" } },
        aws_apigatewayv2_api: { http: { protocol_type: "HTTP" } },
        aws_apigatewayv2_route: {
          items: { route_key: "GET /items/{id}", target: "integrations/${aws_apigatewayv2_integration.api.id}" },
          fallback: { api_id: "${aws_apigatewayv2_api.http.id}", route_key: "$default", target: "integrations/${aws_apigatewayv2_integration.api.id}" },
        },
        aws_scheduler_schedule: { daily: { name: "app-report-daily", target: { arn: "${aws_lambda_function.report.arn}" } } },
        aws_lambda_event_source_mapping: { q: { function_name: "${aws_lambda_function.report.arn}", event_source_arn: "${aws_sqs_queue.orders.arn}" } },
      },
    };
    const target = (input: string) => [{ arn: "arn:aws:lambda:us-east-1:1:function:app-report", input }];
    const plan: PlanJsonDocument = {
      resource_changes: [
        rc("aws_apigatewayv2_route.items", ["create"], null, { route_key: "GET /items/{id}", authorization_type: "NONE" }),
        rc("aws_scheduler_schedule.daily", ["update"], { name: "app-report-daily", schedule_expression: "rate(1 hour)", state: "ENABLED", target: target("{}") }, { name: "app-report-daily", schedule_expression: "cron(0 6 * * ? *)", state: "ENABLED", target: target('{"a":1}') }),
        rc("aws_lambda_event_source_mapping.q", ["update"], { event_source_arn: "arn:aws:sqs:us-east-1:1:orders", batch_size: 10, function_response_types: [] }, { event_source_arn: "arn:aws:sqs:us-east-1:1:orders", batch_size: 5, function_response_types: ["ReportBatchItemFailures"] }),
        rc("aws_apigatewayv2_route.gone", ["delete"], { route_key: "$default" }, null),
        rc("aws_apigatewayv2_route.fallback", ["create"], null, { route_key: "$default" }),
        rc("aws_apigatewayv2_route.same", ["no-op"], { route_key: "POST /x" }, { route_key: "POST /x" }),
      ],
    };
    const s = summarize({ env: "dev", plan, stack });
    expect(s.triggers.map((t) => [t.function, t.trigger, t.action, t.changes])).toEqual([
      ["app-api", "http GET /items/{id}", "create", "-"],
      ["app-report", "schedule app-report-daily", "update", "expression rate(1 hour) -> cron(0 6 * * ? *); input changes"],
      ["app-report", "sqs orders", "update", "batch 10 -> 5; response types none -> ReportBatchItemFailures"],
      ["-", "websocket $default", "delete", "-"],
      // $default of an HTTP API: the stack's API says which kind.
      ["app-api", "http $default", "create", "-"],
    ]);
    expect(s.markdown).toContain("### Triggers\n\n| function | trigger | action | what changes |");
    expect(s.markdown).toContain("| app-report | sqs orders | update | batch 10 -> 5; response types none -> ReportBatchItemFailures |");
  });

  it("warns of an architecture change", () => {
    const s = summarize({ env: "local", plan: { resource_changes: [rc("aws_lambda_function.f", ["update"], fn(), fn({ architectures: ["x86_64"] }))] } });
    expect(s.warnings.map((w) => w.message)).toEqual(['function `app-backend` changes architecture ["arm64"] -> ["x86_64"]: its package and layers must be built for the new one']);
  });

  it("warns of a replaced table, and refuses it in a protected env unless destruction is allowed", () => {
    const plan = { resource_changes: [rc("aws_dynamodb_table.t", ["delete", "create"], { name: "items" }, { name: "items" }), rc("aws_lambda_function.f", ["delete"], fn(), null)] };
    const open = summarize({ env: "dev", plan });
    expect(open.warnings.map((w) => [w.message, w.blocking])).toEqual([
      ["table `aws_dynamodb_table.t` would be replaced (destroyed, then created anew): its data (or address) is lost", true],
      ["function `aws_lambda_function.f` would be destroyed", false],
    ]);
    expect(open.exitCode).toBe(0);
    const prod = summarize({ env: "prod", plan, protectedEnv: true });
    expect(prod.exitCode).toBe(3);
    expect(prod.markdown).toContain("**This plan is refused for `prod`:** it destroys or replaces a stateful resource. If that is intended, plan again with `--allow-destroy`.");
    expect(summarize({ env: "prod", plan, protectedEnv: true, allowDestroy: true }).exitCode).toBe(0);
  });

  it("warns of a new wildcard in a policy, from its JSON or, when that is known only at apply, from the stack's policy document", () => {
    const before = { policy: policy(["dynamodb:GetItem"], ["arn:aws:dynamodb:us-east-1:123456789012:table/items"]) };
    const known = summarize({ env: "dev", plan: { resource_changes: [rc("aws_iam_role_policy.p", ["update"], before, { policy: policy(["dynamodb:GetItem", "s3:*"], ["*"]) })] } });
    expect(known.warnings.map((w) => w.message)).toEqual(["policy `aws_iam_role_policy.p` gains the wildcard action s3:*, resource *: name the actions and resources it needs"]);
    const stack = {
      resource: { aws_iam_role_policy: { p: { policy: "${data.aws_iam_policy_document.doc.json}" } } },
      data: { aws_iam_policy_document: { doc: { statement: [{ effect: "Allow", actions: ["logs:PutLogEvents"], resources: ["${aws_cloudwatch_log_group.g.arn}:*"] }, { effect: "Allow", actions: ["sqs:SendMessage"], resources: ["*"] }] } } },
    };
    const unknown = summarize({ env: "dev", plan: { resource_changes: [rc("aws_iam_role_policy.p", ["create"], null, {}, { after_unknown: { policy: true } })] }, stack });
    expect(unknown.warnings.map((w) => w.message)).toEqual(["policy `aws_iam_role_policy.p` gains the wildcard resource *: name the actions and resources it needs"]);
  });

  it("does not flag wildcards scoped inside one named resource, nor wildcards the policy already had", () => {
    expect([...wildcardsOf(policy(["logs:PutLogEvents"], ["arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/f:*", "arn:aws:dynamodb:us-east-1:123456789012:table/items/index/*", "arn:aws:s3:::bucket/prefix/*"]))]).toEqual([]);
    expect([...wildcardsOf(policy(["s3:GetObject"], ["arn:aws:s3:::*", "arn:aws:dynamodb:*:123456789012:table/items", "arn:aws:dynamodb:us-east-1:123456789012:table/*"]))]).toEqual([
      "resource arn:aws:s3:::*",
      "resource arn:aws:dynamodb:*:123456789012:table/items",
      "resource arn:aws:dynamodb:us-east-1:123456789012:table/*",
    ]);
    const same = policy(["s3:*"], ["*"]);
    expect(summarize({ env: "dev", plan: { resource_changes: [rc("aws_iam_role_policy.p", ["update"], { policy: same }, { policy: same })] } }).warnings).toEqual([]);
  });

  it("warns of a public function URL and of deletion protection or point-in-time recovery turned off", () => {
    const table = (on: boolean) => ({ name: "items", deletion_protection_enabled: on, point_in_time_recovery: [{ enabled: on }] });
    const s = summarize({
      env: "dev",
      plan: {
        resource_changes: [
          rc("aws_lambda_function_url.u", ["create"], null, { authorization_type: "NONE" }),
          rc("aws_lambda_function_url.v", ["update"], { authorization_type: "NONE" }, { authorization_type: "NONE" }),
          rc("aws_dynamodb_table.t", ["update"], table(true), table(false)),
          rc("aws_dynamodb_table.u", ["update"], table(false), table(true)),
        ],
      },
    });
    expect(s.warnings.map((w) => w.message)).toEqual([
      "function URL `aws_lambda_function_url.u` has auth NONE: anyone on the internet can invoke the function",
      "table `items` turns deletion protection off",
      "table `items` turns point-in-time recovery off: backups of the last 35 days are dropped",
    ]);
  });
});

describe("plan summary: what an import's first apply changes", () => {
  const adopted = {
    function_name: "team-orders",
    code_sha256: "OLDOLDOLDOLDOLD=",
    role: "arn:aws:iam::123456789012:role/team-orders-role",
    environment: [{ variables: { DB_URL: "postgres://secret", LOG_LEVEL: "info" } }],
    tags: { team: "orders", app: "lambdaship" },
    tags_all: { team: "orders", app: "lambdaship" },
    architectures: ["arm64"],
  };
  const planned = { ...adopted, source_code_hash: "NEWNEWNEWNEWNEW=", environment: [{ variables: { LOG_LEVEL: "debug" } }], tags: {}, tags_all: { app: "lambdaship" } };
  const importing = { importing: { id: "team-orders" } };

  it("names the code (old hash from code_sha256), variables and tags removed, a new role and the log group's retention", () => {
    const plan: PlanJsonDocument = {
      resource_changes: [
        rc("aws_lambda_function.f", ["update"], adopted, { ...planned, role: "arn:aws:iam::123456789012:role/lambdaship-local-orders-role" }, importing),
        rc("aws_cloudwatch_log_group.g", ["update"], { name: "/aws/lambda/team-orders", retention_in_days: 90 }, { name: "/aws/lambda/team-orders", retention_in_days: 14 }, { importing: { id: "/aws/lambda/team-orders" } }),
      ],
    };
    const s = summarize({ env: "local", plan });
    expect(s.imports.map((i) => [i.message, i.refused])).toEqual([
      ["function `team-orders`: its code is replaced (OLDOLDOLDOLD -> NEWNEWNEWNEW)", true],
      ["function `team-orders`: its variables DB_URL are removed", true],
      ["function `team-orders`: its tags team are removed", true],
      ["function `team-orders`: its role arn:aws:iam::123456789012:role/team-orders-role is replaced by arn:aws:iam::123456789012:role/lambdaship-local-orders-role", true],
      ["log group `/aws/lambda/team-orders`: retention 90 days -> 14 days", false],
    ]);
    expect(s.markdown).toContain("### Imports: what the first apply changes on what it adopts");
    expect(s.markdown).not.toContain("postgres://secret");
    expect(s.functions[0].codeHash).toBe("OLDOLDOLDOLD -> NEWNEWNEWNEW");
    // Reviewing: shown, exit 0. Applying: refused (exit 4) unless allowed.
    expect(s.exitCode).toBe(0);
    const applying = summarize({ env: "local", plan, applying: true });
    expect(applying.exitCode).toBe(4);
    expect(applying.markdown).toContain("**Not applied:** an import would change what it adopts (above). Keep those values in the env (its variables, tags, `role`), or apply anyway with `--allow-import-changes`.");
    expect(summarize({ env: "local", plan, applying: true, allowImportChanges: true }).exitCode).toBe(0);
  });

  it("says a role created in the same apply replaces the adopted one", () => {
    const plan: PlanJsonDocument = { resource_changes: [rc("aws_lambda_function.f", ["update"], adopted, { ...adopted, source_code_hash: adopted.code_sha256, role: undefined }, { ...importing, after_unknown: { role: true } })] };
    expect(summarize({ env: "local", plan }).imports.map((i) => i.message)).toEqual(["function `team-orders`: its role arn:aws:iam::123456789012:role/team-orders-role is replaced by one created in this apply"]);
  });

  it("lets an import that keeps everything through", () => {
    const same = { ...adopted, source_code_hash: adopted.code_sha256 };
    const s = summarize({ env: "local", plan: { resource_changes: [rc("aws_lambda_function.f", ["no-op"], adopted, same, importing)] }, applying: true });
    expect(s.imports).toEqual([]);
    expect(s.exitCode).toBe(0);
    expect(s.markdown).toContain("Nothing: the adopted resources already match the configuration.");
  });
});

describe("plan summary: an adopted function whose entry is gone", () => {
  const ledger = (before: Record<string, string>, after: Record<string, string> | null) =>
    rc("terraform_data.adopted-functions", after ? ["update"] : ["delete"], { input: before }, after ? { input: after } : null);
  const plan: PlanJsonDocument = {
    resource_changes: [
      ledger({ "aws_lambda_function.fn-legacy_function_AB12CD34": "team-orders", "aws_lambda_function.rust-backend_function_539A666A": "lambdaship-local-backend" }, { "aws_lambda_function.rust-backend_function_539A666A": "lambdaship-local-backend" }),
      rc("aws_lambda_function.fn-legacy_function_AB12CD34", ["delete"], { function_name: "team-orders" }, null),
    ],
  };

  it("is a warning with the forgotten line that keeps it, and refused when applying unless --allow-destroy", () => {
    const s = summarize({ env: "local", plan });
    expect(s.adoptedDestroyed).toEqual([{ address: "aws_lambda_function.fn-legacy_function_AB12CD34", name: "team-orders" }]);
    expect(s.markdown).toContain("- **Adopted resource destroyed:** `team-orders` (`aws_lambda_function.fn-legacy_function_AB12CD34`) was adopted by an import, and its entry is gone: this plan destroys it in AWS");
    expect(s.markdown).toContain('add to the env: `forgotten: ["aws_lambda_function.fn-legacy_function_AB12CD34"]`');
    expect(s.exitCode).toBe(0);
    expect(summarize({ env: "local", plan, applying: true }).exitCode).toBe(4);
    expect(summarize({ env: "local", plan, applying: true, allowDestroy: true }).exitCode).toBe(0);
  });

  it("is nothing once forgotten: the ledger loses it, and nothing deletes it", () => {
    const forgotten: PlanJsonDocument = { resource_changes: [plan.resource_changes![0]] };
    expect(summarize({ env: "local", plan: forgotten, applying: true }).adoptedDestroyed).toEqual([]);
    expect(summarize({ env: "local", plan: forgotten, applying: true }).exitCode).toBe(0);
  });
});
