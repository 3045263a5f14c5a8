import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { buildPythonLayer, detectLayerRuntime, LayerError, missingWheel, pythonPlatform } from "../build/layer";
import { PROJECT_ROOT } from "./helpers";

jest.setTimeout(10 * 60 * 1000);

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "lambdaship-layer-test-"));
const PYTHON = path.join(PROJECT_ROOT, ".venv", "bin", "python");

function folder(name: string, files: Record<string, string>): string {
  const dir = path.join(scratch, name);
  fs.mkdirSync(dir, { recursive: true });
  for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), text);
  return dir;
}

describe("layer runtime detection", () => {
  it.each([
    ["requirements.txt", "python", { "requirements.txt": "x==1\n" }],
    ["Pipfile.lock", "python", { "Pipfile.lock": "{}" }],
    ["poetry.lock", "python", { "poetry.lock": "" }],
    ["package.json", "nodejs", { "package.json": "{}", "package-lock.json": "{}" }],
  ] as const)("reads %s as %s", (manifest, runtime, files) => {
    expect(detectLayerRuntime(folder(`ok-${manifest}`, files))).toEqual({ runtime, manifest });
  });

  it.each([
    ["no dependency file", { "README.md": "" }, "has no dependency file: add requirements.txt, Pipfile.lock or poetry.lock (Python), or package.json with its lock file (Node.js)"],
    ["package.json without a lock file", { "package.json": "{}" }, "has package.json but no lock file (package-lock.json, npm-shrinkwrap.json, yarn.lock, pnpm-lock.yaml)"],
    ["two runtimes", { "requirements.txt": "", "package.json": "{}", "yarn.lock": "" }, "has dependency files of several runtimes (requirements.txt, package.json): keep one runtime per layer folder"],
    ["two Python files", { "requirements.txt": "", "poetry.lock": "" }, "has several Python dependency files (requirements.txt, poetry.lock)"],
  ])("names the folder and the fix for %s", (label, files, message) => {
    const dir = folder(`bad-${label.replace(/\W+/g, "-")}`, files);
    expect(() => detectLayerRuntime(dir)).toThrow(LayerError);
    expect(() => detectLayerRuntime(dir)).toThrow(`layer folder ${dir} ${message}`);
  });

  it("names a folder that does not exist", () => {
    expect(() => detectLayerRuntime(path.join(scratch, "nope"))).toThrow(`layer folder ${path.join(scratch, "nope")} does not exist`);
  });

  it("reads the package without a wheel from pip's error", () => {
    expect(missingWheel("ERROR: Could not find a version that satisfies the requirement pycrypto==2.6.1 (from versions: none)\nERROR: No matching distribution found for pycrypto==2.6.1")).toBe("pycrypto==2.6.1");
    expect(pythonPlatform("arm64")).toBe("manylinux2014_aarch64");
  });
});

describe("Python dependency layers, built for real with pip from PyPI", () => {
  const dir = path.join(PROJECT_ROOT, "lambda-src", "layers", "websocket-deps");
  const listing = (zip: string) =>
    execFileSync("python3", ["-c", "import sys,zipfile; print('\\n'.join(f'{i.filename} {oct(i.external_attr>>16)}' for i in zipfile.ZipFile(sys.argv[1]).infolist()))", zip]).toString().trim().split("\n");

  it.each(["arm64", "x86_64"] as const)("%s: lays the dependencies out under python/, as Lambda expects, deterministically", (arch) => {
    const a = buildPythonLayer({ name: "deps", dir, arch, pythonVersion: "3.12", outDir: path.join(scratch, `a-${arch}`), python: PYTHON });
    const b = buildPythonLayer({ name: "deps", dir, arch, pythonVersion: "3.12", outDir: path.join(scratch, `b-${arch}`), python: PYTHON });
    expect(a.skipped || b.skipped).toBe(false);
    expect(b.sourceCodeHash).toBe(a.sourceCodeHash);
    expect(fs.readFileSync(b.zipPath)).toEqual(fs.readFileSync(a.zipPath));
    const files = listing(a.zipPath);
    expect(files).toContain("python/aws_lambda_powertools/__init__.py 0o100644");
    expect(files.every((f) => f.startsWith("python/"))).toBe(true);
    expect(files.some((f) => f.includes("__pycache__") || f.includes(".dist-info/RECORD"))).toBe(false);
    expect(a).toMatchObject({ compatibleRuntime: "python3.12", architecture: arch });
    // The same inputs again: skipped, same artifact.
    const again = buildPythonLayer({ name: "deps", dir, arch, pythonVersion: "3.12", outDir: path.join(scratch, `a-${arch}`), python: PYTHON });
    expect(again).toMatchObject({ skipped: true, sourceCodeHash: a.sourceCodeHash });
  });

  it("refuses a package with no wheel for the target, naming it, and writes nothing", () => {
    const bad = folder("no-wheel", { "requirements.txt": "pycrypto==2.6.1\n" });
    const out = path.join(scratch, "no-wheel-out");
    expect(() => buildPythonLayer({ name: "bad", dir: bad, arch: "arm64", pythonVersion: "3.12", outDir: out, python: PYTHON })).toThrow(
      `layer bad: pycrypto==2.6.1 (from ${path.join(bad, "requirements.txt")}) has no wheel for manylinux2014_aarch64 and Python 3.12; pin a version that publishes one, or drop it from the layer. Nothing was written.`,
    );
    expect(fs.existsSync(out)).toBe(false);
  });
});
