import dev from "./dev";
import { defineEnv } from "./schema";

/**
 * dev, aimed at the local AWS emulator (moto server). `npm start` and the end-to-end tests set
 * LAMBDASHIP_AWS_ENDPOINT to the port they started it on.
 */
export default defineEnv({
  ...dev,
  name: "local",
  region: "us-east-1",
  namePrefix: "lambdaship-local",
  tags: { owner: "platform", "cost-center": "local" },
  emulator: { endpoint: process.env.LAMBDASHIP_AWS_ENDPOINT ?? "http://127.0.0.1:5000" },
  websocket: {
    ...dev.websocket,
    stage: { name: "local", throttlingBurstLimit: 50, throttlingRateLimit: 20 },
  },
});
