/**
 * One place for the wording of synth-time errors, so every message names what was wrong, the value
 * received and the fix in the same shape:
 *   `envs/prod.ts: websocket.function.memoryMiB is 99999; Lambda allows 128-10240.`
 */

/** An error in user input (env config, source paths); `problems` holds one line per problem. */
export class ConfigError extends Error {
  public readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(
      problems.length === 1
        ? problems[0]
        : `${problems.length} problems in the environment config:\n${problems.map((p) => `  - ${p}`).join("\n")}`,
    );
    this.name = "ConfigError";
    this.problems = problems;
  }
}

/** Renders a value the way a user wrote it, shortened so one bad 4 KB string does not flood the terminal. */
export function showValue(value: unknown): string {
  if (value === undefined) return "missing";
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** `<file>: <field> is <value>; <fix>` */
export function problem(file: string, field: string, value: unknown, fix: string): string {
  return `${file}: ${field || "(root)"} is ${showValue(value)}; ${fix}`;
}

/**
 * An error in a construct's props, raised at synth. It names the prop, not where the prop came
 * from: the code that built the props (the app's stack) maps it to its own field, e.g.
 * `envs/dev.ts: functions.report.handler`.
 */
export class PropError extends Error {
  constructor(
    /** The prop, dotted for nested ones (`handler`, `url.authType`). */
    public readonly prop: string,
    public readonly value: unknown,
    /** What is wrong and the fix, without the prop's name. */
    public readonly fix: string,
  ) {
    super(`${prop} is ${showValue(value)}; ${fix}`);
    this.name = "PropError";
  }
}
