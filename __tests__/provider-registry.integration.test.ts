import { execFileSync, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { which } from "../build/util";
import { readToolchain, Toolchain } from "../lib/toolchain";
import { parseLockFile } from "../lib/providers";
import { run } from "./e2e/workspace";
import { PROJECT_ROOT } from "./helpers";

/**
 * The registry path of `npm run setup`, against a local stand-in for the public registry (none is
 * reachable here): the provider registry protocol on loopback, serving the provider setup built,
 * its SHA256SUMS signed with a throwaway GnuPG key, reached through a `host` override in a test-only
 * CLI config. A copy of the project records the registry's hashes (npm run providers -- lock), setup
 * installs from it and builds nothing, init verifies against the lock, and tampered packages are
 * refused.
 */
jest.setTimeout(10 * 60 * 1000);

const TYPE = "aws";

interface Registry {
  readonly base: string;
  readonly dir: string;
  readonly version: string;
  readonly zip: string;
  /** Writes SHA256SUMS for the zip as it is now and signs it with `keyId` (the registry's key unless given). */
  sign(keyId?: string): void;
  keyId: string;
  readonly requests: string[];
  close(): Promise<void>;
}

function gpg(home: string, args: string[], input?: string): string {
  return execFileSync("gpg", ["--homedir", home, "--batch", "--no-tty", "--pinentry-mode", "loopback", "--passphrase", "", ...args], { encoding: "utf8", input, stdio: ["pipe", "pipe", "pipe"] });
}

function newKey(home: string, name: string): string {
  gpg(home, ["--quick-gen-key", `${name} <test@example.invalid>`, "rsa2048", "sign", "never"]);
  const line = gpg(home, ["--list-keys", "--with-colons", name]).split("\n").find((l) => l.startsWith("pub:"));
  return (line as string).split(":")[4];
}

/** The provider binary setup installed (the source build's mirror, or the registry's plugin cache). */
function providerBinary(t: Toolchain): { file: string; version: string } {
  const roots = [t.mirror, path.join(path.dirname(t.cliConfigFile), "plugin-cache-registry")].filter((r): r is string => Boolean(r) && fs.existsSync(r as string));
  for (const root of roots) {
    const found = spawnSync("find", [root, "-name", `terraform-provider-${TYPE}_v*`, "-type", "f"], { encoding: "utf8" }).stdout.split("\n").filter(Boolean);
    if (found.length) return { file: found[0], version: /_v(\d+\.\d+\.\d+)/.exec(path.basename(found[0]))?.[1] as string };
  }
  throw new Error(`no terraform-provider-${TYPE} binary in ${roots.join(" or ")}: run npm run setup`);
}

async function startRegistry(dir: string, binary: { file: string; version: string }, gnupg: string): Promise<Registry> {
  const { version } = binary;
  const files = path.join(dir, "files");
  fs.mkdirSync(files, { recursive: true });
  const zipName = `terraform-provider-${TYPE}_${version}_linux_amd64.zip`;
  const zip = path.join(files, zipName);
  const sums = path.join(files, `terraform-provider-${TYPE}_${version}_SHA256SUMS`);
  // Stored, not deflated: the provider is hundreds of MB and the test is about the protocol.
  execFileSync("python3", ["-c", "import sys,zipfile\nz=zipfile.ZipFile(sys.argv[1],'w',zipfile.ZIP_STORED)\ni=zipfile.ZipInfo(sys.argv[3]);i.external_attr=0o755<<16\nz.writestr(i,open(sys.argv[2],'rb').read());z.close()", zip, binary.file, path.basename(binary.file)]);
  const requests: string[] = [];
  const keys = new Map<string, string>();
  const registry: Registry = {
    base: "",
    dir,
    version,
    zip,
    requests,
    keyId: newKey(gnupg, "lambdaship test registry"),
    sign(keyId = registry.keyId) {
      const sha = crypto.createHash("sha256").update(fs.readFileSync(zip)).digest("hex");
      fs.writeFileSync(sums, `${sha}  ${zipName}\n`);
      fs.rmSync(`${sums}.sig`, { force: true });
      gpg(gnupg, ["--local-user", keyId, "--detach-sign", "--output", `${sums}.sig`, sums]);
      registry.keyId = keyId;
      if (!keys.has(keyId)) keys.set(keyId, gpg(gnupg, ["--armor", "--export", keyId]));
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  registry.sign();
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const json = (o: unknown) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(o));
    };
    if (req.url === `/v1/providers/hashicorp/${TYPE}/versions`) {
      return json({ versions: [{ version, protocols: ["5.0"], platforms: [{ os: "linux", arch: "amd64" }] }] });
    }
    if (req.url === `/v1/providers/hashicorp/${TYPE}/${version}/download/linux/amd64`) {
      return json({
        protocols: ["5.0"],
        os: "linux",
        arch: "amd64",
        filename: zipName,
        download_url: `${base}/files/${zipName}`,
        shasums_url: `${base}/files/${path.basename(sums)}`,
        shasums_signature_url: `${base}/files/${path.basename(sums)}.sig`,
        shasum: crypto.createHash("sha256").update(fs.readFileSync(zip)).digest("hex"),
        signing_keys: { gpg_public_keys: [{ key_id: registry.keyId, ascii_armor: keys.get(registry.keyId) }] },
      });
    }
    if (req.url?.startsWith("/files/") && fs.existsSync(path.join(files, path.basename(req.url)))) {
      res.setHeader("content-length", String(fs.statSync(path.join(files, path.basename(req.url))).size));
      if (req.method === "HEAD") return res.end();
      return fs.createReadStream(path.join(files, path.basename(req.url))).pipe(res);
    }
    res.statusCode = 404;
    res.end("{}");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return Object.assign(registry, { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
}

describe("providers from a registry (a local stand-in for the public one)", () => {
  let t: Toolchain;
  let tmp: string;
  let project: string;
  let cache: string;
  let registry: Registry;
  let cliConfig: string;
  let host: string;
  const env = () => ({ TF_CLI_CONFIG_FILE: cliConfig, LAMBDASHIP_CACHE: cache, LAMBDASHIP_PROVIDER_SOURCE: "auto", CI: "true" });
  const node = (args: string[], extra: NodeJS.ProcessEnv = {}) => run(process.execPath, ["-r", "./scripts/register.js", ...args], project, { ...env(), ...extra });

  beforeAll(async () => {
    if (!which("gpg")) throw new Error("gpg is needed to sign the local registry's checksums: apt-get install gnupg");
    t = readToolchain();
    host = t.engine.kind === "tofu" ? "registry.opentofu.org" : "registry.terraform.io";
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lambdaship-registry-"));
    project = path.join(tmp, "project");
    cache = path.join(tmp, "cache");
    const gnupg = path.join(tmp, "gnupg");
    fs.mkdirSync(gnupg, { mode: 0o700 });
    // The project's sources as a fresh clone has them; node_modules linked.
    const files = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: PROJECT_ROOT, encoding: "utf8" }).split("\0").filter(Boolean);
    for (const f of files) {
      if (!fs.existsSync(path.join(PROJECT_ROOT, f))) continue;
      fs.mkdirSync(path.dirname(path.join(project, f)), { recursive: true });
      fs.copyFileSync(path.join(PROJECT_ROOT, f), path.join(project, f));
    }
    fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(project, "node_modules"));
    // An OpenTofu built by setup is the engine's own build, not the provider: shared, not rebuilt.
    if (t.engine.kind === "tofu") {
      const bin = path.join(cache, "bin", path.basename(path.dirname(t.engine.path)), "tofu");
      fs.mkdirSync(path.dirname(bin), { recursive: true });
      fs.symlinkSync(t.engine.path, bin);
    }
    registry = await startRegistry(path.join(tmp, "registry"), providerBinary(t), gnupg);
    cliConfig = path.join(tmp, "test.tfrc");
    fs.writeFileSync(cliConfig, `host "${host}" {\n  services = {\n    "providers.v1" = "${registry.base}/v1/providers/"\n  }\n}\n`);
  }, 5 * 60 * 1000);

  afterAll(async () => {
    await registry?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  test("npm run providers -- lock records the registry's hashes in the committed lock files", async () => {
    const r = await node(["scripts/providers.ts", "lock", "--upgrade", "--platform", "linux_amd64"]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    const zipSha = crypto.createHash("sha256").update(fs.readFileSync(registry.zip)).digest("hex");
    for (const stack of ["lambdaship-dev", "lambdaship-staging", "lambdaship-prod", "lambdaship-local"]) {
      const [p] = parseLockFile(fs.readFileSync(path.join(project, "stacks", stack, ".terraform.lock.hcl"), "utf8"));
      expect(p).toMatchObject({ address: "registry.terraform.io/hashicorp/aws", version: registry.version });
      expect(p.hashes).toContain(`zh:${zipSha}`);
      expect(p.hashes.some((h) => h.startsWith("h1:"))).toBe(true);
    }
  });

  test("npm run setup installs the provider from the registry, verified, and builds nothing", async () => {
    const r = await node(["scripts/setup.ts", "--only", "engine"]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.stringContaining("provider source: the registry") });
    expect(r.stderr).toMatch(new RegExp(`provider: hashicorp/aws v${registry.version.replace(/\./g, "\\.")} \\(self-signed, key ID ${registry.keyId}\\)`));
    expect(r.stderr).not.toMatch(/go mod download|building terraform-provider|built terraform-provider/);
    expect(fs.existsSync(path.join(cache, "provider-mirror"))).toBe(false);
    expect(fs.existsSync(path.join(cache, "src"))).toBe(false);
    const recorded = JSON.parse(fs.readFileSync(path.join(project, ".build", "toolchain.json"), "utf8")) as Toolchain;
    expect(recorded.providerSource).toBe("registry");
    expect(registry.requests).toContain(`GET /files/terraform-provider-aws_${registry.version}_linux_amd64.zip`);

    // Warm: decided once, nothing downloaded again.
    const before = registry.requests.length;
    const again = await node(["scripts/setup.ts", "--only", "engine"], { LAMBDASHIP_PROVIDER_SOURCE: "" });
    expect(again.code).toBe(0);
    expect(again.stderr).toContain("as setup chose before");
    expect(registry.requests.length).toBe(before);
  });

  test("synth restores the lock into the stack, and init installs from the verified cache", async () => {
    const r = await node(["main.ts"], { LAMBDASHIP_AWS_ENDPOINT: "http://127.0.0.1:9" });
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    const stack = path.join(project, "cdktf.out", "stacks", "lambdaship-local");
    const restored = parseLockFile(fs.readFileSync(path.join(stack, ".terraform.lock.hcl"), "utf8"));
    expect(restored[0].address).toBe(`${host}/hashicorp/aws`);
    const recorded = JSON.parse(fs.readFileSync(path.join(project, ".build", "toolchain.json"), "utf8")) as Toolchain;
    const init = await run(recorded.engine.path, ["init", "-input=false", "-no-color", "-backend=false"], stack, { TF_CLI_CONFIG_FILE: recorded.cliConfigFile });
    expect({ code: init.code, out: init.stdout + init.stderr }).toEqual({ code: 0, out: expect.stringMatching(/Using hashicorp\/aws v[\d.]+ from the shared cache directory/) });
    const validate = await run(recorded.engine.path, ["validate", "-no-color"], stack, { TF_CLI_CONFIG_FILE: recorded.cliConfigFile });
    expect({ code: validate.code, out: validate.stdout + validate.stderr }).toEqual({ code: 0, out: expect.stringContaining("The configuration is valid") });

    // A pull that changes a committed lock: synth says to run setup, instead of initialising with a stale pin.
    const committed = path.join(project, "stacks", "lambdaship-local", ".terraform.lock.hcl");
    const text = fs.readFileSync(committed, "utf8");
    fs.appendFileSync(committed, "\n");
    const stale = await node(["main.ts"], { LAMBDASHIP_AWS_ENDPOINT: "http://127.0.0.1:9" });
    fs.writeFileSync(committed, text);
    expect(stale.code).not.toBe(0);
    expect(stale.stderr).toContain("stacks/lambdaship-local/.terraform.lock.hcl changed since npm run setup");
  });

  /** An init of a fresh folder pinned by the committed lock, with no cached package. */
  async function initFresh(name: string) {
    const dir = path.join(tmp, name);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, "main.tf.json"), JSON.stringify({ terraform: { required_providers: { aws: { source: "hashicorp/aws", version: registry.version } } } }));
    const lock = fs.readFileSync(path.join(project, "stacks", "lambdaship-local", ".terraform.lock.hcl"), "utf8");
    fs.writeFileSync(path.join(dir, ".terraform.lock.hcl"), lock.replace(/registry\.terraform\.io/g, host));
    return run(t.engine.path, ["init", "-input=false", "-no-color", "-backend=false"], dir, { TF_CLI_CONFIG_FILE: cliConfig });
  }

  test("a zip that does not match its signed checksums is refused", async () => {
    const original = fs.readFileSync(registry.zip);
    try {
      fs.appendFileSync(registry.zip, "tampered");
      const r = await initFresh("tampered");
      expect(r.code).not.toBe(0);
      expect(r.stdout + r.stderr).toMatch(/checksum list has unexpected\s+SHA-256 hash/);
    } finally {
      fs.writeFileSync(registry.zip, original);
    }
  });

  test("a registry that signs another zip with another key is refused by the committed lock's hashes", async () => {
    const original = fs.readFileSync(registry.zip);
    const keyId = registry.keyId;
    try {
      // Another package under the same name (bytes appended to a zip would leave its contents, which
      // the lock's h1: hash covers, the same).
      execFileSync("python3", ["-c", "import sys,zipfile\nz=zipfile.ZipFile(sys.argv[1],'w')\ni=zipfile.ZipInfo(sys.argv[2]);i.external_attr=0o755<<16\nz.writestr(i,'#!/bin/sh\\necho not the provider\\n');z.close()", registry.zip, `terraform-provider-aws_v${registry.version}_x5`]);
      registry.sign(newKey(path.join(tmp, "gnupg"), "someone else"));
      const r = await initFresh("replaced");
      expect({ code: r.code, out: r.stdout + r.stderr }).toEqual({ code: 1, out: expect.any(String) });
      expect(r.stdout + r.stderr).toMatch(/doesn't match any of the checksums\s+previously recorded in the dependency lock file/);
    } finally {
      fs.writeFileSync(registry.zip, original);
      registry.sign(keyId);
    }
  });

  test("LAMBDASHIP_PROVIDER_SOURCE=registry where no registry answers stops with the fix, and builds nothing", async () => {
    const free = http.createServer();
    await new Promise<void>((r) => free.listen(0, "127.0.0.1", r));
    const port = (free.address() as AddressInfo).port;
    await new Promise((r) => free.close(r));
    const closed = path.join(tmp, "closed.tfrc");
    fs.writeFileSync(closed, `host "${host}" {\n  services = {\n    "providers.v1" = "http://127.0.0.1:${port}/v1/providers/"\n  }\n}\n`);
    const r = await node(["scripts/setup.ts", "--only", "engine"], { TF_CLI_CONFIG_FILE: closed, LAMBDASHIP_PROVIDER_SOURCE: "registry" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`LAMBDASHIP_PROVIDER_SOURCE=registry, but the registry does not answer (http://127.0.0.1:${port}/v1/providers/: ECONNREFUSED)`);
    expect(r.stderr).toContain("set LAMBDASHIP_PROVIDER_SOURCE=build");
    expect(r.stderr).not.toMatch(/go mod download|building terraform-provider/);
  });
});
