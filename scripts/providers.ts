import * as fs from "fs";
import { exitCodesHelp, parseCommandLine, runMain, UsageError } from "../lib/cli";
import * as path from "path";
import {
  AWS_PROVIDER_CONSTRAINT,
  committedLockFile,
  formatLockFile,
  LockedProvider,
  parseLockFile,
  readCommittedLocks,
  runEngineSync,
  userCliConfig,
  withRegistryHost,
  writeIfChanged,
} from "../lib/providers";
import { cacheRoot, ensureEngine, PROJECT_ROOT, STACKS } from "../lib/toolchain";

const PLATFORMS = ["linux_amd64", "linux_arm64", "darwin_amd64", "darwin_arm64", "windows_amd64"];

const HELP = `Usage: npm run providers -- lock [--upgrade] [--platform <os_arch> ...]

Records the providers' hashes in the committed lock files (stacks/<stack>/.terraform.lock.hcl), from
the registry (or the host your CLI config names for it): the version each file pins, or with
--upgrade the newest the stacks accept (hashicorp/aws ${AWS_PROVIDER_CONSTRAINT}). Every platform's
hashes are recorded (default ${PLATFORMS.join(", ")}), so every machine and CI verifies the
same packages. Commit the files; then npm run setup installs from them.

Needs a registry that answers; the source-built provider is never written into these files.
${exitCodesHelp()}`;

const HEADER = [
  "The providers this stack plans with when they come from the registry (npm run setup decides; see",
  'README "Providers"). Kept in version control; npm run setup restores it, with the hashes it',
  "verified, into cdktf.out/stacks/<stack>/ before any init. Written by npm run providers -- lock.",
];

function main(argv: string[]): number {
  const { values, positionals, help } = parseCommandLine(argv, { upgrade: { type: "boolean" }, platform: { type: "string", multiple: true } }, 1);
  if (help || positionals.length === 0) {
    process.stdout.write(`${HELP}\n`);
    return help ? 0 : 2;
  }
  if (positionals[0] !== "lock") throw new UsageError(`unknown command ${JSON.stringify(positionals[0])}; the one command is lock`);
  const upgrade = values.upgrade === true;
  const platforms = values.platform ?? [];
  const bad = platforms.find((p) => !/^[a-z0-9]+_[a-z0-9]+$/.test(p));
  if (bad) throw new UsageError(`--platform is ${JSON.stringify(bad)}; write <os>_<arch>, e.g. linux_amd64`);
  // OpenTofu asks registry.opentofu.org, whose hashicorp/* packages are HashiCorp's own release zips:
  // the hashes are recorded under registry.terraform.io's address either way.
  const engine = ensureEngine();
  const committed = readCommittedLocks(PROJECT_ROOT, STACKS);
  const user = userCliConfig(process.env, path.join(cacheRoot(), "tf"));
  const config = path.join(cacheRoot(), "tf", "providers-lock.tfrc");
  writeIfChanged(config, user.text);
  const done = new Map<string, LockedProvider[]>();
  for (const [stack, lock] of committed) {
    const key = JSON.stringify(lock.providers.map((p) => [p.address, p.version]));
    let locked = done.get(key);
    if (!locked) {
      const dir = path.join(cacheRoot(), "tf", "providers-lock", stack);
      fs.rmSync(dir, { recursive: true, force: true });
      fs.mkdirSync(dir, { recursive: true });
      const required = Object.fromEntries(
        lock.providers.map((p) => [p.address.split("/").pop(), { source: p.address.split("/").slice(1).join("/"), version: upgrade ? AWS_PROVIDER_CONSTRAINT : `= ${p.version}` }]),
      );
      fs.writeFileSync(path.join(dir, "main.tf.json"), `${JSON.stringify({ terraform: { required_providers: required } }, null, 2)}\n`);
      const args = ["providers", "lock", "-no-color", ...(platforms.length ? platforms : PLATFORMS).map((p) => `-platform=${p}`)];
      runEngineSync(engine, dir, args, config, `[providers] ${engine.kind} providers lock for ${stack}`);
      locked = withRegistryHost(parseLockFile(fs.readFileSync(path.join(dir, ".terraform.lock.hcl"), "utf8")), "registry.terraform.io").map((p) => ({
        ...p,
        constraints: AWS_PROVIDER_CONSTRAINT,
      }));
      done.set(key, locked);
    }
    const file = committedLockFile(PROJECT_ROOT, stack);
    writeIfChanged(file, formatLockFile(locked, HEADER));
    process.stdout.write(`${path.relative(PROJECT_ROOT, file)}: ${locked.map((p) => `${p.address} ${p.version}, ${p.hashes.length} hashes`).join("; ")}\n`);
  }
  process.stdout.write("Commit the lock files; npm run setup then installs and verifies what they pin.\n");
  return 0;
}

runMain("npm run providers", () => main(process.argv.slice(2)));
