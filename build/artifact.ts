import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { SharedStore } from "./shared-store";
import { createZip, readZip, writeFileAtomic, ZipEntry } from "./zip";

/**
 * The one way a builder's zip comes to exist, for functions and layers alike: next to the zip a
 * `<zip>.unzipped` file records its unzipped size, written first, so a zip that exists is complete.
 * A zip already at `zipPath` is skipped; one in the machine's store (another clone built the same
 * inputs) is copied; else `produce` fills a fresh temporary folder and returns the entries, which are
 * zipped deterministically into the project and the store. A failed build writes nothing.
 */

export type ArtifactStatus = "built" | "cached" | "skipped";

export interface Materialized {
  readonly zip: Buffer;
  readonly unzippedBytes: number;
  readonly status: ArtifactStatus;
}

export interface MaterializeOptions {
  readonly zipPath: string;
  /** The store's copy of this zip (computed only when the zip is not already here). @default - no store */
  readonly storeZip?: () => string | undefined;
  /** Builds the entries in `work`, an empty temporary folder removed afterwards. */
  readonly produce: (work: string) => ZipEntry[];
  /** Throws when the unzipped size is over a limit, before anything is written. */
  readonly checkSize?: (unzippedBytes: number) => void;
  /** Said when the store's copy is used. */
  readonly onCached?: (storeZip: string) => void;
}

function install(file: string, zip: Buffer, unzipped: number): void {
  writeFileAtomic(`${file}.unzipped`, Buffer.from(String(unzipped)));
  writeFileAtomic(file, zip);
}

const sizeOf = (zip: string) => Number(fs.readFileSync(`${zip}.unzipped`, "utf8"));
const complete = (zip: string) => fs.existsSync(zip) && fs.existsSync(`${zip}.unzipped`);

export function materializeZip(opts: MaterializeOptions): Materialized {
  if (complete(opts.zipPath)) return { zip: fs.readFileSync(opts.zipPath), unzippedBytes: sizeOf(opts.zipPath), status: "skipped" };
  const storeZip = opts.storeZip?.();
  if (storeZip && complete(storeZip)) {
    const zip = fs.readFileSync(storeZip);
    install(opts.zipPath, zip, sizeOf(storeZip));
    opts.onCached?.(storeZip);
    return { zip, unzippedBytes: sizeOf(storeZip), status: "cached" };
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "lambdaship-build-"));
  try {
    const entries = opts.produce(work);
    const unzipped = entries.reduce((n, e) => n + e.data.length, 0);
    opts.checkSize?.(unzipped);
    const zip = createZip(entries);
    install(opts.zipPath, zip, unzipped);
    if (storeZip) install(storeZip, zip, unzipped);
    return { zip, unzippedBytes: unzipped, status: "built" };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** Zipped and unzipped sizes of a zip this mechanism wrote, else undefined. */
export function knownZipSize(zipPath: string): { zipBytes: number; unzippedBytes: number } | undefined {
  return complete(zipPath) ? { zipBytes: fs.statSync(zipPath).size, unzippedBytes: sizeOf(zipPath) } : undefined;
}

/**
 * The shared store as a second level for materializeZip: when neither the project nor the machine's
 * store has the zip, the shared store's copy (verified: the object's hash, then every entry's CRC)
 * is put into the machine's store, from which materializeZip then copies it. Returns whether it did.
 */
export async function fetchIntoStore(shared: SharedStore, key: string, zipPath: string, storeZip: string | undefined, log: (line: string) => void, label: string): Promise<boolean> {
  if (!storeZip || complete(zipPath) || complete(storeZip)) return false;
  const zip = await shared.get(key);
  if (!zip) return false;
  let unzipped: number;
  try {
    unzipped = readZip(zip).reduce((n, e) => n + e.data.length, 0);
  } catch (e) {
    log(`${label}: ${shared.url}/${key} ignored (${(e as Error).message}); building instead`);
    return false;
  }
  install(storeZip, zip, unzipped);
  log(`${label}: inputs unchanged since a build elsewhere; fetched from ${shared.url}/${key} (${zip.length} bytes, verified)`);
  return true;
}

/** Uploads a zip the shared store lacks: always when built now, else when the store has not seen it. */
export async function publishArtifact(shared: SharedStore, key: string, zipPath: string, status: ArtifactStatus): Promise<void> {
  if (status !== "built" && (await shared.has(key))) return;
  await shared.put(key, fs.readFileSync(zipPath));
}
