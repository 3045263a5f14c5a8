import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { binsFromMetadata, buildFunctions, cargoMetadata, chooseToolchain, functionHashes } from "../build/rust";

/**
 * Two checkouts of one cargo workspace building into one shared target folder (as CI's clone, a
 * worktree and the end-to-end tests' copies do): cargo names a member's output the same in both and
 * tells freshness by modification times, so without care the second checkout's build takes the
 * first's output of a member whose sources differ, whenever that output is newer than the second
 * checkout's files. Seen here: a WebSocket handler deployed (and stored under its input hash)
 * without the change its sources had. Each build must run the sources of its own checkout.
 */
jest.setTimeout(10 * 60 * 1000);

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "lambdaship-shared-target-"));

function checkout(name: string, says: string, mtime: Date): string {
  const dir = path.join(scratch, name);
  const files: Record<string, string> = {
    "Cargo.toml": '[workspace]\nresolver = "2"\nmembers = ["crates/app", "crates/words"]\n',
    "crates/app/Cargo.toml": '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n[[bin]]\nname = "hello"\npath = "src/main.rs"\n\n[dependencies]\nwords = { path = "../words" }\n',
    "crates/app/src/main.rs": "fn main() {\n    println!(\"{}\", words::WORD);\n}\n",
    "crates/words/Cargo.toml": '[package]\nname = "words"\nversion = "0.1.0"\nedition = "2021"\n',
    "crates/words/src/lib.rs": `pub const WORD: &str = "${says}";\n`,
  };
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  }
  expect(spawnSync("cargo", ["generate-lockfile", "--offline"], { cwd: dir, encoding: "utf8" }).status).toBe(0);
  for (const rel of [...Object.keys(files), "Cargo.lock"]) fs.utimesSync(path.join(dir, rel), mtime, mtime);
  return dir;
}

describe("a cargo target folder shared by checkouts", () => {
  afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

  it("builds each checkout from its own sources, even when the other's build is newer than its files", () => {
    const toolchain = chooseToolchain("x86_64", true).toolchain;
    const target = path.join(scratch, "shared-target");
    const run = (dir: string) => {
      const meta = cargoMetadata(dir);
      const functions = binsFromMetadata(meta);
      const [built] = buildFunctions({ workspaceDir: dir, functions, toolchain, hashes: functionHashes(meta, functions, toolchain.target), cargoTargetDir: target });
      return spawnSync(built.bootstrap, { encoding: "utf8" }).stdout.trim();
    };
    // The second checkout's files are older than the first checkout's build.
    const older = checkout("b", "from b", new Date("2020-01-01T00:00:00Z"));
    const newer = checkout("a", "from a", new Date());
    expect(run(newer)).toBe("from a");
    expect(run(older)).toBe("from b");
  });
});
