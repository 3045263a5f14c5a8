import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { buildFunction, defaultFunctionStore } from "../build/function";
import { defaultArtifactCache } from "../build/rust";
import { pinBinary } from "../build/rust-dev";
import { DevLoop, DevTarget } from "../lib/dev";
import { PROJECT_ROOT } from "../lib/toolchain";
import { RuntimeEmulator } from "../runtime/emulator";
import { functionsFromStack, StackJson } from "../runtime/functions";
import { DEV_EDITS, writeDevSources } from "./fixtures/dev/sources";

/**
 * npm run dev's loop (lib/dev.ts, build/dev.ts) on functions in six languages outside lambda-src/:
 * each is served from its dev build, an edit is answered by the next invocation, a syntax error
 * leaves the previous build serving, and nothing is written into the release artifact stores.
 */
jest.setTimeout(15 * 60 * 1000);

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "lambdaship-dev-"));
function write(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
}

/** Every file under a folder with its size and modification time: what a store holds. */
function listing(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const st = fs.statSync(p);
        out.push(`${path.relative(dir, p)} ${st.size} ${st.mtimeMs}`);
      }
    }
  };
  walk(dir);
  return out.sort();
}

const sources = writeDevSources(path.join(scratch, "src"));

describe("npm run dev's loop: an edit is answered by the next invocation, in every language", () => {
  const lines: string[] = [];
  let emulator: RuntimeEmulator;
  let loop: DevLoop;
  let stores: string[];

  const answer = async (key: string, event: object = {}) => {
    const r = await emulator.invoke(`dev-${key}`, JSON.stringify(event));
    if (r.functionError) throw new Error(`dev-${key} failed: ${r.payload.toString()}\n${r.logs}`);
    return JSON.parse(r.payload.toString()) as Record<string, unknown>;
  };
  /** Waits for the loop's line about `key` that matches. */
  const line = async (key: string, pattern: RegExp, from: number): Promise<string> => {
    for (let i = 0; i < 1200; i++) {
      const hit = lines.slice(from).find((l) => l.startsWith(`${key}: `) && pattern.test(l));
      if (hit) return hit;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no line for ${key} matching ${pattern}; the loop said:\n${lines.join("\n")}`);
  };

  beforeAll(async () => {
    // What is "deployed": stand-ins the dev builds replace, and Java's real package (its jars in lib/).
    const deployed = (key: string, files: Record<string, string>) => {
      const dir = path.join(scratch, "deployed", key);
      for (const [f, text] of Object.entries(files)) write(path.join(dir, f), text);
      if (files.bootstrap) fs.chmodSync(path.join(dir, "bootstrap"), 0o755);
      return dir;
    };
    const java = buildFunction({ name: "dev-java", dir: sources.java, dependencies: "bundle" }, "x86_64", { projectRoot: scratch, store: undefined });
    const fn = (key: string, runtime: string, handler: string, filename: string) => ({ function_name: `dev-${key}`, runtime, handler, filename, memory_size: 512, timeout: 10 });
    const stack: StackJson = {
      resource: {
        aws_lambda_function: {
          py: fn("py", "python3.12", "app.handler", deployed("py", { "app.py": 'def handler(e, c):\n    return {"v": "deployed"}\n' })),
          js: fn("js", "nodejs22.x", "index.handler", deployed("js", { "index.js": 'exports.handler = async () => ({ v: "deployed" });\n' })),
          ts: fn("ts", "nodejs22.x", "index.handler", deployed("ts", { "index.js": 'exports.handler = async () => ({ v: "deployed" });\n' })),
          go: fn("go", "provided.al2023", "bootstrap", deployed("go", { bootstrap: "#!/bin/sh\nexit 1\n" })),
          rust: fn("rust", "provided.al2023", "bootstrap", deployed("rust", { bootstrap: "#!/bin/sh\nexit 1\n" })),
          java: fn("java", "java21", "example.Inventory::handleRequest", java.zipPath),
        },
      },
    };
    const resolve = { stackDir: scratch, region: "us-east-1", projectRoot: PROJECT_ROOT };
    const { functions } = functionsFromStack(stack, resolve);
    emulator = new RuntimeEmulator(functions);
    const targets: DevTarget[] = Object.entries(sources).map(([key, dir]) => ({ key, functionName: `dev-${key}`, entry: { source: dir, ...(key === "rust" ? { bin: "hello" } : {}) } }));
    stores = [...listing(defaultFunctionStore()), ...listing(defaultArtifactCache())];
    loop = new DevLoop({ emulator, functions, stack, resolve }, targets, { projectRoot: PROJECT_ROOT, log: (l) => lines.push(l), defaultArchitecture: "arm64" });
    await loop.start();
  });

  afterAll(async () => {
    await loop?.stop();
    await emulator?.stop();
  });

  it("serves each function from its dev build, saying once where it differs from what is deployed", async () => {
    expect(await answer("py")).toEqual({ lang: "python", v: "v1" });
    expect(await answer("js")).toEqual({ lang: "javascript", v: "v1" });
    expect(await answer("ts")).toEqual({ lang: "typescript", v: "v1" });
    expect(await answer("go")).toEqual({ lang: "go", v: "v1" });
    expect(await answer("rust")).toMatchObject({ lang: "rust", bin: "hello" });
    expect(await answer("java", { sku: "PEN-2" })).toMatchObject({ sku: "PEN-2", inStock: 3 });
    expect(lines).toContainEqual(expect.stringMatching(/^go: dev build built for x86_64, natively \(deployed: arm64, stripped\)$/));
    expect(lines).toContainEqual(expect.stringMatching(/^rust: dev build bin hello built for x86_64 with cargo's dev profile: no optimisation, no LTO \(deployed: arm64, the release profile\)$/));
    for (const key of Object.keys(sources)) expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${key}: built in \\d+\\.\\d\\d s \\(`)));
  });

  it("answers the next invocation with an edit, rebuilding only that function, with a line that says what changed", async () => {
    for (const [key, { file, from, to }] of Object.entries(DEV_EDITS)) {
      const at = lines.length;
      const abs = path.join(sources[key as keyof typeof sources], file);
      fs.writeFileSync(abs, fs.readFileSync(abs, "utf8").replace(from, to));
      const said = await line(key, /rebuilt|failed/, at);
      expect(said).toMatch(new RegExp(`^${key}: ${file.replace(/[./]/g, (c) => `\\${c}`)} changed; rebuilt in \\d+\\.\\d\\d s \\(.*\\); the next invocation runs it$`));
      // Only that function was rebuilt.
      expect(lines.slice(at).filter((l) => /rebuilt|failed/.test(l))).toHaveLength(1);
    }
    for (const [key, { expect: answered, event }] of Object.entries(DEV_EDITS)) expect(await answer(key, event)).toMatchObject(answered);
  });

  it("shows a syntax error and keeps the previous build serving (Python, JavaScript, TypeScript, Go)", async () => {
    const broken: Array<[string, string, RegExp]> = [
      ["py", "app.py", /SyntaxError/],
      ["js", "index.js", /SyntaxError/],
      ["ts", "index.ts", /index\.ts:\d+:\d+: /],
      ["go", "main.go", /main\.go:\d+:\d+: /],
    ];
    for (const [key, file, error] of broken) {
      const at = lines.length;
      const abs = path.join(sources[key as keyof typeof sources], file);
      fs.appendFileSync(abs, "\n)(\n");
      const said = await line(key, /rebuilt|failed/, at);
      expect(said).toMatch(new RegExp(`^${key}: ${file.replace(/\./g, "\\.")} changed; the rebuild failed in \\d+\\.\\d\\d s; the previous build keeps serving:\\n`));
      expect(said).toMatch(error);
      expect((await answer(key)).v).toBe("v2");
    }
    // A fresh sandbox (not only the warm one) runs the previous build too.
    await Promise.all([...emulator.poolOf("dev-py")!.sandboxes].map((sb) => sb.stop()));
    expect((await answer("py")).v).toBe("v2");
  });

  it("Java: a removed source's classes go with it (a fresh classes folder), and the function still answers", async () => {
    const extra = path.join(sources.java, "src", "main", "java", "example", "Extra.java");
    const served = () => {
      const base = path.join(PROJECT_ROOT, ".build", "dev", "java");
      const newest = fs.readdirSync(base).filter((n) => /^g\d+$/.test(n)).sort((a, b) => Number(b.slice(1)) - Number(a.slice(1)))[0];
      return path.join(base, newest);
    };
    let at = lines.length;
    fs.writeFileSync(extra, "package example;\n\npublic class Extra {\n    static int n() { return 1; }\n}\n");
    expect(await line("java", /rebuilt|failed/, at)).toMatch(/^java: src\/main\/java\/example\/Extra\.java changed; rebuilt in .* \(javac 1 file\)/);
    expect(fs.existsSync(path.join(served(), "example", "Extra.class"))).toBe(true);
    at = lines.length;
    fs.rmSync(extra);
    expect(await line("java", /rebuilt|failed/, at)).toMatch(/\(javac \d+ files? into a fresh folder \(src\/main\/java\/example\/Extra\.java removed\)\)/);
    expect(fs.existsSync(path.join(served(), "example", "Extra.class"))).toBe(false);
    expect(fs.existsSync(path.join(served(), "example", "Inventory.class"))).toBe(true);
    expect(await answer("java", { sku: "PEN-2" })).toMatchObject({ inStock: 7 });
  });

  it("writes nothing into the release artifact stores: dev builds live in .build/dev/<key>/", () => {
    expect([...listing(defaultFunctionStore()), ...listing(defaultArtifactCache())]).toEqual(stores);
    for (const key of Object.keys(sources)) expect(fs.existsSync(path.join(PROJECT_ROOT, ".build", "dev", key))).toBe(true);
  });
});

describe("a dev build's Rust binary is pinned where it runs", () => {
  it("stays as built when the shared target folder's binary is rebuilt or cleaned (another checkout's build)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pin-"));
    try {
      const built = path.join(dir, "target", "debug", "hello");
      fs.mkdirSync(path.dirname(built), { recursive: true });
      fs.writeFileSync(built, "#!/bin/sh\necho one\n", { mode: 0o755 });
      const pinned = path.join(dir, "g1", "bootstrap");
      pinBinary(built, pinned);
      // cargo replaces the binary (a new file) and a clean removes it: the pin keeps what was built.
      fs.rmSync(built);
      fs.writeFileSync(built, "#!/bin/sh\necho two\n", { mode: 0o755 });
      expect(spawnSync(pinned, { encoding: "utf8" }).stdout).toBe("one\n");
      fs.rmSync(built);
      expect(spawnSync(pinned, { encoding: "utf8" }).stdout).toBe("one\n");
      expect(() => pinBinary(built, path.join(dir, "g2", "bootstrap"))).toThrow(/ENOENT/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
