import { spawnSync } from "child_process";
import { PROJECT_ROOT } from "./helpers";

function importCommands(...args: string[]) {
  return spawnSync(process.execPath, ["-r", "./scripts/register.js", "scripts/import-commands.ts", ...args], { cwd: PROJECT_ROOT, encoding: "utf8" });
}

describe("npm run import-commands", () => {
  it("prints, after one init, the import of each function and its log group, with the CDKTF addresses, the engine and the CLI config setup chose", () => {
    const r = importCommands("dev");
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines).toHaveLength(1 + 9 * 2);
    expect(lines[0]).toMatch(/^\(cd cdktf\.out\/stacks\/lambdaship-dev && TF_CLI_CONFIG_FILE=\S+\.tfrc \S*(terraform|tofu) init -input=false >\/dev\/null\)$/);
    expect(lines.find((l) => l.endsWith(" lambdaship-dev-orders-api)"))).toMatch(/ import -input=false aws_lambda_function\.fn-orders-api_function_[0-9A-F]{8} lambdaship-dev-orders-api\)$/);
    expect(lines.find((l) => l.endsWith(" lambdaship-dev-backend)"))).toMatch(
      /^\(cd cdktf\.out\/stacks\/lambdaship-dev && TF_CLI_CONFIG_FILE=\S+ \S*(terraform|tofu) import -input=false aws_lambda_function\.fn-backend_function_[0-9A-F]{8} lambdaship-dev-backend\)$/,
    );
    expect(lines).toContainEqual(expect.stringMatching(/ import -input=false aws_cloudwatch_log_group\.fn-ws-connect_log-group_[0-9A-F]{8} \/aws\/lambda\/lambdaship-dev-ws-connect\) \|\| echo "no log group \/aws\/lambda\/lambdaship-dev-ws-connect to adopt: the apply creates it"$/));
  });

  it("says when a function is only referenced and there is nothing to import", () => {
    expect(importCommands("prod").stdout).toContain("# shelf-websocket-proxy: referenced through data.aws_lambda_function.");
  });

  it("uses the engine it is told to, and refuses an unknown engine or env with the list", () => {
    expect(importCommands("staging", "--engine", "tofu").stdout).toMatch(/ tofu import -input=false aws_lambda_function\.\S+ lambdaship-staging-websocket\)/);
    const engine = importCommands("staging", "--engine", "rm -rf /");
    expect(engine.status).toBe(2);
    expect(engine.stderr).toContain('--engine is "rm -rf /"; it is one of terraform, tofu');
    expect(engine.stdout).toBe("");
    const bad = importCommands("qa");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('unknown environment "qa"; choose one of dev, staging, prod, local');
  });
});
