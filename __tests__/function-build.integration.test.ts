import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { readElfFile } from "../build/elf";
import { buildFunction, FunctionBuildError, FunctionSource, GO_PROXY_BOOTSTRAP, planFunction } from "../build/function";
import { RuntimeEmulator } from "../runtime/emulator";
import { FOREIGN_DIR, functionsFromStack, StackJson, unpack } from "../runtime/functions";
import { PROJECT_ROOT } from "./helpers";

/** Real builds of the example functions per runtime and architecture, as the stacks' builders run them at apply. */
jest.setTimeout(10 * 60 * 1000);

const FUNCTIONS = path.join(PROJECT_ROOT, "lambda-src", "functions");
const PYTHON = path.join(PROJECT_ROOT, ".venv", "bin", "python");

function project(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "lambdaship-fn-build-"));
}

/** A copy of a function folder at another path (no build output, no installed dependencies). */
function copyOf(name: string): string {
  const dir = path.join(project(), "elsewhere", name);
  fs.cpSync(path.join(FUNCTIONS, name), dir, { recursive: true, filter: (p) => path.basename(p) !== "node_modules" });
  return dir;
}

function entries(zip: string): string[] {
  return execFileSync("python3", ["-c", "import sys,zipfile;print('\\n'.join(i.filename for i in zipfile.ZipFile(sys.argv[1]).infolist()))", zip], { encoding: "utf8" }).trim().split("\n");
}

const src = (name: string, extra: Partial<FunctionSource> = {}): FunctionSource => ({ name, dir: path.join(FUNCTIONS, name), ...extra });

beforeAll(() => {
  if (!fs.existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: npm run setup -- --only python creates it`);
});

describe("Python functions", () => {
  it("package the sources only when dependencies go to the layer, and the pinned wheels for the architecture when bundled", () => {
    const root = project();
    const layered = buildFunction(src("report"), "arm64", { projectRoot: root, store: undefined });
    expect(layered.status).toBe("built");
    expect(entries(layered.zipPath)).toEqual(["app.py"]);
    for (const arch of ["arm64", "x86_64"] as const) {
      const bundled = buildFunction(src("report", { dependencies: "bundle" }), arch, { projectRoot: root, store: undefined, python: PYTHON });
      expect(entries(bundled.zipPath)).toEqual(expect.arrayContaining(["app.py", "jmespath/__init__.py", expect.stringMatching(/^jmespath-1\.0\.1\.dist-info\/METADATA$/)]));
      expect(entries(bundled.zipPath).some((e) => e.startsWith("tests/") || e === "requirements.txt" || e.includes("__pycache__"))).toBe(false);
    }
  });

  it("build the same bytes from a copy at another path, and skip a build whose zip exists", () => {
    const a = buildFunction(src("report", { dependencies: "bundle" }), "arm64", { projectRoot: project(), store: undefined, python: PYTHON });
    const copy = copyOf("report");
    const b = buildFunction({ name: "report", dir: copy, dependencies: "bundle" }, "arm64", { projectRoot: path.dirname(path.dirname(copy)), store: undefined, python: PYTHON });
    expect(b.inputHash).toBe(a.inputHash);
    expect(fs.readFileSync(b.zipPath)).toEqual(fs.readFileSync(a.zipPath));
    expect(buildFunction({ name: "report", dir: copy, dependencies: "bundle" }, "arm64", { projectRoot: path.dirname(path.dirname(copy)), store: undefined }).status).toBe("skipped");
  });
});

describe("Node.js functions", () => {
  it("bundle TypeScript with esbuild into one CommonJS file, the dependencies left to the layer, and it answers", () => {
    const built = buildFunction(src("orders-api"), "arm64", { projectRoot: project(), store: undefined });
    expect(entries(built.zipPath)).toEqual(["handler.js"]);
    const code = fs.readFileSync(path.join(unpack(built.zipPath, project()), "handler.js"), "utf8");
    expect(code).toContain('require("uuid")');
    expect(code).not.toContain("/tmp/");
  });

  it("bundle the dependencies in when asked, for each architecture, and the bundle runs on its own", async () => {
    for (const arch of ["arm64", "x86_64"] as const) {
      const root = project();
      const built = buildFunction(src("orders-api", { dependencies: "bundle" }), arch, { projectRoot: root, store: undefined });
      const dir = unpack(built.zipPath, root);
      expect(fs.readdirSync(dir)).toEqual(["handler.js"]);
      const out = execFileSync(process.execPath, ["-e", `require(${JSON.stringify(path.join(dir, "handler.js"))}).handler({rawPath:"/orders",body:'{"item":"x","quantity":3}',requestContext:{http:{method:"POST"}}}).then(r=>console.log(JSON.stringify(r)))`], { cwd: os.tmpdir(), encoding: "utf8" });
      expect(JSON.parse(JSON.parse(out).body)).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), item: "x", quantity: 3 });
    }
  });

  it("package CommonJS as it is, with production dependencies for the target CPU when bundled, the same bytes from another path", () => {
    const root = project();
    const dir = path.join(root, "fn", "cjs");
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "index.js"), 'const { v4 } = require("uuid");\nexports.handler = async () => v4();\n');
    fs.copyFileSync(path.join(FUNCTIONS, "orders-api", "package.json"), path.join(dir, "package.json"));
    fs.copyFileSync(path.join(FUNCTIONS, "orders-api", "package-lock.json"), path.join(dir, "package-lock.json"));
    const built = buildFunction({ name: "cjs", dir, dependencies: "bundle" }, "arm64", { projectRoot: root, store: undefined });
    const names = entries(built.zipPath);
    expect(names).toEqual(expect.arrayContaining(["index.js", "package.json", "node_modules/uuid/package.json"]));
    expect(names.some((n) => n.includes(".bin/") || n === "package-lock.json")).toBe(false);
    const again = path.join(project(), "other", "cjs");
    fs.cpSync(dir, again, { recursive: true });
    const b = buildFunction({ name: "cjs", dir: again, dependencies: "bundle" }, "arm64", { projectRoot: path.dirname(path.dirname(again)), store: undefined });
    expect(fs.readFileSync(b.zipPath)).toEqual(fs.readFileSync(built.zipPath));
  });

  it("install from a pnpm lock with pnpm (pinned), flat and for the target CPU, the same bytes from another path; a yarn lock alone is refused with the fix", () => {
    const root = project();
    const dir = path.join(root, "fn", "pnpm");
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "index.js"), 'const { v4 } = require("uuid");\nexports.handler = async () => v4();\n');
    for (const f of ["package.json", "pnpm-lock.yaml"]) fs.copyFileSync(path.join(PROJECT_ROOT, "__tests__", "fixtures", "pnpm-function", f), path.join(dir, f));
    const built = buildFunction({ name: "pnpm", dir, dependencies: "bundle" }, "arm64", { projectRoot: root, store: undefined });
    const names = entries(built.zipPath);
    expect(names).toEqual(expect.arrayContaining(["index.js", "package.json", "node_modules/uuid/package.json", "node_modules/uuid/dist/index.js"]));
    expect(names.filter((n) => /\.bin\/|\.pnpm|\.modules\.yaml|pnpm-lock\.yaml|pnpm-workspace-state/.test(n))).toEqual([]);
    const again = path.join(project(), "other", "pnpm");
    fs.cpSync(dir, again, { recursive: true });
    const b = buildFunction({ name: "pnpm", dir: again, dependencies: "bundle" }, "arm64", { projectRoot: path.dirname(path.dirname(again)), store: undefined });
    expect(fs.readFileSync(b.zipPath)).toEqual(fs.readFileSync(built.zipPath));
    // yarn: recognised, refused with what to do.
    const yarn = path.join(root, "fn", "yarn");
    fs.mkdirSync(yarn, { recursive: true });
    fs.writeFileSync(path.join(yarn, "index.js"), "exports.handler = async () => 1;\n");
    fs.copyFileSync(path.join(dir, "package.json"), path.join(yarn, "package.json"));
    fs.writeFileSync(path.join(yarn, "yarn.lock"), "# yarn lockfile v1\n");
    expect(() => buildFunction({ name: "yarn", dir: yarn, dependencies: "bundle" }, "arm64", { projectRoot: root, store: undefined })).toThrow(/has a yarn\.lock only: the builders install Node\.js dependencies with npm ci or pnpm; run npm install --package-lock-only \(or pnpm import\) there and commit the lock file/);
    expect(() => planFunction({ name: "yarn", dir: yarn }, "arm64")).toThrow(/has a yarn\.lock only/);
    expect(fs.existsSync(path.join(root, ".build", "functions", "yarn"))).toBe(false);
  });
});

describe("Go functions", () => {
  it.each(["arm64", "x86_64"] as const)("build bootstrap for %s, its ELF machine the architecture, the same bytes from another path", (arch) => {
    const a = buildFunction(src("greeter"), arch, { projectRoot: project(), store: undefined });
    expect(entries(a.zipPath)).toEqual(["bootstrap"]);
    const dir = unpack(a.zipPath, project());
    expect(readElfFile(path.join(dir, "bootstrap")).architecture).toBe(arch);
    expect(fs.statSync(path.join(dir, "bootstrap")).mode & 0o111).toBe(0o111);
    const copy = copyOf("greeter");
    const b = buildFunction({ name: "greeter", dir: copy }, arch, { projectRoot: path.dirname(path.dirname(copy)), store: undefined });
    expect(fs.readFileSync(b.zipPath)).toEqual(fs.readFileSync(a.zipPath));
  });

  it("with a Runtime API proxy layer, start through a bootstrap script that routes the runtime to the proxy, which the runtime emulator runs under qemu", async () => {
    const plain = planFunction(src("greeter"), "arm64");
    const plan = planFunction(src("greeter", { runtimeApiProxy: true }), "arm64");
    expect(plan.runtimeApiProxy).toBe(true);
    expect(plan.inputHash).not.toBe(plain.inputHash);
    const built = buildFunction(src("greeter", { runtimeApiProxy: true }), "arm64", { projectRoot: project(), store: undefined }, plan);
    expect(entries(built.zipPath)).toEqual(["bootstrap", "bootstrap.bin"]);
    // Lambda runs no exec wrapper for provided.*: the script points aws-lambda-go at the proxy.
    const root = project();
    const dir = unpack(built.zipPath, root);
    expect(fs.readFileSync(path.join(dir, "bootstrap"), "utf8")).toBe(GO_PROXY_BOOTSTRAP);
    // The emulator's copy: the arm64 binary behind a script that starts it under qemu (no binfmt_misc here).
    const hidden = path.join(dir, FOREIGN_DIR, "bootstrap.bin");
    expect(readElfFile(hidden).architecture).toBe("arm64");
    if (os.arch() !== "arm64") expect(fs.readFileSync(path.join(dir, "bootstrap.bin"), "utf8")).toMatch(/^#!\/bin\/sh\n[\s\S]*qemu-aarch64/);
    // Without the proxy's variable (the layer removed) the script runs the binary as it is.
    const stack: StackJson = { resource: { aws_lambda_function: { g: { function_name: "greeter", runtime: "provided.al2023", handler: "bootstrap", filename: built.zipPath, environment: { variables: { GREETING: "Hi" } } } } } };
    const { functions, problems } = functionsFromStack(stack, { stackDir: root, region: "us-east-1", projectRoot: root });
    expect(problems).toEqual([]);
    expect(functions[0].description).toMatch(/^provided\.al2023 script, its arm64 executables under qemu-aarch64/);
    const emulator = new RuntimeEmulator(functions);
    try {
      const r = await emulator.invoke("greeter", Buffer.from('{"name": "proxy"}'));
      expect(JSON.parse(r.payload.toString())).toEqual({ greeting: "Hi, proxy!", requestId: r.requestId });
    } finally {
      await emulator.stop();
    }
  });

  it("fail on a compile error with go's message, writing nothing", () => {
    const copy = copyOf("greeter");
    fs.appendFileSync(path.join(copy, "main.go"), "\nfunc broken( {\n");
    const root = path.dirname(path.dirname(copy));
    const plan = planFunction({ name: "greeter", dir: copy }, "arm64");
    expect(() => buildFunction({ name: "greeter", dir: copy }, "arm64", { projectRoot: root, store: undefined }, plan)).toThrow(FunctionBuildError);
    expect(() => buildFunction({ name: "greeter", dir: copy }, "arm64", { projectRoot: root, store: undefined }, plan)).toThrow(/greeter: go build failed in .* \(exit 1\); no package was written and no function is updated:\n[\s\S]*main\.go:\d+:\d+: syntax error/);
    expect(fs.existsSync(path.join(root, ".build", "functions", "greeter"))).toBe(false);
  });

  it("copy a package another clone built from the machine's store", () => {
    const store = project();
    expect(buildFunction(src("greeter"), "arm64", { projectRoot: project(), store }).status).toBe("built");
    const second = buildFunction(src("greeter"), "arm64", { projectRoot: project(), store });
    expect(second.status).toBe("cached");
  });
});

describe("Java functions (Maven)", () => {
  it("compile to classes at the zip's root, the jars in lib/ when bundled, and the JVM loads the layout Lambda does", () => {
    const root = project();
    const layered = buildFunction(src("inventory"), "arm64", { projectRoot: root, store: undefined });
    expect(entries(layered.zipPath)).toEqual(["example/Inventory.class"]);
    const bundled = buildFunction(src("inventory", { dependencies: "bundle" }), "arm64", { projectRoot: root, store: undefined });
    expect(entries(bundled.zipPath)).toEqual(["example/Inventory.class", "lib/aws-lambda-java-core-1.4.0.jar"]);
    expect(fs.existsSync(path.join(FUNCTIONS, "inventory", "target"))).toBe(false); // built in a copy
    // The java21 runtime's class path: the package root, then lib/*.jar.
    const dir = unpack(bundled.zipPath, root);
    const check = path.join(root, "Check.java");
    fs.writeFileSync(
      check,
      'public class Check { public static void main(String[] a) throws Exception { Object fn = Class.forName("example.Inventory").getDeclaredConstructor().newInstance();\n' +
        'System.out.println(fn.getClass().getMethod("handleRequest", java.util.Map.class, com.amazonaws.services.lambda.runtime.Context.class).invoke(fn, java.util.Map.of("sku", "BOOK-1"), null)); } }\n',
    );
    const out = execFileSync("java", ["-cp", `${dir}:${path.join(dir, "lib", "*")}`, check], { encoding: "utf8" });
    expect(out.trim()).toBe("{sku=BOOK-1, known=true, inStock=12, reorder=false}");
  });

  it("build the same bytes from a copy at another path, and fail a compile error with javac's message, writing nothing", () => {
    const a = buildFunction(src("inventory", { dependencies: "bundle" }), "arm64", { projectRoot: project(), store: undefined });
    const copy = copyOf("inventory");
    const b = buildFunction({ name: "inventory", dir: copy, dependencies: "bundle" }, "arm64", { projectRoot: path.dirname(path.dirname(copy)), store: undefined });
    expect(fs.readFileSync(b.zipPath)).toEqual(fs.readFileSync(a.zipPath));
    const broken = copyOf("inventory");
    fs.appendFileSync(path.join(broken, "src", "main", "java", "example", "Inventory.java"), "\nclass Broken {\n");
    const root = path.dirname(path.dirname(broken));
    expect(() => buildFunction({ name: "inventory", dir: broken }, "arm64", { projectRoot: root, store: undefined })).toThrow(/inventory: mvn compile failed for .* \(exit 1\); no package was written and no function is updated:\n[\s\S]*Inventory\.java/);
    expect(fs.existsSync(path.join(root, ".build", "functions", "inventory"))).toBe(false);
  });
});
