import { spawnSync } from "child_process";
import { PROJECT_ROOT } from "./helpers";

function importCommands(...args: string[]) {
  return spawnSync(process.execPath, ["-r", "./scripts/register.js", "scripts/import-commands.ts", ...args], { cwd: PROJECT_ROOT, encoding: "utf8" });
}

describe("npm run import-commands", () => {
  it("prints the exact terraform import line with the CDKTF address of each function", () => {
    const r = importCommands("dev");
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines).toHaveLength(9);
    expect(lines.find((l) => l.endsWith(" lambdaship-dev-orders-api"))).toMatch(/ && terraform import 'aws_lambda_function\.fn-orders-api_function_[0-9A-F]{8}' lambdaship-dev-orders-api$/);
    expect(lines.find((l) => l.endsWith(" lambdaship-dev-backend"))).toMatch(
      /^cd cdktf\.out\/stacks\/lambdaship-dev && terraform init && terraform import 'aws_lambda_function\.fn-backend_function_[0-9A-F]{8}' lambdaship-dev-backend$/,
    );
    expect(lines.find((l) => l.endsWith(" lambdaship-dev-ws-connect"))).toMatch(/ && terraform import 'aws_lambda_function\.fn-ws-connect_function_[0-9A-F]{8}' lambdaship-dev-ws-connect$/);
  });

  it("says when a function is only referenced and there is nothing to import", () => {
    expect(importCommands("prod").stdout).toContain("# shelf-websocket-proxy: referenced through data.aws_lambda_function.");
  });

  it("uses the engine it is told to, and refuses an unknown env with the list", () => {
    expect(importCommands("staging", "--engine", "tofu").stdout).toMatch(/&& tofu import 'aws_lambda_function\.[^']+' lambdaship-staging-websocket/);
    const bad = importCommands("qa");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('unknown environment "qa"; choose one of dev, staging, prod, local');
  });
});
