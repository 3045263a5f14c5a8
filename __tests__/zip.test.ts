import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { excludedFromPythonPackage, packagePythonHandler } from "../build/python-package";
import { base64Sha256, collectFiles, crc32, createZip, writeFileAtomic } from "../build/zip";

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "lambdaship-zip-"));
}

/** A handler folder as a checkout would have it, with the given mtime and mode on every file. */
function handlerTree(root: string, mtime: Date, mode: number): string {
  const files: Record<string, string> = {
    "handler.py": "def lambda_handler(event, context):\n    return {'statusCode': 200}\n",
    "lib/util.py": "X = 1\n",
    "tests/test_handler.py": "def test(): pass\n",
    "__pycache__/handler.cpython-311.pyc": "junk",
    "requirements-dev.txt": "pytest\n",
  };
  for (const [rel, text] of Object.entries(files)) {
    const f = path.join(root, rel);
    fs.mkdirSync(path.dirname(f), { recursive: true });
    fs.writeFileSync(f, text);
    fs.chmodSync(f, mode);
    fs.utimesSync(f, mtime, mtime);
  }
  return root;
}

describe("deterministic zip", () => {
  it("gives the same bytes for the same files whatever their mtimes, modes and creation order", () => {
    const a = handlerTree(tmp(), new Date("2020-01-01"), 0o644);
    const b = handlerTree(tmp(), new Date("2031-06-15"), 0o755);
    const za = createZip(collectFiles(a));
    const zb = createZip([...collectFiles(b)].reverse());
    expect(zb.equals(za)).toBe(true);
  });

  it("writes archives Python's zipfile reads back with fixed dates, 0644 or 0755 modes and correct CRCs", () => {
    const zip = createZip([
      { name: "b.txt", data: Buffer.from("hello ".repeat(100)) },
      { name: "a/bootstrap", data: Buffer.from([0x7f, 0x45, 0x4c, 0x46]), executable: true },
    ]);
    const file = path.join(tmp(), "t.zip");
    fs.writeFileSync(file, zip);
    const out = execFileSync("python3", [
      "-c",
      "import sys, zipfile, json; z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; " +
        "print(json.dumps([[i.filename, oct(i.external_attr >> 16), list(i.date_time), i.compress_type] for i in z.infolist()]))",
      file,
    ]).toString();
    expect(JSON.parse(out)).toEqual([
      ["a/bootstrap", "0o100755", [1980, 1, 1, 0, 0, 0], 0],
      ["b.txt", "0o100644", [1980, 1, 1, 0, 0, 0], 8],
    ]);
  });

  it("computes the standard CRC-32 and the base64 SHA-256 Lambda reports as CodeSha256", () => {
    expect(crc32(Buffer.from("123456789"))).toBe(0xcbf43926);
    const data = Buffer.from("package");
    expect(base64Sha256(data)).toBe(crypto.createHash("sha256").update(data).digest("base64"));
  });

  it("refuses unsafe and duplicate entry names", () => {
    expect(() => createZip([{ name: "../x", data: Buffer.alloc(0) }])).toThrow(/unsafe entry name/);
    expect(() => createZip([{ name: "/abs", data: Buffer.alloc(0) }])).toThrow(/unsafe entry name/);
    expect(() => createZip([{ name: "a", data: Buffer.alloc(0) }, { name: "a", data: Buffer.alloc(1) }])).toThrow(/duplicate entry a/);
  });

  it("writes atomically: a failed write leaves neither the file nor a temp file", () => {
    const dir = tmp();
    const target = path.join(dir, "sub");
    fs.mkdirSync(target);
    expect(() => writeFileAtomic(target, Buffer.from("x"))).toThrow();
    expect(fs.readdirSync(dir)).toEqual(["sub"]);
  });
});

describe("Python handler package", () => {
  it("holds the handler's modules only: no tests, caches or requirements files", () => {
    const src = handlerTree(tmp(), new Date("2020-01-01"), 0o644);
    const pkg = packagePythonHandler(src, tmp(), "ws");
    expect(pkg.files).toEqual(["handler.py", "lib/util.py"]);
    expect(excludedFromPythonPackage("tests/conftest.py")).toBe(true);
    expect(excludedFromPythonPackage("conftest.py")).toBe(true);
    expect(excludedFromPythonPackage(".env")).toBe(true);
  });

  it("names the zip by its content and reports the hash of its bytes", () => {
    const out = tmp();
    const pkg = packagePythonHandler(handlerTree(tmp(), new Date("2020-01-01"), 0o600), out, "ws");
    const bytes = fs.readFileSync(pkg.zipPath);
    expect(path.basename(pkg.zipPath)).toBe(`ws-${crypto.createHash("sha256").update(bytes).digest("hex").slice(0, 16)}.zip`);
    expect(pkg.sourceCodeHash).toBe(base64Sha256(bytes));
    expect(pkg.sizeBytes).toBe(bytes.length);
    expect(fs.readdirSync(out)).toEqual([path.basename(pkg.zipPath)]);
  });

  it("fails, naming the folder, when there is nothing to package", () => {
    const empty = tmp();
    expect(() => packagePythonHandler(empty, tmp(), "ws")).toThrow(`${path.resolve(empty)} holds no .py file to package`);
  });
});
