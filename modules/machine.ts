import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { knownZipSize } from "../build/artifact";
import { Probe, realProbe } from "../build/rust";
import { artifactStoreRoot } from "../build/util";

/** Zipped and unzipped sizes of a package. */
export interface ZipSize {
  readonly zipBytes: number;
  readonly unzippedBytes: number;
}

/**
 * Everything synth learns from the machine it runs on, in one object: which Rust toolchains are
 * there (`which`, `run`, `exists`: the arm64 cross toolchain or only x86_64), and the sizes of
 * packages built here before (for Lambda's 250 MB limit, from the project's build output or the
 * machine's artifact store). Constructs read the machine through nothing else. Pass your own
 * (`machine` prop of the constructs and the stack) to synthesize as if on another machine; the
 * default is this one, whose answers are remembered for the process until `resetMachine()`.
 */
export interface MachineProbe extends Probe {
  /**
   * The sizes of a package built here: `zipPath` in the project, else the file of that name in the
   * machine's store (`layer-artifacts`, `function-artifacts`); undefined when neither has it.
   */
  builtSize(zipPath: string, store?: "layer-artifacts" | "function-artifacts"): ZipSize | undefined;
  /** The size of a file of the project's build output (a Rust `bootstrap`), else undefined. */
  fileSize(file: string): number | undefined;
  /**
   * The endpoint of the local AWS `npm start` left running for the project (its record in
   * `.build/local-aws/emulator.json`, when the recorded process is that moto server), else undefined.
   */
  localAwsEndpoint(projectRoot: string): string | undefined;
}

/** What `npm start` records of the local AWS it started. */
export interface RecordedEmulator {
  readonly endpoint: string;
  readonly pid: number;
}

/** The record of the local AWS `npm start` keeps for a project. */
export function emulatorRecordFile(projectRoot: string): string {
  return path.join(projectRoot, ".build", "local-aws", "emulator.json");
}

/**
 * Whether `rec.pid` is the moto server recorded at `rec.endpoint` (a pid is reused once its process
 * ends): its command line names moto_server and the recorded port.
 */
export function isRecordedServer(rec: RecordedEmulator): boolean {
  try {
    process.kill(rec.pid, 0);
  } catch {
    return false;
  }
  let cmdline: string | undefined;
  try {
    cmdline = fs.readFileSync(`/proc/${rec.pid}/cmdline`, "utf8").split("\0").join(" ");
  } catch {
    const ps = spawnSync("ps", ["-o", "command=", "-p", String(rec.pid)], { encoding: "utf8" });
    cmdline = ps.status === 0 ? ps.stdout : undefined;
  }
  const port = new URL(rec.endpoint).port;
  return cmdline !== undefined && cmdline.includes("moto_server") && new RegExp(`(^|\\s)-p\\s+${port}(\\s|$)`).test(cmdline);
}

const resets: Array<() => void> = [];

/** This machine, as the constructs see it by default. */
export const thisMachine: MachineProbe = {
  ...realProbe,
  builtSize(zipPath, store) {
    for (const zip of [zipPath, ...(store ? [path.join(artifactStoreRoot(), store, path.basename(zipPath))] : [])]) {
      const known = knownZipSize(zip);
      if (known) return known;
    }
    return undefined;
  },
  fileSize: (file) => (fs.existsSync(file) ? fs.statSync(file).size : undefined),
  localAwsEndpoint(projectRoot) {
    try {
      const rec = JSON.parse(fs.readFileSync(emulatorRecordFile(projectRoot), "utf8")) as RecordedEmulator;
      return isRecordedServer(rec) ? rec.endpoint : undefined;
    } catch {
      return undefined;
    }
  },
};

/** Registers what a module remembers of this machine, to be forgotten by `resetMachine()`. */
export function onMachineReset(forget: () => void): void {
  resets.push(forget);
}

/**
 * Forgets what was learnt of this machine in this process (the Rust toolchain choice per
 * architecture), so the next synth asks again: after installing a toolchain, or in tests.
 */
export function resetMachine(): void {
  for (const forget of resets) forget();
}
