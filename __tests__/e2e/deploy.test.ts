import { LambdaClient, GetFunctionCommand, GetLayerVersionCommand, ListLayerVersionsCommand } from "@aws-sdk/client-lambda";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import * as fs from "fs";
import * as path from "path";
import { readElfFile } from "../../build/elf";
import { packageBinary, unpack } from "../../runtime/functions";
import { checkChatPage, checkDevCommand, checkGateway, checkLiveCommand, checkLiveRelay, checkRoomLoad } from "./gateway-checks";
import { buildRustFunctionsUpFront, run, sdkConfig, Workspace } from "./workspace";

/**
 * The cycle users care about, for real: OpenTofu/Terraform with the aws provider against moto server.
 * Each case gets a fresh copy of the project, a fresh emulator and empty state.
 */
jest.setTimeout(10 * 60 * 1000);

const CONNECT_ADDRESS = /^aws_lambda_function\.fn-ws-connect_function_[0-9A-F]+$/;
const BUILDER_ADDRESS = /^terraform_data\.rust_builder-arm64_[0-9A-F]+$/;

describe("end to end against the local AWS emulator", () => {
  let ws: Workspace;
  // The Rust functions, built once up front into the machine's artifact store: each case's apply
  // then copies them from there. (A cold build takes longer than one case may; warm, this is a skip.)
  beforeAll(buildRustFunctionsUpFront, 45 * 60 * 1000);
  afterEach(async () => {
    await ws?.dispose();
    ws = undefined as unknown as Workspace;
  });

  // One deployment of the local env, shared by the cases that keep its config, in this order; the
  // last two change its sources (an edit, a new wildcard) and apply them.
  describe("one deployment shared by the cases that keep the env's config", () => {
    let base: Workspace;
    let applied: Awaited<ReturnType<Workspace["deploy"]>>;
    let copiedTarget: boolean;
    beforeAll(async () => {
      base = await Workspace.create();
      copiedTarget = fs.existsSync(path.join(base.root, "lambda-src", "rust", "target"));
      applied = await base.deploy();
    }, 15 * 60 * 1000);
    afterAll(async () => {
      await base?.dispose();
    });

    it("applies the local stack, building the Rust functions at apply for the architecture they declare, then plans no changes", async () => {
      expect(copiedTarget).toBe(false);
      expect(applied.added).toBeGreaterThanOrEqual(60);
      expect(applied.changed + applied.destroyed).toBe(0);
      const s = await base.state();
      const fns = s.resources.filter((r) => r.type === "aws_lambda_function");
      expect(fns.map((r) => [r.values.function_name, r.values.runtime]).sort()).toEqual([
        ["lambdaship-local-backend", "provided.al2023"], ["lambdaship-local-greeter", "provided.al2023"], ["lambdaship-local-inventory", "java21"], ["lambdaship-local-orders-api", "nodejs22.x"],
        ["lambdaship-local-report", "python3.12"], ["lambdaship-local-ws-broadcast", "provided.al2023"], ["lambdaship-local-ws-connect", "provided.al2023"],
        ["lambdaship-local-ws-default", "provided.al2023"], ["lambdaship-local-ws-disconnect", "provided.al2023"],
      ]);
      // Rust and Go: the binary in the deployed zip is of the architecture the function declares
      // (Go's behind its bootstrap script, since it has the Runtime API proxy layer).
      for (const fn of fns.filter((r) => r.values.runtime === "provided.al2023")) {
        const binary = packageBinary(unpack(path.join(base.stackDir, String(fn.values.filename)), base.root));
        expect(binary && path.basename(binary)).toBe(fn.values.function_name === "lambdaship-local-greeter" ? "bootstrap.bin" : "bootstrap");
        expect([readElfFile(binary!).architecture]).toEqual(fn.values.architectures);
      }
      // The functions' dependency layers, built at apply from their own dependency files.
      const layerNames = s.resources.filter((r) => r.type === "aws_lambda_layer_version").map((r) => r.values.layer_name);
      expect(layerNames).toEqual(expect.arrayContaining(["lambdaship-local-inventory-deps-arm64", "lambdaship-local-orders-api-deps-arm64", "lambdaship-local-report-deps-arm64"]));
      const again = await base.plan();
      expect(again.actions).toEqual({});
      expect(again.exitCode).toBe(0);
    });

    it("plans no change at all against a state written before the app's functions were entries of functions: moved blocks carry every earlier address", async () => {
      // GIVEN the state as the earlier layout wrote it: each resource with a moved block back at its earlier address
      const moved = (JSON.parse(fs.readFileSync(path.join(base.stackDir, "cdk.tf.json"), "utf8")) as { moved?: Array<{ from: string; to: string }> }).moved ?? [];
      expect(moved.length).toBeGreaterThanOrEqual(20);
      const earlier = new Map(moved.map((m) => [m.to, m.from]));
      const state = JSON.parse(fs.readFileSync(base.stateFile, "utf8")) as { serial: number; resources: Array<{ mode: string; type: string; name: string }> };
      let rewritten = 0;
      for (const r of state.resources) {
        const from = r.mode === "managed" ? earlier.get(`${r.type}.${r.name}`) : undefined;
        if (from) {
          r.name = from.slice(r.type.length + 1);
          rewritten++;
        }
      }
      expect(rewritten).toBe(moved.length);
      state.serial++;
      fs.writeFileSync(base.stateFile, JSON.stringify(state, null, 2));
      // WHEN this change's config is planned THEN nothing is created, replaced, updated or destroyed, and each resource moves
      const p = await base.plan();
      expect(p.actions).toEqual({});
      const moves = (p.json.resource_changes ?? []).map((rc) => rc as typeof rc & { previous_address?: string }).filter((rc) => rc.previous_address);
      expect(moves.map((rc) => [rc.previous_address, rc.address]).sort()).toEqual(moved.map((m) => [m.from, m.to]).sort());
      expect(moves.every((rc) => rc.change.actions.join() === "no-op")).toBe(true);
      // ...and the apply records the new addresses, after which the plan is empty.
      const applied = await base.apply();
      expect(applied.added + applied.changed + applied.destroyed).toBe(0);
      const again = await base.plan();
      expect(again.exitCode).toBe(0);
      expect((again.json.resource_changes ?? []).some((rc) => (rc as { previous_address?: string }).previous_address)).toBe(false);
    });

    it("applies from a second clean clone, with no build output, against the state the first wrote", async () => {
      const second = await Workspace.create(base);
      try {
        expect(fs.existsSync(path.join(second.root, ".build"))).toBe(false);
        expect(fs.existsSync(path.join(second.root, "cdktf.out"))).toBe(false);
        await second.synthOrThrow();
        await second.init();
        const p = await second.plan();
        expect(p.actions).toEqual({});
        const applied = await second.apply();
        expect(applied).toEqual({ added: 0, changed: 0, destroyed: 0, imported: 0 });
      } finally {
        await second.dispose({ keepEmulator: true });
      }
    });

    it("stops a config error before the engine runs and writes nothing to state", async () => {
      const before = fs.readFileSync(base.stateFile);
      const stackJson = fs.readFileSync(path.join(base.stackDir, "cdk.tf.json"));
      base.patchLocalEnv({ functions: { "ws-connect": { memoryMiB: 99999 } } });
      const r = await run(process.execPath, ["-r", "./scripts/register.js", "scripts/start.ts"], base.root, base.env);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("envs/local.ts: functions.ws-connect.memoryMiB is 99999; Lambda allows 128-10240 MiB");
      expect(r.stderr).toContain("Nothing was started, synthesized or applied.");
      expect(r.stdout).not.toContain("[1/6]");
      expect(fs.readFileSync(base.stateFile)).toEqual(before);
      expect(fs.readFileSync(path.join(base.stackDir, "cdk.tf.json"))).toEqual(stackJson);
      expect(fs.existsSync(path.join(base.root, ".build", "local-aws"))).toBe(false);
      base.patchLocalEnv({}); // the env as it was, for the cases that follow
    });
    it("refuses to plan from an emptied state file while the local AWS has the env's functions, naming the file and the recovery", async () => {
      const saved = fs.readFileSync(base.stateFile);
      fs.writeFileSync(base.stateFile, "");
      try {
        const r = await run(process.execPath, ["-r", "./scripts/register.js", "scripts/plan.ts", "local"], base.root, base.env);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/terraform\.lambdaship-local\.tfstate is empty \(0 bytes\), but (its backup \S+ holds \d+ resources, and )?the account has lambdaship-local-\S+, lambdaship-local-\S+, lambdaship-local-\S+ and \d+ more: planning from it would create everything a second time/);
        expect(r.stderr).toContain("Nothing was planned;");
        expect(fs.existsSync(path.join(base.root, "plan-local.json"))).toBe(false);
      } finally {
        fs.writeFileSync(base.stateFile, saved);
      }
    });

    it("changes nothing when Rust sources are only touched, and rebuilds and updates exactly the function whose source changed", async () => {
      const source = path.join(base.root, "lambda-src", "rust", "crates", "ws", "src", "bin", "ws-connect.rs");
      const later = new Date(Date.now() + 3600_000);
      for (const f of [source, path.join(base.root, "lambda-src", "rust", "Cargo.toml")]) {
        fs.utimesSync(f, later, later);
        fs.chmodSync(f, 0o755);
      }
      await base.synthOrThrow();
      expect((await base.plan()).exitCode).toBe(0);

      fs.appendFileSync(source, "\n// a comment changes the input hash\n");
      await base.synthOrThrow();
      const p = await base.plan();
      expect(p.exitCode).toBe(2);
      // The builder is replaced new-before-old: ws-connect is behind a WebSocket integration, whose
      // create_before_destroy Terraform extends to what it depends on (the report function's is not).
      expect(p.actions).toEqual({ update: [expect.stringMatching(CONNECT_ADDRESS)], "create+delete": [expect.stringMatching(BUILDER_ADDRESS)] });
      const change = p.json.resource_changes!.find((rc) => CONNECT_ADDRESS.test(rc.address))!;
      expect(change.change.before!.source_code_hash).not.toEqual(change.change.after!.source_code_hash);
      expect(change.change.after!.filename).not.toEqual(change.change.before!.filename);
      const applied = await base.apply();
      expect(applied).toEqual({ added: 1, changed: 1, destroyed: 1, imported: 0 });
      expect(fs.existsSync(path.join(base.stackDir, String(change.change.after!.filename)))).toBe(true);
      expect((await base.plan()).exitCode).toBe(0);

      // The same for functions from folders: touching and chmod-ing a TypeScript source changes nothing...
      const ts = path.join(base.root, "lambda-src", "functions", "orders-api", "src", "handler.ts");
      fs.utimesSync(ts, later, later);
      fs.chmodSync(ts, 0o755);
      await base.synthOrThrow();
      expect((await base.plan()).exitCode).toBe(0);
      // ...and an edit of the Python function updates exactly it (its builder runs again; its dependency layer stays).
      fs.appendFileSync(path.join(base.root, "lambda-src", "functions", "report", "app.py"), "\n# an edit changes the input hash\n");
      await base.synthOrThrow();
      const edited = await base.plan();
      expect(edited.actions).toEqual({ update: [expect.stringMatching(/^aws_lambda_function\.fn-report_function_[0-9A-F]+$/)], "delete+create": [expect.stringMatching(/^terraform_data\.fn-report_builder_[0-9A-F]+$/)] });
      expect(await base.apply()).toEqual({ added: 1, changed: 1, destroyed: 1, imported: 0 });
      expect((await base.plan()).exitCode).toBe(0);
    });

    it("npm run plan summarises real plans: no changes, a code change, a replaced table (refused where protected, even with --apply), a new wildcard, then --apply of that plan", async () => {
      const planLocal = (...args: string[]) => run(process.execPath, ["-r", "./scripts/register.js", "scripts/plan.ts", "local", ...args], base.root, base.env);
      const summary = () => fs.readFileSync(path.join(base.root, "plan-local.md"), "utf8");

      let r = await planLocal();
      expect(r.code).toBe(0);
      expect(summary()).toContain("**No changes.** The infrastructure matches the configuration.");
      for (const ext of ["json", "tfplan"]) expect(fs.existsSync(path.join(base.root, `plan-local.${ext}`))).toBe(true);

      // A code change: one function updates, with its old and new hash.
      const source = path.join(base.root, "lambda-src", "rust", "crates", "ws", "src", "bin", "ws-connect.rs");
      const original = fs.readFileSync(source);
      fs.appendFileSync(source, "\n// a comment changes the input hash\n");
      r = await planLocal();
      expect(r.code).toBe(0);
      expect(summary()).toContain("**0 to add, 1 to change, 0 to destroy, 1 to replace, 0 to import.**"); // the function, and its builder
      const row = /\| lambdaship-local-ws-connect \| update \| (\S{12}) -> (\S{12}) \| arm64 \| [\d.]+ MB \| 256 MB \| 10 s \| - \| - \|/.exec(summary());
      expect(row).not.toBeNull();
      expect(row![1]).not.toBe(row![2]);
      expect(summary()).toContain("### Warnings\n\nNone.");
      fs.writeFileSync(source, original);

      // A replaced table: a warning, and exit 3 where stateful changes are blocked, unless allowed.
      base.patchLocalEnv({ websocket: { roomKey: "room_id" }, review: { blockStatefulChanges: true } });
      r = await planLocal("--apply"); // refused: nothing is applied (the next step's counts show it)
      expect(r.code).toBe(3);
      expect(summary()).toMatch(/- \*\*Blocking:\*\* table `aws_dynamodb_table\.websocket_connections_\w+` would be replaced/);
      expect(summary()).toMatch(/\| lambdaship-local-ws-connect \| update \| .* \| ~ROOM_KEY \|/);
      expect(summary()).toContain("**This plan is refused for `local`:**");
      expect((await planLocal("--allow-destroy")).code).toBe(0);

      // A new wildcard resource in a role's policy.
      base.patchLocalEnv({});
      const stackModule = path.join(base.root, "modules", "stack", "index.ts");
      const stackSource = fs.readFileSync(stackModule, "utf8");
      const widened = stackSource.replace("resources: [this.itemsTable.arn], shownAs", 'resources: [this.itemsTable.arn, "*"], shownAs');
      expect(widened).not.toBe(stackSource);
      fs.writeFileSync(stackModule, widened);
      r = await planLocal();
      expect(r.code).toBe(0);
      expect(summary()).toContain("**0 to add, 1 to change, 0 to destroy, 0 to replace, 0 to import.**");
      expect(summary()).toMatch(/- policy `aws_iam_role_policy\.fn-backend_role-policy_\w+` gains the wildcard resource \*: name the actions and resources it needs/);

      // --apply applies exactly the summarised plan; then nothing is left to change.
      r = await planLocal("--apply");
      expect(r.code).toBe(0);
      expect(r.stderr).toContain("applied: 0 added, 1 changed, 0 destroyed, 0 imported");
      expect((await planLocal()).code).toBe(0);
      expect(summary()).toContain("**No changes.**");
    });
  });

  it("publishes layers (one through S3 from the env's existing artifact bucket), and a new version when the extension's inputs change, keeping the old one and updating only the function using it", async () => {
    ws = await Workspace.create();
    await new S3Client(sdkConfig(ws)).send(new CreateBucketCommand({ Bucket: "lambdaship-e2e-artifacts" }));
    ws.patchLocalEnv({ artifacts: { bucket: "lambdaship-e2e-artifacts" }, layers: { "websocket-deps": { upload: "s3" } } });
    await ws.deploy();
    const object = (await ws.state()).resources.find((r) => r.type === "aws_s3_object")!;
    expect(object.values).toMatchObject({ bucket: "lambdaship-e2e-artifacts", key: expect.stringMatching(/^layers\/websocket-deps\/websocket-deps-arm64-[0-9a-f]{16}\.zip$/) });
    const deps = await new LambdaClient(sdkConfig(ws)).send(new GetLayerVersionCommand({ LayerName: "lambdaship-local-websocket-deps-arm64", VersionNumber: 1 }));
    expect(deps.Content!.CodeSize).toBe(fs.statSync(path.join(ws.stackDir, String(object.values.source))).size);
    expect((await ws.plan()).exitCode).toBe(0);

    fs.appendFileSync(path.join(ws.root, "lambda-src", "extensions", "runtime-proxy", "wrapper.sh"), "# an edit changes the layer's input hash\n");
    await ws.synthOrThrow();
    const p = await ws.plan();
    expect(p.exitCode).toBe(2);
    expect(p.actions).toEqual({
      // New versions first (create_before_destroy, which the builder inherits), then the old ones leave the state.
      "create+delete": [
        expect.stringMatching(/^aws_lambda_layer_version\.layers_runtime-proxy_version-arm64_/),
        expect.stringMatching(/^aws_lambda_layer_version\.layers_runtime-proxy_version-x86_64_/),
        expect.stringMatching(/^terraform_data\.layers_runtime-proxy_builder_/),
      ],
      // Every function with live.layer: all but the relay's WebSocket handlers.
      update: ["backend", "greeter", "inventory", "orders-api", "report"].map((k) => expect.stringMatching(new RegExp(`^aws_lambda_function\\.fn-${k}_function_[0-9A-F]+$`))),
    });
    const applied = await ws.apply();
    expect(applied).toEqual({ added: 3, changed: 5, destroyed: 3, imported: 0 });
    // skip_destroy: the old versions are still published, for functions and rollbacks that use them.
    const versions = await new LambdaClient(sdkConfig(ws)).send(new ListLayerVersionsCommand({ LayerName: "lambdaship-local-runtime-proxy-arm64" }));
    expect(versions.LayerVersions!.map((v) => v.Version).sort()).toEqual([1, 2]);
    const backend = await new LambdaClient(sdkConfig(ws)).send(new GetFunctionCommand({ FunctionName: "lambdaship-local-backend" }));
    expect(backend.Configuration!.Layers!.map((l) => l.Arn)).toEqual([expect.stringMatching(/:layer:lambdaship-local-runtime-proxy-arm64:2$/)]);
    expect((await ws.plan()).exitCode).toBe(0);
  });

  it("npm start deploys the local env, and a second run changes nothing", async () => {
    ws = await Workspace.create();
    const start = () => run(process.execPath, ["-r", "./scripts/register.js", "scripts/start.ts"], ws.root, { LAMBDASHIP_STATE_DIR: "" });
    // A team's new function: a folder and one line in the env; runtime and handler are detected.
    const hello = path.join(ws.root, "lambda-src", "functions", "hello");
    fs.mkdirSync(path.join(hello, "events"), { recursive: true });
    fs.writeFileSync(path.join(hello, "index.js"), 'exports.handler = async (event) => ({ statusCode: 200, body: `hello ${event.who}` });\n');
    fs.writeFileSync(path.join(hello, "events", "sample.json"), '{"who": "team"}\n');
    ws.patchLocalEnv({ functions: { hello: { source: "lambda-src/functions/hello" } } });
    try {
      const first = await start();
      expect(first.stderr).not.toMatch(/failed/);
      expect(first.code).toBe(0);
      expect(first.stdout).toMatch(/applied: \d+ added, 0 changed, 0 destroyed/);
      expect(first.stdout).toMatch(/lambdaship-local-backend\s+provided\.al2023\s+arm64\s+arm64\s+\d+\.\d+ MB/);
      expect(first.stdout).toMatch(/lambdaship-local-greeter\s+provided\.al2023\s+arm64\s+arm64\s+\d+\.\d+ MB/);
      expect(first.stdout).toMatch(/Backend function URL: https:\/\/\w+\.lambda-url\.us-east-1\.on\.aws/);
      // Every function answered through the runtime emulator, arm64 under qemu.
      expect(first.stdout).toMatch(/lambdaship-local-backend\s+provided\.al2023 arm64, under qemu-aarch64, extensions lambdaship-runtime-proxy\s+200 \{"status":"ok"\}/);
      // The layers, one version per architecture, and who uses them.
      expect(first.stdout).toMatch(/lambdaship-local-runtime-proxy-arm64\s+1\s+arm64\s+any\s+[\d.]+ [kM]B\s+backend, greeter, hello, inventory, orders-api, report\s/);
      expect(first.stdout).toMatch(/lambdaship-local-runtime-proxy-x86_64\s+1\s+x86_64\s+any/);
      expect(first.stdout).toMatch(/lambdaship-local-websocket-deps-arm64\s+1\s+arm64\s+python3\.12\s+[\d.]+ MB/);
      expect(first.stdout).toMatch(/lambdaship-local-ws-connect\s+.*200 \{"connected":true\}/);
      expect(first.stdout).toMatch(/lambdaship-local-ws-broadcast\s+.*200 \{"delivered":1,"removed":0\}/);
      expect(first.stdout).toMatch(/lambdaship-local-ws-disconnect\s+.*200 \{"disconnected":true,"removed":1\}/);
      // The env's functions, each by key with its own sample event.
      expect(first.stdout).toMatch(/hello\s+lambdaship-local-hello\s+nodejs22\.x through lambdaship's Node\.js runtime client.*\s200 hello team/);
      expect(first.stdout).toMatch(/orders-api\s+lambdaship-local-orders-api\s+nodejs22\.x.*\s201 \{"id":"[0-9a-f-]{36}","item":"boo/);
      expect(first.stdout).toMatch(/report\s+lambdaship-local-report\s+python3\.12 through awslambdaric.*\s200 \{"orders": 3/);
      // Go behind the proxy layer: a bootstrap script (Lambda runs no exec wrapper for provided.*) running bootstrap.bin under qemu.
      expect(first.stdout).toMatch(/greeter\s+lambdaship-local-greeter\s+provided\.al2023 script, its arm64 executables under qemu-aarch64, extensions lambdaship-runtime-proxy\s+\{"greeting":"Hello, lambdaship!"/);
      expect(first.stdout).toMatch(/inventory\s+lambdaship-local-inventory\s+java21 through AWS's Java runtime client 2\.10\.1.*\s\{"sku":"PEN-2","known":true,"inStock":3,"reorder":true/);
      // Layers name the functions that use them by key.
      expect(first.stdout).toMatch(/lambdaship-local-orders-api-deps-arm64\s+1\s+arm64\s+nodejs22\.x\s+[\d.]+ kB\s+orders-api/);
      expect(first.stdout).toMatch(/Function URL of orders-api: https:\/\/\w+\.lambda-url\.us-east-1\.on\.aws/);
      expect(first.stdout).toMatch(/WebSocket API endpoint: wss:\/\/\w+\.execute-api\.us-east-1\.amazonaws\.com\/local/);
      const second = await start();
      expect(second.code).toBe(0);
      expect(second.stdout).toContain("already running");
      expect(second.stdout).toContain("No changes: the emulator matches the configuration.");
      expect(second.stdout).not.toContain("applied:");
      await checkGateway(ws.root);
      await checkChatPage(ws.root);
      process.stdout.write(`live relay: ${await checkLiveRelay(ws.root)}\n`);
      process.stdout.write(`live command: ${await checkLiveCommand(ws.root)}\n`);
      process.stdout.write(`dev command: ${await checkDevCommand(ws.root)}\n`);
      process.stdout.write(`load through the local gateway: ${await checkRoomLoad(ws.root)}\n`);
      // npx cdktf diff as typed: one line says what to run (the CLI config setup wrote); run as it says,
      // it finds no differences against the local AWS npm start left running.
      const cdktf = path.join(ws.root, "node_modules", ".bin", "cdktf");
      const typed = await run(cdktf, ["diff", "lambdaship-local"], ws.root, { LAMBDASHIP_STATE_DIR: "", TF_CLI_CONFIG_FILE: "" });
      expect(typed.code).not.toBe(0);
      const said = /lambdaship: cdktf diff runs the engine, which needs the aws provider setup built \(no registry here\): run TF_CLI_CONFIG_FILE=(\S+) npx cdktf diff lambdaship-local, or npm run diff -- <env>, which sets it/.exec(typed.stdout + typed.stderr);
      expect(said).not.toBeNull();
      const asSaid = await run(cdktf, ["diff", "lambdaship-local"], ws.root, { LAMBDASHIP_STATE_DIR: "", TF_CLI_CONFIG_FILE: said![1] });
      expect(asSaid.code).toBe(0);
      expect(asSaid.stdout).toMatch(/found no differences, so no changes are needed/);
      // npm run invoke: one function at a time, against what npm start deployed.
      const invoke = (...args: string[]) => run(process.execPath, ["-r", "./scripts/register.js", "scripts/invoke.ts", "local", ...args], ws.root, { LAMBDASHIP_STATE_DIR: "" });
      expect((await invoke("ws-connect")).code).toBe(0);
      // The backend runs with its extension layer: the proxy's line for the invocation is in its logs.
      const backend = await invoke("backend");
      expect(backend.code).toBe(0);
      const requestId = /^START RequestId: (\S+)/m.exec(backend.stdout)![1];
      expect(backend.stdout).toContain(`{"extension":"lambdaship-runtime-proxy","requestId":"${requestId}","outcome":"success"`);
      const broadcast = await invoke("ws-broadcast");
      expect(broadcast.code).toBe(0);
      expect(broadcast.stdout).toMatch(/^REPORT RequestId: \S+\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\tMemory Size: 256 MB\tMax Memory Used: \d+ MB\tInit Duration/m);
      expect(broadcast.stdout).toContain('--- posted to connection conn-1: {"from":"server","message":"hello everyone","room":"demo"}');
      const unknown = await invoke("frontend");
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toMatch(/lambdaship-local deploys no function "frontend"; it deploys lambdaship-local-\S+, .* \(by key: backend, greeter, hello, inventory, orders-api, report, ws-broadcast/);
    } finally {
      await run(process.execPath, ["-r", "./scripts/register.js", "scripts/emulator.ts", "stop"], ws.root);
    }
  });

});
