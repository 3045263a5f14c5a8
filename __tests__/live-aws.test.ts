import * as fs from "fs";
import * as http from "http";
import type { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { CreateRoleCommand, IAMClient } from "@aws-sdk/client-iam";
import { CreateFunctionCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { createZip } from "../build/zip";
import { assumeRole, AwsTarget, LOCAL_AWS_CREDENTIALS, parseIni, userCredentials } from "../lib/aws-client";
import { UsageError } from "../lib/cli";
import { deployedConfiguration, findRelay, LiveTarget, LocalHandlers, notProxiedWarning, readsRuntimeApiProxy, roleCredentials } from "../lib/live";
import { Emulator, startEmulator } from "../lib/local-aws";
import { sourceFunction } from "../lib/local-runtime";
import { signRequest } from "../runtime/sigv4";

/**
 * npm run live's AWS calls, made with no SDK (lib/aws-client.ts): the user's credentials as the AWS
 * SDKs find static ones, and against moto (the same REST and query APIs as AWS): a function's
 * deployed configuration, its role assumed, the env's relay found by name; and a function run here
 * gets the credentials it is given, not the emulator's.
 */
jest.setTimeout(120_000);

describe("the user's credentials, as the AWS SDKs find static ones", () => {
  let home: string;
  beforeEach(() => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), "aws-home-"));
    fs.mkdirSync(path.join(home, ".aws"));
  });
  afterEach(() => fs.rmSync(home, { recursive: true, force: true }));

  test("variables first, then the profile's keys in ~/.aws/credentials, then ~/.aws/config", () => {
    fs.writeFileSync(path.join(home, ".aws", "credentials"), "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = s1\n\n[dev]\naws_access_key_id=AKIDDEV\naws_secret_access_key=s2\naws_session_token=t2\n");
    fs.writeFileSync(path.join(home, ".aws", "config"), "[profile ops]\nregion = eu-west-1\naws_access_key_id = AKIDOPS\naws_secret_access_key = s3\n");
    expect(userCredentials({ AWS_ACCESS_KEY_ID: "AKIDENV", AWS_SECRET_ACCESS_KEY: "s0", AWS_SESSION_TOKEN: "t0", AWS_PROFILE: "dev" }, home)).toEqual({ accessKeyId: "AKIDENV", secretAccessKey: "s0", sessionToken: "t0", source: "AWS_ACCESS_KEY_ID" });
    expect(userCredentials({}, home)).toMatchObject({ accessKeyId: "AKIDDEFAULT", secretAccessKey: "s1", source: `profile default in ${path.join(home, ".aws", "credentials")}` });
    expect(userCredentials({ AWS_PROFILE: "dev" }, home)).toMatchObject({ accessKeyId: "AKIDDEV", sessionToken: "t2" });
    expect(userCredentials({ AWS_PROFILE: "ops" }, home)).toMatchObject({ accessKeyId: "AKIDOPS", source: `profile ops in ${path.join(home, ".aws", "config")}` });
  });

  test("a profile that gets its keys another way, and none at all, are errors that say what to do", () => {
    fs.writeFileSync(path.join(home, ".aws", "config"), "[profile sso]\nsso_session = corp\nsso_account_id = 1\n");
    const sso = () => userCredentials({ AWS_PROFILE: "sso" }, home);
    expect(sso).toThrow(UsageError);
    expect(sso).toThrow(/profile sso in .*config gets its keys through sso_session.*aws configure export-credentials --profile sso --format env/);
    expect(() => userCredentials({ AWS_PROFILE: "nobody" }, home)).toThrow(/no AWS credentials: neither AWS_ACCESS_KEY_ID nor keys of profile nobody in .*credentials or .*config; .*set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
  });

  test("ini sections: [name] and [profile name], comments, spaces", () => {
    expect(parseIni("# c\n[a]\nk = v\n; c\n[profile b] \n K=w x\n")).toEqual(new Map([["a", { k: "v" }], ["b", { k: "w x" }]]));
  });
});

test("a Rust binary that never reads LAMBDASHIP_RUNTIME_API_PROXY is named, with the lines that fix it", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lambdaship-live-bin-"));
  fs.writeFileSync(path.join(dir, "ours"), Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0]), Buffer.from("..AWS_LAMBDA_RUNTIME_API..LAMBDASHIP_RUNTIME_API_PROXY..")]));
  fs.writeFileSync(path.join(dir, "lambda_runtime_only"), Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0]), Buffer.from("..AWS_LAMBDA_RUNTIME_API..")]));
  expect(readsRuntimeApiProxy(path.join(dir, "ours"))).toBe(true);
  expect(readsRuntimeApiProxy(path.join(dir, "lambda_runtime_only"))).toBe(false);
  const line = notProxiedWarning({ key: "api", functionName: "lambdaship-dev-api", entry: { source: "x", bin: "api" } as LiveTarget["entry"] });
  expect(line).toMatch(/^api: warning: its binary does not read LAMBDASHIP_RUNTIME_API_PROXY, .* no invocation reaches this session\. Fix: .*std::env::set_var\("AWS_LAMBDA_RUNTIME_API", a\).*then deploy$/);
});

describe("against the local AWS (moto)", () => {
  let aws: Emulator;
  let target: AwsTarget;
  let roleArn: string;

  beforeAll(async () => {
    aws = await startEmulator();
    target = { region: "us-east-1", credentials: LOCAL_AWS_CREDENTIALS, endpoint: aws.endpoint };
    const clients = { region: "us-east-1", endpoint: aws.endpoint, credentials: { accessKeyId: "test", secretAccessKey: "test" } };
    const trust = { Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }] };
    roleArn = (await new IAMClient(clients).send(new CreateRoleCommand({ RoleName: "live-fn-role", AssumeRolePolicyDocument: JSON.stringify(trust) }))).Role!.Arn!;
    await new LambdaClient(clients).send(
      new CreateFunctionCommand({
        FunctionName: "app-dev-backend",
        Runtime: "python3.12",
        Handler: "app.handler",
        Role: roleArn,
        Code: { ZipFile: createZip([{ name: "app.py", data: Buffer.from("def handler(e, c):\n    return 1\n") }]) },
        Environment: { Variables: { TABLE_NAME: "items", AWS_LAMBDA_EXEC_WRAPPER: "/opt/wrapper", LAMBDASHIP_LIVE_RELAY: "wss://x/live", LAMBDASHIP_LIVE_CA_FILE: "/opt/ca.pem", LAMBDASHIP_PROXY_PORT: "9009" } },
      }),
    );
    // The env's relay: a WebSocket API named <prefix>-live with its stage (API Gateway v2's REST API, signed).
    const post = async (p: string, body: object) => {
      const url = `${aws.endpoint}${p}`;
      const text = JSON.stringify(body);
      const headers = signRequest({ method: "POST", url, headers: { "content-type": "application/json" }, body: text }, { ...LOCAL_AWS_CREDENTIALS, region: "us-east-1", service: "apigateway" });
      delete headers.host;
      return (await (await fetch(url, { method: "POST", headers, body: text })).json()) as Record<string, string>;
    };
    await post("/v2/apis", { name: "app-dev-websocket", protocolType: "WEBSOCKET", routeSelectionExpression: "$request.body.action" });
    const api = await post("/v2/apis", { name: "app-dev-live", protocolType: "WEBSOCKET", routeSelectionExpression: "$request.body.action" });
    await post(`/v2/apis/${api.apiId}/stages`, { stageName: "live" });
  });
  afterAll(async () => aws?.stop());

  test("a function's deployed configuration: its variables without the proxy's and the relay's, and its role", async () => {
    expect(await deployedConfiguration("app-dev-backend", target)).toEqual({ variables: { TABLE_NAME: "items" }, role: roleArn });
  });

  test("a function that is not deployed: Lambda's error type and message, and whose credentials asked", async () => {
    await expect(deployedConfiguration("app-dev-nothing", target)).rejects.toThrow(/app-dev-nothing\/configuration \(as the local AWS's test credentials\): ResourceNotFoundException: .*app-dev-nothing/);
  });

  test("the role assumed: temporary credentials with their expiry", async () => {
    const c = await assumeRole(roleArn, LOCAL_AWS_CREDENTIALS, { region: "us-east-1", endpoint: aws.endpoint, sessionName: "lambdaship-live-backend" });
    expect(c.accessKeyId).toMatch(/^ASIA/);
    expect(c.secretAccessKey.length).toBeGreaterThan(20);
    expect(c.sessionToken?.length).toBeGreaterThan(20);
    expect(c.expiration!.getTime()).toBeGreaterThan(Date.now() + 50 * 60_000);
    expect(c.source).toBe(`role ${roleArn}`);
    const lines: string[] = [];
    const t = { key: "backend", functionName: "app-dev-backend", entry: {} as LiveTarget["entry"] };
    expect((await roleCredentials(t, roleArn, target, (l) => lines.push(l))).accessKeyId).toMatch(/^ASIA/);
    expect(lines).toEqual([expect.stringMatching(new RegExp(`^backend: runs with the credentials of its role ${roleArn} \\(until \\d\\d:\\d\\d UTC, renewed before then\\)$`))]);
    expect(await roleCredentials(t, undefined, target, (l) => lines.push(l))).toBe(LOCAL_AWS_CREDENTIALS);
  });

  test("STS's refusal is an error with its code and message (moto lets anyone in: a stand-in answers as AWS does)", async () => {
    // STS's error document, as AWS answers a caller the role's trust policy does not name.
    const refusal = `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:iam::123456789012:user/dev is not authorized to perform: sts:AssumeRole on resource: ${roleArn}</Message></Error><RequestId>r</RequestId></ErrorResponse>`;
    const server = http.createServer((_req, res) => res.writeHead(403, { "content-type": "text/xml" }).end(refusal));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      await expect(assumeRole(roleArn, LOCAL_AWS_CREDENTIALS, { region: "us-east-1", endpoint, sessionName: "x" })).rejects.toThrow(`sts:AssumeRole ${roleArn}: AccessDenied: User: arn:aws:iam::123456789012:user/dev is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`);
      // npm run live then runs the function with the user's credentials, and says so and why.
      const lines: string[] = [];
      const t = { key: "backend", functionName: "app-dev-backend", entry: {} as LiveTarget["entry"] };
      const user = { accessKeyId: "AKIDUSER", secretAccessKey: "us", source: "AWS_ACCESS_KEY_ID" };
      expect(await roleCredentials(t, roleArn, { region: "us-east-1", credentials: user, endpoint }, (l) => lines.push(l))).toBe(user);
      expect(lines).toEqual([`backend: runs with your credentials (AWS_ACCESS_KEY_ID), not its role's: sts:AssumeRole ${roleArn}: AccessDenied: User: arn:aws:iam::123456789012:user/dev is not authorized to perform: sts:AssumeRole on resource: ${roleArn}. To run it as it runs deployed, let your principal assume ${roleArn} (its trust policy)`]);
    } finally {
      server.close();
    }
  });

  test("the relay found by name: the wss:// URL of <prefix>-live's stage", async () => {
    expect(await findRelay("app-dev", target, "dev")).toMatch(/^wss:\/\/\w+\.execute-api\.us-east-1\.amazonaws\.com\/live$/);
    await expect(findRelay("app-qa", target, "qa")).rejects.toThrow(/no API named app-qa-live in http:\/\/127\.0\.0\.1:\d+ \(as the local AWS's test credentials\): deploy qa with live.enabled first \(cdktf deploy qa\), or give --relay/);
  });

  test("a function run here gets the credentials it is given, and no endpoint when it runs against AWS", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "live-creds-"));
    fs.writeFileSync(path.join(dir, "app.py"), "def handler(event, context):\n    return 1\n");
    try {
      const role = { accessKeyId: "ASIAROLE", secretAccessKey: "rs", sessionToken: "rt", source: "role r" };
      const local = await sourceFunction({ source: dir, name: "creds-local", credentials: role, awsEndpoint: aws.endpoint, log: () => undefined });
      expect(local.runtime.env).toMatchObject({ AWS_ACCESS_KEY_ID: "ASIAROLE", AWS_SECRET_ACCESS_KEY: "rs", AWS_SESSION_TOKEN: "rt", AWS_ENDPOINT_URL: aws.endpoint });
      const user = { accessKeyId: "AKIDUSER", secretAccessKey: "us", source: "AWS_ACCESS_KEY_ID" };
      const onAws = await sourceFunction({ source: dir, name: "creds-aws", credentials: user, awsEndpoint: null, log: () => undefined });
      expect(onAws.runtime.env).toMatchObject({ AWS_ACCESS_KEY_ID: "AKIDUSER", AWS_SECRET_ACCESS_KEY: "us" });
      expect(onAws.runtime.env).not.toHaveProperty("AWS_SESSION_TOKEN");
      expect(onAws.runtime.env).not.toHaveProperty("AWS_ENDPOINT_URL");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("npm run live's handler runs with the credentials it is given, renewed (a new sandbox) when they run out within 5 minutes", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "live-renew-"));
    fs.writeFileSync(path.join(dir, "app.py"), "import os\n\ndef handler(event, context):\n    return [os.environ['AWS_ACCESS_KEY_ID'], os.environ['AWS_SESSION_TOKEN'], os.environ['TABLE_NAME']]\n");
    let n = 0;
    const lines: string[] = [];
    const entry = { source: dir, memoryMiB: 128, timeoutSeconds: 10 } as unknown as LiveTarget["entry"];
    const handlers = new LocalHandlers([{ key: "f", functionName: "live-f", entry }], {
      region: "us-east-1",
      variables: new Map([["live-f", { TABLE_NAME: "items" }]]),
      credentials: async () => ({ accessKeyId: `ASIA${++n}`, secretAccessKey: "s", sessionToken: `t${n}`, expiration: new Date(Date.now() + (n === 1 ? 60 * 60_000 : 60_000)), source: "role r" }),
      awsEndpoint: aws.endpoint,
      log: (l) => lines.push(l),
    });
    try {
      const call = async () => JSON.parse((await handlers.handle("live-f", Buffer.from("{}"), {})).payload.toString()) as string[];
      expect(await call()).toEqual(["ASIA1", "t1", "items"]);
      expect(await call()).toEqual(["ASIA1", "t1", "items"]);
      // The second credentials run out in a minute: each invocation renews them.
      fs.appendFileSync(path.join(dir, "app.py"), "\n# edited\n");
      expect(await call()).toEqual(["ASIA2", "t2", "items"]);
      expect(await call()).toEqual(["ASIA3", "t3", "items"]);
      expect(lines).toContain("f: its credentials run out within 5 minutes: renewing them (a new sandbox)");
    } finally {
      await handlers.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
