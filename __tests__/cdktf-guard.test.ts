import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { cdktfEngineProblem } from "../lib/cdktf-guard";

describe("npx cdktf diff|deploy without the CLI config setup wrote", () => {
  const ours = "/home/u/.cache/lambdaship/tf/cli.tfrc";

  it("stops with one line saying what to run, for the commands that run the engine", () => {
    for (const command of ["diff", "deploy", "destroy"]) {
      expect(cdktfEngineProblem(command, {}, ours, "lambdaship-local")).toBe(
        `lambdaship: cdktf ${command} runs the engine, which needs the aws provider setup built (no registry here): run TF_CLI_CONFIG_FILE=${ours} npx cdktf ${command} lambdaship-local, or npm run ${command === "diff" ? "diff" : "deploy"} -- <env>, which sets it`,
      );
    }
    // cdktf points it at ~/.terraformrc when the user gives none: that says nothing about providers.
    const rc = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "lambdaship-rc-")), ".terraformrc");
    fs.writeFileSync(rc, 'credentials "app.terraform.io" {}\n');
    expect(cdktfEngineProblem("diff", { TF_CLI_CONFIG_FILE: rc }, ours, "")).toMatch(/^lambdaship: cdktf diff runs the engine/);
  });

  it("lets synth, a run with setup's config or one that says where providers come from, and a machine without setup through", () => {
    expect(cdktfEngineProblem("synth", {}, ours, "")).toBeUndefined();
    expect(cdktfEngineProblem(undefined, {}, ours, "")).toBeUndefined();
    expect(cdktfEngineProblem("diff", { TF_CLI_CONFIG_FILE: ours }, ours, "")).toBeUndefined();
    const own = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "lambdaship-rc-")), "mirror.tfrc");
    fs.writeFileSync(own, 'provider_installation {\n  filesystem_mirror { path = "/opt/mirror" }\n}\n');
    expect(cdktfEngineProblem("deploy", { TF_CLI_CONFIG_FILE: own }, ours, "")).toBeUndefined();
    expect(cdktfEngineProblem("diff", {}, undefined, "")).toBeUndefined();
  });
});
