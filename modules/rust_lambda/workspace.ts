import { Annotations, DataResource } from "cdktf";
import { Construct } from "constructs";
import * as fs from "fs";
import * as path from "path";
import { LambdaArchitecture, RUST_TARGETS } from "../../build/elf";
import { ARM64_FIX, binsFromMetadata, buildableArchitecture, CargoMetadata, cargoMetadata, functionHashes, RustFunction, zipPathFor } from "../../build/rust";
import { MachineProbe, onMachineReset, thisMachine } from "../machine";
import { applyTimeBuilder, SharedStoreRef } from "../apply_builder";
import { ConfigError, PropError } from "../errors";
import type { FunctionCode } from "../lambda_function";

export interface RustWorkspaceProps {
  /** Absolute path of the cargo workspace. */
  readonly workspaceDir: string;
  /** Absolute project root: the builder runs `build/cli.ts` from here. */
  readonly projectRoot: string;
  /**
   * The project root as the engine sees it from the stack's working directory (`../../..` for
   * `cdktf.out/stacks/<stack>`): zip paths and the builder's folder are written relative to it, so
   * the plan is the same on every machine.
   */
  readonly projectRootFromStack: string;
  /**
   * Fail rather than fall back to x86_64 when no toolchain here can build arm64. The stack then always
   * plans arm64, and the builder stops the apply before any function changes. @default false
   */
  readonly requireArm64?: boolean;
  /** Where the workspace was configured, for errors (`envs/dev.ts: rust.workspace`). @default "rust.workspace" */
  readonly configField?: string;
  /** How toolchains are detected; tests pass a fake machine. @default - this machine */
  readonly machine?: MachineProbe;
  /** A build cache shared between machines, beside the machine's own store. @default - the stack's, if it names one */
  readonly sharedStore?: SharedStoreRef;
}

/** A function's package as the stack references it. */
export interface RustArtifact extends FunctionCode {
  /** The architecture the binary is built for: what the function must declare. */
  readonly architecture: LambdaArchitecture;
  /** Hex input hash (sources, manifests, lock file, target, profile). */
  readonly inputHash: string;
  /** The builder the function must wait for. */
  readonly builder: DataResource;
  /** The binary's size, when it is already built here. */
  readonly unzippedBytes?: number;
}

const metadataCache = new Map<string, CargoMetadata>();
const choiceCache = new Map<string, { architecture: LambdaArchitecture; warning?: string }>();
onMachineReset(() => choiceCache.clear());
/** Input hashes by workspace, target and bin: every stack of an app uses the same ones. */
const hashCache = new Map<string, string>();

/**
 * One cargo workspace, as a stack deploys it: its bins (from `cargo metadata`), and per architecture
 * one builder (`terraform_data`) that runs `build/cli.ts` for exactly the bins the stack uses, in one
 * cargo invocation. The builder's triggers are the functions' input hashes, so it runs again only when
 * an input changed; each function's `filename` and `source_code_hash` carry the same hash.
 *
 * The architecture is decided at synth from the toolchains present: arm64 when one can build it,
 * else x86_64 with a warning (or, with `requireArm64`, arm64 and an error at apply). The builder
 * is told that architecture with `--require-arch` and checks each binary's ELF header, so a function
 * never declares an architecture its binary does not have.
 */
export class RustWorkspace extends Construct {
  public readonly workspaceDir: string;
  /** Every bin of the workspace, by name. */
  public readonly bins: ReadonlyMap<string, RustFunction>;
  private readonly props: RustWorkspaceProps;
  private readonly meta: CargoMetadata;
  private readonly builds = new Map<LambdaArchitecture, { builder: DataResource; architecture: LambdaArchitecture; used: Map<string, string> }>();

  private get machine(): MachineProbe {
    return this.props.machine ?? thisMachine;
  }

  constructor(scope: Construct, id: string, props: RustWorkspaceProps) {
    super(scope, id);
    this.props = props;
    this.workspaceDir = props.workspaceDir;
    const field = props.configField ?? "rust.workspace";
    if (!fs.existsSync(path.join(props.workspaceDir, "Cargo.toml"))) {
      throw new ConfigError([`${field} names ${props.workspaceDir}, which has no Cargo.toml; point it at the cargo workspace of the Rust functions (relative to the project root).`]);
    }
    let meta = metadataCache.get(props.workspaceDir);
    if (!meta) {
      meta = cargoMetadata(props.workspaceDir);
      metadataCache.set(props.workspaceDir, meta);
    }
    this.meta = meta;
    this.bins = new Map(binsFromMetadata(meta).map((b) => [b.name, b]));
  }

  /**
   * The package of `bin` for the wanted architecture (the one actually built may differ: see the
   * class). Registers the bin with that architecture's builder.
   */
  public artifact(bin: string, want: LambdaArchitecture): RustArtifact {
    const fn = this.bins.get(bin);
    if (!fn) {
      throw new PropError(
        "bin",
        bin,
        `it is not a bin of ${path.relative(this.props.projectRoot, this.workspaceDir) || "."}; its bins are ${[...this.bins.keys()].join(", ")} (add a [[bin]] or a src/bin/<name>.rs to add a function)`,
      );
    }
    const build = this.buildFor(want);
    const target = RUST_TARGETS[build.architecture];
    const key = `${this.workspaceDir}\0${target}\0${bin}`;
    let hash = hashCache.get(key);
    if (!hash) {
      hash = functionHashes(this.meta, [fn], target)[bin];
      hashCache.set(key, hash);
    }
    build.used.set(bin, hash);
    const zipAbs = zipPathFor(this.workspaceDir, bin, hash);
    const zip = path.relative(this.props.projectRoot, zipAbs).split(path.sep).join("/");
    const bootstrap = path.join(path.dirname(zipAbs), "bootstrap");
    return {
      filename: path.posix.join(this.props.projectRootFromStack, zip),
      sourceCodeHash: Buffer.from(hash, "hex").toString("base64"),
      architecture: build.architecture,
      inputHash: hash,
      builder: build.builder,
      unzippedBytes: this.machine.fileSize(zipAbs) !== undefined ? this.machine.fileSize(bootstrap) : undefined,
    };
  }

  private buildFor(want: LambdaArchitecture) {
    const existing = this.builds.get(want);
    if (existing) return existing;
    const { architecture, warning } = this.chooseArchitecture(want);
    if (warning) Annotations.of(this).addWarning(warning);
    const used = new Map<string, string>();
    const workspace = path.relative(this.props.projectRoot, this.workspaceDir).split(path.sep).join("/") || ".";
    const sorted = () => [...used.entries()].sort(([a], [b]) => a.localeCompare(b));
    const builder = applyTimeBuilder(this, `builder-${want}`, {
      cli: "build/cli.ts",
      projectRoot: this.props.projectRoot,
      workingDir: this.props.projectRootFromStack,
      // A new hash replaces the builder, which runs the build before any function that uses it.
      triggers: () => ({ target: RUST_TARGETS[architecture], functions: Object.fromEntries(sorted()) }),
      args: () => [`--workspace ${workspace} --arch ${architecture} --require-arch`, ...sorted().map(([bin, hash]) => `--bin ${bin} --expect ${bin}=${hash}`)],
      sharedStore: this.props.sharedStore,
    });
    const build = { builder, architecture, used };
    this.builds.set(want, build);
    return build;
  }

  private chooseArchitecture(want: LambdaArchitecture): { architecture: LambdaArchitecture; warning?: string } {
    const required = want === "arm64" && (this.props.requireArm64 ?? false);
    const probe = this.machine;
    const key = `${want}:${required}`;
    const cached = probe === thisMachine ? choiceCache.get(key) : undefined;
    if (cached) return cached;
    let result: { architecture: LambdaArchitecture; warning?: string };
    try {
      result = buildableArchitecture(want, required, probe);
    } catch {
      // Planned as wanted; the builder fails at apply, before any function changes, with the same fix.
      const fix = want === "arm64" ? ARM64_FIX : "install Rust (https://rustup.rs or apt-get install cargo)";
      result = {
        architecture: want,
        warning:
          `no Rust toolchain here can build ${RUST_TARGETS[want]}${required ? `, and this env requires ${want}` : ""}. ` +
          `The plan deploys ${want}; applying it fails in the builder, before any function changes, until you ${fix}.`,
      };
    }
    if (probe === thisMachine) choiceCache.set(key, result);
    return result;
  }
}
