import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { isStaticElf, readElfHeader } from "../build/elf";
import { directUploadError } from "../build/layer-cli";
import { knownZipSize } from "../build/artifact";
import { buildLayer, detectLayerRuntime, LayerError, LayerSource, missingWheel, planLayer, pythonPlatform, unzippedLimitError } from "../build/layer";
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
    ["no dependency file", { "README.md": "" }, "has no dependency file: add requirements.txt, Pipfile.lock or poetry.lock (Python), package.json with its lock file (Node.js), or pom.xml (Java)"],
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

describe("layer plans: input hashes and errors found without building", () => {
  const deps = (dir: string, runtime = "python3.12"): LayerSource => ({ name: "deps", kind: "dependencies", dir, runtime });

  it("hashes the dependency file, the runtime and the architecture, and nothing else", () => {
    const a = folder("hash-a", { "requirements.txt": "requests==2.32.3\n", "notes.md": "x" });
    const b = folder("hash-b", { "requirements.txt": "requests==2.32.3\n" });
    expect(planLayer(deps(a), "arm64").inputHash).toBe(planLayer(deps(b), "arm64").inputHash);
    expect(planLayer(deps(a), "arm64").inputHash).not.toBe(planLayer(deps(a), "x86_64").inputHash);
    expect(planLayer(deps(a), "arm64").inputHash).not.toBe(planLayer(deps(a, "python3.13"), "arm64").inputHash);
    const plan = planLayer(deps(a), "arm64");
    expect(plan).toMatchObject({ zipName: `deps-arm64-${plan.inputHash.slice(0, 16)}.zip`, compatibleRuntimes: ["python3.12"], extensions: [] });
  });

  it.each([
    ["a runtime of another language", { "requirements.txt": "" }, "nodejs20.x", "makes it a Python layer, but its runtime is \"nodejs20.x\"; set runtime to a python runtime such as python3.12"],
    ["a Pipfile.lock", { "Pipfile.lock": "{}" }, "python3.12", "Pipfile.lock is recognised as Python, but this builder installs from requirements.txt; export one"],
    ["a yarn lock", { "package.json": "{}", "yarn.lock": "" }, "nodejs20.x", "no lock file to install from; this builder installs Node.js dependencies with npm ci (package-lock.json or npm-shrinkwrap.json) or pnpm (pnpm-lock.yaml); for a yarn project"],
  ])("refuses %s, naming the folder and the fix", (label, files, runtime, message) => {
    const dir = folder(`plan-${label.replace(/\W+/g, "-")}`, files);
    expect(() => planLayer(deps(dir, runtime), "arm64")).toThrow(message);
  });

  it("refuses a requirement not pinned to one version, naming it", () => {
    const dir = folder("unpinned", { "requirements.txt": "# comment\nrequests==2.32.3\nurllib3>=2\n" });
    expect(() => planLayer(deps(dir), "arm64")).toThrow(`${path.join(dir, "requirements.txt")}: "urllib3>=2" is not pinned to one version; write it as name==version`);
  });

  it("names the extension folder that is not a cargo package", () => {
    const dir = folder("not-cargo", { "main.rs": "" });
    expect(() => planLayer({ name: "ext", kind: "extension", dir }, "arm64")).toThrow(`extension layer folder ${dir} has no Cargo.toml`);
  });

  it("checks Lambda's 250 MB unzipped limit with the sizes it knows, naming each layer and its size", () => {
    const MB = 1024 * 1024;
    expect(unzippedLimitError("f", 10 * MB, [{ name: "a", unzippedBytes: 100 * MB }, { name: "b" }])).toBeUndefined();
    expect(unzippedLimitError("f", 10 * MB, [{ name: "a", unzippedBytes: 200 * MB }, { name: "b", unzippedBytes: 45 * MB }])).toBe(
      "f is its own package 10.0 MB + layer a 200.0 MB + layer b 45.0 MB = 255.0 MB unzipped, over Lambda's 250 MB limit for a function and its layers; move dependencies out of the largest layer (or use a container image for this function)",
    );
  });

  it("refuses a zip over 50 MB for a direct upload, naming the setting that sends it through S3", () => {
    const big = [{ zipBytes: 51 * 1024 * 1024, architecture: "arm64" as const }];
    expect(directUploadError("deps", "direct", big)).toBe(
      'layer deps is 51.0 MB zipped for arm64, over Lambda\'s 50 MB limit for a direct upload. Nothing was published. Set upload: "s3" on layers.deps in the env file, so it goes through the env\'s artifact bucket; the zip is kept and not built again.',
    );
    expect(directUploadError("deps", "s3", big)).toBeUndefined();
    expect(directUploadError("deps", "direct", [{ zipBytes: 50 * 1024 * 1024, architecture: "arm64" }])).toBeUndefined();
  });
});

const listing = (zip: string) =>
  execFileSync("python3", ["-c", "import sys,zipfile; print('\\n'.join(f'{i.filename} {oct(i.external_attr>>16)}' for i in zipfile.ZipFile(sys.argv[1]).infolist()))", zip]).toString().trim().split("\n");
const member = (zip: string, name: string) => execFileSync("python3", ["-c", "import sys,zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))", zip, name], { maxBuffer: 64 * 1024 * 1024 });

describe("Python dependency layers, built for real with pip from PyPI", () => {
  const src: LayerSource = { name: "websocket-deps", kind: "dependencies", dir: path.join(PROJECT_ROOT, "lambda-src", "layers", "websocket-deps"), runtime: "python3.12" };
  const root = (n: string) => path.join(scratch, n);

  it.each(["arm64", "x86_64"] as const)("%s: lays the dependencies out under python/, deterministically, and skips a build it has", (arch) => {
    const a = buildLayer(src, arch, { projectRoot: root(`a-${arch}`), store: undefined, python: PYTHON });
    const b = buildLayer(src, arch, { projectRoot: root(`b-${arch}`), store: undefined, python: PYTHON });
    expect([a.status, b.status]).toEqual(["built", "built"]);
    expect(b.zipSha256).toBe(a.zipSha256);
    expect(fs.readFileSync(b.zipPath)).toEqual(fs.readFileSync(a.zipPath));
    expect(path.basename(a.zipPath)).toBe(planLayer(src, arch).zipName);
    const files = listing(a.zipPath);
    expect(files).toContain("python/aws_lambda_powertools/__init__.py 0o100644");
    expect(files.every((f) => f.startsWith("python/"))).toBe(true);
    expect(files.some((f) => f.includes("__pycache__") || f.includes(".dist-info/RECORD"))).toBe(false);
    expect(knownZipSize(a.zipPath)).toEqual({ zipBytes: a.zipBytes, unzippedBytes: a.unzippedBytes });
    // The same inputs again: skipped, same artifact.
    expect(buildLayer(src, arch, { projectRoot: root(`a-${arch}`), store: undefined, python: PYTHON })).toMatchObject({ status: "skipped", zipSha256: a.zipSha256 });
  });

  it("copies a layer another clone built from the machine's store instead of building it", () => {
    const store = root("store");
    const first = buildLayer(src, "arm64", { projectRoot: root("clone-1"), store, python: PYTHON });
    const second = buildLayer(src, "arm64", { projectRoot: root("clone-2"), store, python: "/nonexistent/python" });
    expect(second).toMatchObject({ status: "cached", zipSha256: first.zipSha256, unzippedBytes: first.unzippedBytes });
  });

  it("refuses a layer whose install brought a package the requirements do not pin, naming it, and writes nothing", () => {
    const loose = folder("transitive", { "requirements.txt": "aws-lambda-powertools==3.37.0\njmespath==1.1.0\n" });
    const projectRoot = root("transitive-out");
    expect(() => buildLayer({ name: "loose", kind: "dependencies", dir: loose, runtime: "python3.12" }, "arm64", { projectRoot, store: undefined, python: PYTHON })).toThrow(
      /^layer loose: pip also installed typing-extensions==[\d.]+, which .*requirements\.txt does not pin; add this line so the layer is the same wherever and whenever it is built\. Nothing was written\.$/,
    );
    expect(fs.existsSync(path.join(projectRoot, ".build"))).toBe(false);
  });

  it("refuses a package with no wheel for the target, naming it, and writes nothing", () => {
    const bad = folder("no-wheel", { "requirements.txt": "pycrypto==2.6.1\n" });
    const projectRoot = root("no-wheel-out");
    expect(() => buildLayer({ name: "bad", kind: "dependencies", dir: bad, runtime: "python3.12" }, "arm64", { projectRoot, store: undefined, python: PYTHON })).toThrow(
      `layer bad: pycrypto==2.6.1 (from ${path.join(bad, "requirements.txt")}) has no wheel for manylinux2014_aarch64 and Python 3.12; pin a version that publishes one, or drop it from the layer. Nothing was written.`,
    );
    expect(fs.existsSync(path.join(projectRoot, ".build"))).toBe(false);
  });
});

describe("Node.js dependency layers, built for real with npm ci", () => {
  const src: LayerSource = { name: "node-deps", kind: "dependencies", dir: path.join(__dirname, "fixtures", "node-layer"), runtime: "nodejs20.x" };

  it("installs the production dependencies only, under nodejs/node_modules/, deterministically", () => {
    const a = buildLayer(src, "arm64", { projectRoot: path.join(scratch, "node-a"), store: undefined });
    const b = buildLayer(src, "arm64", { projectRoot: path.join(scratch, "node-b"), store: undefined });
    expect(fs.readFileSync(b.zipPath)).toEqual(fs.readFileSync(a.zipPath));
    const files = listing(a.zipPath).map((f) => f.split(" ")[0]);
    expect(files).toContain("nodejs/node_modules/ms/index.js");
    expect(files.some((f) => f.includes("is-number"))).toBe(false); // a dev dependency
    expect(files.every((f) => f.startsWith("nodejs/node_modules/"))).toBe(true);
    expect(planLayer(src, "arm64").compatibleRuntimes).toEqual(["nodejs20.x"]);
  });

  it("installs from a pnpm lock with pnpm: the same packages, flat, with none of pnpm's own files", () => {
    const pnpm: LayerSource = { ...src, dir: path.join(__dirname, "fixtures", "node-layer-pnpm") };
    const a = buildLayer(pnpm, "arm64", { projectRoot: path.join(scratch, "pnpm-a"), store: undefined });
    const files = listing(a.zipPath).map((f) => f.split(" ")[0]);
    expect(files).toContain("nodejs/node_modules/ms/index.js");
    expect(files.some((f) => f.includes("is-number") || f.includes(".pnpm") || f.includes(".modules.yaml") || f.endsWith("pnpm-lock.yaml"))).toBe(false);
    expect(files.every((f) => f.startsWith("nodejs/node_modules/"))).toBe(true);
    expect(planLayer(pnpm, "arm64").inputHash).not.toBe(planLayer(src, "arm64").inputHash);
  });
});

describe("extension layers: the Runtime API proxy, built for real for both architectures", () => {
  const src: LayerSource = { name: "runtime-proxy", kind: "extension", dir: path.join(PROJECT_ROOT, "lambda-src", "extensions", "runtime-proxy") };

  it.each([
    ["arm64", 0xb7],
    ["x86_64", 0x3e],
  ] as const)("%s: a static, stripped binary under extensions/ and the wrapper at the root, both executable", (arch, machine) => {
    const built = buildLayer(src, arch, { projectRoot: path.join(scratch, `ext-${arch}`), store: undefined });
    expect(listing(built.zipPath)).toEqual(["extensions/lambdaship-runtime-proxy 0o100755", "lambdaship-runtime-proxy-wrapper 0o100755"]);
    const bin = member(built.zipPath, "extensions/lambdaship-runtime-proxy");
    expect(readElfHeader(bin)).toMatchObject({ architecture: arch, machine });
    expect(isStaticElf(bin)).toBe(true);
    expect(bin.includes(Buffer.from(".symtab"))).toBe(false); // stripped
    expect(member(built.zipPath, "lambdaship-runtime-proxy-wrapper").toString()).toContain('export AWS_LAMBDA_RUNTIME_API="127.0.0.1:${LAMBDASHIP_PROXY_PORT:-9009}"');
    expect(planLayer(src, arch)).toMatchObject({ extensions: ["lambdaship-runtime-proxy"], wrapper: "/opt/lambdaship-runtime-proxy-wrapper", compatibleRuntimes: [] });
  });

  it("builds the same bytes from a checkout at another path, with its own cargo target folder", () => {
    const here = buildLayer(src, "arm64", { projectRoot: path.join(scratch, "ext-arm64"), store: undefined });
    const copy = path.join(scratch, "elsewhere", "extensions");
    fs.cpSync(path.join(PROJECT_ROOT, "lambda-src", "extensions"), copy, { recursive: true, filter: (p) => !p.includes(`${path.sep}target`) });
    const moved: LayerSource = { ...src, dir: path.join(copy, "runtime-proxy") };
    expect(planLayer(moved, "arm64").inputHash).toBe(here.inputHash);
    const there = buildLayer(moved, "arm64", { projectRoot: path.join(scratch, "ext-elsewhere"), store: undefined, cargoTargetDir: path.join(scratch, "ext-target") });
    expect(there.status).toBe("built");
    expect(fs.readFileSync(there.zipPath)).toEqual(fs.readFileSync(here.zipPath));
  });

  it("changes its input hash when the wrapper script changes", () => {
    const copy = path.join(scratch, "wrapper-edit", "extensions");
    fs.cpSync(path.join(PROJECT_ROOT, "lambda-src", "extensions"), copy, { recursive: true, filter: (p) => !p.includes(`${path.sep}target`) });
    const before = planLayer({ ...src, dir: path.join(copy, "runtime-proxy") }, "arm64").inputHash;
    fs.appendFileSync(path.join(copy, "runtime-proxy", "wrapper.sh"), "# edited\n");
    // A fresh process would read the metadata again; the hash reads the files themselves.
    expect(planLayer({ ...src, dir: path.join(copy, "runtime-proxy") }, "arm64").inputHash).not.toBe(before);
  });
});
