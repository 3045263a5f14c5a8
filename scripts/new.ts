import * as fs from "fs";
import * as path from "path";
import * as readline from "readline/promises";
import { DetectError, detectFunction } from "../build/detect";
import { planFunction } from "../build/function";
import { ENV_NAMES, envFile } from "../envs";
import { addFunctionEntry, EnvEditError } from "../envs/edit";
import { exitCodesHelp, parseCommandLine, runMain, UsageError } from "../lib/cli";
import { PROJECT_ROOT } from "../lib/toolchain";

const HELP = `Usage: npm run new -- <folder> [--env ENV] [--key KEY] [--memory MIB] [--timeout S]
                          [--url none|AWS_IAM|NONE] [--policy TEMPLATE:NAME[,NAME] ...]

Adds a function to an env (seed 001's wizard): detects the folder's runtime and handler, asks on a
terminal for memory, timeout, policy templates and a function URL (the flags answer when there is no
terminal, or skip the question), writes the entry into envs/<env>.ts under functions, and prints
what npm start will do with it.

  <folder>        the function's folder, relative to the project root (it must exist)
  --env ENV       the env file to edit (default local; one of ${ENV_NAMES.join(", ")})
  --key KEY       the function's key (default: the folder's name); deployed as <namePrefix>-<key>
  --memory MIB    128-10240 (default 128)
  --timeout S     1-900 (default 3)
  --url MODE      none (default), AWS_IAM, or NONE (public)
  --policy P      a policy template on named resources, e.g. dynamodb-read:orders or
                  s3-read-write:uploads-bucket; repeatable (templates: dynamodb-read,
                  dynamodb-read-write, s3-read, s3-read-write, sqs-send, sqs-consume, sns-publish)

${exitCodesHelp()}`;

const RESOURCE_FIELD: Record<string, string> = {
  "dynamodb-read": "tables", "dynamodb-read-write": "tables", "s3-read": "buckets", "s3-read-write": "buckets",
  "sqs-send": "queues", "sqs-consume": "queues", "sns-publish": "topics",
};

function policy(text: string): Record<string, unknown> {
  const m = /^([a-z0-9-]+):(.+)$/.exec(text.trim());
  if (!m || !RESOURCE_FIELD[m[1]]) throw new UsageError(`--policy is ${JSON.stringify(text)}; write TEMPLATE:NAME[,NAME], e.g. dynamodb-read:orders (templates: ${Object.keys(RESOURCE_FIELD).join(", ")})`);
  return { template: m[1], [RESOURCE_FIELD[m[1]]]: m[2].split(",").map((s) => s.trim()).filter(Boolean) };
}

function whole(name: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${name} is ${JSON.stringify(text)}; Lambda allows ${min}-${max}`);
  return n;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals, help } = parseCommandLine(argv, {
    env: { type: "string" }, key: { type: "string" }, memory: { type: "string" }, timeout: { type: "string" },
    url: { type: "string" }, policy: { type: "string", multiple: true },
  });
  if (help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError("name the function's folder, e.g. npm run new -- lambda-src/functions/orders-api (see --help)");
  const env = values.env ?? "local";
  if (!(ENV_NAMES as readonly string[]).includes(env)) throw new UsageError(`--env is ${JSON.stringify(env)}; choose one of ${ENV_NAMES.join(", ")}`);
  const source = path.relative(PROJECT_ROOT, path.resolve(positionals[0])).split(path.sep).join("/");
  if (source.startsWith("..") || !fs.existsSync(path.join(PROJECT_ROOT, source))) throw new UsageError(`${positionals[0]} is not a folder inside the project (${PROJECT_ROOT})`);
  const key = values.key ?? path.basename(source).toLowerCase();
  if (!/^[a-z0-9][a-z0-9_-]{0,47}$/.test(key)) throw new UsageError(`the key is ${JSON.stringify(key)}; keys are 1-48 characters of lowercase letters, digits, '-' and '_' (set --key)`);

  const detected = detectFunction(path.join(PROJECT_ROOT, source));
  process.stdout.write(`${source}: ${detected.language}, runtime ${detected.runtime}, handler ${detected.handler}${detected.handlerFile ? ` (${detected.handlerFile})` : ""}\n`);

  const tty = process.stdin.isTTY && process.stdout.isTTY;
  const rl = tty ? readline.createInterface({ input: process.stdin, terminal: false }) : undefined;
  // Lines read through the iterator, so answers typed (or pasted) ahead of a question are kept.
  const lines = rl?.[Symbol.asyncIterator]();
  const ask = async (question: string, flag: string | undefined, fallback: string): Promise<string> => {
    if (flag !== undefined || !lines) return flag ?? fallback;
    process.stdout.write(`${question} [${fallback}]: `);
    const next = await lines.next();
    if (next.done) throw new UsageError("the input ended before every question was answered; nothing was written");
    return String(next.value).trim() || fallback;
  };
  let entry: Record<string, unknown>;
  try {
    const memory = whole("memory", await ask("Memory (MiB, 128-10240)", values.memory, "128"), 128, 10240);
    const timeout = whole("timeout", await ask("Timeout (seconds, 1-900)", values.timeout, "3"), 1, 900);
    const policiesText = values.policy ?? (rl ? (await ask("Policy templates, separated by spaces, each TEMPLATE:NAME[,NAME] (e.g. dynamodb-read:orders; empty for none)", undefined, "")).split(/\s+/).filter(Boolean) : []);
    const url = await ask("Function URL (none, AWS_IAM, NONE = public)", values.url, "none");
    if (!["none", "AWS_IAM", "NONE"].includes(url)) throw new UsageError(`url is ${JSON.stringify(url)}; use none, AWS_IAM or NONE`);
    entry = { source };
    if (memory !== 128) entry.memoryMiB = memory;
    if (timeout !== 3) entry.timeoutSeconds = timeout;
    if (policiesText.length) entry.policies = policiesText.map(policy);
    if (url !== "none") entry.url = { authType: url };
  } finally {
    rl?.close();
  }

  const file = path.join(PROJECT_ROOT, envFile(env));
  const before = fs.readFileSync(file, "utf8");
  const after = addFunctionEntry(before, envFile(env), key, entry);
  fs.writeFileSync(file, after);
  // The result must load: a file this could not edit cleanly is put back as it was.
  const { loadEnv } = require("../envs") as typeof import("../envs");
  let prefix: string;
  try {
    prefix = loadEnv(env).namePrefix;
  } catch (e) {
    fs.writeFileSync(file, before);
    throw new UsageError(`the edited ${envFile(env)} does not validate, so it was left as it was: ${(e as Error).message}`);
  }
  process.stdout.write(
    `\nAdded functions.${key} to ${envFile(env)}.\n` +
      `${env === "local" ? "npm start" : `npm run plan -- ${env}`} will: build ${detected.runtime} package of ${source} at apply` +
      `${detected.language !== "rust" && planFunction({ name: key, dir: path.join(PROJECT_ROOT, source) }, "arm64").dependencyLayer ? " and its dependency layer" : ""}, deploy ${prefix}-${key}` +
      `${entry.url ? ` with a function URL (${(entry.url as { authType: string }).authType})` : ""}` +
      `${env === "local" ? `, and invoke it with lambda-src/events/${key}.json (or ${source}/events/sample.json, else {})` : ""}.\n`,
  );
  return 0;
}

runMain("npm run new", async () => {
  try {
    return await main(process.argv.slice(2));
  } catch (e) {
    // What the folder or the env file holds is input too: nothing was written (exit 2).
    throw e instanceof DetectError || e instanceof EnvEditError ? new UsageError((e as Error).message) : e;
  }
});
