import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse } from "yaml";
import { actionlintPath } from "../lib/lint-setup";
import { requireShellcheckDir } from "../lib/python-env";
import { PROJECT_ROOT } from "./helpers";

/**
 * The GitHub Actions workflows: linted by actionlint (built by `npm run setup -- --only lint`), which
 * also runs shellcheck (from .venv-policy) on every run: script; and what they promise.
 */

const workflows = path.join(PROJECT_ROOT, ".github", "workflows");
const load = (file: string) => parse(fs.readFileSync(path.join(workflows, file), "utf8"));

function actionlint(cwd: string, files: string[] = []) {
  const bin = actionlintPath();
  if (!fs.existsSync(bin)) throw new Error(`actionlint is not built at ${bin}: run \`npm run setup -- --only lint\` (it builds it from the Go module proxy in seconds), then npm test again`);
  const shellcheck = requireShellcheckDir();
  return spawnSync(bin, ["-no-color", ...files], { cwd, encoding: "utf8", env: { ...process.env, PATH: `${shellcheck}:${process.env.PATH ?? ""}` } });
}

/** actionlint's verdict on one workflow written into a scratch repository layout. */
function lintSnippet(name: string, yaml: string) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lambdaship-actionlint-"));
  fs.mkdirSync(path.join(dir, ".github", "workflows"), { recursive: true });
  fs.writeFileSync(path.join(dir, ".github", "workflows", name), yaml);
  return actionlint(dir, [path.join(".github", "workflows", name)]);
}

describe("GitHub Actions workflows", () => {
  it("lint clean with actionlint", () => {
    const r = actionlint(PROJECT_ROOT, fs.readdirSync(workflows).map((f) => path.join(".github", "workflows", f)));
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("are really linted: actionlint rejects a broken workflow", () => {
    const r = lintSnippet("bad.yml", "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ github.event.nope( }}\n");
    expect(r.status).not.toBe(0);
    expect(r.stdout).toContain("bad.yml");
  });

  it("check run: scripts with shellcheck: an unquoted variable is reported", () => {
    const r = lintSnippet("shell.yml", "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: |\n          if [ $X == 1 ]; then echo hi; fi\n");
    expect(r.status).not.toBe(0);
    expect(r.stdout).toContain("shellcheck reported issue in this script: SC2086");
  });

  it("on pull requests: test, then a plan per env through OIDC, summarised in one comment that is updated", () => {
    const pr = load("pull-request.yml");
    expect(Object.keys(pr.on)).toEqual(["pull_request"]);
    expect(pr.jobs.test.steps.map((s: { run?: string }) => s.run).filter(Boolean)).toEqual(["bash .ci/run"]);
    const plan = pr.jobs.plan;
    expect(plan.needs).toBe("test");
    expect(plan.strategy.matrix.env).toEqual(["dev", "staging", "prod"]);
    expect(plan.permissions).toEqual({ contents: "read", "id-token": "write" });
    const creds = plan.steps.find((s: { uses?: string }) => s.uses?.startsWith("aws-actions/configure-aws-credentials"));
    expect(creds.with).toEqual({ "role-to-assume": "${{ vars.AWS_PLAN_ROLE_ARN }}", "aws-region": "${{ vars.AWS_REGION }}" });
    expect(plan.steps.some((s: { run?: string }) => s.run === 'npm run plan -- "${{ matrix.env }}" --out plans')).toBe(true);
    const script = pr.jobs.comment.steps.find((s: { uses?: string }) => s.uses?.startsWith("actions/github-script")).with.script as string;
    expect(script).toContain("updateComment");
    expect(script).toContain("<!-- lambdaship-plan-summary -->");
    expect(pr.jobs.comment.permissions).toEqual({ "pull-requests": "write" });
  });

  it("on main: dev, then staging, then prod, each in its GitHub environment, applying the plan it summarised", () => {
    const deploy = load("deploy.yml");
    expect(deploy.on.push.branches).toEqual(["main"]);
    expect(deploy.concurrency).toEqual({ group: "deploy", "cancel-in-progress": false });
    expect([deploy.jobs.dev.needs, deploy.jobs.staging.needs, deploy.jobs.prod.needs]).toEqual([undefined, "dev", "staging"]);
    for (const env of ["dev", "staging", "prod"]) expect(deploy.jobs[env]).toMatchObject({ uses: "./.github/workflows/deploy-env.yml", with: { env } });
    const one = load("deploy-env.yml").jobs.deploy;
    expect(one.environment).toBe("${{ inputs.env }}");
    expect(one.steps.some((s: { run?: string }) => s.run === 'npm run plan -- "${{ inputs.env }}" --out plans --apply')).toBe(true);
  });
});
