import { parseArgs as nodeParseArgs, ParseArgsConfig } from "util";
import { ConfigError } from "../modules/errors";

/**
 * One way for every command: arguments parsed by one helper (node's util.parseArgs, strict), errors
 * printed as `<command>: <message>` on stderr, and the same exit codes everywhere.
 */

export const EXIT = {
  /** Done. */
  ok: 0,
  /** It failed: the message says what and how to fix it (a build, the engine, an env file). */
  failed: 1,
  /** Wrong arguments: nothing was done. */
  usage: 2,
  /** A plan review refused a destroy or replace of stateful resources (npm run plan). */
  refusedDestroy: 3,
  /** A plan would change what an import adopted (npm run deploy, npm run plan -- --apply; npm start stops with 1). */
  refusedImportChange: 4,
} as const;

/** The exit codes, as each command's --help lists them (`codes` picks the ones it uses). */
export function exitCodesHelp(codes: ReadonlyArray<keyof typeof EXIT> = ["ok", "failed", "usage"]): string {
  const what: Record<keyof typeof EXIT, string> = {
    ok: "done",
    failed: "failed (the message says what and how to fix it)",
    usage: "wrong arguments (nothing was done)",
    refusedDestroy: "the plan destroys or replaces a stateful resource (nothing applied; --allow-destroy)",
    refusedImportChange: "the plan would change what an import adopts (nothing applied; --allow-import-changes)",
  };
  return `Exit codes: ${codes.map((c) => `${EXIT[c]} ${what[c]}`).join(", ")}.`;
}

/** Wrong arguments: printed with a pointer to --help, exit 2. */
export class UsageError extends Error {}

export interface Parsed<T extends ParseArgsConfig["options"]> {
  readonly values: { [K in keyof T]?: T[K] extends { type: "boolean" } ? boolean : T[K] extends { multiple: true } ? string[] : string };
  readonly positionals: string[];
  readonly help: boolean;
}

/**
 * Parses `argv` strictly against `options` (plus -h/--help); an unknown option, a missing value or
 * too many positionals is a UsageError naming it.
 */
export function parseCommandLine<T extends NonNullable<ParseArgsConfig["options"]>>(argv: string[], options: T, maxPositionals = Infinity): Parsed<T> {
  let parsed: ReturnType<typeof nodeParseArgs>;
  try {
    parsed = nodeParseArgs({ args: argv, options: { ...options, help: { type: "boolean", short: "h" } }, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/\. To specify a positional argument.*$/, ""));
  }
  if (parsed.positionals.length > maxPositionals) throw new UsageError(`unexpected argument ${JSON.stringify(parsed.positionals[maxPositionals])}`);
  const { help, ...values } = parsed.values as Record<string, unknown>;
  return { values: values as Parsed<T>["values"], positionals: parsed.positionals, help: help === true };
}

/**
 * Runs a command's main and exits the one way: its returned code, or for an error `<name>: <message>`
 * and 2 (UsageError) or 1 (anything else; an env file's ConfigError lists its problems).
 */
export function runMain(name: string, main: () => number | void | Promise<number | void>, options: { exit?: boolean } = {}): void {
  Promise.resolve()
    .then(main)
    .then(
      (code) => {
        process.exitCode = code ?? EXIT.ok;
      },
      (e: unknown) => {
        const err = e as Error;
        if (e instanceof UsageError) {
          process.stderr.write(`${name}: ${err.message} (see --help)\n`);
          process.exitCode = EXIT.usage;
        } else if (e instanceof ConfigError) {
          process.stderr.write(`${err.message}\n\nNothing was done.\n`);
          process.exitCode = EXIT.failed;
        } else {
          process.stderr.write(`${name}: ${err.message}\n`);
          process.exitCode = EXIT.failed;
        }
      },
    )
    // With `exit`, the process ends when main does, whatever handles are left (a child's pipes).
    .finally(() => options.exit && process.exit());
}
