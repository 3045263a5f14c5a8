import { App, DataResource, Lazy, TerraformStack } from "cdktf";
import { Construct } from "constructs";
import * as fs from "fs";
import * as path from "path";

/** lambdaship's own root: its builders' CLIs live under it, wherever the package is installed. */
export const LIBRARY_ROOT = path.resolve(__dirname, "..", "..");
const LIBRARY_NAME = "lambdaship";

export interface ApplyTimeBuilderProps {
  /** The builder's CLI, relative to lambdaship's root (`build/function-cli.ts`). */
  readonly cli: string;
  /** The project root as the engine sees it from the stack's working directory; the command runs there. */
  readonly workingDir: string;
  /** Absolute project root: the CLI's path is written relative to it. */
  readonly projectRoot: string;
  /** Values that replace the builder (and so run it) when one changes: the input hashes. Read at synth's end. */
  readonly triggers: () => Record<string, unknown>;
  /** The CLI's arguments, read at synth's end. */
  readonly args: () => readonly string[];
  /** A build cache shared between machines. @default - the stack's (sharedStoreContext), else none */
  readonly sharedStore?: SharedStoreRef;
}

/** The construct context key under which a stack names its shared build cache for every builder in it. */
export const SHARED_STORE_CONTEXT = "lambdaship:sharedStore";

/**
 * Where the project's own lambdaship is, relative to its root: "" when the project is lambdaship,
 * `node_modules/lambdaship` when it installs it. What runs at apply is the copy the project has, on
 * whichever machine applies the plan; only a project with neither points at this process's copy.
 */
export function libraryFromProject(projectRoot: string): string {
  const name = (dir: string) => {
    try {
      return (JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as { name?: string }).name;
    } catch {
      return undefined;
    }
  };
  if (name(projectRoot) === LIBRARY_NAME) return "";
  if (name(path.join(projectRoot, "node_modules", LIBRARY_NAME)) === LIBRARY_NAME) return `node_modules/${LIBRARY_NAME}`;
  return path.relative(projectRoot, LIBRARY_ROOT).split(path.sep).join("/");
}

/**
 * The command that runs one of lambdaship's CLIs from the project root, with its TypeScript loader:
 * `node -r ./scripts/register.js build/cli.ts` here, `node -r ./node_modules/lambdaship/scripts/register.js
 * node_modules/lambdaship/build/cli.ts` in a project that installs lambdaship. Relative, so the plan
 * is the same on every machine.
 */
export function builderCommand(projectRoot: string, cli: string): string {
  const rel = libraryFromProject(projectRoot);
  const at = (p: string) => (rel ? `${rel}/${p}` : p);
  const loader = at("scripts/register.js");
  return `node -r ${loader.startsWith(".") ? loader : `./${loader}`} ${at(cli)}`;
}

/**
 * The one kind of apply-time builder every runtime and layer uses: a `terraform_data` whose
 * `triggers_replace` are the input hashes computed at synth, and whose local-exec runs a lambdaship
 * builder CLI with `--expect` of those hashes. A changed input replaces it, so it builds before the
 * functions and layers that depend on it; an unchanged one never runs it again. A failed build fails
 * the apply before anything that depends on it changes.
 */
export function applyTimeBuilder(scope: Construct, id: string, props: ApplyTimeBuilderProps): DataResource {
  const command = builderCommand(props.projectRoot, props.cli);
  const shared = props.sharedStore ?? (scope.node.tryGetContext(SHARED_STORE_CONTEXT) as SharedStoreRef | undefined);
  return new DataResource(scope, id, {
    triggersReplace: Lazy.anyValue({ produce: () => props.triggers() }),
    provisioners: [
      {
        type: "local-exec",
        workingDir: props.workingDir,
        command: Lazy.stringValue({ produce: () => [command, ...props.args(), ...sharedStoreArgs(shared)].join(" ") }),
      },
    ],
  });
}

/** The project root as the engine sees it from `scope`'s stack working directory (`cdktf.out/stacks/<stack>`). */
export function projectRootFromStack(scope: Construct, projectRoot: string): string {
  const stack = TerraformStack.of(scope);
  return path.relative(path.resolve(App.of(stack).outdir, "stacks", stack.node.id), projectRoot).split(path.sep).join("/") || ".";
}

/**
 * A build cache shared between machines (an env's `artifacts.cache`): the builders look there for
 * what the machine's store lacks and upload what they build. Passed on the builder's command line,
 * which is not part of the plan's diff: a new endpoint (the local AWS's port) changes nothing.
 */
export interface SharedStoreRef {
  readonly bucket: string;
  readonly prefix: string;
  readonly region: string;
  /** An S3-compatible endpoint (the local AWS). @default - AWS */
  readonly endpoint?: string;
  /** Where it is configured, for the builder's messages (`envs/dev.ts: artifacts.cache`). */
  readonly setting: string;
}

/** The builder CLI arguments for a shared store. */
export function sharedStoreArgs(store: SharedStoreRef | undefined): string[] {
  if (!store) return [];
  return [
    `--shared-store s3://${store.bucket}/${store.prefix} --shared-store-region ${store.region}`,
    ...(store.endpoint ? [`--shared-store-endpoint ${store.endpoint}`] : []),
    `--shared-store-setting ${JSON.stringify(store.setting)}`,
  ];
}
