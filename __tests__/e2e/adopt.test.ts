import { GetFunctionCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { CreateRoleCommand, DeleteRoleCommand, IAMClient } from "@aws-sdk/client-iam";
import { CreateBucketCommand, GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import * as fs from "fs";
import * as path from "path";
import { BACKEND_ADDRESS, buildRustFunctionsUpFront, createFunctionOutside, FN_ADDRESS, pythonWebsocket, run, sdkConfig, Workspace } from "./workspace";

/**
 * End to end, the cases about functions that exist outside this stack (imports, references) and
 * remote state: a file of its own, so that jest runs it beside deploy.test.ts.
 */
jest.setTimeout(10 * 60 * 1000);

describe("end to end against the local AWS emulator: adopted and referenced functions, remote state", () => {
  let ws: Workspace;
  beforeAll(buildRustFunctionsUpFront, 45 * 60 * 1000);
  afterEach(async () => {
    await ws?.dispose();
    ws = undefined as unknown as Workspace;
  });

  it("imports functions created outside Terraform (Python, Rust, a Node.js entry): imports that keep their roles, refused by plan --apply while they would change what they adopt, applied when allowed, a clean re-plan, then forgotten (not destroyed) once its entry is removed", async () => {
    ws = await Workspace.create();
    await createFunctionOutside(ws, "lambdaship-local-websocket");
    await createFunctionOutside(ws, "lambdaship-local-backend", "rust");
    await createFunctionOutside(ws, "team-orders", "nodejs", { variables: { DB_URL: "postgres://db", LOG_LEVEL: "info" }, tags: { team: "orders" } });
    const adopted = pythonWebsocket({ mode: "import", functionName: "lambdaship-local-websocket", importLogGroup: false }) as { functions: Record<string, unknown> };
    adopted.functions.backend = { deployment: { mode: "import", functionName: "lambdaship-local-backend", importLogGroup: false } };
    // No live relay here: it would add a second API on the adopted handler (asked for by live.enabled, not by adoption).
    ws.patchLocalEnv({ ...adopted, live: { enabled: false }, functions: { ...adopted.functions, legacy: { source: "lambda-src/functions/orders-api", environment: { LOG_LEVEL: "DEBUG" }, deployment: { mode: "import", functionName: "team-orders", importLogGroup: false } } } });
    await ws.synthOrThrow();
    await ws.init();
    const p = await ws.plan();
    expect(p.import).toBe(3);
    const LEGACY_ADDRESS = /^aws_lambda_function\.fn-legacy_function_[0-9A-F]+$/;
    expect(p.actions.import).toHaveLength(3);
    expect(p.actions.import).toEqual(expect.arrayContaining([expect.stringMatching(BACKEND_ADDRESS), expect.stringMatching(LEGACY_ADDRESS), expect.stringMatching(FN_ADDRESS)]));
    for (const [address, id] of [[FN_ADDRESS, "lambdaship-local-websocket"], [BACKEND_ADDRESS, "lambdaship-local-backend"], [LEGACY_ADDRESS, "team-orders"]] as const) {
      const fnChange = p.json.resource_changes!.find((rc) => address.test(rc.address))!;
      expect(fnChange.change.importing).toEqual({ id });
      expect(fnChange.change.actions).not.toContain("create");
      expect(fnChange.change.actions).not.toContain("delete");
    }
    // No role is created for them: each keeps the role it has.
    expect(p.json.resource_changes!.filter((rc) => rc.type === "aws_iam_role" && rc.change.actions.includes("create")).map((rc) => rc.address)).toEqual(
      expect.not.arrayContaining([expect.stringMatching(/^aws_iam_role\.(fn-backend|fn-websocket|fn-legacy)_/)]),
    );

    // The applying commands refuse what the imports would change, and say what it is.
    const planLocal = (...args: string[]) => run(process.execPath, ["-r", "./scripts/register.js", "scripts/plan.ts", "local", ...args], ws.root, ws.env);
    const refused = await planLocal("--apply");
    expect(refused.code).toBe(4);
    const summary = fs.readFileSync(path.join(ws.root, "plan-local.md"), "utf8");
    expect(summary).toMatch(/function `team-orders`: its code is replaced \(\S{12} -> \S{12}\)/);
    expect(summary).toContain("function `team-orders`: its variables DB_URL are removed");
    expect(summary).toContain("function `team-orders`: its tags team are removed");
    expect(summary).not.toMatch(/its role .* is replaced/);
    expect(summary).not.toContain("postgres://db");
    expect(summary).toContain("**Not applied:**");
    expect(refused.stderr).not.toContain("applied:");
    const allowed = await planLocal("--apply", "--allow-import-changes");
    expect(allowed.code).toBe(0);
    expect(allowed.stderr).toMatch(/applied: \d+ added, \d+ changed, 0 destroyed, 3 imported/);
    expect((await ws.plan()).exitCode).toBe(0);

    // Adopted, brought to the configured settings, with their own roles.
    const lambda = new LambdaClient(sdkConfig(ws));
    const backend = await lambda.send(new GetFunctionCommand({ FunctionName: "lambdaship-local-backend" }));
    expect(backend.Configuration).toMatchObject({ Runtime: "provided.al2023", Architectures: ["arm64"] });
    expect(backend.Configuration!.Role).toMatch(/role\/lambdaship-local-backend-manual-role$/);
    const fn = await lambda.send(new GetFunctionCommand({ FunctionName: "lambdaship-local-websocket" }));
    expect(fn.Configuration).toMatchObject({ MemorySize: 256, Timeout: 10, Architectures: ["arm64"] });
    expect(fn.Configuration!.Role).toMatch(/role\/lambdaship-local-websocket-manual-role$/);
    const legacy = await lambda.send(new GetFunctionCommand({ FunctionName: "team-orders" }));
    expect(legacy.Configuration).toMatchObject({ Runtime: "nodejs22.x", Handler: "handler.handler", MemorySize: 256 });
    expect(legacy.Configuration!.Role).toMatch(/role\/team-orders-manual-role$/);

    // Its entry removed, the adopted function would be destroyed: refused, with the line that forgets it.
    ws.patchLocalEnv(adopted);
    const removed = await planLocal("--apply");
    expect(removed.code).toBe(4);
    const forget = /forgotten: \[("aws_lambda_function\.fn-legacy_function_[0-9A-F]+")\]/.exec(fs.readFileSync(path.join(ws.root, "plan-local.md"), "utf8"));
    expect(forget).not.toBeNull();
    ws.patchLocalEnv({ ...adopted, forgotten: [JSON.parse(forget![1])] });
    const forgotten = await planLocal("--apply");
    expect(forgotten.code).toBe(0);
    expect((await ws.plan()).exitCode).toBe(0);
    expect((await ws.state()).resources.some((r) => r.values.function_name === "team-orders")).toBe(false);
    expect((await lambda.send(new GetFunctionCommand({ FunctionName: "team-orders" }))).Configuration!.FunctionName).toBe("team-orders"); // still in AWS
  });

  it("references an existing function: the data source finds it and the API integration targets it; moving every route to other functions, an apply failing part-way leaves every route on a live integration", async () => {
    ws = await Workspace.create();
    const arn = await createFunctionOutside(ws, "legacy-websocket");
    ws.patchLocalEnv(pythonWebsocket({ mode: "existing", functionName: "legacy-websocket" }));
    await ws.deploy();
    const s = await ws.state();
    // No function or role for the WebSocket routes.
    const own = ["lambdaship-local-backend", "lambdaship-local-greeter", "lambdaship-local-inventory", "lambdaship-local-orders-api", "lambdaship-local-report"];
    expect(s.resources.filter((r) => r.type === "aws_lambda_function").map((r) => r.values.function_name).sort()).toEqual(own);
    expect(s.resources.filter((r) => r.type === "aws_iam_role").map((r) => r.values.name).sort()).toEqual([...own.map((n) => `${n}-role`), "lambdaship-local-report-daily-scheduler"].sort()); // the report's schedule assumes its own role
    // The WebSocket API's (the HTTP API has its own, for orders-api's routes).
    const integration = s.resources.find((r) => r.type === "aws_apigatewayv2_integration" && r.address.includes(".websocket_"))!;
    expect(integration.values.integration_uri).toBe(`arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/${arn}/invocations`);
    const permission = s.resources.find((r) => r.type === "aws_lambda_permission" && r.address.includes(".websocket_"))!;
    expect(permission.values.function_name).toBe("legacy-websocket");
    expect((await ws.plan()).exitCode).toBe(0);

    // Every route moves to the Rust handlers, and the apply fails part-way: a role with the name
    // ws-connect's needs exists already. The integration the routes leave is deleted only after they
    // point elsewhere (create_before_destroy), so every route still has its integration.
    const iam = new IAMClient(sdkConfig(ws));
    const trust = JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }] });
    await iam.send(new CreateRoleCommand({ RoleName: "lambdaship-local-ws-connect-role", AssumeRolePolicyDocument: trust }));
    ws.patchLocalEnv({});
    await ws.synthOrThrow();
    const failed = await ws.engine(["apply", "-auto-approve", "-input=false", "-no-color"], [0, 1]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/lambdaship-local-ws-connect-role/);
    const routesTargetIntegrations = async () => {
      const now = await ws.state();
      const integrations = new Map(now.resources.filter((r) => r.type === "aws_apigatewayv2_integration").map((r) => [String(r.values.id), String(r.values.integration_uri)]));
      // The public API's routes and the live relay's (live.enabled in local), each on a live integration.
      const routes = now.resources.filter((r) => r.type === "aws_apigatewayv2_route" && r.address.includes(".websocket_"));
      const key = (r: (typeof routes)[number]) => `${r.address.includes(".websocket_live-route-") ? "live " : ""}${String(r.values.route_key)}`;
      expect(routes.map(key).sort()).toEqual(["$connect", "$default", "$disconnect", "live $connect", "live $default", "live $disconnect", "sendmessage"]);
      return Object.fromEntries(routes.map((r) => [key(r), integrations.get(String(r.values.target).replace(/^integrations\//, ""))]));
    };
    const during = await routesTargetIntegrations();
    for (const uri of Object.values(during)) expect(uri).toBeDefined();
    expect(during.$connect).toContain(arn);
    // The clash removed, the next apply finishes the move.
    await iam.send(new DeleteRoleCommand({ RoleName: "lambdaship-local-ws-connect-role" }));
    await ws.apply();
    const after = await routesTargetIntegrations();
    expect(after.$connect).toContain("function:lambdaship-local-ws-connect");
    expect(after["live $connect"]).toContain("function:lambdaship-local-ws-connect");
    expect(after.sendmessage).toContain("function:lambdaship-local-ws-broadcast");
    expect((await ws.plan()).exitCode).toBe(0);
  });

  it("npm run import-commands prints commands that run as printed and adopt a function and its log group", async () => {
    ws = await Workspace.create();
    await createFunctionOutside(ws, "lambdaship-local-report");
    // The function has run once: it has its log group (moto routes by the credential scope and checks no signature).
    const created = await fetch(`${ws.emulator.endpoint}/`, {
      method: "POST",
      headers: {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "Logs_20140328.CreateLogGroup",
        Authorization: "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/logs/aws4_request, SignedHeaders=host, Signature=0",
      },
      body: JSON.stringify({ logGroupName: "/aws/lambda/lambdaship-local-report" }),
    });
    expect(created.ok).toBe(true);
    const printed = await run(process.execPath, ["-r", "./scripts/register.js", "scripts/import-commands.ts", "local"], ws.root, ws.env);
    expect(printed.code).toBe(0);
    const lines = printed.stdout.trim().split("\n");
    const chosen = [lines[0], ...lines.filter((l) => l.includes("lambdaship-local-report"))];
    expect(chosen).toHaveLength(3);
    for (const line of chosen) {
      const r = await run("sh", ["-c", line], ws.root, ws.env);
      expect(r.stderr).not.toMatch(/Error/);
      expect(r.code).toBe(0);
    }
    const s = await ws.state();
    expect(s.resources.filter((r) => /^(aws_lambda_function\.fn-report_function_|aws_cloudwatch_log_group\.fn-report_function_log-group_)/.test(r.address)).map((r) => r.values.name ?? r.values.function_name).sort()).toEqual([
      "/aws/lambda/lambdaship-local-report", "lambdaship-local-report",
    ]);
  });

  it("keeps state in S3 on the emulator with a lock file: of two applies started together, one waits or fails on the lock, and the state stays valid", async () => {
    ws = await Workspace.create();
    const s3 = new S3Client(sdkConfig(ws));
    await s3.send(new CreateBucketCommand({ Bucket: "lambdaship-state" }));
    ws.patchLocalEnv({ stateBackend: { bucket: "lambdaship-state" } });
    await ws.synthOrThrow();
    await ws.init();
    const args = ["apply", "-auto-approve", "-input=false", "-no-color"];
    const [a, b] = await Promise.all([ws.engine(args, [0, 1]), ws.engine(args, [0, 1])]);
    const results = [a, b];
    const lockErrors = results.filter((r) => r.code !== 0);
    expect(results.filter((r) => r.code === 0)).toHaveLength(1);
    expect(lockErrors).toHaveLength(1);
    expect(lockErrors[0].stderr).toMatch(/Error acquiring the state lock/);
    const stateObject = await s3.send(new GetObjectCommand({ Bucket: "lambdaship-state", Key: "lambdaship/lambdaship-local.tfstate" }));
    const stateJson = JSON.parse(await stateObject.Body!.transformToString());
    expect(stateJson.resources.length).toBeGreaterThanOrEqual(14);
    expect((await ws.plan()).exitCode).toBe(0);
  });

});
