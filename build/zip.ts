import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as zlib from "zlib";

/**
 * Deterministic zip archives: the same files give the same bytes on every machine and checkout.
 * What varies between machines is normalised away: entries are sorted by name, every timestamp is
 * 1980-01-01 00:00 (the zip epoch), permissions are 0644 or 0755 (executable bit only), no extra
 * fields (uid/gid, atime), no directory entries, and compression is raw deflate at level 9 with
 * Node's bundled zlib (pinned by the Node major in package.json's engines).
 */

export interface ZipEntry {
  /** Path inside the archive, forward slashes, no leading slash. */
  readonly name: string;
  readonly data: Buffer;
  /** Executable files get mode 0755, the rest 0644. */
  readonly executable?: boolean;
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32(data: Buffer): number {
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = CRC_TABLE[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

// 1980-01-01 00:00:00 in MS-DOS date/time format.
const DOS_TIME = 0;
const DOS_DATE = (0 << 9) | (1 << 5) | 1;

/** Builds the archive bytes. Throws on duplicate or unsafe names. */
export function createZip(entries: readonly ZipEntry[]): Buffer {
  const sorted = [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  let previous: string | undefined;
  for (const entry of sorted) {
    if (entry.name === previous) throw new Error(`zip: duplicate entry ${entry.name}`);
    if (!entry.name || entry.name.startsWith("/") || entry.name.split("/").includes("..") || entry.name.includes("\\")) {
      throw new Error(`zip: unsafe entry name ${JSON.stringify(entry.name)}`);
    }
    previous = entry.name;
    const name = Buffer.from(entry.name, "utf8");
    const deflated = zlib.deflateRawSync(entry.data, { level: 9, memLevel: 9 });
    // Keep whichever is smaller, so tiny or incompressible files are stored as is.
    const stored = deflated.length >= entry.data.length;
    const body = stored ? entry.data : deflated;
    const method = stored ? 0 : 8;
    const crc = crc32(entry.data);
    const flags = 0x0800; // names are UTF-8
    const mode = entry.executable ? 0o100755 : 0o100644;

    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(DOS_TIME, 10);
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(entry.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);

    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by: UNIX, so the external attributes carry the mode
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(flags, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt16LE(DOS_TIME, 12);
    central.writeUInt16LE(DOS_DATE, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(entry.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt16LE(0, 30); // extra
    central.writeUInt16LE(0, 32); // comment
    central.writeUInt16LE(0, 34); // disk
    central.writeUInt16LE(0, 36); // internal attributes
    central.writeUInt32LE((mode << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);

    locals.push(local, name, body);
    centrals.push(central, name);
    offset += local.length + name.length + body.length;
    if (offset > 0xffffffff) throw new Error("zip: archive over 4 GiB needs zip64, which Lambda packages never need");
  }
  const centralDir = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(sorted.length, 8);
  end.writeUInt16LE(sorted.length, 10);
  end.writeUInt32LE(centralDir.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, centralDir, end]);
}

/**
 * Reads an archive's entries (stored or deflated, no zip64), checking each entry's CRC: a truncated or
 * altered archive throws. Directory entries are skipped; an executable mode is kept.
 */
export function readZip(zip: Buffer): ZipEntry[] {
  const endAt = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (endAt < 0 || endAt + 22 > zip.length) throw new Error("zip: no end of central directory (truncated?)");
  const count = zip.readUInt16LE(endAt + 10);
  let at = zip.readUInt32LE(endAt + 16);
  const out: ZipEntry[] = [];
  for (let i = 0; i < count; i++) {
    if (at + 46 > zip.length || zip.readUInt32LE(at) !== 0x02014b50) throw new Error("zip: bad central directory");
    const method = zip.readUInt16LE(at + 10);
    const crc = zip.readUInt32LE(at + 16);
    const size = zip.readUInt32LE(at + 20);
    const nameLen = zip.readUInt16LE(at + 28);
    const extraLen = zip.readUInt16LE(at + 30);
    const commentLen = zip.readUInt16LE(at + 32);
    const mode = zip.readUInt32LE(at + 38) >>> 16;
    const localAt = zip.readUInt32LE(at + 42);
    const name = zip.toString("utf8", at + 46, at + 46 + nameLen);
    at += 46 + nameLen + extraLen + commentLen;
    if (zip.readUInt32LE(localAt) !== 0x04034b50) throw new Error(`zip: bad local header for ${name}`);
    const start = localAt + 30 + zip.readUInt16LE(localAt + 26) + zip.readUInt16LE(localAt + 28);
    if (start + size > zip.length) throw new Error(`zip: ${name} is cut short`);
    const body = zip.subarray(start, start + size);
    const data = method === 0 ? Buffer.from(body) : method === 8 ? zlib.inflateRawSync(body) : undefined;
    if (!data) throw new Error(`zip: ${name} uses compression method ${method}`);
    if (crc32(data) !== crc) throw new Error(`zip: ${name} fails its CRC check`);
    if (name.endsWith("/")) continue;
    out.push({ name, data, executable: (mode & 0o111) !== 0 });
  }
  return out;
}

/** The hash Lambda reports as CodeSha256 and the provider expects in `source_code_hash`. */
export function base64Sha256(data: Buffer): string {
  return crypto.createHash("sha256").update(data).digest("base64");
}

export interface CollectOptions {
  /** Returns true for relative paths (forward slashes) to leave out of the package. */
  readonly exclude?: (relativePath: string) => boolean;
  /**
   * Returns true for files to mark executable. The checkout's own mode bits are ignored: they differ
   * between machines (umask, core.fileMode), and the package must not.
   * @default - nothing is executable
   */
  readonly executable?: (relativePath: string) => boolean;
}

/** Lists a folder's files recursively as zip entries, sorted (symlinks are followed). */
export function collectFiles(root: string, options: CollectOptions = {}): ZipEntry[] {
  const entries: ZipEntry[] = [];
  const walk = (dir: string, rel: string): void => {
    for (const name of fs.readdirSync(dir).sort()) {
      const relPath = rel ? `${rel}/${name}` : name;
      if (options.exclude?.(relPath)) continue;
      const full = path.join(dir, name);
      const stat = fs.statSync(full);
      if (stat.isDirectory()) walk(full, relPath);
      else if (stat.isFile()) entries.push({ name: relPath, data: fs.readFileSync(full), executable: options.executable?.(relPath) ?? false });
    }
  };
  walk(root, "");
  return entries;
}

/**
 * Writes `data` to `file` atomically (temp file + rename), so a reader never sees a partial archive
 * and an interrupted build leaves nothing behind.
 */
export function writeFileAtomic(file: string, data: Buffer): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}-${crypto.randomBytes(4).toString("hex")}`;
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}
