import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { addFunctionEntry, EnvEditError } from "../envs/edit";
import { PROJECT_ROOT } from "./helpers";

const read = (f: string) => fs.readFileSync(path.join(PROJECT_ROOT, f), "utf8");

describe("env file edits for npm run new", () => {
  it("adds the entry to an existing functions block, leaving the rest as it is", () => {
    const before = read("envs/dev.ts");
    const after = addFunctionEntry(before, "envs/dev.ts", "billing", { source: "lambda-src/functions/billing", memoryMiB: 256 });
    expect(after).toContain('  functions: {\n    billing: { source: "lambda-src/functions/billing", memoryMiB: 256 },\n    // TypeScript');
    expect(after.replace('    billing: { source: "lambda-src/functions/billing", memoryMiB: 256 },\n', "")).toBe(before);
  });

  it("adds a functions field where there is none: before backend, carrying a spread env's functions", () => {
    const bare = 'import { defineEnv } from "./schema";\n\nexport default defineEnv({\n  name: "qa",\n  backend: { function: "api", table: { pointInTimeRecovery: false, deletionProtection: false } },\n});\n';
    expect(addFunctionEntry(bare, "envs/qa.ts", "x", { source: "s" })).toContain('  functions: {\n    x: { source: "s" },\n  },\n  backend: {');
    const spread = 'import dev from "./dev";\nimport { defineEnv } from "./schema";\n\nexport default defineEnv({\n  ...dev,\n  name: "qa",\n});\n';
    expect(addFunctionEntry(spread, "envs/qa.ts", "x-y", { source: "s", url: { authType: "AWS_IAM" } })).toContain('  functions: { ...dev.functions,\n    "x-y": { source: "s", url: { authType: "AWS_IAM" } },\n  },\n});');
    // local.ts has a block that starts with dev's functions: the entry goes after the spread.
    expect(addFunctionEntry(read("envs/local.ts"), "envs/local.ts", "x-y", { source: "s" })).toContain('  functions: {\n    ...dev.functions,\n    "x-y": { source: "s" },\n    report: {');
  });

  it("refuses a key that is already there", () => {
    expect(() => addFunctionEntry(read("envs/dev.ts"), "envs/dev.ts", "report", { source: "s" })).toThrow(EnvEditError);
    expect(() => addFunctionEntry(read("envs/dev.ts"), "envs/dev.ts", "orders-api", { source: "s" })).toThrow("envs/dev.ts: functions.orders-api is already there; choose another key (--key)");
  });
});

describe("npm run new", () => {
  const project = fs.mkdtempSync(path.join(os.tmpdir(), "lambdaship-new-"));
  beforeAll(() => {
    for (const rel of ["envs", "modules", "build", "lib", "scripts", "runtime", "lambda-src/functions", "lambda-src/rust", "lambda-src/websocket", "lambda-src/layers", "lambda-src/extensions", "package.json"]) {
      fs.cpSync(path.join(PROJECT_ROOT, rel), path.join(project, rel), { recursive: true, filter: (p) => !["node_modules", "target"].includes(path.basename(p)) });
    }
    fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(project, "node_modules"));
    fs.mkdirSync(path.join(project, "lambda-src", "functions", "hello"));
    fs.writeFileSync(path.join(project, "lambda-src", "functions", "hello", "main.py"), "def handler(event, context):\n    return {'hi': 1}\n");
  });
  const run = (...args: string[]) => spawnSync(process.execPath, ["-r", "./scripts/register.js", "scripts/new.ts", ...args], { cwd: project, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

  it("detects, writes the entry from its flags when there is no terminal, and says what npm start will do", () => {
    const r = run("lambda-src/functions/hello", "--memory", "256", "--url", "AWS_IAM", "--policy", "dynamodb-read:orders,customers");
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("lambda-src/functions/hello: python, runtime python3.12, handler main.handler (main.py)");
    expect(r.stdout).toContain("npm start will: build python3.12 package of lambda-src/functions/hello at apply, deploy lambdaship-local-hello with a function URL (AWS_IAM), and invoke it with");
    expect(fs.readFileSync(path.join(project, "envs", "local.ts"), "utf8")).toContain(
      '    ...dev.functions,\n    hello: { source: "lambda-src/functions/hello", memoryMiB: 256, policies: [{ template: "dynamodb-read", tables: ["orders", "customers"] }], url: { authType: "AWS_IAM" } },',
    );
    // Once there, the same key is refused, and nothing is written.
    const again = run("lambda-src/functions/hello");
    expect(again.status).toBe(2);
    expect(again.stderr).toContain("envs/local.ts: functions.hello is already there; choose another key (--key)");
  });

  it("refuses bad input with the fix, writing nothing", () => {
    const before = fs.readFileSync(path.join(project, "envs", "dev.ts"));
    expect(run("lambda-src/functions/nope", "--env", "dev").stderr).toMatch(/is not a folder inside the project/);
    expect(run("lambda-src/functions/hello", "--env", "dev", "--memory", "64").stderr).toContain('memory is "64"; Lambda allows 128-10240');
    expect(run("lambda-src/functions/hello", "--env", "qa").stderr).toContain('--env is "qa"; choose one of dev, staging, prod, local');
    expect(run("lambda-src/functions/hello", "--env", "dev", "--policy", "admin:*").status).toBe(2);
    expect(fs.readFileSync(path.join(project, "envs", "dev.ts"))).toEqual(before);
  });
});
