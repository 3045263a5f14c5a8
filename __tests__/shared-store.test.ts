import { parseArgs } from "../build/cli";
import { parseStoreUrl, sha256Hex, verifyObject } from "../build/shared-store";
import { createZip, readZip } from "../build/zip";

describe("the shared artifact store's checks", () => {
  const data = Buffer.from("an artifact");
  const meta = { sha256: sha256Hex(data), length: String(data.length) };

  test("an object verifies only with its own hash and length", () => {
    expect(verifyObject(data, meta)).toBeUndefined();
    expect(verifyObject(data.subarray(0, 5), meta)).toMatch(/^it is 5 bytes, its metadata says 11 \(partial\)$/);
    expect(verifyObject(Buffer.from("an artifacT"), meta)).toMatch(/corrupt or replaced/);
    expect(verifyObject(data, {})).toBe("it carries no sha256 metadata (not written by lambdaship)");
  });

  test("store URLs are s3://bucket[/prefix]", () => {
    expect(parseStoreUrl("s3://team-cache/lambdaship/ci/")).toEqual({ bucket: "team-cache", prefix: "lambdaship/ci" });
    expect(parseStoreUrl("s3://team-cache")).toEqual({ bucket: "team-cache", prefix: "" });
    expect(() => parseStoreUrl("https://team-cache")).toThrow('--shared-store is "https://team-cache"; write s3://<bucket>[/<prefix>]');
  });

  test("the Rust builder takes the store on its command line", () => {
    expect(parseArgs(["--shared-store", "s3://bkt/p", "--shared-store-region", "eu-west-1", "--shared-store-endpoint", "http://127.0.0.1:5000"], "/p")).toMatchObject({
      sharedStore: { url: "s3://bkt/p", region: "eu-west-1", endpoint: "http://127.0.0.1:5000" },
    });
    expect(() => parseArgs(["--shared-store-region", "eu-west-1"], "/p")).toThrow("go with --shared-store s3://BUCKET/PREFIX");
    expect(() => parseArgs(["--shared-store", "b/p"], "/p")).toThrow("write s3://<bucket>[/<prefix>]");
  });

  test("readZip gives back what createZip packed, and refuses a damaged archive", () => {
    const zip = createZip([{ name: "bootstrap", data: Buffer.alloc(5000, 7), executable: true }, { name: "a.txt", data: Buffer.from("x") }]);
    expect(readZip(zip)).toEqual([{ name: "a.txt", data: Buffer.from("x"), executable: false }, { name: "bootstrap", data: Buffer.alloc(5000, 7), executable: true }]);
    expect(() => readZip(zip.subarray(0, zip.length - 30))).toThrow(/zip:/);
    const damaged = Buffer.from(zip);
    damaged[36 + 30 + "bootstrap".length + 2] ^= 0xff; // inside the deflated bootstrap
    expect(() => readZip(damaged)).toThrow(/zip:|invalid|incorrect/);
  });
});
