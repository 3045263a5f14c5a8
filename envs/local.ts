import dev from "./dev";
import { defineEnv } from "./schema";

/**
 * dev, aimed at the local AWS emulator (moto server), with the same Rust backend and Rust WebSocket handlers. The endpoint is read when the stack is built:
 * `npm start` and the end-to-end tests set LAMBDASHIP_AWS_ENDPOINT to the port they started moto on.
 */
/** The report's queue, quick enough to watch locally: a failed message comes back after 10 s and reaches orders-dlq after 2 receives. */
const report = dev.functions!.report;

export default defineEnv({
  ...dev,
  functions: {
    ...dev.functions,
    report: {
      ...report,
      timeoutSeconds: 10,
      triggers: { ...report.triggers, sqs: [{ queue: "orders", create: { maxReceiveCount: 2, visibilityTimeoutSeconds: 10 }, batchSize: 10 }] },
    },
  },
  name: "local",
  region: "us-east-1",
  namePrefix: "lambdaship-local",
  tags: { owner: "platform", "cost-center": "local" },
  emulator: {},
  websocket: {
    ...dev.websocket,
    stage: { name: "local", throttlingBurstLimit: 50, throttlingRateLimit: 20 },
  },
});
