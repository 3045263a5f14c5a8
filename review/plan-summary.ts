/**
 * A plan summary a reviewer can act on in a minute: counts, a table per function, and the changes
 * that hurt, read from the engine's plan JSON (`terraform show -json <plan>`). Pure: the plan JSON
 * and the synthesized stack in, markdown and findings out.
 */

import { functionNameOf, reference, routeFunction } from "../runtime/stack-refs";

export interface ResourceChange {
  readonly address: string;
  readonly type: string;
  readonly change: {
    readonly actions: readonly string[];
    readonly before: Record<string, unknown> | null;
    readonly after: Record<string, unknown> | null;
    readonly after_unknown?: Record<string, unknown> | null;
    readonly importing?: { readonly id: string } | null;
  };
}

export interface PlanJsonDocument {
  readonly resource_changes?: readonly ResourceChange[];
}

/** The synthesized stack, for policies whose JSON is known only at apply (built from data sources). */
export interface StackDocument {
  readonly resource?: Record<string, Record<string, Record<string, unknown>>>;
  readonly data?: Record<string, Record<string, Record<string, unknown>>>;
}

export interface Counts {
  add: number;
  change: number;
  destroy: number;
  replace: number;
  import: number;
}

export interface FunctionRow {
  readonly address: string;
  readonly name: string;
  readonly action: string;
  readonly codeHash: string;
  readonly architecture: string;
  readonly packageSize: string;
  readonly memory: string;
  readonly timeout: string;
  readonly envVarsChanged: string;
  /** Other configured arguments that change (layers, role, handler, ...). */
  readonly alsoChanges: string;
}

/** A change to what invokes a function: an API route, a schedule, a queue mapping. */
export interface TriggerRow {
  readonly address: string;
  /** The function it invokes (its name), "-" when the plan and stack do not say. */
  readonly function: string;
  /** `http GET /items`, `websocket $connect`, `schedule <name>`, `sqs <queue>`. */
  readonly trigger: string;
  readonly action: string;
  /** What changes: `rate(5 minutes) -> rate(1 hour)`, `batch 10 -> 5`, ... ("-" when created or deleted). */
  readonly changes: string;
}

export interface Finding {
  readonly address: string;
  readonly message: string;
  /** A stateful resource destroyed or replaced: blocks protected envs unless allowed. */
  readonly blocking: boolean;
}

/** What the first apply of an import changes on the adopted resource. */
export interface ImportChange {
  readonly address: string;
  readonly message: string;
  /** Removes variables or tags, or changes the role or the code: refused unless allowed. */
  readonly refused: boolean;
}

export interface Summary {
  readonly env: string;
  readonly counts: Counts;
  readonly functions: readonly FunctionRow[];
  readonly triggers: readonly TriggerRow[];
  readonly warnings: readonly Finding[];
  readonly imports: readonly ImportChange[];
  /** Adopted resources this plan destroys because their entry is gone (refused when applying unless --allow-destroy). */
  readonly adoptedDestroyed: ReadonlyArray<{ readonly address: string; readonly name: string }>;
  readonly markdown: string;
}

/** Resource types whose loss is data loss (or a lost address clients use): blocking in protected envs. */
export const STATEFUL_TYPES = new Set(["aws_dynamodb_table", "aws_s3_bucket", "aws_cloudwatch_log_group", "aws_apigatewayv2_api"]);
/** Resource types whose destruction or replacement is always worth a warning. */
const WATCHED_TYPES: Record<string, string> = {
  aws_lambda_function: "function",
  aws_dynamodb_table: "table",
  aws_cloudwatch_log_group: "log group",
  aws_apigatewayv2_api: "API",
  aws_s3_bucket: "bucket",
};

const POLICY_TYPES = new Set(["aws_iam_role_policy", "aws_iam_policy"]);

function kind(actions: readonly string[]): "create" | "update" | "delete" | "replace" | "no-op" | "read" {
  const a = actions.join("+");
  if (a === "delete+create" || a === "create+delete") return "replace";
  if (a === "create" || a === "update" || a === "delete" || a === "read") return a;
  return "no-op";
}

export function countChanges(plan: PlanJsonDocument): Counts {
  const c: Counts = { add: 0, change: 0, destroy: 0, replace: 0, import: 0 };
  for (const rc of plan.resource_changes ?? []) {
    const k = kind(rc.change.actions);
    if (k === "create") c.add++;
    else if (k === "update") c.change++;
    else if (k === "delete") c.destroy++;
    else if (k === "replace") c.replace++;
    if (rc.change.importing) c.import++;
  }
  return c;
}

const short = (h: unknown) => (typeof h === "string" ? h.slice(0, 12) : "?");
const arrow = (before: string, after: string) => (before === after ? after : `${before} -> ${after}`);
const shown = (v: unknown, unit = "") => (v === undefined || v === null ? "-" : `${String(v)}${unit}`);

function envVars(v: Record<string, unknown> | null | undefined): Record<string, string> {
  const env = (v?.environment as Array<{ variables?: Record<string, string> }> | undefined)?.[0]?.variables;
  return env ?? {};
}

/** Names of variables added, removed or changed; never their values. */
export function changedVariableNames(before: Record<string, unknown> | null, after: Record<string, unknown> | null, afterUnknown?: Record<string, unknown> | null): string {
  const b = envVars(before);
  const a = envVars(after);
  const unknown = ((afterUnknown?.environment as Array<{ variables?: Record<string, boolean> | boolean }> | undefined)?.[0]?.variables ?? {}) as Record<string, boolean> | boolean;
  const names = new Set([...Object.keys(b), ...Object.keys(a)]);
  const out: string[] = [];
  for (const n of [...names].sort()) {
    const isUnknown = unknown === true || (typeof unknown === "object" && unknown[n] === true);
    if (!(n in b)) out.push(`+${n}`);
    else if (!(n in a) && !isUnknown) out.push(`-${n}`);
    else if (isUnknown || a[n] !== b[n]) out.push(`~${n}`);
  }
  return out.join(" ") || "-";
}

/** Wildcard actions and resources of an IAM policy document (JSON text). */
export function wildcardsOf(policy: string | undefined): Set<string> {
  const found = new Set<string>();
  if (!policy) return found;
  let doc: { Statement?: unknown };
  try {
    doc = JSON.parse(policy) as { Statement?: unknown };
  } catch {
    return found;
  }
  const statements = Array.isArray(doc.Statement) ? doc.Statement : doc.Statement ? [doc.Statement] : [];
  for (const s of statements as Array<Record<string, unknown>>) {
    if (s.Effect !== "Allow") continue;
    for (const [field, label] of [["Action", "action"], ["Resource", "resource"]] as const) {
      const values = Array.isArray(s[field]) ? (s[field] as unknown[]) : s[field] !== undefined ? [s[field]] : [];
      for (const v of values) if (typeof v === "string" && v.includes("*") && !isScopedWildcard(field, v)) found.add(`${label} ${v}`);
    }
  }
  return found;
}

/**
 * Resources with a wildcard that stays inside one named resource are the usual least-privilege form
 * (a log group's streams `...:log-group:/aws/lambda/x:*`, a table's indexes, a WebSocket stage's
 * routes, an S3 prefix): only a wildcard in the account, service, type or name part is flagged.
 */
function isScopedWildcard(field: string, v: string): boolean {
  if (field !== "Resource") return false;
  if (v === "*") return false;
  const parts = v.split(":");
  if (parts.length < 6 || parts[0] !== "arn") return false;
  // arn:partition:service:region:account:resource...
  if (parts.slice(1, 5).some((p) => p.includes("*"))) return false;
  const resource = parts.slice(5).join(":");
  const firstStar = resource.indexOf("*");
  // Something named must come before the wildcard: `table/items/index/*`, `log-group:/aws/lambda/f:*`, `bucket/prefix/*`.
  const named = resource.slice(0, firstStar).replace(/[/:]$/, "");
  return named.length > 0 && !/^(table|function|log-group|layer|role|policy)$/.test(named) && /[A-Za-z0-9]/.test(named);
}

/** A policy's document after the plan: known JSON, else the statements of the stack's policy document data source. */
function policyAfter(rc: ResourceChange, stack: StackDocument | undefined): string | undefined {
  const after = rc.change.after?.policy;
  if (typeof after === "string") return after;
  const id = rc.address.split(".")[1];
  const ref = stack?.resource?.[rc.type]?.[id]?.policy;
  const m = typeof ref === "string" ? /^\$\{data\.aws_iam_policy_document\.([\w-]+)\.json\}$/.exec(ref) : null;
  const doc = m ? stack?.data?.aws_iam_policy_document?.[m[1]] : undefined;
  if (!doc) return undefined;
  const statements = ((doc.statement as Array<Record<string, unknown>>) ?? []).map((s) => ({
    Effect: s.effect ?? "Allow",
    Action: s.actions,
    // References (`${...}`) are ARNs of managed resources: never a bare wildcard.
    Resource: ((s.resources as string[]) ?? []).map((r) => (r.includes("${") ? r.replace(/\$\{[^}]*\}/g, "arn:aws:svc:r:1:ref") : r)),
  }));
  return JSON.stringify({ Statement: statements });
}

function enabled(v: Record<string, unknown> | null, block: string): boolean | undefined {
  const b = (v?.[block] as Array<{ enabled?: boolean }> | undefined)?.[0];
  return b?.enabled;
}

export function findings(plan: PlanJsonDocument, stack?: StackDocument): Finding[] {
  const out: Finding[] = [];
  for (const rc of plan.resource_changes ?? []) {
    const k = kind(rc.change.actions);
    const { before, after } = rc.change;
    const what = WATCHED_TYPES[rc.type];
    if (what && (k === "delete" || k === "replace")) {
      const verb = k === "delete" ? "destroyed" : "replaced (destroyed, then created anew)";
      out.push({ address: rc.address, message: `${what} \`${rc.address}\` would be ${verb}${STATEFUL_TYPES.has(rc.type) ? ": its data (or address) is lost" : ""}`, blocking: STATEFUL_TYPES.has(rc.type) });
    }
    if (rc.type === "aws_lambda_function" && before && after && k !== "delete") {
      const b = JSON.stringify(before.architectures ?? ["x86_64"]);
      const a = JSON.stringify(after.architectures ?? ["x86_64"]);
      if (b !== a) out.push({ address: rc.address, message: `function \`${String(after.function_name)}\` changes architecture ${b} -> ${a}: its package and layers must be built for the new one`, blocking: false });
    }
    if (POLICY_TYPES.has(rc.type) && (k === "create" || k === "update" || k === "replace")) {
      const old = wildcardsOf(typeof before?.policy === "string" ? before.policy : undefined);
      const added = [...wildcardsOf(policyAfter(rc, stack))].filter((w) => !old.has(w));
      if (added.length) out.push({ address: rc.address, message: `policy \`${rc.address}\` gains the wildcard ${added.join(", ")}: name the actions and resources it needs`, blocking: false });
    }
    if (rc.type === "aws_lambda_function_url" && after?.authorization_type === "NONE" && before?.authorization_type !== "NONE" && k !== "delete") {
      out.push({ address: rc.address, message: `function URL \`${rc.address}\` has auth NONE: anyone on the internet can invoke the function`, blocking: false });
    }
    if (rc.type === "aws_dynamodb_table" && before && after && k !== "delete") {
      if (before.deletion_protection_enabled === true && after.deletion_protection_enabled === false) {
        out.push({ address: rc.address, message: `table \`${String(after.name)}\` turns deletion protection off`, blocking: false });
      }
      if (enabled(before, "point_in_time_recovery") === true && enabled(after, "point_in_time_recovery") === false) {
        out.push({ address: rc.address, message: `table \`${String(after.name)}\` turns point-in-time recovery off: backups of the last 35 days are dropped`, blocking: false });
      }
    }
  }
  return out;
}

function tagsOf(v: Record<string, unknown> | null | undefined, key: "tags" | "tags_all"): Record<string, string> | undefined {
  const t = v?.[key];
  return t && typeof t === "object" ? (t as Record<string, string>) : undefined;
}

/**
 * What the first apply of each import changes on what it adopts, read from the plan (`before` is the
 * adopted resource as AWS has it): a function's code (its `code_sha256` against the package's hash),
 * variables and tags removed (by name, never values), its role; a log group's retention. Removing
 * variables or tags and changing the role or the code are refused by the applying commands unless
 * allowed; the rest is shown.
 */
export function importChanges(plan: PlanJsonDocument): ImportChange[] {
  const out: ImportChange[] = [];
  for (const rc of plan.resource_changes ?? []) {
    if (!rc.change.importing) continue;
    const { before, after, after_unknown } = rc.change;
    if (!before || !after) continue;
    const id = rc.change.importing.id;
    if (rc.type === "aws_lambda_function") {
      const oldHash = typeof before.code_sha256 === "string" ? before.code_sha256 : undefined;
      const newHash = after.source_code_hash;
      if (typeof newHash === "string" && oldHash !== newHash) {
        out.push({ address: rc.address, message: `function \`${id}\`: its code is replaced (${short(oldHash)} -> ${short(newHash)})`, refused: true });
      }
      const varsUnknown = JSON.stringify(after_unknown?.environment ?? false).includes("true");
      const removedVars = varsUnknown ? [] : Object.keys(envVars(before)).filter((n) => !(n in envVars(after)));
      if (removedVars.length) out.push({ address: rc.address, message: `function \`${id}\`: its variables ${removedVars.sort().join(", ")} are removed`, refused: true });
      const beforeTags = tagsOf(before, "tags_all") ?? tagsOf(before, "tags") ?? {};
      const afterTags = tagsOf(after, "tags_all") ?? (after_unknown?.tags_all ? undefined : tagsOf(after, "tags") ?? {});
      const removedTags = afterTags ? Object.keys(beforeTags).filter((k) => !(k in afterTags)) : [];
      if (removedTags.length) out.push({ address: rc.address, message: `function \`${id}\`: its tags ${removedTags.sort().join(", ")} are removed`, refused: true });
      if (after_unknown?.role === true) out.push({ address: rc.address, message: `function \`${id}\`: its role ${String(before.role)} is replaced by one created in this apply`, refused: true });
      else if (typeof after.role === "string" && after.role !== before.role) out.push({ address: rc.address, message: `function \`${id}\`: its role ${String(before.role)} is replaced by ${after.role}`, refused: true });
    }
    if (rc.type === "aws_cloudwatch_log_group" && before.retention_in_days !== after.retention_in_days) {
      const days = (d: unknown) => (d === 0 || d === null || d === undefined ? "never expire" : `${String(d)} days`);
      out.push({ address: rc.address, message: `log group \`${id}\`: retention ${days(before.retention_in_days)} -> ${days(after.retention_in_days)}`, refused: false });
    }
  }
  return out;
}

/** The stack's ledger of adopted resources (modules/stack: ADOPTED_LEDGER). */
const LEDGER = "terraform_data.adopted-functions";

/**
 * Adopted resources the plan destroys because their entry is gone: the ledger's entries that leave
 * it, and whose address the plan deletes. Each message gives the `forgotten` line that keeps them.
 */
export function adoptedDestroyed(plan: PlanJsonDocument): Array<{ address: string; name: string }> {
  const ledger = plan.resource_changes?.find((rc) => rc.address === LEDGER);
  if (!ledger) return [];
  const before = (ledger.change.before?.input ?? {}) as Record<string, string>;
  const after = (ledger.change.after?.input ?? {}) as Record<string, string>;
  const deleted = new Set((plan.resource_changes ?? []).filter((rc) => rc.change.actions.includes("delete")).map((rc) => rc.address));
  return Object.keys(before)
    .filter((a) => !(a in after) && deleted.has(a))
    .sort()
    .map((address) => ({ address, name: before[address] }));
}

/** Arguments with their own column, or that never mean a change of the function by themselves. */
const SHOWN = new Set(["source_code_hash", "filename", "architectures", "memory_size", "timeout", "environment", "depends_on", "lifecycle", "//", "provider", "tags", "tags_all"]);

/** The function's configured arguments (from the stack) whose value changes, known or not yet. */
function otherChanges(rc: ResourceChange, stack: StackDocument | undefined): string {
  const { before, after, after_unknown } = rc.change;
  if (!before || !after) return "-";
  const configured = Object.keys(stack?.resource?.[rc.type]?.[rc.address.split(".")[1]] ?? after);
  const changed = configured.filter((k) => !SHOWN.has(k) && (JSON.stringify(before[k]) !== JSON.stringify(after[k]) || JSON.stringify(after_unknown?.[k] ?? false).includes("true")));
  return changed.sort().join(", ") || "-";
}

export function functionRows(plan: PlanJsonDocument, packageSize: (filename: string) => string, stack?: StackDocument): FunctionRow[] {
  const rows: FunctionRow[] = [];
  for (const rc of plan.resource_changes ?? []) {
    if (rc.type !== "aws_lambda_function") continue;
    const k = kind(rc.change.actions);
    if (k === "no-op" || k === "read") {
      if (!rc.change.importing) continue;
    }
    const { before, after } = rc.change;
    const v = after ?? before ?? {};
    const action = rc.change.importing ? (k === "no-op" ? "import" : `import, ${k}`) : k;
    rows.push({
      address: rc.address,
      name: String(v.function_name ?? rc.address),
      action,
      // An imported function's state has no source_code_hash yet: its code's hash is code_sha256.
      codeHash: k === "create" ? `new ${short(after?.source_code_hash)}` : k === "delete" ? "-" : arrow(short(before?.source_code_hash || before?.code_sha256), short(after?.source_code_hash)),
      architecture: arrow(((before?.architectures as string[]) ?? ["?"]).join(","), ((v.architectures as string[]) ?? ["?"]).join(",")),
      packageSize: typeof after?.filename === "string" ? packageSize(after.filename) : "-",
      memory: before && after ? arrow(shown(before.memory_size, " MB"), shown(after.memory_size, " MB")) : shown(v.memory_size, " MB"),
      timeout: before && after ? arrow(shown(before.timeout, " s"), shown(after.timeout, " s")) : shown(v.timeout, " s"),
      envVarsChanged: k === "delete" ? "-" : changedVariableNames(before, after, rc.change.after_unknown),
      alsoChanges: k === "update" ? otherChanges(rc, stack) : "-",
    });
  }
  return rows;
}

const TRIGGER_TYPES = new Set(["aws_apigatewayv2_route", "aws_scheduler_schedule", "aws_lambda_event_source_mapping"]);

/** The function a trigger's configuration (or, for one the stack no longer has, its planned values) invokes. */
function triggerFunction(rc: ResourceChange, stack: StackDocument | undefined, config: Record<string, unknown> | undefined, v: Record<string, unknown>): string {
  const first = (x: unknown) => (Array.isArray(x) ? x[0] : x) as Record<string, unknown> | undefined;
  const s = stack ?? {};
  let found: string | undefined;
  if (rc.type === "aws_apigatewayv2_route") found = routeFunction(s, config);
  else if (rc.type === "aws_scheduler_schedule") found = functionNameOf(s, first(config?.target)?.arn) ?? functionNameOf(s, first(v.target)?.arn);
  else found = functionNameOf(s, config?.function_name) ?? functionNameOf(s, v.function_arn ?? v.function_name);
  return found ?? "-";
}

/** One row per trigger the plan creates, changes or deletes. */
export function triggerRows(plan: PlanJsonDocument, stack?: StackDocument): TriggerRow[] {
  const rows: TriggerRow[] = [];
  for (const rc of plan.resource_changes ?? []) {
    if (!TRIGGER_TYPES.has(rc.type)) continue;
    const k = kind(rc.change.actions);
    if (k === "no-op" || k === "read") continue;
    const { before, after } = rc.change;
    const v = after ?? before ?? {};
    const config = stack?.resource?.[rc.type]?.[rc.address.split(".")[1]];
    const b = before ?? {};
    const a = after ?? {};
    const changes: string[] = [];
    const diff = (label: string, key: string, fmt: (x: unknown) => string = (x) => (x === undefined || x === null || x === "" ? "none" : String(x))) => {
      if (before && after && JSON.stringify(b[key]) !== JSON.stringify(a[key])) changes.push(`${label} ${fmt(b[key])} -> ${fmt(a[key])}`);
    };
    let trigger: string;
    if (rc.type === "aws_apigatewayv2_route") {
      const key = String(v.route_key ?? "?");
      // The API's protocol when the stack has the route; else `METHOD /path` is an HTTP route.
      const api = reference(config?.api_id);
      const protocol = api ? stack?.resource?.[api[0]]?.[api[1]]?.protocol_type : undefined;
      trigger = `${protocol === "HTTP" || (!protocol && /^[A-Z]+ \//.test(key)) ? "http" : "websocket"} ${key}`;
      diff("route", "route_key");
      diff("auth", "authorization_type");
      diff("scopes", "authorization_scopes", (x) => (Array.isArray(x) && x.length ? x.join(" ") : "none"));
    } else if (rc.type === "aws_scheduler_schedule") {
      trigger = `schedule ${String(v.name ?? "?")}`;
      diff("expression", "schedule_expression");
      diff("time zone", "schedule_expression_timezone");
      diff("state", "state");
      const input = (x: Record<string, unknown>) => (Array.isArray(x.target) ? (x.target[0] as Record<string, unknown>)?.input : undefined);
      if (before && after && JSON.stringify(input(b)) !== JSON.stringify(input(a))) changes.push("input changes");
    } else {
      const arn = String(v.event_source_arn ?? "");
      trigger = `sqs ${arn.includes(":") ? arn.split(":").pop() : (reference(config?.event_source_arn)?.[1] ?? "(new queue)")}`;
      diff("batch", "batch_size");
      diff("window", "maximum_batching_window_in_seconds", (x) => `${x ?? 0} s`);
      diff("enabled", "enabled");
      diff("response types", "function_response_types", (x) => (Array.isArray(x) && x.length ? x.join(",") : "none"));
    }
    rows.push({ address: rc.address, function: triggerFunction(rc, stack, config, v), trigger, action: k, changes: k === "update" || k === "replace" ? changes.join("; ") || "-" : "-" });
  }
  return rows;
}

function mdTable(header: string[], rows: string[][]): string {
  const esc = (s: string) => s.replace(/\|/g, "\\|");
  return [`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.map(esc).join(" | ")} |`)].join("\n");
}

/** The flag that lets an applying command go ahead with an import's refused changes. */
export const ALLOW_IMPORT_CHANGES = "--allow-import-changes";

export function summarize(opts: {
  env: string;
  plan: PlanJsonDocument;
  stack?: StackDocument;
  packageSize?: (filename: string) => string;
  protectedEnv?: boolean;
  allowDestroy?: boolean;
  /** The plan is about to be applied: refuse (exit 4) an import that removes variables or tags, or changes the role or the code. */
  applying?: boolean;
  allowImportChanges?: boolean;
}): Summary & { exitCode: number } {
  const counts = countChanges(opts.plan);
  const functions = functionRows(opts.plan, opts.packageSize ?? (() => "-"), opts.stack);
  const triggers = triggerRows(opts.plan, opts.stack);
  const warnings = findings(opts.plan, opts.stack);
  const imports = importChanges(opts.plan);
  const blocking = warnings.filter((w) => w.blocking);
  const blocked = Boolean(opts.protectedEnv) && blocking.length > 0 && !opts.allowDestroy;
  const importRefused = !blocked && Boolean(opts.applying) && !opts.allowImportChanges && imports.some((i) => i.refused);
  const gone = adoptedDestroyed(opts.plan);
  const adoptedRefused = !blocked && !importRefused && Boolean(opts.applying) && !opts.allowDestroy && gone.length > 0;
  const lines: string[] = [`## Plan for \`${opts.env}\``, ""];
  const total = counts.add + counts.change + counts.destroy + counts.replace + counts.import;
  lines.push(
    total === 0
      ? "**No changes.** The infrastructure matches the configuration."
      : `**${counts.add} to add, ${counts.change} to change, ${counts.destroy} to destroy, ${counts.replace} to replace, ${counts.import} to import.**`,
    "",
  );
  if (functions.length) {
    lines.push(
      "### Functions",
      "",
      mdTable(
        ["function", "action", "code hash", "architecture", "package", "memory", "timeout", "env vars changed", "also changes"],
        functions.map((f) => [f.name, f.action, f.codeHash, f.architecture, f.packageSize, f.memory, f.timeout, f.envVarsChanged, f.alsoChanges]),
      ),
      "",
    );
  }
  if (triggers.length) {
    lines.push("### Triggers", "", mdTable(["function", "trigger", "action", "what changes"], triggers.map((t) => [t.function, t.trigger, t.action, t.changes])), "");
  }
  if (counts.import > 0) {
    lines.push("### Imports: what the first apply changes on what it adopts", "");
    if (imports.length === 0) lines.push("Nothing: the adopted resources already match the configuration.");
    for (const i of imports) lines.push(`- ${i.refused ? "**Refused when applied unless allowed:** " : ""}${i.message}`);
    lines.push("");
  }
  lines.push("### Warnings", "");
  for (const g of gone) lines.push(`- **Adopted resource destroyed:** \`${g.name}\` (\`${g.address}\`) was adopted by an import, and its entry is gone: this plan destroys it in AWS`);
  if (gone.length) {
    lines.push(
      "",
      `  To forget ${gone.length > 1 ? "them" : "it"} instead (Terraform drops ${gone.length > 1 ? "them" : "it"} from the state; AWS keeps ${gone.length > 1 ? "them" : "it"}), add to the env: \`forgotten: [${gone.map((g) => JSON.stringify(g.address)).join(", ")}]\`. To destroy, apply with \`--allow-destroy\`.`,
    );
  }
  if (warnings.length === 0 && gone.length === 0) lines.push("None.");
  for (const w of warnings) lines.push(`- ${w.blocking ? "**Blocking:** " : ""}${w.message}`);
  lines.push("");
  if (blocked) {
    lines.push(`**This plan is refused for \`${opts.env}\`:** it destroys or replaces a stateful resource. If that is intended, plan again with \`--allow-destroy\`.`, "");
  } else if (opts.protectedEnv && blocking.length > 0) {
    lines.push(`Stateful resources are destroyed or replaced, and \`--allow-destroy\` was given.`, "");
  }
  if (importRefused) {
    lines.push(
      `**Not applied:** an import would change what it adopts (above). Keep those values in the env (its variables, tags, \`role\`), or apply anyway with \`${ALLOW_IMPORT_CHANGES}\`.`,
      "",
    );
  }
  if (adoptedRefused) lines.push(`**Not applied:** it would destroy what an import adopted (above). Forget it with \`forgotten\`, or apply with \`--allow-destroy\`.`, "");
  return { env: opts.env, counts, functions, triggers, warnings, imports, adoptedDestroyed: gone, markdown: lines.join("\n"), exitCode: blocked ? 3 : importRefused || adoptedRefused ? 4 : 0 };
}
