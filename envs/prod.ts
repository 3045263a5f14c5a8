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
  functions: {
    backend: { source: "lambda-src/rust", bin: "backend", memoryMiB: 1024, timeoutSeconds: 10, environment: { RUST_LOG: "info" }, reservedConcurrency: 100, url: { authType: "AWS_IAM" } },
    // Owned by another pipeline: referenced by name, never changed here.
    websocket: { source: "lambda-src/websocket", deployment: { mode: "existing", functionName: "shelf-websocket-proxy" } },
  },
  backend: { function: "backend", table: { pointInTimeRecovery: true, deletionProtection: true } },
  websocket: {
    roomKey: "booking_id",
    routes: { $connect: "websocket", $disconnect: "websocket", $default: "websocket", sendmessage: "websocket" },
    stage: { name: "prod", throttlingBurstLimit: 1000, throttlingRateLimit: 500 },
    table: { pointInTimeRecovery: true, deletionProtection: true },
  },
  // Production's invocations are never served from a developer's machine: no relay is deployed.
  live: { enabled: false },
});
