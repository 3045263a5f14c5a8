import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { buildFunction, FunctionSource } from "../build/function";
import { cacheRoot, formatBytes, table } from "../build/util";
import { PROJECT_ROOT } from "../lib/toolchain";

/**
 * The functions part of `npm run bench`:
 *   synth:    the app with 10, 50 and 200 generated functions (Python, Node.js, Go and Java folders in
 *             turn) across the envs, wall time and peak memory, next to the cdktf template way
 *             (package-root provider imports + ts-node) on the same app, in the same run;
 *   builders: each example function cold (fresh folder, no store; the tools' own caches, pip's,
 *             Go's, npm's, Maven's, warm), warm (after a one-line edit), no-op (inputs unchanged,
 *             median of 5), and the whole `npm run build:function` command for a no-op; next to
 *             `sam build` (AWS SAM CLI from PyPI, pinned, in its own virtualenv in the machine's
 *             cache, no container; SAM_CLI picks another) on the same folders, cold and with
 *             --cached after no change.
 */

interface Sample {
  readonly seconds: number;
  readonly peakMB: number;
}

function measure(cmd: string[], cwd: string, env: NodeJS.ProcessEnv): Sample {
  const r = spawnSync("/usr/bin/time", ["-f", "%e %M", ...cmd], { cwd, env, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd.join(" ")} failed (exit ${r.status}):\n${r.stdout}\n${r.stderr.slice(-3000)}`);
  const [seconds, kb] = r.stderr.trim().split("\n").pop()!.split(" ").map(Number);
  return { seconds, peakMB: kb / 1024 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const SAMPLES: Record<string, Record<string, string>> = {
  python: { "app.py": "def lambda_handler(event, context):\n    return {'n': N}\n" },
  nodejs: { "index.ts": "export const handler = async () => ({ n: N });\n" },
  go: { "go.mod": "module gen\n\ngo 1.22\n", "main.go": "package main\n\nfunc main() { println(N) }\n" },
  java: { "pom.xml": "<project><modelVersion>4.0.0</modelVersion><groupId>g</groupId><artifactId>g</artifactId><version>1</version></project>", "src/main/java/g/H.java": "package g;\npublic class H implements RequestHandler<Object, Object> { public Object handleRequest(Object e, Object c) { return N; } }\n" },
};

/** A project folder with a copy of this one's lambda-src (no build output), plus `count` generated function folders. */
export function manyFunctionsProject(count: number): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "lambdaship-bench-many-"));
  fs.mkdirSync(path.join(root, "lambda-src", "functions"), { recursive: true });
  fs.cpSync(path.join(PROJECT_ROOT, "lambda-src"), path.join(root, "lambda-src"), { recursive: true, filter: (p) => !["target", "node_modules"].includes(path.basename(p)) });
  fs.copyFileSync(path.join(PROJECT_ROOT, "package.json"), path.join(root, "package.json"));
  const kinds = Object.keys(SAMPLES);
  for (let k = 0; k < count; k++) {
    for (const [file, text] of Object.entries(SAMPLES[kinds[k % kinds.length]])) {
      const f = path.join(root, "lambda-src", "functions", `gen-${k}`, file);
      fs.mkdirSync(path.dirname(f), { recursive: true });
      fs.writeFileSync(f, text.replace("N", String(k)));
    }
  }
  return root;
}

export function benchManySynth(templateCopy: (extra: string[]) => string): void {
  const counts = (process.env.BENCH_FUNCTION_COUNTS ?? "10,50,200").split(",").map(Number);
  const runs = Number(process.env.BENCH_RUNS ?? 3);
  process.stdout.write(`\nSynth with many functions (${os.cpus().length} cores): every env stack plus N generated functions across them; median of ${runs} runs, the template way 1\n`);
  const rows: string[][] = [];
  const template = templateCopy(["scripts/bench-many-main.ts"]);
  const tsNode = path.join(PROJECT_ROOT, "node_modules", "ts-node", "dist", "bin.js");
  try {
    for (const n of counts) {
      const project = manyFunctionsProject(n);
      const out = fs.mkdtempSync(path.join(os.tmpdir(), "lambdaship-bench-many-out-"));
      const env = { ...process.env, BENCH_FUNCTIONS: String(n), BENCH_PROJECT_ROOT: project, CDKTF_OUTDIR: out };
      try {
        const samples = Array.from({ length: runs }, () => measure([process.execPath, "-r", "./scripts/register.js", "scripts/bench-many-main.ts"], PROJECT_ROOT, env));
        const ours = { seconds: median(samples.map((s) => s.seconds)), peakMB: median(samples.map((s) => s.peakMB)) };
        const stack = JSON.parse(fs.readFileSync(path.join(out, "stacks", "lambdaship-dev", "cdk.tf.json"), "utf8")) as { resource: Record<string, object> };
        const fns = Object.keys(stack.resource.aws_lambda_function ?? {}).length;
        const tmpl = measure([process.execPath, tsNode, "scripts/bench-many-main.ts"], template, env);
        rows.push([String(n), String(fns), `${ours.seconds.toFixed(2)} s`, `${ours.peakMB.toFixed(0)} MB`, `${tmpl.seconds.toFixed(2)} s`, `${tmpl.peakMB.toFixed(0)} MB`, `${(tmpl.seconds / ours.seconds).toFixed(1)}x`]);
      } finally {
        fs.rmSync(project, { recursive: true, force: true });
        fs.rmSync(out, { recursive: true, force: true });
      }
    }
  } finally {
    fs.rmSync(template, { recursive: true, force: true });
  }
  process.stdout.write(`${table(["generated", "functions in dev", "ours", "ours peak", "template", "template peak", "speed-up"], rows)}\n`);
  process.stdout.write("  targets: 200 functions in at most 2 s and 300 MB, and at least 10x faster than the template way\n");
}

const EXAMPLES: Array<{ name: string; edit: [string, string] }> = [
  { name: "report", edit: ["app.py", "\n# edit\n"] },
  { name: "orders-api", edit: ["src/handler.ts", "\n// edit\n"] },
  { name: "greeter", edit: ["main.go", "\n// edit\n"] },
  { name: "inventory", edit: ["src/main/java/example/Inventory.java", "\n// edit\n"] },
];

/** Our builders per runtime, cold, warm and no-op (in-process), and the whole CLI for a no-op. */
export function benchBuilders(): void {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "lambdaship-bench-fn-"));
  const python = path.join(PROJECT_ROOT, ".venv", "bin", "python");
  process.stdout.write(`\nFunction builders (${os.cpus().length} cores, arm64, dependencies bundled so each zip is complete): cold = fresh copy, no store (tool caches warm); warm = after a one-line edit; no-op = inputs unchanged (median of 5)\n`);
  const rows: string[][] = [];
  const sam: Array<{ name: string; dir: string }> = [];
  try {
    for (const ex of EXAMPLES) {
      const dir = path.join(scratch, "src", ex.name);
      fs.cpSync(path.join(PROJECT_ROOT, "lambda-src", "functions", ex.name), dir, { recursive: true, filter: (p) => !["node_modules", "target"].includes(path.basename(p)) });
      const src: FunctionSource = { name: ex.name, dir, dependencies: "bundle" };
      const root = path.join(scratch, "project");
      const timed = () => {
        const t = process.hrtime.bigint();
        const b = buildFunction(src, "arm64", { projectRoot: root, store: undefined, python });
        return { b, s: Number(process.hrtime.bigint() - t) / 1e9 };
      };
      const cold = timed();
      const noop = median(Array.from({ length: 5 }, () => timed().s));
      fs.appendFileSync(path.join(dir, ex.edit[0]), ex.edit[1]);
      const warm = timed();
      const cli = measure([process.execPath, "-r", path.join(PROJECT_ROOT, "scripts", "register.js"), path.join(PROJECT_ROOT, "build", "function-cli.ts"), "--source", dir, "--dependencies", "bundle", "--no-cache"], root, process.env);
      rows.push([ex.name, cold.b.status === "built" ? `${cold.s.toFixed(2)} s` : cold.b.status, `${warm.s.toFixed(2)} s`, `${noop.toFixed(4)} s`, `${cli.seconds.toFixed(2)} s`, `${(cold.s / noop).toFixed(0)}x`, formatBytes(cold.b.zipBytes)]);
      sam.push({ name: ex.name, dir: path.join(PROJECT_ROOT, "lambda-src", "functions", ex.name) });
    }
    process.stdout.write(`${table(["function", "cold", "warm (one edit)", "no-op", "npm run build:function, no-op", "no-op vs cold", "zip"], rows)}\n`);
    // Every function of the local env, no-op: the folder functions' builder and the Rust builder, whole commands.
    const node = [process.execPath, "-r", "./scripts/register.js"];
    measure([...node, "build/function-cli.ts", "--env", "local"], PROJECT_ROOT, process.env);
    measure([...node, "build/cli.ts"], PROJECT_ROOT, process.env);
    const folders = median(Array.from({ length: 3 }, () => measure([...node, "build/function-cli.ts", "--env", "local"], PROJECT_ROOT, process.env).seconds));
    const rust = median(Array.from({ length: 3 }, () => measure([...node, "build/cli.ts"], PROJECT_ROOT, process.env).seconds));
    process.stdout.write(`  no-op rebuild of every function of local (whole commands, median of 3): npm run build:function -- --env local ${folders.toFixed(2)} s + npm run build:lambda ${rust.toFixed(2)} s = ${(folders + rust).toFixed(2)} s (target: under 1 s)\n`);
    benchSam(process.env.SAM_CLI ?? ensureSam(), sam, scratch);
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

/** The AWS SAM CLI the comparison runs: pinned, in its own virtualenv in the machine's cache (created once, about a minute). */
export const SAM_CLI_VERSION = "1.170.0";

function ensureSam(): string {
  const venv = path.join(cacheRoot(), `sam-cli-${SAM_CLI_VERSION}`);
  const sam = path.join(venv, "bin", "sam");
  // A virtualenv's scripts name its folder, so it is built where it stays; a marker says it is complete.
  if (fs.existsSync(path.join(venv, ".complete"))) return sam;
  process.stdout.write(`  installing aws-sam-cli ${SAM_CLI_VERSION} from PyPI into ${venv} (once per machine, about a minute)\n`);
  fs.rmSync(venv, { recursive: true, force: true });
  const steps: Array<[string, string[]]> = [["python3", ["-m", "venv", venv]], [path.join(venv, "bin", "pip"), ["install", "--quiet", "--disable-pip-version-check", `aws-sam-cli==${SAM_CLI_VERSION}`]]];
  for (const [cmd, args] of steps) {
    const r = spawnSync(cmd, args, { stdio: "inherit" });
    if (r.status !== 0) {
      fs.rmSync(venv, { recursive: true, force: true });
      throw new Error(`could not install aws-sam-cli ${SAM_CLI_VERSION} (${path.basename(cmd)} exit ${r.status}); set SAM_CLI to a sam executable instead`);
    }
  }
  fs.writeFileSync(path.join(venv, ".complete"), "");
  return sam;
}

const SAM_RESOURCE: Record<string, (dir: string) => string> = {
  // SAM's pip builder needs the runtime's own python on PATH: this machine has 3.11 (ours installs 3.12 wheels with --python-version).
  report: (d) => `  Report:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: ${d}\n      Handler: app.lambda_handler\n      Runtime: python3.11\n      Architectures: [arm64]\n`,
  "orders-api": (d) => `  OrdersApi:\n    Type: AWS::Serverless::Function\n    Metadata:\n      BuildMethod: esbuild\n      BuildProperties:\n        EntryPoints: [src/handler.ts]\n        Target: node22\n    Properties:\n      CodeUri: ${d}\n      Handler: handler.handler\n      Runtime: nodejs22.x\n      Architectures: [arm64]\n`,
  greeter: (d) => `  Greeter:\n    Type: AWS::Serverless::Function\n    Metadata:\n      BuildMethod: go1.x\n    Properties:\n      CodeUri: ${d}\n      Handler: bootstrap\n      Runtime: provided.al2023\n      Architectures: [arm64]\n`,
  inventory: (d) => `  Inventory:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: ${d}\n      Handler: example.Inventory::handleRequest\n      Runtime: java21\n      Architectures: [arm64]\n`,
};

/** `sam build` of the same folders, one template per function: cold (empty build and cache folders), then `--cached` with nothing changed. */
function benchSam(sam: string, fns: Array<{ name: string; dir: string }>, scratch: string): void {
  const rows: string[][] = [];
  for (const f of fns) {
    const work = path.join(scratch, `sam-${f.name}`);
    fs.mkdirSync(work, { recursive: true });
    // SAM builds in place from a copy; esbuild for the TypeScript function from the project's node_modules.
    const code = path.join(work, "code");
    fs.cpSync(f.dir, code, { recursive: true, filter: (p) => !["target"].includes(path.basename(p)) });
    fs.writeFileSync(path.join(work, "template.yaml"), `AWSTemplateFormatVersion: "2010-09-09"\nTransform: AWS::Serverless-2016-10-31\nResources:\n${SAM_RESOURCE[f.name]("code")}`);
    const env = { ...process.env, SAM_CLI_TELEMETRY: "0", PATH: `${path.join(PROJECT_ROOT, "node_modules", ".bin")}:${process.env.PATH}` };
    const args = [sam, "build", "--cached", "--cache-dir", path.join(work, ".cache"), "--build-dir", path.join(work, ".aws-sam", "build")];
    try {
      const cold = measure(args, work, env);
      const noop = measure(args, work, env);
      rows.push([f.name, `${cold.seconds.toFixed(2)} s`, `${noop.seconds.toFixed(2)} s`]);
    } catch (e) {
      rows.push([f.name, `failed: ${(e as Error).message.split("\n").filter((l) => /Error|error/.test(l)).slice(-1)[0]?.slice(0, 160) ?? "see output"}`, "-"]);
    }
  }
  process.stdout.write(`\nsam build (AWS SAM CLI, no container) on the same folders\n${table(["function", "sam build, cold", "sam build --cached, no change"], rows)}\n`);
}
