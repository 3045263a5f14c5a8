import { defineEnv } from "./schema";

/** Development: cheap, short log retention, everything created and managed here. */
export default defineEnv({
  name: "dev",
  region: "eu-west-1",
  namePrefix: "lambdaship-dev",
  tags: { owner: "platform", "cost-center": "dev" },
  logRetentionDays: 14,
  websocket: {
    roomKey: "booking_id",
    routes: ["sendmessage"],
    handler: { source: "lambda-src/websocket", handler: "handler.lambda_handler", runtime: "python3.12" },
    function: {
      memoryMiB: 256,
      timeoutSeconds: 10,
      environment: { LOG_LEVEL: "DEBUG" },
      reservedConcurrency: 5,
      architecture: "arm64",
    },
    deployment: { mode: "create" },
    stage: { name: "dev", throttlingBurstLimit: 50, throttlingRateLimit: 20 },
    table: { pointInTimeRecovery: false, deletionProtection: false },
  },
});
