import { defineEnv } from "./schema";

/**
 * Staging: production-like settings. The WebSocket function was first deployed by hand; this env adopts
 * it with an import block (the plan shows an import, never a create or a replace).
 */
export default defineEnv({
  name: "staging",
  region: "eu-west-1",
  namePrefix: "lambdaship-staging",
  tags: { owner: "platform", "cost-center": "staging" },
  logRetentionDays: 30,
  stateBackend: { bucket: "lambdaship-terraform-state", region: "eu-west-1" },
  rust: { workspace: "lambda-src/rust", requireArm64: false },
  layers: {
    "websocket-deps": { mode: "create", type: "dependencies", source: "lambda-src/layers/websocket-deps", runtime: "python3.12" },
  },
  functionDefaults: { reservedConcurrency: 20 },
  functions: {
    backend: { source: "lambda-src/rust", bin: "backend", memoryMiB: 512, timeoutSeconds: 10, environment: { RUST_LOG: "info" }, url: { authType: "AWS_IAM" } },
    // The Python handler serves every route. It was first deployed by hand; this env adopts it with an
    // import block (the plan shows an import, never a create or a replace).
    websocket: {
      source: "lambda-src/websocket",
      handler: "handler.lambda_handler",
      runtime: "python3.12",
      memoryMiB: 512,
      timeoutSeconds: 15,
      environment: { LOG_LEVEL: "INFO" },
      layers: ["websocket-deps"],
      deployment: { mode: "import", functionName: "lambdaship-staging-websocket", importLogGroup: true },
      // Adopted with the role this stack manages (lambdaship-staging-websocket-role): kept managed.
      // Without this line an imported function keeps the role it had.
      role: "managed",
    },
  },
  backend: { function: "backend", table: { pointInTimeRecovery: true, deletionProtection: false } },
  websocket: {
    roomKey: "booking_id",
    routes: { $connect: "websocket", $disconnect: "websocket", $default: "websocket", sendmessage: "websocket" },
    stage: { name: "staging", throttlingBurstLimit: 200, throttlingRateLimit: 100 },
    table: { pointInTimeRecovery: true, deletionProtection: false },
  },
});
