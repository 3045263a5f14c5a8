import { spawnSync } from "child_process";
import * as fs from "fs";

/**
 * `npx cdktf diff|deploy|destroy` run the engine themselves, with the user's environment: without
 * TF_CLI_CONFIG_FILE the engine asks the public registry for the aws provider (unreachable here, and
 * not the provider setup built), and fails after a minute. The app command they run first (main.ts)
 * stops them with one line instead, saying what to run.
 */

/** The cdktf subcommand an ancestor process runs (`diff`, `deploy`, ...) and its arguments, from the process tree. */
export function cdktfCommandOfAncestors(start = process.ppid, depth = 6): { command: string; args: string[] } | undefined {
  let pid = start;
  for (let i = 0; i < depth && pid > 1; i++) {
    const { cmdline, ppid } = processInfo(pid);
    const args = cmdline ?? [];
    const at = args.findIndex((a) => /(^|\/)cdktf(\.js)?$/.test(a));
    if (at >= 0) {
      const rest = args.slice(at + 1);
      const i = rest.findIndex((a) => !a.startsWith("-"));
      return i >= 0 ? { command: rest[i], args: rest.slice(i + 1) } : undefined;
    }
    if (ppid === undefined) return undefined;
    pid = ppid;
  }
  return undefined;
}

function processInfo(pid: number): { cmdline?: string[]; ppid?: number } {
  try {
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    return { cmdline, ppid };
  } catch {
    const ps = spawnSync("ps", ["-o", "ppid=,command=", "-p", String(pid)], { encoding: "utf8" });
    if (ps.status !== 0) return {};
    const m = /^\s*(\d+)\s+(.*)$/.exec(ps.stdout.trim());
    return m ? { ppid: Number(m[1]), cmdline: m[2].split(/\s+/) } : {};
  }
}

const ENGINE_COMMANDS = new Set(["diff", "plan", "deploy", "apply", "destroy"]);

/**
 * The line that stops `npx cdktf <command>` when it would run the engine without the CLI config
 * setup wrote; undefined when nothing is wrong (synth, a config given, or no setup to point at).
 */
export function cdktfEngineProblem(command: string | undefined, env: NodeJS.ProcessEnv, cliConfigFile: string | undefined, stackArgs: string): string | undefined {
  if (!command || !ENGINE_COMMANDS.has(command) || !cliConfigFile) return undefined;
  // cdktf itself points TF_CLI_CONFIG_FILE at ~/.terraformrc when the user gives none: only a config
  // that says where providers come from will do.
  const given = env.TF_CLI_CONFIG_FILE;
  if (given === cliConfigFile) return undefined;
  if (given && fs.existsSync(given) && /provider_installation/.test(fs.readFileSync(given, "utf8"))) return undefined;
  const wrapper = command === "diff" || command === "plan" ? "diff" : "deploy";
  return (
    `lambdaship: cdktf ${command} runs the engine, which needs the aws provider setup built (no registry here): ` +
    `run TF_CLI_CONFIG_FILE=${cliConfigFile} npx cdktf ${command}${stackArgs ? ` ${stackArgs}` : ""}, or npm run ${wrapper} -- <env>, which sets it`
  );
}
