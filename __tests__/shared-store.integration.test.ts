import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { binsFromMetadata, cargoMetadata, chooseToolchain, fetchFromSharedStore, functionHashes } from "../build/rust";
import { openSharedStore, sha256Hex } from "../build/shared-store";
import { buildRustFunctionsUpFront, run, sdkConfig, Workspace } from "./e2e/workspace";

/**
 * The shared artifact store (an env's `artifacts.cache`) against the local AWS's S3, with two clones
 * of the project: the first one's builder uploads what it has, the second one's, with an empty
 * machine store, fetches it, verified, and compiles nothing. Objects that do not verify (corrupt,
 * partial) are ignored, so the builder builds instead.
 */
jest.setTimeout(20 * 60 * 1000);

const BUCKET = "lambdaship-build-cache";
const BUILDER = /^rust_builder-arm64_[0-9A-F]+$/;

describe("a shared artifact store in S3, used by two clones", () => {
  let a: Workspace;
  let b: Workspace;
  let s3: S3Client;
  const emptyStore = () => fs.mkdtempSync(path.join(os.tmpdir(), "lambdaship-empty-store-"));

  /** Synthesizes the clone's local stack with the shared store on, and runs one builder's command as the apply does. */
  async function runRustBuilder(ws: Workspace, env: NodeJS.ProcessEnv = {}, builder = BUILDER) {
    ws.patchLocalEnv({ artifacts: { cache: { bucket: BUCKET } } });
    await ws.synthOrThrow();
    const stack = JSON.parse(fs.readFileSync(path.join(ws.stackDir, "cdk.tf.json"), "utf8")) as { resource: { terraform_data: Record<string, { provisioner: Array<{ "local-exec": { command: string; working_dir: string } }> }> } };
    const id = Object.keys(stack.resource.terraform_data).find((k) => builder.test(k)) as string;
    const exec = stack.resource.terraform_data[id].provisioner[0]["local-exec"];
    expect(exec.command).toContain(`--shared-store s3://${BUCKET}/lambdaship-cache --shared-store-region us-east-1 --shared-store-endpoint ${ws.emulator.endpoint}`);
    return run("sh", ["-c", exec.command], path.resolve(ws.stackDir, exec.working_dir), env);
  }

  beforeAll(async () => {
    await buildRustFunctionsUpFront(); // the machine's store has them (warm, a skip)
    a = await Workspace.create();
    b = await Workspace.create(a);
    s3 = new S3Client(sdkConfig(a));
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  }, 45 * 60 * 1000);

  afterAll(async () => {
    await b?.dispose({ keepEmulator: true });
    await a?.dispose();
  });

  test("the first clone uploads; the second fetches every function, verified, and compiles nothing", async () => {
    const first = await runRustBuilder(a);
    expect({ code: first.code, stderr: first.stderr }).toEqual({ code: 0, stderr: expect.stringContaining("shared store: uploaded s3://") });
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }));
    const keys = (listed.Contents ?? []).map((o) => o.Key as string);
    const bins = binsFromMetadata(cargoMetadata(path.join(a.root, "lambda-src", "rust"))).map((f) => f.name);
    for (const bin of bins) expect(keys.some((k) => k.startsWith(`lambdaship-cache/rust/aarch64-unknown-linux-gnu/${bin}/`))).toBe(true);

    const second = await runRustBuilder(b, { LAMBDASHIP_ARTIFACT_STORE: emptyStore() });
    expect({ code: second.code, stderr: second.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    for (const bin of bins) expect(second.stderr).toMatch(new RegExp(`${bin}: inputs unchanged since a build elsewhere; fetched from s3://${BUCKET}/lambdaship-cache/rust/\\S+ \\(\\d+ bytes, verified\\)`));
    expect(second.stderr).not.toContain("cargo build");
    expect(second.stderr).not.toContain("uploaded");
    for (const bin of bins) {
      const zipOf = (ws: Workspace) => {
        const dir = path.join(ws.root, "lambda-src", "rust", "target", "lambda", bin);
        return fs.readFileSync(path.join(dir, fs.readdirSync(dir).find((f) => f.endsWith(".zip")) as string));
      };
      expect(sha256Hex(zipOf(b))).toBe(sha256Hex(zipOf(a)));
    }
  });

  test("layers and functions go through the same store", async () => {
    const layer = /^layers_websocket-deps_builder_[0-9A-F]+$/;
    const fn = /^fn-report_builder_[0-9A-F]+$/;
    for (const builder of [layer, fn]) {
      const first = await runRustBuilder(a, {}, builder);
      expect({ code: first.code, stderr: first.stderr }).toEqual({ code: 0, stderr: expect.stringContaining("shared store: uploaded s3://") });
      const second = await runRustBuilder(b, { LAMBDASHIP_ARTIFACT_STORE: emptyStore() }, builder);
      expect({ code: second.code, stderr: second.stderr }).toEqual({ code: 0, stderr: expect.stringMatching(/inputs unchanged since a build elsewhere; fetched from s3:\/\/\S+ \(\d+ bytes, verified\)/) });
      expect(second.stdout).toMatch(/\bcached\b/);
    }
  });

  test("a corrupt or partial object is ignored (the builder builds instead), never put in the machine's store", async () => {
    const workspace = path.join(a.root, "lambda-src", "rust");
    const fns = binsFromMetadata(cargoMetadata(workspace)).filter((f) => f.name === "ws-connect");
    const toolchain = chooseToolchain("arm64", true).toolchain;
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: "lambdaship-cache/rust/aarch64-unknown-linux-gnu/ws-connect/" }));
    const key = listed.Contents?.[0]?.Key as string;
    const original = Buffer.from(await ((await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
    const metadata = { sha256: sha256Hex(original), length: String(original.length) };
    const flipped = Buffer.from(original);
    flipped[Math.floor(flipped.length / 2)] ^= 0xff;
    const cases: Array<[string, Buffer, RegExp]> = [
      ["corrupt", flipped, /corrupt or replaced/],
      ["partial", original.subarray(0, original.length - 100), /partial/],
    ];
    for (const [, body, why] of cases) {
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body, Metadata: metadata }));
      const lines: string[] = [];
      const store = emptyStore();
      const shared = await openSharedStore({ url: `s3://${BUCKET}/lambdaship-cache`, region: "us-east-1", endpoint: a.emulator.endpoint, log: (l) => lines.push(l) });
      const workspaceCopy = fs.mkdtempSync(path.join(os.tmpdir(), "lambdaship-ws-"));
      const fetched = await fetchFromSharedStore(
        { workspaceDir: workspaceCopy, functions: fns, toolchain, hashes: functionHashes(cargoMetadata(workspace), fns, toolchain.target), cargoTargetDir: os.tmpdir(), artifactCache: store, log: (l) => lines.push(l) },
        shared,
      );
      expect(fetched).toEqual([]);
      expect(lines.join("\n")).toMatch(why);
      expect(lines.join("\n")).toContain("building instead");
      expect(fs.readdirSync(store)).toEqual([]);
    }
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: original, Metadata: metadata }));
  });

  test("a bucket that is not there is one line, and the build goes on", async () => {
    const lines: string[] = [];
    const shared = await openSharedStore({ url: "s3://no-such-bucket-here/x", region: "us-east-1", endpoint: a.emulator.endpoint, log: (l) => lines.push(l), setting: "artifacts.cache in envs/local.ts" });
    expect(await shared.get("k")).toBeUndefined();
    await shared.put("k", Buffer.from("x"));
    expect(lines).toEqual([expect.stringMatching(/^shared store s3:\/\/no-such-bucket-here\/x: a download failed \(NoSuchBucket: .*\); building without it\. .*or remove artifacts\.cache in envs\/local\.ts\.$/)]);
  });
});
