import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PROJECT_ROOT } from "./helpers";

/** One env's config error does not stop commands for another env: they synthesize only their own stack and name the broken env. */
describe("a command for one env while another env is broken", () => {
  const project = fs.mkdtempSync(path.join(os.tmpdir(), "lambdaship-one-env-"));
  beforeAll(() => {
    for (const rel of ["main.ts", "envs", "modules", "build", "lib", "scripts", "runtime", "review", "lambda-src", "package.json"]) {
      fs.cpSync(path.join(PROJECT_ROOT, rel), path.join(project, rel), { recursive: true, filter: (p) => !["node_modules", "target"].includes(path.basename(p)) });
    }
    fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(project, "node_modules"));
    const prod = path.join(project, "envs", "prod.ts");
    fs.writeFileSync(prod, fs.readFileSync(prod, "utf8").replace("logRetentionDays: 365", "logRetentionDays: 2"));
  });
  const synth = (only?: string) =>
    spawnSync(process.execPath, ["-r", "./scripts/register.js", "-e", `require("./lib/synth.ts").synthAll(${JSON.stringify(path.join(project, "out"))}${only ? `, ${JSON.stringify(only)}` : ""})`], { cwd: project, encoding: "utf8" });

  it("synthesizes local, and says which env is broken", () => {
    const r = synth("local");
    expect(r.status).toBe(0);
    expect(r.stderr).toContain("note: envs/prod.ts is broken (1 problem, the first: envs/prod.ts: logRetentionDays is 2; CloudWatch Logs accepts");
    expect(fs.existsSync(path.join(project, "out", "stacks", "lambdaship-local", "cdk.tf.json"))).toBe(true);
    expect(fs.existsSync(path.join(project, "out", "stacks", "lambdaship-prod"))).toBe(false);
  });

  it("stops a command for every env, and one for the broken env, naming the problem", () => {
    for (const r of [synth(), synth("prod")]) {
      expect(r.status).toBe(1);
      expect(r.stderr).toContain("envs/prod.ts: logRetentionDays is 2");
      expect(r.stderr).toContain("Nothing was synthesized.");
    }
  });
});
