import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { LambdaFunction } from "@cdktf/provider-aws/lib/lambda-function";
import { LambdaLayerVersion } from "@cdktf/provider-aws/lib/lambda-layer-version";
import { TerraformStack, Testing } from "cdktf";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { planFunction } from "../build/function";
import { ConfigError, PropError } from "../modules/errors";
import { FolderFunction, FolderFunctionProps } from "../modules/folder_function";
import { builderCommand } from "../modules/apply_builder";
import { DependencyLayers } from "../modules/layer_builder";
import { envWith, resourcesOf, scoped, SynthJson, synthEnv } from "./helpers";

/**
 * FolderFunction with hand-written props in a bare stack, as another project would use it: a
 * project folder of its own (outside this repository), holding only its function folders.
 */
const projectRoot = fs.mkdtempSync(path.join(os.tmpdir(), "lambdaship-consumer-"));

function fnFolder(name: string, files: Record<string, string>): string {
  const dir = path.join(projectRoot, "functions", name);
  for (const [f, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), text);
  }
  return dir;
}

const py = fnFolder("jobs", { "app.py": "def lambda_handler(event, context):\n    return event\n", "requirements.txt": "jmespath==1.0.1\n" });
const pyTwin = fnFolder("jobs-twin", { "main.py": "def handler(event, context):\n    return 1\n", "requirements.txt": "jmespath==1.0.1\n" });
const ts = fnFolder("api", { "package.json": '{"dependencies":{"uuid":"9.0.1"}}', "package-lock.json": "{}", "src/index.ts": "export const handler = async () => ({ statusCode: 200 });\n" });

function stack(): TerraformStack {
  return new TerraformStack(Testing.app(), "consumer");
}

function props(overrides: Partial<FolderFunctionProps> = {}): FolderFunctionProps {
  return { functionName: "team-jobs", sourceDir: py, projectRoot, projectRootFromStack: "../../..", logRetentionDays: 30, region: "eu-west-1", ...overrides };
}

const synth = (s: TerraformStack) => JSON.parse(Testing.synth(s)) as SynthJson;

describe("FolderFunction, from hand-written props in a project outside this repository", () => {
  it("creates the function with the detected runtime and handler, and a builder whose trigger is the input hash", () => {
    // GIVEN a Python folder, WHEN it becomes a function with no runtime or handler
    const s = stack();
    const fn = new FolderFunction(s, "jobs", props({ memoryMiB: 512, timeoutSeconds: 30, tags: { team: "data" } }));
    const json = synth(s);
    // THEN
    const plan = planFunction({ name: "jobs", dir: py }, "arm64");
    expect(fn.plan).toMatchObject({ runtime: "python3.12", handler: "app.lambda_handler", detected: { runtime: true, handler: true } });
    expect(Testing.synth(s)).toHaveResourceWithProperties(LambdaFunction, {
      function_name: "team-jobs",
      runtime: "python3.12",
      handler: "app.lambda_handler",
      architectures: ["arm64"],
      memory_size: 512,
      timeout: 30,
      tags: { team: "data" },
      filename: `../../../.build/functions/jobs/jobs-arm64-${plan.inputHash.slice(0, 16)}.zip`,
      source_code_hash: Buffer.from(plan.inputHash, "hex").toString("base64"),
    });
    const [builder] = Object.values(resourcesOf(json, "terraform_data"));
    expect(builder.triggers_replace).toEqual({ arm64: plan.inputHash });
    const command = (builder.provisioner as Array<{ "local-exec": { command: string; working_dir: string } }>)[0]["local-exec"];
    expect(command.working_dir).toBe("../../..");
    expect(command.command).toBe(
      `${builderCommand(projectRoot, "build/function-cli.ts")} --name jobs --source functions/jobs --runtime python3.12 --handler app.lambda_handler --dependencies layer --arch arm64 --expect arm64=${plan.inputHash}`,
    );
  });

  it("puts dependencies in a layer shared by functions whose dependency files are the same", () => {
    const s = stack();
    const pool = new DependencyLayers(s, "deps", { namePrefix: "team", projectRoot, projectRootFromStack: "../../.." });
    new FolderFunction(s, "jobs", props({ dependencyLayers: pool }));
    new FolderFunction(s, "twin", props({ functionName: "team-twin", sourceDir: pyTwin, key: "twin", dependencyLayers: pool }));
    const json = synth(s);
    const layers = Object.entries(resourcesOf(json, "aws_lambda_layer_version"));
    expect(layers.map(([, l]) => l.layer_name)).toEqual(["team-jobs-deps-arm64"]);
    expect(Testing.synth(s)).toHaveResourceWithProperties(LambdaLayerVersion, { compatible_runtimes: ["python3.12"], compatible_architectures: ["arm64"] });
    for (const f of Object.values(resourcesOf(json, "aws_lambda_function"))) expect(f.layers).toEqual([`\${aws_lambda_layer_version.${layers[0][0]}.arn}`]);
  });

  it("bundles into the zip instead when asked: no layer", () => {
    const s = stack();
    new FolderFunction(s, "jobs", props({ dependencies: "bundle" }));
    expect(Testing.synth(s)).not.toHaveResource(LambdaLayerVersion);
  });

  it("deploys bundled TypeScript under the bundle's handler", () => {
    const s = stack();
    const fn = new FolderFunction(s, "api", props({ functionName: "team-api", sourceDir: ts, url: { authType: "AWS_IAM" } }));
    expect(fn.plan).toMatchObject({ runtime: "nodejs22.x", handler: "src/index.handler", deployedHandler: "index.handler", bundled: true });
    expect(Testing.synth(s)).toHaveResourceWithProperties(LambdaFunction, { handler: "index.handler", runtime: "nodejs22.x" });
    expect(fn.url).toBeDefined();
  });

  it("references an existing function by name, building nothing, behind the same interface", () => {
    const s = stack();
    const fn = new FolderFunction(s, "jobs", props({ deployment: { mode: "existing", functionName: "legacy-jobs" } }));
    const json = synth(s);
    expect(json.resource?.terraform_data).toBeUndefined();
    expect(Object.values(json.data?.aws_lambda_function ?? {})).toEqual([expect.objectContaining({ function_name: "legacy-jobs" })]);
    expect(fn.function.resource).toBeUndefined();
    expect(fn.plan).toBeUndefined();
  });

  it("adopts an existing function with an import block", () => {
    const s = stack();
    new FolderFunction(s, "jobs", props({ deployment: { mode: "import", functionName: "old-jobs", importLogGroup: true } }));
    const json = synth(s);
    expect(json.import?.map((i) => i.id).sort()).toEqual(["/aws/lambda/old-jobs", "old-jobs"]);
  });

  it("keeps an imported function's own role unless asked for a managed one, and takes an existing role by ARN in any mode", () => {
    // GIVEN an import with no role, WHEN synthesized, THEN the function runs with the role the data source reads from it
    const kept = stack();
    new FolderFunction(kept, "jobs", props({ deployment: { mode: "import", functionName: "old-jobs", importLogGroup: false } }));
    const json = synth(kept);
    expect(json.resource.aws_iam_role).toBeUndefined();
    expect(json.resource.aws_iam_role_policy).toBeUndefined();
    const [adoptedId] = Object.keys(json.data?.aws_lambda_function ?? {});
    expect(Object.values(resourcesOf(json, "aws_lambda_function"))[0].role).toBe(`\${data.aws_lambda_function.${adoptedId}.role}`);
    expect(kept.node.findAll().flatMap((c) => c.node.metadata.map((m) => String(m.data)))).toContainEqual(expect.stringMatching(/old-jobs runs with the role it already has .* Set role to "managed"/));
    // "managed": the stack's least-privilege role, as for a created function
    const managed = stack();
    new FolderFunction(managed, "jobs", props({ deployment: { mode: "import", functionName: "old-jobs", importLogGroup: false }, role: "managed" }));
    expect(Testing.synth(managed)).toHaveResourceWithProperties(IamRole, { name: "team-jobs-role" });
    // By ARN, created
    const byArn = stack();
    new FolderFunction(byArn, "jobs", props({ role: { arn: "arn:aws:iam::123456789012:role/team-lambda" } }));
    const arnJson = synth(byArn);
    expect(arnJson.resource.aws_iam_role).toBeUndefined();
    expect(Object.values(resourcesOf(arnJson, "aws_lambda_function"))[0].role).toBe("arn:aws:iam::123456789012:role/team-lambda");
  });

  it("speaks of its props in errors", () => {
    const attempt = (p: Partial<FolderFunctionProps>) => {
      try {
        new FolderFunction(stack(), "f", props(p));
      } catch (e) {
        return e as PropError;
      }
      throw new Error("no error");
    };
    expect(attempt({ handler: "app.nope" })).toMatchObject({ prop: "handler", value: "app.nope" });
    expect(attempt({ runtime: "python3.9" }).fix).toMatch(/python3\.9 is deprecated on Lambda/);
    expect(attempt({ sourceDir: path.join(projectRoot, "functions", "missing") })).toMatchObject({ prop: "source", value: "functions/missing" });
    expect(attempt({ url: { authType: "AWS_IAM" }, deployment: { mode: "existing", functionName: "x" } }).prop).toBe("url");
    expect(attempt({ functionName: "f".repeat(60) }).prop).toBe("roleName");
    const layer = (name: string) => ({ name, forFunction: () => ({ arn: `arn:aws:lambda:eu-west-1:123456789012:layer:${name}:1`, environment: {} }) });
    expect(attempt({ layers: ["a", "b", "c", "d", "e"].map(layer) })).toMatchObject({ prop: "layers", value: ["a", "b", "c", "d", "e"] });
    expect(attempt({ layers: ["a", "b", "c", "d", "e"].map(layer) }).fix).toMatch(/its dependency layer takes one; list at most 4/);
  });
});

describe("functions in an env: the stack maps entries to constructs, and construct errors to env fields", () => {
  const problems = (patch: Parameters<typeof envWith>[1]) => {
    try {
      synthEnv(envWith("dev", patch));
    } catch (e) {
      if (e instanceof ConfigError) return e.problems;
      throw e;
    }
    return [];
  };

  it("deploys each entry as <namePrefix>-<key>, with functionDefaults under the entry's own settings, and outputs them", () => {
    const { parsed } = synthEnv(envWith("dev"));
    const report = Object.values(resourcesOf(scoped(parsed, "fn-report_").parsed, "aws_lambda_function"))[0];
    expect(report).toMatchObject({ function_name: "lambdaship-dev-report", memory_size: 512, timeout: 60, environment: { variables: { LOG_LEVEL: "DEBUG" } } });
    const greeter = Object.values(resourcesOf(scoped(parsed, "fn-greeter_").parsed, "aws_lambda_function"))[0];
    expect(greeter).toMatchObject({ memory_size: 256, timeout: 10, environment: { variables: { LOG_LEVEL: "DEBUG", GREETING: "Hello" } }, runtime: "provided.al2023", handler: "bootstrap" });
    const out = (parsed.output as Record<string, { value: Record<string, Record<string, string>> }>).functions.value;
    expect(Object.keys(out).sort()).toEqual(["backend", "greeter", "inventory", "orders-api", "report", "ws-broadcast", "ws-connect", "ws-default", "ws-disconnect"]);
    expect(out["orders-api"]).toEqual({ name: expect.stringContaining("fn-orders-api_function"), arn: expect.any(String), url: expect.stringContaining("fn-orders-api_orders-api-url") });
  });

  it("takes a Rust bin from the workspace as an entry", () => {
    const { parsed } = synthEnv(envWith("dev", { functions: { health: { source: "lambda-src/rust", bin: "backend", memoryMiB: 128 } } }));
    const fn = Object.values(resourcesOf(scoped(parsed, "fn-health_").parsed, "aws_lambda_function"))[0];
    expect(fn).toMatchObject({ function_name: "lambdaship-dev-health", runtime: "provided.al2023", handler: "bootstrap", memory_size: 128 });
  });

  it.each([
    ["a folder that does not exist", { functions: { x: { source: "lambda-src/functions/nope" } } },
      /^envs\/dev\.ts: functions\.x\.source is "lambda-src\/functions\/nope"; the folder .*lambda-src\/functions\/nope does not exist/],
    ["a handler that does not exist", { functions: { x: { source: "lambda-src/functions/report", handler: "app.run" } } },
      /^envs\/dev\.ts: functions\.x\.handler is "app\.run"; handler app\.run: app\.py defines no module-level function run; the folder's handlers are app\.lambda_handler$/],
    ["a runtime the language does not have", { functions: { x: { source: "lambda-src/functions/report", runtime: "nodejs22.x" } } },
      /^envs\/dev\.ts: functions\.x\.handler is missing; .*exports handler/],
    ["a bin the workspace lacks", { functions: { x: { source: "lambda-src/rust", bin: "frontend" } } },
      /^envs\/dev\.ts: functions\.x\.bin is "frontend"; it is not a bin of lambda-src\/rust; its bins are backend/],
    ["a cargo workspace without a bin", { functions: { x: { source: "lambda-src/rust" } } },
      /^envs\/dev\.ts: functions\.x\.bin is missing; lambda-src\/rust is a cargo workspace; name the bin/],
    ["two entries with one deployed name", { functions: { x: { source: "lambda-src/functions/report", deployment: { mode: "import", functionName: "lambdaship-dev-backend" } } } },
      /^envs\/dev\.ts: functions\.x is "lambdaship-dev-backend"; functions\.backend already deploys a function named lambdaship-dev-backend/],
  ] as const)("refuses %s, naming the file and field", (_label, patch, message) => {
    expect(problems(patch as never)).toEqual([expect.stringMatching(message)]);
  });

  it("reports every bad entry at once", () => {
    expect(problems({ functions: { a: { source: "lambda-src/functions/nope" }, b: { source: "lambda-src/functions/report", handler: "x.y" } } } as never)).toHaveLength(2);
  });
});

describe("the apply-time builder's command", () => {
  it("runs this project's own lambdaship, or the one it installs, with paths relative to the project", () => {
    const consumer = fs.mkdtempSync(path.join(os.tmpdir(), "lambdaship-installs-"));
    fs.writeFileSync(path.join(consumer, "package.json"), '{"name":"team-app"}');
    fs.mkdirSync(path.join(consumer, "node_modules", "lambdaship"), { recursive: true });
    fs.writeFileSync(path.join(consumer, "node_modules", "lambdaship", "package.json"), '{"name":"lambdaship"}');
    expect(builderCommand(consumer, "build/function-cli.ts")).toBe("node -r ./node_modules/lambdaship/scripts/register.js node_modules/lambdaship/build/function-cli.ts");
    expect(builderCommand(path.resolve(__dirname, ".."), "build/cli.ts")).toBe("node -r ./scripts/register.js build/cli.ts");
  });
});
