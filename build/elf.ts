import * as fs from "fs";

/** Lambda's architecture names, as `architectures` takes them. */
export type LambdaArchitecture = "arm64" | "x86_64";

/** The ELF e_machine values Lambda can run, and the Rust target that produces each. */
const MACHINES: Record<number, { arch: LambdaArchitecture; target: string }> = {
  0x3e: { arch: "x86_64", target: "x86_64-unknown-linux-gnu" },
  0xb7: { arch: "arm64", target: "aarch64-unknown-linux-gnu" },
};

export const RUST_TARGETS: Record<LambdaArchitecture, string> = {
  arm64: "aarch64-unknown-linux-gnu",
  x86_64: "x86_64-unknown-linux-gnu",
};

const ELF_MAGIC = 0x7f454c46;

export interface ElfInfo {
  /** Lambda architecture, or undefined for a machine Lambda cannot run. */
  readonly architecture?: LambdaArchitecture;
  /** Raw e_machine value. */
  readonly machine: number;
  readonly bits: 32 | 64;
}

/**
 * Reads an ELF header: the real architecture of a built binary, whatever the build meant to produce.
 * Throws, naming the file, when it is not an ELF executable.
 */
export function readElfHeader(header: Buffer, file = "<buffer>"): ElfInfo {
  if (header.length < 20 || header.readUInt32BE(0) !== ELF_MAGIC) {
    throw new Error(`${file} is not an ELF binary (no \\x7fELF magic): Lambda's custom runtime needs a Linux executable named bootstrap`);
  }
  const bits = header[4] === 2 ? 64 : header[4] === 1 ? 32 : undefined;
  const little = header[5] === 1;
  if (!bits) throw new Error(`${file}: unknown ELF class ${header[4]}`);
  const machine = little ? header.readUInt16LE(18) : header.readUInt16BE(18);
  return { architecture: bits === 64 && little ? MACHINES[machine]?.arch : undefined, machine, bits };
}

/** Whether a file starts with the ELF magic (an executable to run as it is, or a script if not). */
export function isElfFile(file: string): boolean {
  const head = Buffer.alloc(4);
  const fd = fs.openSync(file, "r");
  try {
    return fs.readSync(fd, head, 0, 4, 0) === 4 && head.readUInt32BE(0) === ELF_MAGIC;
  } finally {
    fs.closeSync(fd);
  }
}

export function readElfFile(file: string): ElfInfo {
  const fd = fs.openSync(file, "r");
  try {
    const buf = Buffer.alloc(64);
    const n = fs.readSync(fd, buf, 0, 64, 0);
    return readElfHeader(buf.subarray(0, n), file);
  } finally {
    fs.closeSync(fd);
  }
}

/** True for a statically linked ELF executable: no program header asks for an interpreter (PT_INTERP). */
export function isStaticElf(data: Buffer): boolean {
  readElfHeader(data);
  if (data[4] !== 2 || data[5] !== 1) throw new Error("isStaticElf reads 64-bit little-endian ELF files only");
  const phoff = Number(data.readBigUInt64LE(0x20));
  const phentsize = data.readUInt16LE(0x36);
  const phnum = data.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    if (data.readUInt32LE(phoff + i * phentsize) === 3 /* PT_INTERP */) return false;
  }
  return true;
}
