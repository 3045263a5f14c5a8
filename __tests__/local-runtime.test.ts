import * as path from "path";
import { loadEnv } from "../envs";
import { functionKey, functionKeys, sampleEvent } from "../lib/local-runtime";
import { PROJECT_ROOT } from "../lib/toolchain";

describe("an env's functions, by key", () => {
  it("keys a created function by its entry and an adopted one by its own name", () => {
    const prod = loadEnv("prod");
    expect(functionKeys(prod).get("shelf-websocket-proxy")).toBe("websocket");
    expect(functionKey(prod, "shelf-websocket-proxy")).toBe("websocket");
    const staging = loadEnv("staging");
    expect(functionKey(staging, "lambdaship-staging-websocket")).toBe("websocket");
    // Not an entry: the name without the env's prefix (the app's own Rust functions).
    expect(functionKey(loadEnv("local"), "lambdaship-local-backend")).toBe("backend");
    expect(functionKey(loadEnv("local"), "someone-elses")).toBe("someone-elses");
  });

  it("finds the sample event in lambda-src/events by key, else none", () => {
    const local = loadEnv("local");
    expect(sampleEvent(local, "lambdaship-local-backend")).toBe(path.join(PROJECT_ROOT, "lambda-src", "events", "backend.json"));
    expect(sampleEvent(local, "lambdaship-local-nothing-here")).toBeUndefined();
  });
});
