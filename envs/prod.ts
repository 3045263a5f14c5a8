import { defineEnv } from "./schema";

/**
 * Production: the WebSocket function is owned by another pipeline; this env references it by name
 * (data source) and manages the API, table, permissions and logs around it.
 */
export default defineEnv({
  name: "prod",
  region: "eu-west-1",
  namePrefix: "lambdaship-prod",
  tags: { owner: "platform", "cost-center": "prod" },
  logRetentionDays: 365,
  stateBackend: { bucket: "lambdaship-terraform-state", region: "eu-west-1" },
  // Production never runs a fallback build: no arm64 toolchain is an error before anything changes.
  // npm run plan refuses a plan that destroys or replaces a table, bucket, log group or API (--allow-destroy overrides).
  review: { blockStatefulChanges: true },
  rust: { workspace: "lambda-src/rust", requireArm64: true },
  backend: {
    function: { memoryMiB: 1024, timeoutSeconds: 10, environment: { RUST_LOG: "info" }, reservedConcurrency: 100, architecture: "arm64" },
    url: { authType: "AWS_IAM" },
    table: { pointInTimeRecovery: true, deletionProtection: true },
  },
  websocket: {
    handlers: "python",
    roomKey: "booking_id",
    routes: ["sendmessage"],
    handler: { source: "lambda-src/websocket", handler: "handler.lambda_handler", runtime: "python3.12" },
    function: {
      memoryMiB: 1024,
      timeoutSeconds: 30,
      environment: { LOG_LEVEL: "INFO" },
      reservedConcurrency: 100,
      architecture: "arm64",
    },
    deployment: { mode: "existing", functionName: "shelf-websocket-proxy" },
    stage: { name: "prod", throttlingBurstLimit: 1000, throttlingRateLimit: 500 },
    table: { pointInTimeRecovery: true, deletionProtection: true },
  },
});
