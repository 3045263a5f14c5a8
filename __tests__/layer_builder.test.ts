import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { planLayer } from "../build/layer";
import { envWith, fakeRustMachine, PROJECT_ROOT, pythonWebsocket, resourcesOf, synthEnv, SynthJson } from "./helpers";

/** layer_builder: the env's layers as Terraform, from the dev env (both Rust architectures buildable). */

const proxyDir = path.join(PROJECT_ROOT, "lambda-src", "extensions", "runtime-proxy");
const depsDir = path.join(PROJECT_ROOT, "lambda-src", "layers", "websocket-deps");
const hashOf = (arch: "arm64" | "x86_64", kind: "extension" | "dependencies" = "extension") =>
  kind === "extension" ? planLayer({ name: "runtime-proxy", kind, dir: proxyDir }, arch).inputHash : planLayer({ name: "websocket-deps", kind, dir: depsDir, runtime: "python3.12" }, arch).inputHash;

const layerVersions = (p: SynthJson) => resourcesOf(p, "aws_lambda_layer_version");
const functionNamed = (p: SynthJson, name: string) => Object.values(resourcesOf(p, "aws_lambda_function")).find((f) => f.function_name === name)!;
const env = (f: Record<string, unknown>) => (f.environment as { variables: Record<string, string> }).variables;

describe("layer_builder: created layers (dev)", () => {
  const { parsed } = synthEnv(envWith("dev"));

  it("publishes one version per architecture, named by its input hash, and keeps old versions", () => {
    const versions = Object.entries(layerVersions(parsed));
    expect(versions.map(([, v]) => v.layer_name).sort()).toEqual([
      "lambdaship-dev-inventory-deps-arm64", "lambdaship-dev-orders-api-deps-arm64", "lambdaship-dev-report-deps-arm64", // the functions' own dependency layers
      "lambdaship-dev-runtime-proxy-arm64", "lambdaship-dev-runtime-proxy-x86_64", "lambdaship-dev-websocket-deps-arm64",
    ]);
    for (const [, v] of versions.filter(([id]) => id.startsWith("layers_"))) {
      const arch = (v.compatible_architectures as string[])[0] as "arm64" | "x86_64";
      const kind = String(v.layer_name).includes("proxy") ? "extension" : "dependencies";
      const hash = hashOf(arch, kind);
      expect(v).toMatchObject({ skip_destroy: true, lifecycle: { create_before_destroy: true }, source_code_hash: Buffer.from(hash, "hex").toString("base64"), compatible_architectures: [arch] });
      expect(v.filename).toBe(`../../../.build/layers/${kind === "extension" ? "runtime-proxy" : "websocket-deps"}/${kind === "extension" ? "runtime-proxy" : "websocket-deps"}-${arch}-${hash.slice(0, 16)}.zip`);
      expect(v.compatible_runtimes).toEqual(kind === "extension" ? undefined : ["python3.12"]);
    }
  });

  it("builds each layer at apply in one terraform_data per layer, triggered by the hashes and checked with --expect", () => {
    const builders = resourcesOf(parsed, "terraform_data");
    const [id, proxy] = Object.entries(builders).find(([k]) => k.startsWith("layers_runtime-proxy_builder"))!;
    expect(proxy.triggers_replace).toEqual({ arm64: hashOf("arm64"), x86_64: hashOf("x86_64") });
    const exec = (proxy.provisioner as Array<{ "local-exec": { command: string; working_dir: string } }>)[0]["local-exec"];
    expect(exec).toEqual({
      working_dir: "../../..",
      command: `node -r ./scripts/register.js build/layer-cli.ts --name runtime-proxy --kind extension --source lambda-src/extensions/runtime-proxy --upload direct --arch arm64 --expect arm64=${hashOf("arm64")} --arch x86_64 --expect x86_64=${hashOf("x86_64")}`,
    });
    for (const v of Object.values(layerVersions(parsed)).filter((l) => String(l.layer_name).includes("proxy"))) expect(v.depends_on).toEqual([`terraform_data.${id}`]);
  });

  it("gives the backend (provided.al2023) the version of its architecture and the proxy's address, not a wrapper Lambda would ignore", () => {
    const backend = functionNamed(parsed, "lambdaship-dev-backend");
    const [arm64Id] = Object.entries(layerVersions(parsed)).find(([, v]) => v.layer_name === "lambdaship-dev-runtime-proxy-arm64")!;
    expect(backend.layers).toEqual([`\${aws_lambda_layer_version.${arm64Id}.arn}`]);
    expect(env(backend)).toMatchObject({ LAMBDASHIP_PROXY_PORT: "9009", LAMBDASHIP_RUNTIME_API_PROXY: "127.0.0.1:9009" });
    expect(env(backend).AWS_LAMBDA_EXEC_WRAPPER).toBeUndefined();
  });

  it("gives an x86_64 function the x86_64 version", () => {
    const { parsed: x86 } = synthEnv(envWith("dev"), { rustProbe: fakeRustMachine({ arm64: false }) });
    const [x86Id] = Object.entries(layerVersions(x86)).find(([, v]) => v.layer_name === "lambdaship-dev-runtime-proxy-x86_64")!;
    expect(functionNamed(x86, "lambdaship-dev-backend")).toMatchObject({ architectures: ["x86_64"], layers: [`\${aws_lambda_layer_version.${x86Id}.arn}`] });
  });

  it("starts a managed runtime through the layer's wrapper script (AWS_LAMBDA_EXEC_WRAPPER)", () => {
    const { parsed: py } = synthEnv(envWith("dev", pythonWebsocket(["websocket-deps", "runtime-proxy"])));
    const ws = functionNamed(py, "lambdaship-dev-websocket");
    expect((ws.layers as string[]).map((l) => /layers_([\w-]+)_version-(\w+)_/.exec(l)!.slice(1).join(":"))).toEqual(["websocket-deps:arm64", "runtime-proxy:arm64"]);
    expect(env(ws)).toMatchObject({ AWS_LAMBDA_EXEC_WRAPPER: "/opt/lambdaship-runtime-proxy-wrapper", LAMBDASHIP_PROXY_PORT: "9009" });
    expect(env(ws).LAMBDASHIP_RUNTIME_API_PROXY).toBeUndefined();
  });

  it("sends a layer with upload s3 through an object in the env's private, encrypted artifact bucket", () => {
    const { parsed: s3 } = synthEnv(envWith("dev", { layers: { "websocket-deps": { mode: "create", type: "dependencies", source: "lambda-src/layers/websocket-deps", runtime: "python3.12", upload: "s3" } } as never }));
    const [bucketId, bucket] = Object.entries(resourcesOf(s3, "aws_s3_bucket"))[0];
    expect(bucket.bucket).toMatch(/^lambdaship-dev-artifacts-\$\{data\.aws_caller_identity\.account-context_caller_[0-9A-F]+\.account_id\}$/);
    expect(Object.values(resourcesOf(s3, "aws_s3_bucket_public_access_block"))[0]).toMatchObject({ block_public_acls: true, block_public_policy: true, ignore_public_acls: true, restrict_public_buckets: true });
    expect(Object.keys(resourcesOf(s3, "aws_s3_bucket_server_side_encryption_configuration"))).toHaveLength(1);
    const [objectId, object] = Object.entries(resourcesOf(s3, "aws_s3_object"))[0];
    const hash = hashOf("arm64", "dependencies");
    expect(object).toMatchObject({ bucket: `\${aws_s3_bucket.${bucketId}.bucket}`, key: `layers/websocket-deps/websocket-deps-arm64-${hash.slice(0, 16)}.zip`, source: expect.stringContaining(".build/layers/websocket-deps/") });
    const deps = Object.values(layerVersions(s3)).find((v) => String(v.layer_name).includes("websocket-deps"))!;
    expect(deps).toMatchObject({ s3_bucket: `\${aws_s3_bucket.${bucketId}.bucket}`, s3_key: `\${aws_s3_object.${objectId}.key}`, depends_on: [`aws_s3_object.${objectId}`] });
    expect(deps.filename).toBeUndefined();
  });
});

describe("layer_builder: an existing artifact bucket", () => {
  it("uploads through the env's existing bucket by name, creating no bucket", () => {
    const { parsed } = synthEnv(
      envWith("dev", { artifacts: { bucket: "team-artifacts" }, layers: { "websocket-deps": { mode: "create", type: "dependencies", source: "lambda-src/layers/websocket-deps", runtime: "python3.12", upload: "s3" } } } as never),
    );
    expect(resourcesOf(parsed, "aws_s3_bucket")).toEqual({});
    const [objectId, object] = Object.entries(resourcesOf(parsed, "aws_s3_object"))[0];
    expect(object.bucket).toBe("team-artifacts");
    const deps = Object.values(layerVersions(parsed)).find((v) => String(v.layer_name).includes("websocket-deps"))!;
    expect(deps).toMatchObject({ s3_bucket: "team-artifacts", s3_key: `\${aws_s3_object.${objectId}.key}` });
  });
});

describe("layer_builder: existing layers and errors", () => {
  const arn = "arn:aws:lambda:eu-west-1:123456789012:layer:shared-proxy:7";

  it("references an existing layer by ARN through a data source, building nothing for it", () => {
    const { parsed } = synthEnv(envWith("dev", { layers: { "runtime-proxy": { mode: "existing", type: "extension", arns: { arm64: arn }, proxyPort: 9010 } } as never }));
    const data = Object.entries(parsed.data?.aws_lambda_layer_version ?? {});
    expect(data.map(([, d]) => d)).toEqual([expect.objectContaining({ layer_name: "arn:aws:lambda:eu-west-1:123456789012:layer:shared-proxy", version: 7 })]);
    expect(functionNamed(parsed, "lambdaship-dev-backend")).toMatchObject({ layers: [`\${data.aws_lambda_layer_version.${data[0][0]}.arn}`] });
    expect(env(functionNamed(parsed, "lambdaship-dev-backend")).LAMBDASHIP_RUNTIME_API_PROXY).toBe("127.0.0.1:9010");
    expect(Object.keys(resourcesOf(parsed, "terraform_data")).some((k) => k.includes("runtime-proxy"))).toBe(false);
  });

  it("refuses a function on an architecture the existing layer has no version for, naming the field and the fix", () => {
    expect(() => synthEnv(envWith("dev", { layers: { "runtime-proxy": { mode: "existing", type: "extension", arns: { x86_64: arn } } } as never }))).toThrow(
      `envs/dev.ts: layers.runtime-proxy.arns is {"x86_64":"${arn}"}; lambdaship-dev-backend runs on arm64, and this layer names no arm64 version; add arns.arm64 (a layer built for arm64)`,
    );
  });

  it("refuses a dependency layer of another runtime", () => {
    expect(() => synthEnv(envWith("dev", { functions: { backend: { layers: ["websocket-deps"] } } } as never))).toThrow(
      "envs/dev.ts: functions.backend.layers includes websocket-deps, which holds packages for python3.12, and lambdaship-dev-backend runs provided.al2023; use a layer built for provided.al2023",
    );
  });

  it("refuses a layer folder that does not exist, at synth, naming the field", () => {
    expect(() => synthEnv(envWith("dev", { layers: { "websocket-deps": { mode: "create", type: "dependencies", source: "lambda-src/layers/nope", runtime: "python3.12", upload: "direct" } } as never }))).toThrow(
      `envs/dev.ts: layers.websocket-deps.source is "lambda-src/layers/nope"; layer folder ${path.join(PROJECT_ROOT, "lambda-src/layers/nope")} does not exist`,
    );
  });

  it("refuses, at synth, a function whose layers are known to pass 250 MB unzipped, naming the layer and its size", () => {
    const cache = fs.mkdtempSync(path.join(os.tmpdir(), "lambdaship-layer-cache-"));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lambdaship-big-layer-"));
    fs.writeFileSync(path.join(dir, "requirements.txt"), "numpy==2.3.5\nscipy==1.16.3\n");
    const plan = planLayer({ name: "big", kind: "dependencies", dir, runtime: "python3.12" }, "arm64");
    // A build on this machine recorded its size in the store (a real one would take minutes).
    fs.mkdirSync(path.join(cache, "layer-artifacts"), { recursive: true });
    fs.writeFileSync(path.join(cache, "layer-artifacts", plan.zipName), "zip");
    fs.writeFileSync(path.join(cache, "layer-artifacts", `${plan.zipName}.unzipped`), String(262 * 1024 * 1024));
    const saved = process.env.LAMBDASHIP_CACHE;
    process.env.LAMBDASHIP_CACHE = cache;
    try {
      expect(() =>
        synthEnv(envWith("dev", { ...pythonWebsocket(["big"]), layers: { big: { mode: "create", type: "dependencies", source: dir, runtime: "python3.12", upload: "s3" } } } as never)),
      ).toThrow(/^envs\/dev\.ts: functions\.websocket\.layers is \["big"\]; lambdaship-dev-websocket is (its own package [\d.]+ MB \+ )?layer big 262\.0 MB = 262\.0 MB unzipped, over Lambda's 250 MB limit/);
    } finally {
      if (saved === undefined) delete process.env.LAMBDASHIP_CACHE;
      else process.env.LAMBDASHIP_CACHE = saved;
    }
  });
});
