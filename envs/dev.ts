import { defineEnv } from "./schema";

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
  functionDefaults: { memoryMiB: 256, timeoutSeconds: 10, environment: { LOG_LEVEL: "DEBUG" } },
  functions: {
    "orders-api": { source: "lambda-src/functions/orders-api", url: { authType: "AWS_IAM" } }, // TypeScript, uuid in its dependency layer
    report: { source: "lambda-src/functions/report", memoryMiB: 512, timeoutSeconds: 60 }, // Python, jmespath in its dependency layer
    greeter: { source: "lambda-src/functions/greeter", environment: { GREETING: "Hello" } }, // Go on aws-lambda-go
    inventory: { source: "lambda-src/functions/inventory", memoryMiB: 512 }, // Java on aws-lambda-java-core, its jars in its dependency layer
  },
  backend: {
    function: { memoryMiB: 256, timeoutSeconds: 10, environment: { RUST_LOG: "debug" }, architecture: "arm64", layers: ["runtime-proxy"] },
    url: { authType: "AWS_IAM" },
    table: { pointInTimeRecovery: false, deletionProtection: false },
  },
  websocket: {
    handlers: "rust",
    roomKey: "booking_id",
    routes: ["sendmessage"],
    handler: { source: "lambda-src/websocket", handler: "handler.lambda_handler", runtime: "python3.12" },
    function: {
      memoryMiB: 256,
      timeoutSeconds: 10,
      environment: { LOG_LEVEL: "DEBUG", RUST_LOG: "debug" },
      reservedConcurrency: 5,
      architecture: "arm64",
    },
    deployment: { mode: "create" },
    stage: { name: "dev", throttlingBurstLimit: 50, throttlingRateLimit: 20 },
    table: { pointInTimeRecovery: false, deletionProtection: false },
  },
});
