import { loadEnv, loadAllEnvs, ENV_NAMES } from "../envs";
import { validateEnv } from "../envs/schema";
import { ConfigError } from "../modules/errors";
import dev from "../envs/dev";

/** GIVEN dev's config with one change, WHEN validated, THEN the error lines. */
function problemsOf(patch: (env: any) => void, file = "envs/dev.ts"): string[] {
  const raw = JSON.parse(JSON.stringify(dev));
  patch(raw);
  try {
    validateEnv(raw, file, "dev");
  } catch (e) {
    if (e instanceof ConfigError) return [...e.problems];
    throw e;
  }
  return [];
}

describe("environment config validation", () => {
  it("accepts every env in envs/", () => {
    expect(loadAllEnvs().map((e) => e.name)).toEqual([...ENV_NAMES]);
  });

  it.each([
    ["memory above Lambda's limit", (e: any) => (e.functions.backend.memoryMiB = 99999),
      "envs/dev.ts: functions.backend.memoryMiB is 99999; Lambda allows 128-10240 MiB"],
    ["memory below Lambda's limit", (e: any) => (e.functions.backend.memoryMiB = 64),
      "envs/dev.ts: functions.backend.memoryMiB is 64; Lambda allows 128-10240 MiB"],
    ["a timeout of 0", (e: any) => (e.functions.backend.timeoutSeconds = 0),
      "envs/dev.ts: functions.backend.timeoutSeconds is 0; Lambda allows 1-900 seconds"],
    ["a timeout over 15 minutes", (e: any) => (e.functions.backend.timeoutSeconds = 901),
      "envs/dev.ts: functions.backend.timeoutSeconds is 901; Lambda allows 1-900 seconds"],
    ["an invalid function name", (e: any) => (e.functions.backend.deployment = { mode: "existing", functionName: "my function!" }),
      `envs/dev.ts: functions.backend.deployment.functionName is "my function!"; Lambda function names are 1-64 characters of A-Z, a-z, 0-9, '-' and '_'`],
    ["a function name over 64 characters", (e: any) => (e.functions.backend.deployment = { mode: "import", functionName: "f".repeat(65) }),
      "envs/dev.ts: functions.backend.deployment.functionName is"],
    ["an unknown mode", (e: any) => (e.functions.backend.deployment = { mode: "adopt" }),
      `envs/dev.ts: functions.backend.deployment.mode is "adopt"; mode must be "create", "existing" or "import"`],
    ["existing mode without a name", (e: any) => (e.functions.backend.deployment = { mode: "existing" }),
      "envs/dev.ts: functions.backend.deployment.functionName is missing; it is required (string)"],
    ["an unknown policy template", (e: any) => (e.functions.backend.policies = [{ template: "s3-admin", buckets: ["b-1"] }]),
      `envs/dev.ts: functions.backend.policies[0].template is "s3-admin"; template must be one of dynamodb-read, dynamodb-read-write, s3-read`],
    ["a bucket name S3 refuses", (e: any) => (e.functions.backend.policies = [{ template: "s3-read", buckets: ["My_Bucket"] }]),
      `envs/dev.ts: functions.backend.policies[0].buckets[0] is "My_Bucket"; bucket names are 3-63 lowercase letters`],
    ["a policy template on no resource", (e: any) => (e.functions.backend.policies = [{ template: "sns-publish", topics: [] }]),
      "envs/dev.ts: functions.backend.policies[0].topics is []; name at least one topic"],
    ["an unknown URL auth type", (e: any) => (e.functions.backend.url = { authType: "PUBLIC" }),
      `envs/dev.ts: functions.backend.url.authType is "PUBLIC"; authType is "AWS_IAM" (the default) or "NONE" (public)`],
    ["CORS credentials for any origin", (e: any) => (e.functions.backend.url = { authType: "NONE", cors: { allowOrigins: ["*"], allowCredentials: true } }),
      `envs/dev.ts: functions.backend.url.cors.allowOrigins is ["*"]; browsers refuse credentials with origin "*"`],
    ["a route naming no function", (e: any) => (e.websocket.routes = { other: "nope" }),
      `envs/dev.ts: websocket.routes.other is "nope"; no function with the key nope in functions (the env has orders-api, report, greeter, inventory, backend, ws-connect`],
    ["a route key API Gateway refuses", (e: any) => (e.websocket.routes = { "send message": "ws-broadcast" }),
      `envs/dev.ts: websocket.routes.send message is "ws-broadcast"; the route key "send message" is not one API Gateway takes: use $connect, $disconnect, $default or a name of 1-128 letters, digits, '-' and '_'`],
    ["a built-in route left out", (e: any) => delete e.functions["ws-disconnect"].triggers,
      "envs/dev.ts: websocket.routes is"],
    ["a backend naming no function", (e: any) => (e.backend.function = "api"),
      `envs/dev.ts: backend.function is "api"; no function with the key api in functions`],
    ["a log retention CloudWatch does not offer", (e: any) => (e.logRetentionDays = 10),
      "envs/dev.ts: logRetentionDays is 10; CloudWatch Logs accepts 1, 3, 5, 7, 14, 30"],
    ["an invalid region", (e: any) => (e.region = "europe"),
      `envs/dev.ts: region is "europe"; an AWS region such as eu-west-1`],
    ["a reserved environment variable", (e: any) => (e.functions.backend.environment = { AWS_REGION: "x" }),
      `envs/dev.ts: functions.backend.environment.AWS_REGION is "x"; AWS_REGION is reserved by Lambda's runtime`],
    ["environment variables over 4 KB", (e: any) => (e.functions.backend.environment = { BIG: "x".repeat(4094) }),
      "envs/dev.ts: functions.backend.environment is {\"BIG\":"],
    ["a non-string environment value", (e: any) => (e.functions.backend.environment = { PORT: 8080 }),
      "envs/dev.ts: functions.backend.environment.PORT is 8080; expected string"],
    ["a name prefix that would make names over 64", (e: any) => (e.namePrefix = "p".repeat(41)),
      "envs/dev.ts: namePrefix is"],
    ["an unknown architecture", (e: any) => (e.functions.backend.architecture = "arm"),
      `envs/dev.ts: functions.backend.architecture is "arm"; Lambda runs arm64 or x86_64`],
    ["three async retries", (e: any) => (e.functions.backend.async = { retries: 3 }),
      "envs/dev.ts: functions.backend.async.retries is 3; Lambda allows 0-2 retries"],
    ["an async event age under a minute", (e: any) => (e.functions.backend.async = { maxEventAgeSeconds: 30 }),
      "envs/dev.ts: functions.backend.async.maxEventAgeSeconds is 30; Lambda allows 60-21600 seconds"],
    ["negative reserved concurrency", (e: any) => (e.functions.backend.reservedConcurrency = -1),
      "envs/dev.ts: functions.backend.reservedConcurrency is -1; 0 stops all invocations; leave it out for unreserved"],
    ["a misspelt field", (e: any) => (e.functions.backend.memoryMb = 512),
      "envs/dev.ts: functions.backend is"],
    ["a layer the env does not define", (e: any) => (e.functions.backend.layers = ["nope"]),
      `envs/dev.ts: functions.backend.layers[0] is "nope"; no layer named nope in layers (the env has websocket-deps, runtime-proxy); add it under layers or remove it here`],
    ["more than 5 layers", (e: any) => {
      for (const n of ["a", "b", "c", "d", "e", "f"]) e.layers[n] = { mode: "existing", type: "extension", arns: { arm64: `arn:aws:lambda:eu-west-1:123456789012:layer:${n}:1` } };
      e.functions.backend.layers = ["a", "b", "c", "d", "e", "f"];
    },
      "envs/dev.ts: functions.backend.layers is [\"a\",\"b\",\"c\",\"d\",\"e\",\"f\"]; Lambda allows 5 layers per function"],
    ["a dependency layer without its runtime", (e: any) => delete e.layers["websocket-deps"].runtime,
      "envs/dev.ts: layers.websocket-deps.runtime is missing; a dependency layer names the runtime it is installed for, e.g. python3.12"],
    ["a layer ARN without a version", (e: any) => (e.layers["runtime-proxy"] = { mode: "existing", type: "extension", proxyPort: 9009, arns: { arm64: "arn:aws:lambda:eu-west-1:123456789012:layer:proxy" } }),
      `envs/dev.ts: layers.runtime-proxy.arns.arm64 is "arn:aws:lambda:eu-west-1:123456789012:layer:proxy"; a layer version ARN: arn:aws:lambda:<region>:<account>:layer:<name>:<version>`],
    ["an unknown upload", (e: any) => (e.layers["websocket-deps"].upload = "ftp"),
      `envs/dev.ts: layers.websocket-deps.upload is "ftp"; upload is "direct" (at most 50 MB zipped) or "s3"`],
    ["an HTTP route that is not METHOD /path", (e: any) => (e.functions.greeter.triggers = { http: ["GET items"] }),
      `envs/dev.ts: functions.greeter.triggers.http[0] is "GET items"; a route is METHOD /path, e.g. "GET /items/{id}"`],
    ["a method HTTP APIs do not route", (e: any) => (e.functions.greeter.triggers = { http: [{ route: "FETCH /x" }] }),
      `envs/dev.ts: functions.greeter.triggers.http[0].route is "FETCH /x"; FETCH is not a method HTTP APIs route`],
    ["a greedy parameter before the end", (e: any) => (e.functions.greeter.triggers = { http: ["GET /{proxy+}/x"] }),
      "the greedy parameter {proxy+} must be the path's last segment"],
    ["two functions on one HTTP route", (e: any) => (e.functions.greeter.triggers = { http: ["POST /orders"] }),
      `envs/dev.ts: functions.greeter.triggers.http[0] is "POST /orders"; functions.orders-api already serves POST /orders; one function per route`],
    ["the same route with another parameter name", (e: any) => (e.functions.greeter.triggers = { http: ["GET /health/{x}"] }, e.functions.inventory.triggers = { http: ["GET /health/{y}"] }),
      "functions.greeter already serves GET /health/{y}"],
    ["a JWT route without an authorizer", (e: any) => (e.functions.greeter.triggers = { http: [{ route: "GET /me", auth: "JWT" }] }),
      "a JWT route needs the env's authorizer: set httpApi.jwt { issuer, audiences }"],
    ["an invalid schedule expression", (e: any) => (e.functions.greeter.triggers = { schedule: [{ expression: "every 5 minutes" }] }),
      `envs/dev.ts: functions.greeter.triggers.schedule[0].expression is "every 5 minutes"; a schedule is rate(<n> minutes|hours|days), cron(<6 fields>) or at(yyyy-mm-ddThh:mm:ss)`],
    ["a rate with a singular unit above 1", (e: any) => (e.functions.greeter.triggers = { schedule: [{ expression: "rate(5 minute)" }] }),
      "write rate(5 minutes): the unit is plural above 1"],
    ["a cron with both day fields set", (e: any) => (e.functions.greeter.triggers = { schedule: [{ expression: "cron(0 12 * * * *)" }] }),
      "exactly one of day-of-month (3rd field) and day-of-week (5th) is ?"],
    ["a cron hour out of range", (e: any) => (e.functions.greeter.triggers = { schedule: [{ expression: "cron(0 25 * * ? *)" }] }),
      `the hours field "25" is not valid`],
    ["a batch over a FIFO queue's limit", (e: any) => (e.functions.greeter.triggers = { sqs: [{ queue: "jobs.fifo", batchSize: 20, batchingWindowSeconds: 5 }] }),
      "envs/dev.ts: functions.greeter.triggers.sqs[0].batchSize is 20; Lambda takes at most 10 messages per batch from a FIFO queue"],
    ["a batch over 10 without a batching window", (e: any) => (e.functions.greeter.triggers = { sqs: [{ queue: "jobs", batchSize: 100 }] }),
      "a batch over 10 messages needs batchingWindowSeconds of at least 1"],
    ["a created queue given by ARN", (e: any) => (e.functions.greeter.triggers = { sqs: [{ queue: "arn:aws:sqs:eu-west-1:123456789012:jobs", create: {} }] }),
      "a queue created here is named, not given by ARN"],
    ["a visibility timeout under the function's timeout", (e: any) => (e.functions.report.triggers.sqs[0].create.visibilityTimeoutSeconds = 30),
      "envs/dev.ts: functions.report.triggers.sqs[0].create.visibilityTimeoutSeconds is 30; Lambda refuses a queue whose visibility timeout is under the function's timeout (60 s)"],
    ["two functions on one WebSocket route", (e: any) => (e.functions.greeter.triggers = { websocket: ["sendmessage"] }),
      `envs/dev.ts: functions.ws-broadcast.triggers.websocket[0] is "sendmessage"; functions.greeter already serves the WebSocket route sendmessage; one function per route`],
    ["a live layer that is not a Runtime API proxy", (e: any) => (e.live.layer = "websocket-deps"),
      `envs/dev.ts: live.layer is "websocket-deps"; websocket-deps is not a Runtime API proxy (an extension layer with proxyPort); name one of runtime-proxy`],
    ["a live layer the env does not define", (e: any) => (e.live.layer = "proxy"),
      `envs/dev.ts: live.layer is "proxy"; no layer named proxy in layers; name one of runtime-proxy`],
    ["5 layers of a function's own and the live layer", (e: any) => {
      for (const n of ["a", "b", "c", "d", "e"]) e.layers[n] = { mode: "existing", type: "extension", arns: { arm64: `arn:aws:lambda:eu-west-1:123456789012:layer:${n}:1` } };
      e.functions.greeter.layers = ["a", "b", "c", "d", "e"];
    },
      `envs/dev.ts: functions.greeter.layers is ["a","b","c","d","e"]; with live.layer (runtime-proxy) the function has 6 layers, and Lambda allows 5; list at most 4, or set live: false on the function`],
    ["a name that is not the file's", (e: any) => (e.name = "prod"),
      `envs/dev.ts: name is "prod"; it must equal the file name: "dev"`],
  ])("rejects %s, naming the file, field, value and fix", (_label, patch, expected) => {
    const problems = problemsOf(patch);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(expected);
  });

  it("explains an unknown field by name", () => {
    expect(problemsOf((e) => (e.functions.backend.memoryMb = 512))[0]).toMatch(/unknown field\(s\) memoryMb/);
  });

  it("names the variable that is too large in total, with the byte count and a fix", () => {
    expect(problemsOf((e) => (e.functions.backend.environment = { BIG: "x".repeat(4094) }))[0]).toMatch(
      /the variables take 4097 bytes; Lambda allows 4096 in all: move large values/,
    );
  });

  it("reports every problem at once, one line each", () => {
    const problems = problemsOf((e) => {
      e.functions.backend.memoryMiB = 99999;
      e.functions.backend.timeoutSeconds = 0;
      e.logRetentionDays = 2;
    });
    expect(problems).toHaveLength(3);
    const err = new ConfigError(problems);
    expect(err.message.split("\n")).toEqual([
      "3 problems in the environment config:",
      expect.stringContaining("  - envs/dev.ts: logRetentionDays is 2"),
      expect.stringContaining("  - envs/dev.ts: functions.backend.memoryMiB is 99999"),
      expect.stringContaining("  - envs/dev.ts: functions.backend.timeoutSeconds is 0"),
    ]);
  });

  it("rejects an unknown env name with the list of envs", () => {
    expect(() => loadEnv("qa")).toThrow('unknown environment "qa"; choose one of dev, staging, prod, local');
  });

  it("applies defaults a user leaves out", () => {
    const env = loadEnv("dev");
    expect(env.websocket.roomQueryParam).toBe("room");
    expect(env.websocket.connectionTtlSeconds).toBe(7200);
    expect(env.functions.backend.deployment).toBeUndefined();
    expect(env.functions.backend.url).toEqual({ authType: "AWS_IAM" });
    expect(env.functionDefaults).toEqual({ memoryMiB: 256, timeoutSeconds: 10 });
  });
});
