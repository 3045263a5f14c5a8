import type { GetObjectCommandOutput } from "@aws-sdk/client-s3";
import * as crypto from "crypto";

/**
 * The second level of the artifact store: an S3 bucket shared by every CI runner and laptop that
 * builds the same stacks (an env's `artifacts.cache`), keyed by the same input hash and toolchain as
 * the machine's store, which stays the first level. Objects carry the SHA-256 and length of their
 * bytes in their metadata; a download whose bytes do not match (corrupt, partial, replaced) is
 * ignored and the artifact rebuilt, never deployed. The store is a cache: when it cannot be reached
 * (no credentials, no bucket), the build goes on and says so in one line.
 */

export interface SharedStore {
  /** `s3://bucket/prefix`, for log lines. */
  readonly url: string;
  /** The object's bytes when they are there and verify; undefined otherwise (the reason is logged). */
  get(key: string): Promise<Buffer | undefined>;
  /** Whether an object is there (not downloaded). */
  has(key: string): Promise<boolean>;
  put(key: string, data: Buffer): Promise<void>;
}

export interface SharedStoreOptions {
  /** `s3://bucket[/prefix]` */
  readonly url: string;
  readonly region: string;
  /** An S3-compatible endpoint (the local AWS); @default - AWS's */
  readonly endpoint?: string;
  readonly log: (line: string) => void;
  /** Where the setting lives, for messages: `artifacts.cache in envs/local.ts`. */
  readonly setting?: string;
}

export function parseStoreUrl(url: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url);
  if (!m) throw new Error(`--shared-store is ${JSON.stringify(url)}; write s3://<bucket>[/<prefix>]`);
  return { bucket: m[1], prefix: (m[2] ?? "").replace(/^\/+|\/+$/g, "") };
}

const SHA_KEY = "sha256";
const LENGTH_KEY = "length";

export function sha256Hex(data: Buffer): string {
  return crypto.createHash("sha256").update(data).digest("hex");
}

/** Why `data` is not the object its metadata describes, or undefined when it is. */
export function verifyObject(data: Buffer, metadata: Record<string, string> | undefined): string | undefined {
  const want = metadata?.[SHA_KEY];
  if (!want) return "it carries no sha256 metadata (not written by lambdaship)";
  if (metadata?.[LENGTH_KEY] !== undefined && Number(metadata[LENGTH_KEY]) !== data.length) return `it is ${data.length} bytes, its metadata says ${metadata[LENGTH_KEY]} (partial)`;
  const got = sha256Hex(data);
  if (got !== want) return `its bytes hash to ${got.slice(0, 16)}..., its metadata says ${want.slice(0, 16)}... (corrupt or replaced)`;
  return undefined;
}

/** The S3 store (the AWS SDK is loaded only when an env sets one). */
export async function openSharedStore(o: SharedStoreOptions): Promise<SharedStore> {
  const { bucket, prefix } = parseStoreUrl(o.url);
  const s3 = await import("@aws-sdk/client-s3");
  const local = o.endpoint && /^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?/.test(o.endpoint);
  // The local AWS takes any credentials; a real bucket gets the usual chain (profile, SSO, role).
  const credentials = local && !process.env.AWS_ACCESS_KEY_ID && !process.env.AWS_PROFILE ? { accessKeyId: "test", secretAccessKey: "test" } : undefined;
  const client = new s3.S3Client({ region: o.region, endpoint: o.endpoint, forcePathStyle: Boolean(o.endpoint), credentials, maxAttempts: 2 });
  const objectKey = (key: string) => (prefix ? `${prefix}/${key}` : key);
  const where = (key: string) => `s3://${bucket}/${objectKey(key)}`;
  let warned = false;
  const unreachable = (what: string, e: unknown) => {
    if (warned) return;
    warned = true;
    const err = e as Error & { name?: string };
    o.log(
      `shared store ${o.url}: ${what} failed (${err.name ?? "Error"}: ${err.message}); building without it. ` +
        `Check the bucket exists and these credentials may read and write it${o.setting ? `, or remove ${o.setting}` : ""}.`,
    );
  };
  return {
    url: o.url,
    async has(key) {
      try {
        await client.send(new s3.HeadObjectCommand({ Bucket: bucket, Key: objectKey(key) }));
        return true;
      } catch (e) {
        const name = (e as Error).name;
        if (name !== "NotFound" && name !== "NoSuchKey") unreachable("a lookup", e);
        return false;
      }
    },
    async get(key) {
      let r: GetObjectCommandOutput;
      try {
        r = await client.send(new s3.GetObjectCommand({ Bucket: bucket, Key: objectKey(key) }));
      } catch (e) {
        const name = (e as Error).name;
        if (name !== "NoSuchKey" && name !== "NotFound") unreachable("a download", e);
        return undefined;
      }
      let data: Buffer;
      try {
        data = Buffer.from(await (r.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
      } catch (e) {
        o.log(`shared store: ${where(key)} could not be read to the end (${(e as Error).message}); ignored, building instead`);
        return undefined;
      }
      const problem = verifyObject(data, r.Metadata);
      if (problem) {
        o.log(`shared store: ${where(key)} ignored: ${problem}; building instead (the next upload replaces it)`);
        return undefined;
      }
      return data;
    },
    async put(key, data) {
      try {
        await client.send(
          new s3.PutObjectCommand({
            Bucket: bucket,
            Key: objectKey(key),
            Body: data,
            ContentType: "application/zip",
            Metadata: { [SHA_KEY]: sha256Hex(data), [LENGTH_KEY]: String(data.length) },
          }),
        );
        o.log(`shared store: uploaded ${where(key)} (${data.length} bytes)`);
      } catch (e) {
        unreachable("an upload", e);
      }
    },
  };
}

/** The builders' shared-store options, as their command lines carry them (see sharedStoreArgs in modules/apply_builder). */
export interface SharedStoreArgs {
  url: string;
  region?: string;
  endpoint?: string;
  setting?: string;
}

export const SHARED_STORE_HELP = `  --shared-store s3://BUCKET/PREFIX   also look for artifacts in this bucket (shared by CI runners
                       and laptops: an env's artifacts.cache), by the same input hash and toolchain as
                       the machine's store; downloads are verified and what does not verify is built
                       instead; what is built here is uploaded
  --shared-store-region REGION, --shared-store-endpoint URL (an S3-compatible endpoint: the local AWS)`;

/** Takes one shared-store option into `o`; false when `flag` is not one. */
export function takeSharedStoreArg(o: { sharedStore?: SharedStoreArgs }, flag: string, value: () => string): boolean {
  const field = ({ "--shared-store": "url", "--shared-store-region": "region", "--shared-store-endpoint": "endpoint", "--shared-store-setting": "setting" } as const)[flag as "--shared-store"];
  if (!field) return false;
  const next: SharedStoreArgs = { url: "", ...o.sharedStore };
  next[field] = value();
  o.sharedStore = next;
  return true;
}

/** Checks the shared-store options once all are read. */
export function checkSharedStoreArgs(store: SharedStoreArgs | undefined): void {
  if (!store) return;
  if (!store.url) throw new Error("--shared-store-region, -endpoint and -setting go with --shared-store s3://BUCKET/PREFIX");
  parseStoreUrl(store.url);
}

/** Opens the store the options name, or undefined when none (or the machine's store, its first level, is off). */
export async function sharedStoreFromArgs(store: SharedStoreArgs | undefined, machineStore: unknown, log: (line: string) => void): Promise<SharedStore | undefined> {
  if (!store || !machineStore) return undefined;
  return openSharedStore({ url: store.url, region: store.region ?? process.env.AWS_REGION ?? "us-east-1", endpoint: store.endpoint, setting: store.setting, log });
}
