import { defineEnv, FunctionEntryInput } from "./schema";

/** The settings every Rust WebSocket handler shares. */
const wsHandler = { source: "lambda-src/rust", environment: { LOG_LEVEL: "DEBUG", RUST_LOG: "debug" }, reservedConcurrency: 5 } as const;
/** Each Rust WebSocket handler and the route of the env's WebSocket API it serves. */
const wsHandlers: Record<string, FunctionEntryInput> = Object.fromEntries(
  (
    [
      ["ws-connect", "$connect"],
      ["ws-disconnect", "$disconnect"],
      ["ws-default", "$default"],
      ["ws-broadcast", "sendmessage"],
    ] as const
  ).map(([bin, route]) => [bin, { ...wsHandler, bin, triggers: { websocket: [route] } }]),
);

/** Development: cheap, short log retention, everything created and managed here; the WebSocket routes run the Rust handlers. */
export default defineEnv({
  name: "dev",
  region: "eu-west-1",
  namePrefix: "lambdaship-dev",
  tags: { owner: "platform", "cost-center": "dev" },
  logRetentionDays: 14,
  rust: { workspace: "lambda-src/rust", requireArm64: false },
  layers: {
    // Dependencies of the Python WebSocket handler (aws-lambda-powertools), for when handlers is "python".
    "websocket-deps": { mode: "create", type: "dependencies", source: "lambda-src/layers/websocket-deps", runtime: "python3.12" },
    // A Runtime API proxy extension that logs each invocation's duration and outcome.
    "runtime-proxy": { mode: "create", type: "extension", source: "lambda-src/extensions/runtime-proxy", proxyPort: 9009, architectures: ["arm64", "x86_64"] },
  },
  // Functions from folders: runtime and handler are detected; the deployed name is lambdaship-dev-<key>.
  functionDefaults: { memoryMiB: 256, timeoutSeconds: 10 },
  functions: {
    // TypeScript, uuid in its dependency layer; on the env's HTTP API (its health check public, orders signed) and its own URL.
    "orders-api": {
      source: "lambda-src/functions/orders-api",
      url: { authType: "AWS_IAM" },
      environment: { LOG_LEVEL: "DEBUG" },
      triggers: { http: [{ route: "GET /health", auth: "NONE" }, "POST /orders"] },
    },
    // Python, jmespath in its dependency layer: a daily report, and each order sent to its queue (bad ones end in orders-dlq).
    report: {
      source: "lambda-src/functions/report",
      // A failed daily report is tried once more, and not after an hour.
      async: { retries: 1, maxEventAgeSeconds: 3600 },
      memoryMiB: 512,
      timeoutSeconds: 60,
      environment: { LOG_LEVEL: "DEBUG" },
      triggers: {
        schedule: [{ name: "daily", expression: "cron(0 6 * * ? *)", timezone: "Europe/Dublin", input: { orders: [] } }],
        sqs: [{ queue: "orders", create: { maxReceiveCount: 3 }, batchSize: 10 }],
      },
    },
    greeter: { source: "lambda-src/functions/greeter", environment: { LOG_LEVEL: "DEBUG", GREETING: "Hello" } }, // Go on aws-lambda-go
    inventory: { source: "lambda-src/functions/inventory", memoryMiB: 512, environment: { LOG_LEVEL: "DEBUG" } }, // Java on aws-lambda-java-core, its jars in its dependency layer
    // The app's own: the Rust REST backend (a bin of the cargo workspace), behind an IAM-auth URL.
    backend: { source: "lambda-src/rust", bin: "backend", environment: { RUST_LOG: "debug" }, url: { authType: "AWS_IAM" } },
    // The Rust WebSocket handlers, one per route (see websocket.routes).
    ...wsHandlers,
  },
  // The env's HTTP API: routes without their own auth are SigV4-signed (AWS_IAM).
  httpApi: { defaultAuth: "AWS_IAM" },
  // npm run live: a relay (lambdaship-dev-live, SigV4-signed only) on the WebSocket handlers. Every
  // function but those handlers gets the runtime-proxy layer and is served by a developer's session
  // while one listens, by its deployed code otherwise.
  live: { enabled: true, layer: "runtime-proxy" },
  // The backend's items table; the function named here gets TABLE_NAME and access to it.
  backend: { function: "backend", table: { pointInTimeRecovery: false, deletionProtection: false } },
  websocket: {
    roomKey: "booking_id",
    // The routes are the handlers' triggers.websocket (above); websocket.routes could name them here instead.
    stage: { name: "dev", throttlingBurstLimit: 50, throttlingRateLimit: 20 },
    table: { pointInTimeRecovery: false, deletionProtection: false },
  },
});
