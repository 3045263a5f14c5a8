import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { checkStateFile, protectStateFiles, StateError, writePrivate } from "../lib/state-guard";

describe("the local state file, guarded", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lambdaship-state-"));
  const file = path.join(dir, "terraform.lambdaship-local.tfstate");
  const state = (n: number) => JSON.stringify({ version: 4, resources: Array.from({ length: n }, (_, i) => ({ mode: "managed", type: "aws_lambda_function", name: `f${i}`, instances: [] })) });
  beforeEach(() => {
    for (const f of fs.readdirSync(dir)) fs.rmSync(path.join(dir, f));
  });

  it("refuses an empty state file whose backup holds resources, naming both files and the recovery", () => {
    fs.writeFileSync(file, "");
    fs.writeFileSync(`${file}.backup`, state(3));
    expect(() => checkStateFile(file)).toThrow(StateError);
    expect(() => checkStateFile(file)).toThrow(
      new RegExp(`terraform\\.lambdaship-local\\.tfstate is empty \\(0 bytes\\), but its backup .*\\.backup holds 3 resources: planning from it would create everything a second time and overwrite the state\\. Nothing was planned; restore it with cp .*\\.backup .*tfstate`),
    );
  });

  it("refuses an unreadable state file when the local AWS has the env's functions", () => {
    fs.writeFileSync(file, "{ truncated");
    expect(() => checkStateFile(file, ["lambdaship-local-backend", "lambdaship-local-report"])).toThrow(/is not a state file .*, but the account has lambdaship-local-backend, lambdaship-local-report: .* npm run emulator -- stop/);
  });

  it("lets an empty state file through when nothing says anything was deployed, and a real one always", () => {
    fs.writeFileSync(file, "");
    expect(() => checkStateFile(file, [])).not.toThrow();
    fs.writeFileSync(file, state(2));
    fs.writeFileSync(`${file}.backup`, state(5));
    expect(() => checkStateFile(file, ["lambdaship-local-backend"])).not.toThrow();
    expect(() => checkStateFile(path.join(dir, "missing.tfstate"), ["x"])).not.toThrow();
  });

  it("makes state files, their backups and plan files readable by their owner only", () => {
    fs.writeFileSync(file, state(1), { mode: 0o644 });
    fs.writeFileSync(`${file}.backup`, state(1), { mode: 0o644 });
    protectStateFiles(file);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(`${file}.backup`).mode & 0o777).toBe(0o600);
    const plan = path.join(dir, "plan-local.json");
    fs.writeFileSync(plan, "old", { mode: 0o644 });
    writePrivate(plan, "{}");
    expect(fs.statSync(plan).mode & 0o777).toBe(0o600);
  });
});

describe("npm run emulator -- stop", () => {
  it("recognises only the moto server it recorded: not another process that has its pid now, nor a dead pid", async () => {
    const { startEmulator, isRecordedServer } = await import("../lib/local-aws");
    const emu = await startEmulator({ logFile: path.join(os.tmpdir(), `lambdaship-moto-${process.pid}.log`) });
    const other = require("child_process").spawn("sleep", ["30"]);
    try {
      expect(isRecordedServer({ endpoint: emu.endpoint, pid: emu.pid })).toBe(true);
      expect(isRecordedServer({ endpoint: emu.endpoint, pid: other.pid })).toBe(false);
      expect(isRecordedServer({ endpoint: "http://127.0.0.1:1", pid: emu.pid })).toBe(false);
      // What the local AWS has under an env's prefix, as the state guard asks it.
      const scope = (service: string) => `AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/${service}/aws4_request, SignedHeaders=host, Signature=0`;
      await fetch(`${emu.endpoint}/`, { method: "POST", headers: { Authorization: scope("iam"), "Content-Type": "application/x-www-form-urlencoded" }, body: "Action=CreateRole&Version=2010-05-08&RoleName=r&AssumeRolePolicyDocument=%7B%7D" });
      const fn = (name: string) => fetch(`${emu.endpoint}/2015-03-31/functions`, { method: "POST", headers: { Authorization: scope("lambda"), "Content-Type": "application/json" }, body: JSON.stringify({ FunctionName: name, Runtime: "python3.12", Role: "arn:aws:iam::123456789012:role/r", Handler: "a.b", Code: { ZipFile: "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==" } }) });
      expect((await fn("lambdaship-local-b")).status).toBe(201);
      expect((await fn("lambdaship-local-a")).status).toBe(201);
      expect((await fn("other-c")).status).toBe(201);
      const { functionsOnEmulator } = await import("../lib/state-guard");
      expect(await functionsOnEmulator(emu.endpoint, "lambdaship-local", "us-east-1")).toEqual(["lambdaship-local-a", "lambdaship-local-b"]);
      expect(await functionsOnEmulator(emu.endpoint, "lambdaship-local", "eu-west-1")).toEqual([]);
    } finally {
      other.kill();
      await emu.stop();
    }
    expect(isRecordedServer({ endpoint: emu.endpoint, pid: emu.pid })).toBe(false);
  }, 60_000);
});
