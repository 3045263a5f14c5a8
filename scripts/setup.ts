import { exitCodesHelp, parseCommandLine, runMain, UsageError } from "../lib/cli";
import { ensurePolicyEnv, ensurePythonEnv } from "../lib/python-env";
import { ensureActionlint } from "../lib/lint-setup";
import { ensureFunctionDependencies } from "../lib/functions-setup";
import { ensureChromium } from "../lib/debian-packages";
import { ensureRustToolchain } from "../lib/rust-setup";
import { ensureToolchain, log } from "../lib/toolchain";

const HELP = `Usage: npm run setup [-- --only python|policy|engine|rust|lint|functions|browser]

Installs what the project needs beyond node_modules, idempotently (seconds when warm):
  python   .venv with moto server, boto3 and pytest (requirements-dev.txt)
  engine   Terraform engine (terraform/tofu on PATH if >= 1.10, else OpenTofu built from the Go
           module proxy) and the aws provider: the official one from the registry at the version
           stacks/<stack>/.terraform.lock.hcl pins, when the registry answers (your CLI config's
           host blocks honoured); else built from the Go module proxy and served from a local
           mirror, locked by its own hash (the committed lock files are left as they are). Decided
           once per clone; LAMBDASHIP_PROVIDER_SOURCE=registry|build decides again. Cached in
           $LAMBDASHIP_CACHE (default ~/.cache/lambdaship), keyed by version.

  rust     Debian packages for arm64 Rust builds (rustc-web, cargo-web, libstd-rust-web-dev:arm64,
           gcc-aarch64-linux-gnu, qemu-user); installed when run as root, otherwise the exact
           command to run is printed
  policy   .venv-policy with checkov and shellcheck (requirements-policy.txt), for npm test's policy
           scan and workflow lint
  lint     actionlint (the GitHub Actions workflow linter), built from the Go module proxy
  functions  the example Node.js functions' own dependencies (npm ci in each folder with a lock
           file, for their tests), and a check that go is on PATH for the Go functions
  browser  Debian's chromium, which npm test runs headless to test the local gateway's chat page
           (installed when run as root, otherwise the exact command is printed)

Environment: LAMBDASHIP_CACHE, LAMBDASHIP_ENGINE=terraform|tofu (force one engine),
LAMBDASHIP_PROVIDER_SOURCE=auto|registry|build (default auto), TF_CLI_CONFIG_FILE (your CLI config).
${exitCodesHelp()}`;

async function main(argv: string[]): Promise<number> {
  const { values, help } = parseCommandLine(argv, { only: { type: "string" } }, 0);
  if (help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const only = values.only;
  if (only !== undefined && !["python", "policy", "engine", "rust", "lint", "functions", "browser"].includes(only)) {
    throw new UsageError(`--only takes python, policy, engine, rust, lint, functions or browser, not ${JSON.stringify(only)}`);
  }
  const started = Date.now();
  if (!only || only === "python") ensurePythonEnv();
  if (!only || only === "policy") ensurePolicyEnv();
  if (!only || only === "rust") ensureRustToolchain();
  if (!only || only === "lint") ensureActionlint();
  if (!only || only === "browser") ensureChromium();
  if (!only || only === "functions") ensureFunctionDependencies();
  if (!only || only === "engine") {
    const t = await ensureToolchain();
    log(`CLI config: ${t.cliConfigFile}`);
  }
  log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return 0;
}

runMain("[setup] error", () => main(process.argv.slice(2)));
