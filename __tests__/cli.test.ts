import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { EXIT, exitCodesHelp, parseCommandLine, UsageError } from "../lib/cli";
import { PROJECT_ROOT } from "./helpers";

describe("the commands' one way of arguments, errors and exit codes", () => {
  test("parseCommandLine: options, positionals, --help; unknown options are usage errors", () => {
    const opts = { port: { type: "string" }, upgrade: { type: "boolean" }, platform: { type: "string", multiple: true } } as const;
    expect(parseCommandLine(["local", "--port", "9000", "--platform", "a_b", "--platform", "c_d", "--upgrade"], opts)).toEqual({
      values: { port: "9000", upgrade: true, platform: ["a_b", "c_d"] },
      positionals: ["local"],
      help: false,
    });
    expect(parseCommandLine(["-h"], opts).help).toBe(true);
    expect(() => parseCommandLine(["--nope"], opts)).toThrow(UsageError);
    expect(() => parseCommandLine(["--nope"], opts)).toThrow("Unknown option '--nope'");
    expect(() => parseCommandLine(["a", "b"], opts, 1)).toThrow('unexpected argument "b"');
  });

  test("the exit codes are listed the same way in every --help", () => {
    expect(exitCodesHelp()).toBe("Exit codes: 0 done, 1 failed (the message says what and how to fix it), 2 wrong arguments (nothing was done).");
    expect(EXIT).toMatchObject({ ok: 0, failed: 1, usage: 2, refusedDestroy: 3, refusedImportChange: 4 });
  });

  test.each([
    ["scripts/emulator.ts", ["--bogus"]],
    ["scripts/providers.ts", ["lock", "--platform", "Linux-x64"]],
    ["scripts/setup.ts", ["--only", "everything"]],
    ["scripts/runtime.ts", ["local", "--port", "x"]],
    ["scripts/import-commands.ts", ["qa"]],
    ["scripts/start.ts", ["--allow-everything"]],
    ["scripts/live.ts", ["prod"]],
    ["scripts/live.ts", ["dev", "ws-default"]],
    ["scripts/live.ts", ["dev", "backend", "--relay", "https://x.execute-api.eu-west-1.amazonaws.com/live"]],
    ["scripts/dev.ts", ["prod"]],
    ["scripts/dev.ts", ["local", "nope"]],
  ])("%s %j: a usage error is one line and exit 2", (script, args) => {
    const r = spawnSync(process.execPath, ["-r", "./scripts/register.js", script, ...args], { cwd: PROJECT_ROOT, encoding: "utf8" });
    expect({ status: r.status, lines: r.stderr.trim().split("\n").length }).toEqual({ status: 2, lines: 1 });
    expect(r.stderr).toMatch(/\(see --help\)$/m);
  });

  test("npm run live on an env on AWS with no AWS credentials says where it looked and what to set, and does nothing", () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "no-aws-"));
    try {
      const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("AWS_")));
      const r = spawnSync(process.execPath, ["-r", "./scripts/register.js", "scripts/live.ts", "dev", "backend"], { cwd: PROJECT_ROOT, encoding: "utf8", env: { ...env, HOME: home } });
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(`no AWS credentials: neither AWS_ACCESS_KEY_ID nor keys of profile default in ${path.join(home, ".aws", "credentials")} or ${path.join(home, ".aws", "config")}`);
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });

  test.each(["scripts/start.ts", "scripts/emulator.ts", "scripts/providers.ts", "scripts/setup.ts", "scripts/runtime.ts", "scripts/import-commands.ts", "scripts/live.ts", "scripts/dev.ts", "build/cli.ts", "build/layer-cli.ts", "build/function-cli.ts"])("%s --help lists the exit codes", (script) => {
    const r = spawnSync(process.execPath, ["-r", "./scripts/register.js", script, "--help"], { cwd: PROJECT_ROOT, encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Exit codes: 0 /);
  });
});
