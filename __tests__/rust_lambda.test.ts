import { DataAwsLambdaFunction } from "@cdktf/provider-aws/lib/data-aws-lambda-function";
import { LambdaFunctionUrl } from "@cdktf/provider-aws/lib/lambda-function-url";
import { Testing, TerraformStack } from "cdktf";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { cargoMetadata, binsFromMetadata, functionHashes } from "../build/rust";
import { ConfigError } from "../modules/errors";
import { RustLambda, RustWorkspace } from "../modules/rust_lambda";
import { envWith, fakeRustMachine, PROJECT_ROOT, pythonWebsocket, resourcesOf, scoped, synthEnv, SynthJson } from "./helpers";

const WORKSPACE = path.join(PROJECT_ROOT, "lambda-src", "rust");
const meta = cargoMetadata(WORKSPACE);
const hashFor = (bin: string, target = "aarch64-unknown-linux-gnu") =>
  functionHashes(meta, binsFromMetadata(meta).filter((b) => b.name === bin), target)[bin];

type Statement = { sid: string; actions: string[]; resources: string[]; condition?: unknown[] };

function backendOf(parsed: SynthJson) {
  const { parsed: p, json } = scoped(parsed, "fn-backend_");
  const fns = Object.entries(resourcesOf(p, "aws_lambda_function"));
  const builders = Object.entries(resourcesOf(parsed, "terraform_data")).filter(([id]) => id.startsWith("rust_builder"));
  const policy = Object.entries(p.data?.aws_iam_policy_document ?? {}).find(([id]) => id.includes("_policy_"))?.[1].statement as Statement[] | undefined;
  return { p, json, fn: fns[0]?.[1], fnId: fns[0]?.[0], builders, policy };
}

function warningsOf(stack: TerraformStack): string[] {
  return stack.node.findAll().flatMap((c) => c.node.metadata).filter((m) => m.type === "@cdktf/warn").map((m) => String(m.data));
}

describe("rust_lambda: the backend in create mode (dev)", () => {
  const { parsed } = synthEnv(envWith("dev"));
  const { fn, fnId, builders, policy, json } = backendOf(parsed);
  const hash = hashFor("backend");

  it("deploys the bin as bootstrap on provided.al2023, arm64, with the env's settings and its table", () => {
    expect(fn).toMatchObject({
      function_name: "lambdaship-dev-backend",
      runtime: "provided.al2023",
      handler: "bootstrap",
      architectures: ["arm64"],
      memory_size: 256,
      timeout: 10,
    });
    expect((fn.environment as { variables: Record<string, string> }).variables).toEqual({
      RUST_LOG: "debug",
      TABLE_NAME: "${aws_dynamodb_table.items.name}",
      // From the runtime-proxy layer: provided.al2023 runs no wrapper script, so the function reads the proxy's address.
      LAMBDASHIP_PROXY_PORT: "9009",
      LAMBDASHIP_RUNTIME_API_PROXY: "127.0.0.1:9009",
      // dev has live.enabled, and the proxy is the live mode's end in the sandbox: the relay's URL.
      LAMBDASHIP_LIVE_RELAY: expect.stringMatching(/^\$\{aws_apigatewayv2_api\.websocket_live-api_[0-9A-F]+\.api_endpoint\}\/dev$/),
    });
  });

  it("points at the zip whose name carries the input hash, by a path relative to the stack, with the hash as source_code_hash", () => {
    expect(fn.filename).toBe(`../../../lambda-src/rust/target/lambda/backend/backend-${hash.slice(0, 16)}.zip`);
    expect(fn.source_code_hash).toBe(Buffer.from(hash, "hex").toString("base64"));
  });

  it("has one builder for the workspace, triggered by every function's hash, that the function waits for", () => {
    expect(builders).toHaveLength(1);
    const [builderId, builder] = builders[0];
    expect(fn.depends_on).toContain(`terraform_data.${builderId}`);
    const triggers = builder.triggers_replace as { target: string; functions: Record<string, string> };
    expect(triggers.target).toBe("aarch64-unknown-linux-gnu");
    expect(Object.keys(triggers.functions)).toEqual(["backend", "ws-broadcast", "ws-connect", "ws-default", "ws-disconnect"]);
    expect(triggers.functions.backend).toBe(hash);
    const [{ "local-exec": exec }] = builder.provisioner as Array<{ "local-exec": { command: string; working_dir: string } }>;
    expect(exec.working_dir).toBe("../../..");
    expect(exec.command).toMatch(/^node -r \.\/scripts\/register\.js build\/cli\.ts --workspace lambda-src\/rust --arch arm64 --require-arch /);
    expect(exec.command).toContain(`--bin backend --expect backend=${hash}`);
  });

  it("gives the function its own log group and a role that may use only its log group and its table's items", () => {
    expect(policy!.map((s) => [s.sid, s.actions])).toEqual([
      ["WriteOwnLogs", ["logs:CreateLogStream", "logs:PutLogEvents"]],
      ["ItemsTable", ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem"]],
      ["ConnectToLiveRelay", ["execute-api:Invoke"]],
    ]);
    expect(policy![1].resources).toEqual(["${aws_dynamodb_table.items.arn}"]);
    expect(json).toHaveResourceWithProperties(LambdaFunctionUrl, { authorization_type: "AWS_IAM", function_name: `\${aws_lambda_function.${fnId}.function_name}` });
    expect(Object.values(resourcesOf(parsed, "aws_cloudwatch_log_group")).map((g) => g.name)).toContain("/aws/lambda/lambdaship-dev-backend");
  });

  it("keeps the items in an on-demand, encrypted table keyed by id", () => {
    expect(resourcesOf(parsed, "aws_dynamodb_table").items).toMatchObject({
      name: "lambdaship-dev-items",
      billing_mode: "PAY_PER_REQUEST",
      hash_key: "id",
      server_side_encryption: { enabled: true },
      deletion_protection_enabled: false,
    });
  });
});

describe("rust_lambda: the architecture is the binary's", () => {
  it("falls back to x86_64 with a warning when no toolchain here builds arm64, and deploys x86_64", () => {
    const { stack, parsed } = synthEnv(envWith("dev"), { rustProbe: fakeRustMachine({ arm64: false }) });
    const { fn, builders } = backendOf(parsed);
    expect(fn.architectures).toEqual(["x86_64"]);
    expect(fn.filename).toContain(`backend-${hashFor("backend", "x86_64-unknown-linux-gnu").slice(0, 16)}.zip`);
    const [, builder] = builders[0];
    expect((builder.triggers_replace as { target: string }).target).toBe("x86_64-unknown-linux-gnu");
    expect(JSON.stringify(builder.provisioner)).toContain("--arch x86_64 --require-arch");
    // Every Rust function; the Go function of `functions` builds arm64 with any toolchain.
    const rust = Object.values(resourcesOf(parsed, "aws_lambda_function")).filter((f) => f.runtime === "provided.al2023" && !String(f.function_name).endsWith("-greeter"));
    expect(rust).toHaveLength(5);
    for (const f of rust) expect(f.architectures).toEqual(["x86_64"]);
    expect(warningsOf(stack)).toEqual([expect.stringMatching(/no Rust toolchain here can build aarch64-unknown-linux-gnu .* building x86_64 instead, and the functions are deployed as x86_64/)]);
  });

  it("never falls back where arm64 is required (prod): the plan stays arm64 and says the apply will fail until a toolchain is installed", () => {
    const { stack, parsed } = synthEnv(envWith("prod"), { rustProbe: fakeRustMachine({ arm64: false }) });
    const { fn, builders } = backendOf(parsed);
    expect(fn.architectures).toEqual(["arm64"]);
    expect(JSON.stringify(builders[0][1].provisioner)).toContain("--arch arm64 --require-arch");
    expect(warningsOf(stack)).toContainEqual(
      expect.stringMatching(/, and this env requires arm64\. The plan deploys arm64; applying it fails in the builder, before any function changes, until you install an arm64 Rust toolchain: `npm run setup -- --only rust`/),
    );
  });

  it("gives the same plan for the same sources wherever they are checked out", () => {
    // GIVEN the function sources copied to another path, without any build output
    const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), "lambdaship-checkout-"));
    fs.cpSync(path.join(PROJECT_ROOT, "lambda-src"), path.join(elsewhere, "lambda-src"), { recursive: true, filter: (p) => path.basename(p) !== "target" && path.basename(p) !== "node_modules" });
    fs.copyFileSync(path.join(PROJECT_ROOT, "package.json"), path.join(elsewhere, "package.json"));
    // WHEN both checkouts synthesize dev THEN the stacks are byte-identical and name no absolute path
    const here = synthEnv(envWith("dev")).json;
    const there = synthEnv(envWith("dev"), { projectRoot: elsewhere }).json;
    expect(there).toBe(here);
    expect(here).not.toContain(PROJECT_ROOT);
    expect(there).not.toContain(elsewhere);
  });
});

describe("rust_lambda: policy templates", () => {
  const env = envWith("dev", {
    functions: { backend: {
      policies: [
        { template: "dynamodb-read", tables: ["orders"], indexes: ["by-customer"] },
        { template: "s3-read-write", buckets: ["uploads-bucket"], prefix: "incoming/" },
        { template: "sqs-send", queues: ["jobs"] },
        { template: "sns-publish", topics: ["alerts"] },
      ],
    } },
  } as never);
  const { parsed } = synthEnv(env);
  const { policy } = backendOf(parsed);
  const bySid = Object.fromEntries(policy!.map((s) => [s.sid, s]));
  const account = "${data.aws_caller_identity.account-context_caller_";

  it("names each resource by ARN in the env's region and account, with no wildcard action", () => {
    expect(Object.keys(bySid)).toEqual(["WriteOwnLogs", "DynamodbRead1", "S3ReadWrite2", "S3ReadWrite2List", "SqsSend3", "SnsPublish4", "ItemsTable", "ConnectToLiveRelay"]);
    for (const s of policy!) for (const a of s.actions) expect(a).not.toContain("*");
    expect(bySid.DynamodbRead1.actions).toEqual(expect.arrayContaining(["dynamodb:GetItem", "dynamodb:Query"]));
    expect(bySid.DynamodbRead1.actions).not.toContain("dynamodb:PutItem");
    expect(bySid.DynamodbRead1.resources).toEqual([
      expect.stringMatching(/^arn:\$\{data\.aws_partition\.account-context_partition_[0-9A-F]+\.partition\}:dynamodb:eu-west-1:\$\{data\.aws_caller_identity\.account-context_caller_[0-9A-F]+\.account_id\}:table\/orders$/),
      expect.stringMatching(/:table\/orders\/index\/by-customer$/),
    ]);
    expect(bySid.SqsSend3.resources[0]).toContain(account);
    expect(bySid.SqsSend3.resources[0]).toMatch(/:sqs:eu-west-1:.*:jobs$/);
    expect(bySid.SnsPublish4).toMatchObject({ actions: ["sns:Publish"], resources: [expect.stringMatching(/:sns:eu-west-1:.*:alerts$/)] });
  });

  it("scopes S3 to the bucket's objects under the prefix, and listing to that prefix", () => {
    expect(bySid.S3ReadWrite2.resources).toEqual([expect.stringMatching(/:s3:::uploads-bucket\/incoming\/\*$/)]);
    expect(bySid.S3ReadWrite2List).toMatchObject({
      actions: ["s3:ListBucket"],
      resources: [expect.stringMatching(/:s3:::uploads-bucket$/)],
      condition: [{ test: "StringLike", variable: "s3:prefix", values: ["incoming/*"] }],
    });
  });
});

describe("rust_lambda: function URLs", () => {
  it("makes a public URL only when asked, with its CORS settings, both grants AWS requires, and a warning", () => {
    const env = envWith("dev", {
      functions: { backend: { url: { authType: "NONE", cors: { allowOrigins: ["https://app.example.com"], allowMethods: ["GET", "POST"], allowHeaders: [], exposeHeaders: [], allowCredentials: true, maxAgeSeconds: 300 } } } },
    } as never);
    const { stack, parsed, json } = synthEnv(env);
    expect(json).toHaveResource(LambdaFunctionUrl);
    expect(Object.values(resourcesOf(scoped(parsed, "fn-backend_").parsed, "aws_lambda_function_url"))).toEqual([
      expect.objectContaining({
        authorization_type: "NONE",
        cors: { allow_origins: ["https://app.example.com"], allow_methods: ["GET", "POST"], allow_credentials: true, max_age: 300 },
      }),
    ]);
    const perms = Object.values(scoped(parsed, "fn-backend_").parsed.resource.aws_lambda_permission);
    expect(perms).toHaveLength(2);
    expect(perms).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ action: "lambda:InvokeFunctionUrl", principal: "*", function_url_auth_type: "NONE" }),
        expect.objectContaining({ action: "lambda:InvokeFunction", principal: "*", invoked_via_function_url: true }),
      ]),
    );
    expect(warningsOf(stack)).toContainEqual(expect.stringContaining("envs/dev.ts: functions.backend.url: lambdaship-dev-backend's URL has auth NONE"));
  });

  it("makes no URL when the config has none", () => {
    const { parsed } = synthEnv(envWith("dev", { functions: { backend: { url: undefined } } } as never));
    expect(scoped(parsed, "fn-backend_").json).not.toHaveResource(LambdaFunctionUrl);
  });
});

describe("rust_lambda: create, existing and import modes share one implementation", () => {
  it("adopts an existing function and its log group with import blocks, built and deployed from the workspace", () => {
    const { parsed } = synthEnv(envWith("dev", { functions: { backend: { deployment: { mode: "import", functionName: "legacy-backend", importLogGroup: true } } } } as never));
    const { fn, fnId, p } = backendOf(parsed);
    expect(fn).toMatchObject({ function_name: "legacy-backend", architectures: ["arm64"] });
    expect(p.import).toEqual([
      { to: expect.stringMatching(/^aws_cloudwatch_log_group\.fn-backend_/), id: "/aws/lambda/legacy-backend" },
      { to: `aws_lambda_function.${fnId}`, id: "legacy-backend" },
    ]);
  });

  it("references an existing function by name, building and creating nothing for it", () => {
    const env = envWith("dev", { ...pythonWebsocket(), functions: { ...pythonWebsocket().functions, backend: { deployment: { mode: "existing", functionName: "shared-backend" }, layers: ["runtime-proxy"], url: undefined } } } as never);
    for (const key of ["ws-connect", "ws-disconnect", "ws-default", "ws-broadcast"]) delete env.functions[key];
    const { parsed, json, stack } = synthEnv(env);
    expect(json).toHaveDataSourceWithProperties(DataAwsLambdaFunction, { function_name: "shared-backend" });
    expect(backendOf(parsed).fn).toBeUndefined();
    expect(Object.keys(resourcesOf(parsed, "terraform_data")).filter((id) => id.startsWith("rust_"))).toEqual([]);
    expect(warningsOf(stack)).toContainEqual(
      "envs/dev.ts: functions.backend: shared-backend is only referenced, so neither its role nor its variables are managed here; for the items table lambdaship-dev-items it needs dynamodb:DeleteItem, dynamodb:GetItem, dynamodb:PutItem on table lambdaship-dev-items; variables TABLE_NAME.",
    );
    expect(warningsOf(stack)).toContainEqual(expect.stringContaining('envs/dev.ts: functions.backend.layers is set, but the function "shared-backend" is only referenced'));
  });

  it("refuses a URL on a referenced function, naming the fields and the fix", () => {
    const env = envWith("dev", { functions: { backend: { deployment: { mode: "existing", functionName: "shared-backend" } } } } as never);
    expect(() => synthEnv(env)).toThrow(
      'envs/dev.ts: functions.backend.url is {"authType":"AWS_IAM"}; backend\'s deployment mode is "existing": a referenced function\'s URL belongs where the function is managed. Remove url, or adopt the function with mode "import"',
    );
  });
});

describe("rust_lambda: errors at synth", () => {
  const workspace = (stack: TerraformStack, dir = WORKSPACE) =>
    new RustWorkspace(stack, "rust", { workspaceDir: dir, projectRoot: PROJECT_ROOT, projectRootFromStack: "../../..", configField: "envs/dev.ts: rust.workspace", machine: fakeRustMachine() });

  it("names a bin the workspace does not have, and lists the ones it has", () => {
    const stack = new TerraformStack(Testing.app(), "t");
    const settings = { memoryMiB: 256, timeoutSeconds: 10, environment: {}, architecture: "arm64" as const };
    expect(() => new RustLambda(stack, "fns", { workspace: workspace(stack), region: "eu-west-1", functions: [{ bin: "frontend", functionName: "f", settings, logRetentionDays: 7 }] })).toThrow(
      'bin is "frontend"; it is not a bin of lambda-src/rust; its bins are backend, ws-broadcast, ws-connect, ws-default, ws-disconnect (add a [[bin]] or a src/bin/<name>.rs to add a function)',
    );
  });

  it("names the workspace field when the folder holds no Cargo.toml", () => {
    const dir = path.join(PROJECT_ROOT, "lambda-src", "websocket");
    expect(() => workspace(new TerraformStack(Testing.app(), "t"), dir)).toThrow(ConfigError);
    expect(() => workspace(new TerraformStack(Testing.app(), "t"), dir)).toThrow(
      `envs/dev.ts: rust.workspace names ${path.join(PROJECT_ROOT, "lambda-src", "websocket")}, which has no Cargo.toml`,
    );
  });

  it("refuses a role name IAM would reject", () => {
    const stack = new TerraformStack(Testing.app(), "t");
    const settings = { memoryMiB: 256, timeoutSeconds: 10, environment: {}, architecture: "arm64" as const };
    const functions = [{ bin: "backend", functionName: "f".repeat(60), settings, logRetentionDays: 7 }];
    expect(() => new RustLambda(stack, "fns", { workspace: workspace(stack), region: "eu-west-1", functions })).toThrow(
      `roleName is "${"f".repeat(60)}-role"; it has 65 characters; IAM allows 64.`,
    );
  });
});
