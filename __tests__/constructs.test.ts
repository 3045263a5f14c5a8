import { Apigatewayv2Integration } from "@cdktf/provider-aws/lib/apigatewayv2-integration";
import { LambdaFunction } from "@cdktf/provider-aws/lib/lambda-function";
import { LambdaLayerVersion } from "@cdktf/provider-aws/lib/lambda-layer-version";
import { TerraformStack, Testing } from "cdktf";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
// The public API, as another project imports it.
import { FolderFunction, FunctionSettings, LayerBuilder, MachineProbe, ManagedFunction, resetMachine, RustLambda, RustWorkspace, thisMachine, WebsocketLambda } from "../modules";
import { fakeRustMachine, PROJECT_ROOT, resourcesOf, SynthJson } from "./helpers";

/**
 * The library's constructs in a bare TerraformStack with hand-written props (no env file, no
 * LambdaStack), from a project folder of another team's outside this repository.
 */
const project = fs.mkdtempSync(path.join(os.tmpdir(), "lambdaship-another-project-"));
fs.mkdirSync(path.join(project, "chat"), { recursive: true });
fs.writeFileSync(path.join(project, "chat", "app.py"), "def lambda_handler(event, context):\n    return {'statusCode': 200}\n");
fs.mkdirSync(path.join(project, "deps"), { recursive: true });
fs.writeFileSync(path.join(project, "deps", "requirements.txt"), "jmespath==1.0.1\n");

const settings: FunctionSettings = { memoryMiB: 256, timeoutSeconds: 10, environment: {}, architecture: "arm64" };
const stack = () => new TerraformStack(Testing.app(), "team");
const synth = (s: TerraformStack) => JSON.parse(Testing.synth(s)) as SynthJson;
/** The project's Python dependency layer (`deps/requirements.txt`), built here at apply. */
const depsLayer = (s: TerraformStack, extra: { machine?: MachineProbe } = {}) =>
  new LayerBuilder(s, "deps", {
    name: "deps",
    config: { mode: "create", type: "dependencies", source: "deps", runtime: "python3.12" },
    namePrefix: "team",
    projectRoot: project,
    projectRootFromStack: "../../..",
    configFile: "team config",
    artifactBucket: () => "unused",
    ...extra,
  });

describe("WebsocketLambda from hand-written props, its route handlers passed as function references", () => {
  it("creates the API and the connections table, and grants a folder function what every route needs", () => {
    const s = stack();
    const fn = new FolderFunction(s, "chat-fn", {
      functionName: "team-chat",
      sourceDir: path.join(project, "chat"),
      projectRoot: project,
      projectRootFromStack: "../../..",
      logRetentionDays: 30,
      region: "eu-west-1",
    });
    const ws = new WebsocketLambda(s, "chat", { namePrefix: "team", logRetentionDays: 30, region: "eu-west-1", routes: { $connect: fn, $disconnect: fn, $default: fn, say: fn } });
    const json = synth(s);
    expect(Object.values(resourcesOf(json, "aws_apigatewayv2_route")).map((r) => r.route_key).sort()).toEqual(["$connect", "$default", "$disconnect", "say"]);
    expect(Testing.synth(s)).toHaveResourceWithProperties(LambdaFunction, { function_name: "team-chat", handler: "app.lambda_handler", runtime: "python3.12" });
    expect(Testing.synth(s)).toHaveResourceWithProperties(Apigatewayv2Integration, { integration_type: "AWS_PROXY" });
    expect(ws.functions).toEqual([fn]);
    const variables = (Object.values(resourcesOf(json, "aws_lambda_function"))[0].environment as { variables: Record<string, string> }).variables;
    expect(variables).toMatchObject({ ROOM_KEY: "room_id", ROOM_QUERY_PARAM: "room" });
    const policy = Object.entries(json.data!.aws_iam_policy_document).find(([id]) => id.includes("_policy_"))![1].statement as Array<{ sid: string }>;
    expect(policy.map((st) => st.sid)).toEqual(["WriteOwnLogs", "RegisterConnection", "FindRoomsOfConnection", "RemoveConnection", "ListRoom", "PostToConnections"]);
  });

  it("routes to a function that exists already (fromFunctionName), creating none and warning what it needs", () => {
    const s = stack();
    const legacy = ManagedFunction.fromFunctionName(s, "legacy", "legacy-chat");
    new WebsocketLambda(s, "chat", { namePrefix: "team", logRetentionDays: 30, region: "eu-west-1", routes: { $connect: legacy, $disconnect: legacy, $default: legacy } });
    const json = synth(s);
    expect(json.resource.aws_lambda_function).toBeUndefined();
    expect(Object.values(json.data?.aws_lambda_function ?? {})).toEqual([expect.objectContaining({ function_name: "legacy-chat" })]);
    const warnings = s.node.findAll().flatMap((c) => c.node.metadata).filter((m) => m.type === "@cdktf/warn").map((m) => String(m.data));
    expect(warnings).toEqual([expect.stringContaining("legacy-chat is only referenced, so neither its role nor its variables are managed here; for the WebSocket routes $connect, $disconnect, $default of team-websocket it needs dynamodb:PutItem on table team-connections")]);
  });

  it("refuses routes without $disconnect, naming the prop", () => {
    const s = stack();
    const legacy = ManagedFunction.fromFunctionName(s, "legacy", "legacy-chat");
    expect(() => new WebsocketLambda(s, "chat", { namePrefix: "team", logRetentionDays: 30, region: "eu-west-1", routes: { $connect: legacy, $default: legacy } })).toThrow(
      expect.objectContaining({ prop: "routes.$disconnect" }),
    );
  });
});

describe("the machine, read at synth only through one probe", () => {
  it("takes what a given probe says of packages built here (a layer over Lambda's limit), reading nothing else", () => {
    const s = stack();
    const asked: string[] = [];
    const machine: MachineProbe = {
      ...fakeRustMachine(),
      builtSize: (zip, store) => (asked.push(`${path.basename(zip)} ${store}`), { zipBytes: 1, unzippedBytes: 262 * 1024 * 1024 }),
      fileSize: () => undefined,
    };
    const layer = depsLayer(s, { machine });
    expect(
      () => new FolderFunction(s, "chat-fn", { functionName: "team-chat", sourceDir: path.join(project, "chat"), projectRoot: project, projectRootFromStack: "../../..", logRetentionDays: 30, region: "eu-west-1", layers: [layer], machine }),
    ).toThrow(expect.objectContaining({ prop: "layers", fix: expect.stringContaining("over Lambda's 250 MB limit") }));
    expect(asked.sort()).toEqual([expect.stringMatching(/^chat-arm64-[0-9a-f]{16}\.zip function-artifacts$/), expect.stringMatching(/^deps-arm64-[0-9a-f]{16}\.zip layer-artifacts$/)]);
  });

  it("remembers this machine's toolchains for the process until resetMachine()", () => {
    const which = jest.spyOn(thisMachine, "which");
    try {
      const workspace = () => new RustWorkspace(stack(), "rust", { workspaceDir: path.join(PROJECT_ROOT, "lambda-src", "rust"), projectRoot: PROJECT_ROOT, projectRootFromStack: "../../.." });
      resetMachine();
      workspace().artifact("backend", "arm64");
      const asked = which.mock.calls.length;
      expect(asked).toBeGreaterThan(0);
      workspace().artifact("backend", "arm64");
      expect(which.mock.calls.length).toBe(asked);
      resetMachine();
      workspace().artifact("backend", "arm64");
      expect(which.mock.calls.length).toBeGreaterThan(asked);
    } finally {
      which.mockRestore();
    }
  });
});

describe("LayerBuilder from hand-written props, passed to a function as an object", () => {
  it("publishes the version of the function's architecture, built at apply, and the function uses it", () => {
    const s = stack();
    const layer = depsLayer(s);
    new ManagedFunction(s, "fn", {
      settings,
      logRetentionDays: 30,
      layers: [layer],
      definition: {
        functionName: "team-fn",
        roleName: "team-fn-role",
        description: "x",
        runtime: "python3.12",
        handler: "app.lambda_handler",
        code: { filename: "x.zip", sourceCodeHash: "abc=" },
        policyStatements: [],
      },
    });
    const json = synth(s);
    const [versionId] = Object.keys(resourcesOf(json, "aws_lambda_layer_version"));
    expect(Testing.synth(s)).toHaveResourceWithProperties(LambdaLayerVersion, { layer_name: "team-deps-arm64", compatible_runtimes: ["python3.12"], skip_destroy: true });
    expect(Object.values(resourcesOf(json, "aws_lambda_function"))[0].layers).toEqual([`\${aws_lambda_layer_version.${versionId}.arn}`]);
  });

  it("refuses a layer for another runtime, naming the function's field", () => {
    const s = stack();
    const layer = new LayerBuilder(s, "deps", {
      name: "deps",
      config: { mode: "existing", type: "dependencies", runtime: "nodejs22.x", arns: { arm64: "arn:aws:lambda:eu-west-1:123456789012:layer:x:1" } },
      namePrefix: "team",
      projectRoot: project,
      projectRootFromStack: "../../..",
      configFile: "team config",
      artifactBucket: () => "unused",
    });
    expect(() => layer.forFunction({ name: "team-fn", runtime: "python3.12", architecture: "arm64", field: "fn" })).toThrow(/fn\.layers includes deps, which holds packages for nodejs22\.x, and team-fn runs python3\.12/);
  });
});

describe("RustLambda from hand-written props", () => {
  it("deploys a bin of a cargo workspace with the architecture its builder builds", () => {
    const s = stack();
    const workspace = new RustWorkspace(s, "rust", {
      workspaceDir: path.join(PROJECT_ROOT, "lambda-src", "rust"),
      projectRoot: PROJECT_ROOT,
      projectRootFromStack: "../../..",
      machine: fakeRustMachine({ arm64: false }),
    });
    new RustLambda(s, "api", { workspace, region: "eu-west-1", functions: [{ bin: "backend", functionName: "team-api", settings, logRetentionDays: 30 }] });
    expect(Testing.synth(s)).toHaveResourceWithProperties(LambdaFunction, { function_name: "team-api", runtime: "provided.al2023", handler: "bootstrap", architectures: ["x86_64"] });
  });
});

describe("the modules as a library", () => {
  /** Each module folder's imports of other module folders and of envs/, read from the sources. */
  function imports(): Map<string, Set<string>> {
    const root = path.join(PROJECT_ROOT, "modules");
    const graph = new Map<string, Set<string>>();
    const walk = (dir: string): string[] => fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : e.name.endsWith(".ts") ? [path.join(dir, e.name)] : []));
    for (const file of walk(root)) {
      const from = path.relative(root, file).split(path.sep)[0].replace(/\.ts$/, "");
      for (const [, spec] of fs.readFileSync(file, "utf8").matchAll(/from "(\.{1,2}\/[^"]+)"/g)) {
        const target = path.relative(root, path.resolve(path.dirname(file), spec));
        const to = target.startsWith("..") ? target.split(path.sep).slice(0, 2).join("/") : target.split(path.sep)[0].replace(/\.ts$/, "");
        if (to !== from && to !== "") (graph.get(from) ?? graph.set(from, new Set()).get(from)!).add(to);
      }
    }
    return graph;
  }

  it("imports nothing from envs/ outside the stack, and has no import cycle between modules", () => {
    const graph = imports();
    expect([...(graph.get("folder_function") ?? [])]).toContain("lambda_function");
    expect([...(graph.get("stack") ?? [])]).toContain("../envs");
    const fromEnvs = [...graph].filter(([from, to]) => from !== "stack" && [...to].some((t) => t.startsWith("../envs"))).map(([from]) => from);
    expect(fromEnvs).toEqual([]);
    const cycle = (start: string, at: string, seen: string[]): string[] | undefined => {
      for (const next of graph.get(at) ?? []) {
        if (next === start) return [...seen, next];
        if (!seen.includes(next)) {
          const found = cycle(start, next, [...seen, next]);
          if (found) return found;
        }
      }
      return undefined;
    };
    expect([...graph.keys()].map((m) => cycle(m, m, [m])).filter(Boolean)).toEqual([]);
  });
});
