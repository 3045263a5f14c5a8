import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { detectFunction, DetectError } from "../build/detect";
import { planFunction } from "../build/function";
import { listSourceFiles, SourceError } from "../build/source";

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "lambdaship-detect-"));

function folder(name: string, files: Record<string, string>): string {
  const dir = path.join(scratch, name);
  for (const [f, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), text);
  }
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

const GO_MAIN = "package main\n\nfunc main() {}\n";

describe("runtime and handler detection", () => {
  it.each([
    ["Python by its sources", { "app.py": "def lambda_handler(event, context):\n    return 1\n" }, "python3.12", "app.lambda_handler"],
    ["Python with requirements.txt, preferring lambda_handler", { "requirements.txt": "", "app.py": "def handler(event, context): pass\ndef lambda_handler(event, context): pass\n" }, "python3.12", "app.lambda_handler"],
    ["Python in a package folder, handler", { "pkg/jobs.py": "async def handler(event, context):\n  pass\n" }, "python3.12", "pkg.jobs.handler"],
    ["Python with type hints", { "main.py": "def run(event: dict, context: object) -> dict:\n  return {}\n" }, "python3.12", "main.run"],
    ["JavaScript, CommonJS", { "index.js": "exports.handler = async () => 1;\n" }, "nodejs22.x", "index.handler"],
    ["an ES module", { "index.mjs": "export const handler = async () => 1;\n" }, "nodejs22.x", "index.handler"],
    ["TypeScript under src with package.json", { "package.json": "{}", "src/api.ts": "export async function handler(e: unknown) { return e; }\n" }, "nodejs22.x", "src/api.handler"],
    ["Go", { "go.mod": "module x\n", "main.go": GO_MAIN }, "provided.al2023", "bootstrap"],
    ["Java (Maven)", { "pom.xml": "<project/>", "src/main/java/com/ex/Fn.java": "package com.ex;\npublic class Fn implements RequestHandler<Map<String,Object>, String> {}\n" }, "java21", "com.ex.Fn::handleRequest"],
  ] as const)("detects %s", (_label, files, runtime, handler) => {
    const d = detectFunction(folder(`ok-${_label.replace(/\W+/g, "-")}`, files));
    expect({ runtime: d.runtime, handler: d.handler, detected: d.detected }).toEqual({ runtime, handler, detected: { runtime: true, handler: true } });
  });

  it("leaves tests out of the search", () => {
    const d = detectFunction(folder("tests-ignored", { "app.py": "def lambda_handler(event, context): pass\n", "tests/test_app.py": "def lambda_handler(event, context): pass\n", "index.test.ts": "" }));
    expect(d.handler).toBe("app.lambda_handler");
  });

  it("checks a given handler and runtime", () => {
    const dir = folder("given", { "app.py": "def run(event, context): pass\ndef other(event, context): pass\n" });
    expect(detectFunction(dir, { handler: "app.run", runtime: "python3.13" })).toMatchObject({ runtime: "python3.13", handler: "app.run", detected: { runtime: false, handler: false } });
  });

  const fails = (files: Record<string, string>, opts: { runtime?: string; handler?: string }, field: string, message: string | RegExp) => {
    const dir = folder(`bad-${Math.random().toString(36).slice(2)}`, files);
    let error: unknown;
    try {
      detectFunction(dir, opts);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DetectError);
    expect((error as DetectError).field).toBe(field);
    expect((error as Error).message).toMatch(typeof message === "string" ? message.replace("<dir>", dir) : message);
  };

  it("names the folder, what it found and the field to set", () => {
    fails({ "README.md": "" }, {}, "runtime", /holds no function: no requirements\.txt, package\.json, go\.mod, pom\.xml, build\.gradle or Cargo\.toml, and no \.py file.*set runtime/);
    fails({ "requirements.txt": "", "go.mod": "module x\n" }, {}, "runtime", /looks like several languages: python \(requirements\.txt\), go \(go\.mod\)\. Set runtime to the one it is \(e\.g\. python3\.12 or provided\.al2023\)/);
    fails({ "app.py": "def helper(x): pass\n" }, {}, "handler", /has no module-level def <name>\(event, context\) in its \.py files.*or set handler/);
    fails({ "a.py": "def lambda_handler(event, context): pass\n", "b.py": "def lambda_handler(event, context): pass\n" }, {}, "handler", /has several handlers: a\.lambda_handler \(a\.py\), b\.lambda_handler \(b\.py\); set handler/);
    fails({ "a.js": "exports.handler = 1", "b.mjs": "export const handler = 1" }, {}, "handler", "has several files exporting handler: a.js, b.mjs; set handler (e.g. a.handler)");
    fails({ "index.js": "module.exports = {}" }, {}, "handler", /no \.js, \.mjs, \.cjs or \.ts file that exports handler/);
    fails({ "go.mod": "module x\n", "lib.go": "package lib\n" }, {}, "source", /has a go\.mod but no package main at its top/);
  });

  it("refuses a handler that does not exist, listing the ones that do", () => {
    fails({ "app.py": "def lambda_handler(event, context): pass\n" }, { handler: "main.lambda_handler" }, "handler", "handler main.lambda_handler needs main.py in <dir>, which is not there; the folder's handlers are app.lambda_handler");
    fails({ "app.py": "def lambda_handler(event, context): pass\n" }, { handler: "app.run" }, "handler", "handler app.run: app.py defines no module-level function run; the folder's handlers are app.lambda_handler");
    fails({ "index.js": "exports.handler = 1" }, { handler: "index.main" }, "handler", "handler index.main: index.js exports no main");
    fails({ "go.mod": "module x\n", "main.go": GO_MAIN }, { handler: "main" }, "handler", /a Go function's handler is bootstrap/);
  });

  it("offers only the runtimes Lambda supports now", () => {
    fails({ "app.py": "def lambda_handler(event, context): pass\n" }, { runtime: "python3.9" }, "runtime", "python3.9 is deprecated on Lambda and takes no new functions; use python3.12 or python3.13 or python3.14");
    fails({ "app.py": "def lambda_handler(event, context): pass\n" }, { runtime: "python3.99" }, "runtime", "python3.99 is not a Lambda runtime for python; use python3.12 or python3.13 or python3.14");
    fails({ "index.js": "exports.handler = 1" }, { runtime: "nodejs20.x" }, "runtime", "nodejs20.x is deprecated on Lambda and takes no new functions; use nodejs22.x or nodejs24.x");
    fails({ "index.js": "exports.handler = 1" }, { runtime: "ruby3.4" }, "runtime", /ruby3\.4 is not a runtime this project builds/);
  });
});

describe("function folders: symlinks", () => {
  it("follows a symlink that stays inside the folder", () => {
    const dir = folder("link-inside", { "app.py": "def lambda_handler(event, context): pass\n", "lib/util.py": "" });
    fs.symlinkSync(path.join(dir, "lib", "util.py"), path.join(dir, "util.py"));
    expect(listSourceFiles(dir).map((f) => f.rel)).toEqual(["app.py", "lib/util.py", "util.py"]);
  });

  it("refuses a symlink that points outside the folder, which would be packaged and deployed", () => {
    const dir = folder("link-outside", { "app.py": "def lambda_handler(event, context): pass\n" });
    const secret = folder("secret", { "id_rsa": "KEY" });
    fs.symlinkSync(path.join(secret, "id_rsa"), path.join(dir, "key"));
    expect(() => listSourceFiles(dir)).toThrow(SourceError);
    expect(() => listSourceFiles(dir)).toThrow(`${path.join(dir, "key")} is a symlink to ${fs.realpathSync(path.join(secret, "id_rsa"))}, outside the function folder ${dir}`);
    expect(() => detectFunction(dir)).toThrow(DetectError);
  });

  it("refuses a symlink loop instead of crashing", () => {
    const dir = folder("link-loop", { "app.py": "def lambda_handler(event, context): pass\n" });
    fs.symlinkSync(dir, path.join(dir, "again"));
    expect(() => listSourceFiles(dir)).toThrow(`${path.join(dir, "again")} is a symlink loop`);
    const loop = folder("link-loop2", { "app.py": "" });
    fs.symlinkSync(path.join(loop, "b"), path.join(loop, "a"));
    fs.symlinkSync(path.join(loop, "a"), path.join(loop, "b"));
    expect(() => listSourceFiles(loop)).toThrow(`${path.join(loop, "a")} is a symlink loop`);
  });
});

describe("function plans: input hashes", () => {
  const py = { "app.py": "def lambda_handler(event, context): pass\n", "requirements.txt": "jmespath==1.0.1\n", "tests/test_app.py": "x", "README.md": "r" };

  it("hash what goes into the package, not tests, modes or times; dependency files go to the layer", () => {
    const a = folder("hash-a", py);
    const b = folder("hash-b", { ...py, "tests/test_app.py": "changed", "requirements.txt": "jmespath==1.0.0\n" });
    fs.chmodSync(path.join(b, "app.py"), 0o755);
    fs.utimesSync(path.join(b, "app.py"), new Date(0), new Date(0));
    const pa = planFunction({ name: "f", dir: a }, "arm64");
    expect(pa.inputHash).toBe(planFunction({ name: "f", dir: b }, "arm64").inputHash);
    expect(pa.dependencyLayer).toEqual({ runtime: "python3.12" });
    expect(pa.inputHash).not.toBe(planFunction({ name: "f", dir: a }, "x86_64").inputHash);
    // Bundled, the requirements are an input of the package.
    expect(planFunction({ name: "f", dir: a, dependencies: "bundle" }, "arm64").inputHash).not.toBe(planFunction({ name: "f", dir: b, dependencies: "bundle" }, "arm64").inputHash);
    expect(planFunction({ name: "f", dir: a, dependencies: "bundle" }, "arm64").dependencyLayer).toBeUndefined();
    fs.appendFileSync(path.join(b, "README.md"), "!");
    expect(planFunction({ name: "f", dir: b }, "arm64").inputHash).not.toBe(pa.inputHash);
  });

  it("bundles TypeScript into one file named after its source, and asks for a lock file when there are dependencies", () => {
    const dir = folder("ts", { "package.json": '{"dependencies":{"uuid":"9.0.1"}}', "src/api.ts": "export const handler = async () => 1;\n" });
    expect(() => planFunction({ name: "api", dir }, "arm64")).toThrow(/declares dependencies \(uuid\) and the folder has no lock file; run npm install there and commit package-lock.json/);
    fs.writeFileSync(path.join(dir, "package-lock.json"), "{}");
    expect(planFunction({ name: "api", dir }, "arm64")).toMatchObject({ bundled: true, handler: "src/api.handler", deployedHandler: "api.handler", dependencyLayer: { runtime: "nodejs22.x" } });
  });

  it("builds Maven projects; a Gradle-only one is refused with the fix", () => {
    const dir = folder("gradle", { "build.gradle": "", "src/main/java/ex/H.java": "package ex;\nclass H implements RequestHandler<String, String> {}\n" });
    expect(detectFunction(dir).handler).toBe("ex.H::handleRequest");
    expect(() => planFunction({ name: "g", dir }, "arm64")).toThrow(/is a Gradle project; this builder builds Maven projects \(pom\.xml\)/);
    const maven = folder("maven", { "pom.xml": "<project><dependencies><dependency><artifactId>junit</artifactId><scope>test</scope></dependency></dependencies></project>", "src/main/java/ex/H.java": "package ex;\nclass H implements RequestStreamHandler {}\n" });
    expect(planFunction({ name: "m", dir: maven }, "arm64")).toMatchObject({ runtime: "java21", handler: "ex.H::handleRequest", dependencyLayer: undefined });
  });

  it("refuses a cargo workspace without a bin", () => {
    const dir = folder("cargo", { "Cargo.toml": "[workspace]\n" });
    expect(() => planFunction({ name: "r", dir }, "arm64")).toThrow(/is a cargo workspace: name the function's bin/);
  });
});
