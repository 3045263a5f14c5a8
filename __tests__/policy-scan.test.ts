import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { buildApp } from "../main";
import { requireCheckov } from "../lib/python-env";

/**
 * checkov (pinned in requirements-policy.txt, in .venv-policy) over every synthesized env stack.
 * Zero failed checks, except those accepted next to the resource with acceptCheck (modules/
 * policy-checks.ts), each with a one-line reason; a suppression that no longer suppresses anything
 * fails too, so the list cannot rot.
 */
jest.setTimeout(5 * 60 * 1000);

interface FailedCheck {
  check_id: string;
  check_name: string;
  resource: string;
  file_abs_path: string;
}

type StackJson = { resource?: Record<string, Record<string, Record<string, unknown> & { "//"?: { checkov?: Record<string, string> } }>> };

describe("policy scan (checkov) of every env stack", () => {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), "lambdaship-checkov-"));
  let failed: FailedCheck[] = [];
  let summary: { passed: number; failed: number; parsing_errors: number };
  const stacks = new Map<string, StackJson>();

  beforeAll(() => {
    const checkov = requireCheckov();
    buildApp({ outdir }).synth();
    // checkov 3.3.30's terraform_json parser fails on top-level `import` and `moved` blocks (lists),
    // so each stack is scanned without them: they only say which existing object a resource adopts,
    // and which earlier address it had.
    const scanDir = path.join(outdir, "scan");
    for (const name of fs.readdirSync(path.join(outdir, "stacks"))) {
      const json = JSON.parse(fs.readFileSync(path.join(outdir, "stacks", name, "cdk.tf.json"), "utf8")) as StackJson & { import?: unknown; moved?: unknown };
      stacks.set(name, json);
      const { import: _adoptions, moved: _moves, ...scanned } = json;
      fs.mkdirSync(path.join(scanDir, name), { recursive: true });
      fs.writeFileSync(path.join(scanDir, name, "cdk.tf.json"), JSON.stringify(scanned, null, 2));
    }
    const r = spawnSync(checkov, ["-d", scanDir, "--framework", "terraform_json", "--output", "json", "--quiet", "--compact", "--skip-download"], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    if (r.error || !r.stdout.trim().startsWith("{")) throw new Error(`checkov did not run (exit ${r.status}):\n${r.stderr}\n${r.stdout.slice(0, 2000)}`);
    const report = JSON.parse(r.stdout) as { summary: typeof summary; results: { failed_checks: FailedCheck[] } };
    summary = report.summary;
    failed = report.results.failed_checks;
  });

  /** The stack and the logical ID a failed check names. */
  const locate = (f: FailedCheck) => {
    const stack = path.basename(path.dirname(f.file_abs_path));
    const id = f.resource.slice(f.resource.indexOf(".") + 1);
    const json = stacks.get(stack)!;
    const type = Object.keys(json.resource ?? {}).find((t) => json.resource![t][id]);
    return { stack, id, type, reason: type ? json.resource![type][id]["//"]?.checkov?.[f.check_id] : undefined };
  };

  it("scans all the stacks", () => {
    expect([...stacks.keys()].sort()).toEqual(["lambdaship-dev", "lambdaship-local", "lambdaship-prod", "lambdaship-staging"]);
    expect(summary.parsing_errors).toBe(0);
    expect(summary.passed).toBeGreaterThan(100);
  });

  it("has no failed check that is not accepted next to its resource with a reason", () => {
    const unexplained = failed
      .map((f) => ({ f, at: locate(f) }))
      .filter(({ at }) => !at.reason)
      .map(({ f, at }) => `${at.stack}: ${at.type ?? "?"}.${at.id} fails ${f.check_id} (${f.check_name}): fix it, or acceptCheck(resource, "${f.check_id}", "<reason>") next to it`);
    expect(unexplained).toEqual([]);
  });

  it("has no accepted check that checkov does not report (a stale suppression)", () => {
    const reported = new Set(failed.map((f) => { const at = locate(f); return `${at.stack} ${at.id} ${f.check_id}`; }));
    const stale: string[] = [];
    for (const [stack, json] of stacks) {
      for (const [type, byId] of Object.entries(json.resource ?? {})) {
        for (const [id, r] of Object.entries(byId)) {
          for (const check of Object.keys(r["//"]?.checkov ?? {})) if (!reported.has(`${stack} ${id} ${check}`)) stale.push(`${stack}: ${type}.${id} accepts ${check}, which passes now: remove the acceptCheck`);
        }
      }
    }
    expect(stale).toEqual([]);
  });
});
