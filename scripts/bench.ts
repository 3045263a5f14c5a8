import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { benchBuilders, benchManySynth } from "./bench-functions";
import { benchLayers } from "./bench-layers";
import { benchRust } from "./bench-rust";
import { benchRuntime } from "./bench-runtime";
import { printGatewayBench } from "./bench-gateway";
import { printLiveBench } from "./bench-live";
import { printDevBench } from "./bench-dev";
import { PROJECT_ROOT } from "../lib/toolchain";
import { EXIT, exitCodesHelp, parseCommandLine, runMain, UsageError } from "../lib/cli";

/**
 * `npm run bench [-- --only synth|functions|rust|runtime|gateway|live|dev|layers]`:
 *   synth: every env stack, wall time and peak memory, ours next to the cdktf template way
 *          (package-root provider imports + ts-node) measured in the same run;
 *   functions: synth with 10, 50 and 200 functions, and each runtime's builder cold, warm and
 *          no-op, next to sam build when SAM_CLI is set (scripts/bench-functions.ts);
 *   rust:  the Rust workspace's cold and no-op builds and zip sizes, next to one cargo invocation
 *          per bin (scripts/bench-rust.ts); cold builds take several minutes each;
 *   runtime: warm invocations of the Rust backend through the runtime emulator next to a bare
 *          Runtime API loop (scripts/bench-runtime.ts);
 *   gateway: a WebSocket message's round trip and an HTTP route through the local gateway, each
 *          next to a direct invoke of the same function (scripts/bench-gateway.ts);
 *   live:  an invocation served live next to the deployed code (scripts/bench-live.ts);
 *   dev:   npm run dev's edit-to-answer time per runtime next to a release build and invoke
 *          (scripts/bench-dev.ts);
 *   layers: cold, other-clone and no-op builds of each layer, and their sizes (scripts/bench-layers.ts).
 */

interface Sample {
  readonly seconds: number;
  readonly peakMB: number;
}

const TIME = "/usr/bin/time";

/** Runs a command under GNU time and returns wall seconds and peak RSS. */
function measure(cmd: string[], cwd: string, env: NodeJS.ProcessEnv): Sample {
  if (!fs.existsSync(TIME)) throw new Error(`${TIME} (GNU time) is needed to read peak memory: apt-get install time`);
  const r = spawnSync(TIME, ["-f", "%e %M", ...cmd], { cwd, env, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd.join(" ")} failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  const last = r.stderr.trim().split("\n").pop()!;
  const [seconds, kb] = last.split(" ").map(Number);
  return { seconds, peakMB: kb / 1024 };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function summarise(samples: Sample[]): Sample {
  return { seconds: median(samples.map((s) => s.seconds)), peakMB: median(samples.map((s) => s.peakMB)) };
}

function camel(file: string): string {
  return file.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/**
 * Rewrites per-resource provider imports into the template's package-root form, keeping types:
 * `import { A } from` the package's `lib/lambda-function` file becomes an import of the namespace
 * `lambdaFunction` from the package root plus `import A = lambdaFunction.A;`.
 */
export function toPackageRootImports(source: string): string {
  return source.replace(
    /import \{([^}]+)\} from "@cdktf\/provider-(aws|null|archive)\/lib\/([a-z0-9-]+)";/g,
    (_m, names: string, pkg: string, file: string) => {
      const ns = camel(file);
      const aliases = names
        .split(",")
        .map((n) => n.trim())
        .filter(Boolean)
        .map((n) => `import ${n} = ${ns}.${n};`)
        .join(" ");
      return `import { ${ns} } from "@cdktf/provider-${pkg}"; ${aliases}`;
    },
  );
}

/** A copy of the app's TypeScript with package-root imports, run the way `cdktf init` sets it up. */
function templateCopy(extra: string[] = []): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lambdaship-template-"));
  const copy = (rel: string) => {
    const src = path.join(PROJECT_ROOT, rel);
    const dst = path.join(dir, rel);
    if (path.basename(src) === "target") return;
    if (fs.statSync(src).isDirectory()) {
      for (const name of fs.readdirSync(src)) copy(path.join(rel, name));
      return;
    }
    fs.mkdirSync(path.dirname(dst), { recursive: true });
    if (rel.endsWith(".ts")) fs.writeFileSync(dst, toPackageRootImports(fs.readFileSync(src, "utf8")));
    else fs.copyFileSync(src, dst);
  };
  for (const rel of ["main.ts", "envs", "modules", "build", "lambda-src/websocket/handler.py", "lambda-src/rust", "lambda-src/extensions", "lambda-src/layers", "cdktf.json", "package.json", ...extra]) copy(rel);
  fs.symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(dir, "node_modules"));
  fs.writeFileSync(
    path.join(dir, "tsconfig.json"),
    JSON.stringify({ compilerOptions: { target: "ES2018", module: "commonjs", strict: true, esModuleInterop: true, skipLibCheck: true, types: ["node"] } }),
  );
  return dir;
}

function benchSynth(): void {
  const runs = Number(process.env.BENCH_RUNS ?? 5);
  const templateRuns = Number(process.env.BENCH_TEMPLATE_RUNS ?? 2);
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "lambdaship-bench-out-"));
  const env = { ...process.env, CDKTF_OUTDIR: out };
  process.stdout.write(`synth of all env stacks (${os.cpus().length} cores, node ${process.version}); median of ${runs} runs, template ${templateRuns}\n`);

  const ours = summarise(
    Array.from({ length: runs }, () => measure([process.execPath, "-r", "./scripts/register.js", "main.ts"], PROJECT_ROOT, env)),
  );
  const dir = templateCopy();
  try {
    const tsNode = path.join(PROJECT_ROOT, "node_modules", "ts-node", "dist", "bin.js");
    const template = summarise(Array.from({ length: templateRuns }, () => measure([process.execPath, tsNode, "main.ts"], dir, env)));
    const rows = [
      ["ours: per-resource imports + swc loader", ours],
      ["template: package-root imports + ts-node", template],
    ] as const;
    for (const [label, s] of rows) process.stdout.write(`  ${label.padEnd(44)} ${s.seconds.toFixed(2).padStart(6)} s  ${s.peakMB.toFixed(0).padStart(5)} MB\n`);
    process.stdout.write(
      `  speed-up ${(template.seconds / ours.seconds).toFixed(1)}x, memory ${(template.peakMB / ours.peakMB).toFixed(1)}x less` +
        `  (targets: < 0.8 s, < 150 MB, >= 12x)\n`,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(out, { recursive: true, force: true });
  }
}

const PARTS = ["synth", "functions", "rust", "runtime", "gateway", "live", "dev", "layers"];
const HELP = `Usage: npm run bench [-- --only ${PARTS.join("|")}]

Measures speed and memory against the named baselines, each in the same run, and prints figures
and ratios (README: benchmarks). Nothing here fails on a figure.
${exitCodesHelp()}`;

async function main(): Promise<number | void> {
  const { values, help } = parseCommandLine(process.argv.slice(2), { only: { type: "string" } }, 0);
  if (help) {
    process.stdout.write(`${HELP}\n`);
    return EXIT.ok;
  }
  const only = values.only;
  if (only !== undefined && !PARTS.includes(only)) throw new UsageError(`--only is ${JSON.stringify(only)}; use ${PARTS.join(", ")}`);
  if (!only || only === "synth") benchSynth();
  if (!only || only === "functions") {
    benchManySynth(templateCopy);
    benchBuilders();
  }
  if (!only || only === "layers") benchLayers();
  if (!only || only === "runtime") await benchRuntime();
  if (!only || only === "gateway") await printGatewayBench();
  if (!only || only === "live") await printLiveBench();
  if (!only || only === "dev") await printDevBench();
  if (!only || only === "rust") benchRust();
}

runMain("npm run bench", main, { exit: true });
