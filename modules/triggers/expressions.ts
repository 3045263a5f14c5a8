/**
 * The schedule expressions EventBridge Scheduler takes ("Schedule types on EventBridge Scheduler"):
 * `rate(value unit)`, `cron(minutes hours day-of-month month day-of-week year)` and
 * `at(yyyy-mm-ddThh:mm:ss)`, checked here so a bad one fails at synth with the fix.
 */

const MONTHS = "JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC";
const DAYS = "SUN|MON|TUE|WED|THU|FRI|SAT";

/** One cron field: lists of values, ranges and increments, with the field's own wildcards. */
function cronField(field: string, min: number, max: number, names: string | undefined, extra: RegExp | undefined): boolean {
  if (field === "*") return true;
  const value = (v: string) => (names && new RegExp(`^(${names})$`, "i").test(v)) || (/^\d+$/.test(v) && +v >= min && +v <= max);
  return field.split(",").every((part) => {
    if (extra?.test(part)) return true;
    const [range, step] = part.split("/");
    if (step !== undefined && !(/^\d+$/.test(step) && +step >= 1)) return false;
    if (range === "*") return step !== undefined;
    const [a, b] = range.split("-");
    return value(a) && (b === undefined || value(b));
  });
}

/** Why an expression is not one Scheduler takes, with the fix; undefined when it is. */
export function scheduleExpressionProblem(expression: string): string | undefined {
  const rate = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression);
  if (rate) {
    const n = Number(rate[1]);
    if (n < 1) return "a rate is at least 1";
    if (n === 1 && rate[2].endsWith("s")) return `write rate(1 ${rate[2].slice(0, -1)}): the unit is singular for 1`;
    if (n > 1 && !rate[2].endsWith("s")) return `write rate(${n} ${rate[2]}s): the unit is plural above 1`;
    return undefined;
  }
  if (expression.startsWith("rate(")) return "a rate is rate(<n> minute(s)|hour(s)|day(s)), e.g. rate(5 minutes)";
  const cron = /^cron\((.*)\)$/.exec(expression);
  if (cron) {
    const f = cron[1].trim().split(/\s+/);
    if (f.length !== 6) return `a cron expression has 6 fields (minutes hours day-of-month month day-of-week year), this one has ${f.length}: e.g. cron(0 12 * * ? *)`;
    const [minutes, hours, dom, month, dow, year] = f;
    if ((dom === "?") === (dow === "?")) return "exactly one of day-of-month (3rd field) and day-of-week (5th) is ?: e.g. cron(0 12 * * ? *) or cron(0 9 ? * MON-FRI *)";
    const checks: Array<[string, string, boolean]> = [
      ["minutes", minutes, cronField(minutes, 0, 59, undefined, undefined)],
      ["hours", hours, cronField(hours, 0, 23, undefined, undefined)],
      ["day-of-month", dom, dom === "?" || cronField(dom, 1, 31, undefined, /^(L|LW|\d{1,2}W)$/)],
      ["month", month, cronField(month, 1, 12, MONTHS, undefined)],
      ["day-of-week", dow, dow === "?" || cronField(dow, 1, 7, DAYS, /^([1-7]|SUN|MON|TUE|WED|THU|FRI|SAT)(L|#[1-5])$|^L$/i)],
      ["year", year, cronField(year, 1970, 2199, undefined, undefined)],
    ];
    const bad = checks.find(([, , ok]) => !ok);
    return bad ? `the ${bad[0]} field "${bad[1]}" is not valid: use numbers, names, ranges (a-b), lists (a,b), increments (*/n) and * ${bad[0] === "day-of-month" || bad[0] === "day-of-week" ? "or ? (and L, W or #)" : ""}`.trim() : undefined;
  }
  const at = /^at\((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\)$/.exec(expression);
  if (at) {
    const d = new Date(`${at[1]}-${at[2]}-${at[3]}T${at[4]}:${at[5]}:${at[6]}Z`);
    return Number.isNaN(d.getTime()) || d.toISOString().slice(0, 19) !== `${at[1]}-${at[2]}-${at[3]}T${at[4]}:${at[5]}:${at[6]}` ? "the date and time of at(...) do not exist" : undefined;
  }
  return "a schedule is rate(<n> minutes|hours|days), cron(<6 fields>) or at(yyyy-mm-ddThh:mm:ss), e.g. rate(5 minutes) or cron(0 12 * * ? *)";
}

/** The period of a `rate(...)` expression in ms; undefined for cron and at. */
export function rateMillis(expression: string): number | undefined {
  const rate = /^rate\((\d+) (minute|hour|day)s?\)$/.exec(expression);
  if (!rate) return undefined;
  return Number(rate[1]) * { minute: 60_000, hour: 3_600_000, day: 86_400_000 }[rate[2] as "minute" | "hour" | "day"];
}

/** API Gateway HTTP API route keys: `METHOD /path` (with `{param}` and a final `{proxy+}`) or `$default`. */
export function httpRouteProblem(route: string): string | undefined {
  if (route === "$default") return undefined;
  const m = /^([A-Z]+) (\/.*)$/.exec(route);
  if (!m) return `a route is METHOD /path, e.g. "GET /items/{id}", "ANY /{proxy+}" or "$default"`;
  if (!["GET", "PUT", "HEAD", "POST", "PATCH", "DELETE", "OPTIONS", "ANY"].includes(m[1])) return `${m[1]} is not a method HTTP APIs route: use GET, PUT, HEAD, POST, PATCH, DELETE, OPTIONS or ANY`;
  const path = m[2];
  if (path === "/") return undefined;
  const segments = path.slice(1).split("/");
  for (const [i, s] of segments.entries()) {
    if (s === "") return `the path ${path} has an empty segment (a double or trailing /)`;
    if (/^\{[A-Za-z0-9_]+\+\}$/.test(s)) {
      if (i !== segments.length - 1) return `the greedy parameter ${s} must be the path's last segment`;
    } else if (!/^\{[A-Za-z0-9_]+\}$/.test(s) && !/^[A-Za-z0-9._~!$&'()*,;=:@-]+$/.test(s)) return `the path segment "${s}" is not a literal or a {parameter}`;
  }
  return undefined;
}
