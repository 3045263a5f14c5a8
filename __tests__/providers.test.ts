import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import {
  derivedHeader,
  formatLockFile,
  hostOverride,
  parseLockFile,
  probeRegistry,
  providerSourceSetting,
  readCommittedLocks,
  restoreLocks,
  userCliConfig,
  withRegistryHost,
} from "../lib/providers";
import { PROJECT_ROOT } from "./helpers";

const LOCK = `# This file is maintained automatically by "terraform init".

provider "registry.terraform.io/hashicorp/aws" {
  version     = "6.25.0"
  constraints = ">= 6.25.0, < 7.0.0"
  hashes = [
    "h1:abc=",
    "zh:0123",
  ]
}
`;

describe("lock files", () => {
  test("parse and format round-trip what the engines write", () => {
    const parsed = parseLockFile(LOCK);
    expect(parsed).toEqual([{ address: "registry.terraform.io/hashicorp/aws", version: "6.25.0", constraints: ">= 6.25.0, < 7.0.0", hashes: ["h1:abc=", "zh:0123"] }]);
    expect(parseLockFile(formatLockFile(parsed, ["a header"]))).toEqual(parsed);
    expect(withRegistryHost(parsed, "registry.opentofu.org")[0].address).toBe("registry.opentofu.org/hashicorp/aws");
  });

  test("a block without a version names the file and the fix", () => {
    expect(() => parseLockFile('provider "registry.terraform.io/hashicorp/aws" {\n  hashes = []\n}\n', "stacks/x/.terraform.lock.hcl")).toThrow(
      'stacks/x/.terraform.lock.hcl: the block for registry.terraform.io/hashicorp/aws has no version; write version = "<x.y.z>" (or run npm run providers -- lock)',
    );
  });

  test("every stack of this repository has a committed lock, and they pin the same aws version", () => {
    const locks = readCommittedLocks(PROJECT_ROOT, ["lambdaship-dev", "lambdaship-staging", "lambdaship-prod", "lambdaship-local"]);
    const versions = new Set([...locks.values()].map((l) => l.providers.map((p) => `${p.address} ${p.version}`).join()));
    expect([...versions]).toEqual(["registry.terraform.io/hashicorp/aws 6.25.0"]);
  });

  test("a missing committed lock is named with the fix", () => {
    expect(() => readCommittedLocks(PROJECT_ROOT, ["lambdaship-nope"])).toThrow("stacks/lambdaship-nope/.terraform.lock.hcl is missing: copy another stack's lock file there");
  });

  test("restore copies the derived lock into the stack folder, and refuses one derived from an older committed file", () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "locks-"));
    const committed = path.join(root, "stacks", "s", ".terraform.lock.hcl");
    fs.mkdirSync(path.dirname(committed), { recursive: true });
    fs.writeFileSync(committed, LOCK);
    const derived = path.join(root, ".build", "locks", "s.terraform.lock.hcl");
    fs.mkdirSync(path.dirname(derived), { recursive: true });
    fs.writeFileSync(derived, formatLockFile(parseLockFile(LOCK), derivedHeader("registry", { file: committed, text: LOCK }, root)));
    const out = path.join(root, "cdktf.out", "stacks");
    fs.mkdirSync(path.join(out, "s"), { recursive: true });
    restoreLocks(root, out, ["s", "other"], { s: derived });
    expect(fs.readFileSync(path.join(out, "s", ".terraform.lock.hcl"), "utf8")).toBe(fs.readFileSync(derived, "utf8"));
    fs.appendFileSync(committed, "# edited\n");
    expect(() => restoreLocks(root, out, ["s"], { s: derived })).toThrow("stacks/s/.terraform.lock.hcl changed since npm run setup derived .build/locks/s.terraform.lock.hcl from it: run npm run setup");
  });
});

describe("where providers come from", () => {
  test("LAMBDASHIP_PROVIDER_SOURCE is auto, registry or build", () => {
    expect(providerSourceSetting({})).toBe("auto");
    expect(providerSourceSetting({ LAMBDASHIP_PROVIDER_SOURCE: "build" })).toBe("build");
    expect(() => providerSourceSetting({ LAMBDASHIP_PROVIDER_SOURCE: "mirror" })).toThrow('LAMBDASHIP_PROVIDER_SOURCE is "mirror"; use auto');
  });

  test("a CLI config's host block names the providers API", () => {
    const config = 'credentials "app.terraform.io" {\n  token = "x"\n}\nhost "registry.terraform.io" {\n  services = {\n    "providers.v1" = "http://127.0.0.1:1/v1/providers/"\n  }\n}\n';
    expect(hostOverride(config, "registry.terraform.io")).toBe("http://127.0.0.1:1/v1/providers/");
    expect(hostOverride(config, "registry.opentofu.org")).toBeUndefined();
  });

  test("the user's CLI config is TF_CLI_CONFIG_FILE unless it is one setup wrote", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cli-"));
    const own = path.join(dir, "tf", "cli-registry.tfrc");
    const theirs = path.join(dir, "mine.tfrc");
    fs.mkdirSync(path.dirname(own), { recursive: true });
    fs.writeFileSync(own, "ours");
    fs.writeFileSync(theirs, "theirs");
    expect(userCliConfig({ TF_CLI_CONFIG_FILE: theirs }, path.join(dir, "tf"))).toEqual({ file: theirs, text: "theirs" });
    expect(userCliConfig({ TF_CLI_CONFIG_FILE: own }, path.join(dir, "tf")).text).not.toBe("ours");
  });

  test("the probe says whether the providers API answers, fast when nothing listens", async () => {
    const server = http.createServer((req, res) => {
      res.statusCode = req.url === "/v1/providers/hashicorp/aws/versions" ? 200 : 404;
      res.end('{"versions":[]}');
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    try {
      const config = (p: number) => `host "registry.terraform.io" {\n  services = {\n    "providers.v1" = "http://127.0.0.1:${p}/v1/providers/"\n  }\n}\n`;
      expect(await probeRegistry("registry.terraform.io/hashicorp/aws", config(port))).toEqual({ reachable: true, detail: `http://127.0.0.1:${port}/v1/providers/hashicorp/aws/versions` });
      expect(await probeRegistry("registry.terraform.io/hashicorp/nope", config(port))).toMatchObject({ reachable: false, detail: expect.stringContaining("answered 404") });
      const closed = http.createServer();
      await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
      const closedPort = (closed.address() as AddressInfo).port;
      await new Promise((r) => closed.close(r));
      const started = Date.now();
      expect(await probeRegistry("registry.terraform.io/hashicorp/aws", config(closedPort))).toMatchObject({ reachable: false, detail: expect.stringContaining("ECONNREFUSED") });
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      server.close();
    }
  });
});
