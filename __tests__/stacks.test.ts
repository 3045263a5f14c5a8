import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { spawnSync } from "child_process";
import * as path from "path";
import { loadEnv } from "../envs";
import { envWith, fakeRustMachine, PROJECT_ROOT, synthEnv, withoutRustHashes } from "./helpers";

describe("one stack per environment", () => {
  it.each(["dev", "staging", "prod", "local"])("%s matches its snapshot", (name) => {
    const env = envWith(name, name === "local" ? { emulator: { endpoint: "http://127.0.0.1:5000" } } : undefined);
    // Rust input hashes change with every source edit; they are asserted in rust_lambda.test.ts.
    expect(withoutRustHashes(synthEnv(env).json)).toMatchSnapshot();
  });

  it("tags everything with environment, app and managed-by through the provider's default tags", () => {
    const { json } = synthEnv(envWith("dev"));
    expect(json).toHaveProviderWithProperties(AwsProvider, {
      region: "eu-west-1",
      default_tags: [{ tags: { environment: "dev", app: "lambdaship", "managed-by": "cdktf", owner: "platform", "cost-center": "dev" } }],
    });
  });

  it("keeps state in a local file by default, at a path that is the same on every machine", () => {
    const { parsed } = synthEnv(envWith("dev"));
    expect(parsed.terraform.backend).toEqual({ local: { path: "../../../terraform.lambdaship-dev.tfstate" } });
  });

  it("keeps state in S3, encrypted, one key per env, with S3 lock files, when the env names a bucket", () => {
    const { parsed } = synthEnv(envWith("staging"));
    expect(parsed.terraform.backend).toEqual({
      s3: {
        bucket: "lambdaship-terraform-state",
        key: "lambdaship/lambdaship-staging.tfstate",
        region: "eu-west-1",
        encrypt: true,
        use_lockfile: true,
      },
    });
  });

  it("accepts any aws provider 6.x from 6.25.0, the version the bindings were generated from", () => {
    const { parsed } = synthEnv(envWith("dev"));
    expect(parsed.terraform.required_providers).toEqual({ aws: { source: "aws", version: ">= 6.25.0, < 7.0.0" } });
  });

  it("points every service of the local env at the emulator, with AWS-only checks skipped", () => {
    const { parsed } = synthEnv(envWith("local", { emulator: { endpoint: "http://127.0.0.1:5999" } }));
    const [provider] = parsed.provider.aws;
    expect(provider).toMatchObject({ skip_credentials_validation: true, s3_use_path_style: true, access_key: "test" });
    const endpoints = (provider.endpoints as Array<Record<string, string>>)[0];
    for (const service of ["lambda", "iam", "sts", "dynamodb", "apigatewayv2", "cloudwatchlogs", "s3"]) {
      expect(endpoints[service]).toBe("http://127.0.0.1:5999");
    }
  });

  it("aims the local env at the local AWS npm start left running when the command gives no endpoint (npx cdktf synth)", () => {
    const saved = process.env.LAMBDASHIP_AWS_ENDPOINT;
    delete process.env.LAMBDASHIP_AWS_ENDPOINT;
    try {
      const running = { ...fakeRustMachine(), localAwsEndpoint: (root: string) => (root === PROJECT_ROOT ? "http://127.0.0.1:45678" : undefined) };
      const { parsed } = synthEnv(loadEnv("local"), { rustProbe: running });
      expect((parsed.provider.aws[0].endpoints as Array<Record<string, string>>)[0].lambda).toBe("http://127.0.0.1:45678");
      const none = synthEnv(loadEnv("local"), { rustProbe: fakeRustMachine() }).parsed;
      expect((none.provider.aws[0].endpoints as Array<Record<string, string>>)[0].lambda).toBe("http://127.0.0.1:5000");
    } finally {
      if (saved !== undefined) process.env.LAMBDASHIP_AWS_ENDPOINT = saved;
    }
  });
});

describe("addresses from before the app's functions were entries of functions", () => {
  const before = require("./fixtures/addresses-before-functions.json") as Record<string, string[]>;

  it.each(["dev", "staging", "prod", "local"])("%s: every earlier address is still there or carried by a moved block to a resource of the same type", (name) => {
    const parsed = synthEnv(envWith(name, name === "local" ? { emulator: { endpoint: "http://127.0.0.1:5000" } } : undefined)).parsed as ReturnType<typeof synthEnv>["parsed"] & { moved?: Array<{ from: string; to: string }> };
    const now = new Set(Object.entries(parsed.resource).flatMap(([type, byId]) => Object.keys(byId).map((id) => `${type}.${id}`)));
    const moved = new Map((parsed.moved ?? []).map((m) => [m.from, m.to]));
    for (const [from, to] of moved) {
      expect(now.has(to)).toBe(true);
      expect(now.has(from)).toBe(false);
      expect(to.split(".")[0]).toBe(from.split(".")[0]);
    }
    const lost = before[name].filter((address) => !now.has(address) && !moved.has(address));
    expect(lost).toEqual([]);
    // The app's functions moved (the backend, and the WebSocket handlers of dev and local, or the Python one's integration).
    expect(moved.size).toBeGreaterThanOrEqual(name === "prod" ? 7 : 11);
  });
});

describe("the app entry point", () => {
  it("synthesizes every env through the app command cdktf runs, printing only the warnings that apply", () => {
    const out = path.join(PROJECT_ROOT, ".build", "test-synth");
    const ok = spawnSync(process.execPath, ["-r", "./scripts/register.js", "main.ts"], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, CDKTF_OUTDIR: out },
      encoding: "utf8",
    });
    // This machine builds arm64 (setup installs the toolchain): the only warning is prod's referenced function.
    expect(ok.stderr.trim().split("\n")).toEqual([expect.stringMatching(/^Warning: lambdaship-prod\/fn-websocket\/function: envs\/prod\.ts: functions\.websocket: shelf-websocket-proxy is only referenced, so neither its role nor its variables are managed here; for the WebSocket routes/)]);
    expect(ok.status).toBe(0);
  });
});
