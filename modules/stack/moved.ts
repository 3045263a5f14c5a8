import { TerraformResource, TerraformStack } from "cdktf";
import { makeUniqueId } from "cdktf/lib/private/unique";
import type { EnvFunction } from ".";

/**
 * Until functions were data (lambdaship before `functions` held the app's own functions), the Rust
 * backend, the WebSocket handlers and their integrations lived at other construct paths, so at other
 * Terraform addresses. For each resource now under one of these entries, a `moved` block carries the
 * earlier address to the new one: a state written before the change plans with no replace. A moved
 * block whose earlier address is not in the state does nothing, so a new env is unaffected.
 *
 * Each rule: the function key, the path prefix it has now (below the stack), and the one it had.
 */
const EARLIER: ReadonlyArray<{ key: string; kind: "rust" | "folder"; now: string[]; before: string[] }> = [
  { key: "backend", kind: "rust", now: ["fn-backend"], before: ["rust-backend"] },
  ...["ws-connect", "ws-disconnect", "ws-default", "ws-broadcast"].map((key) => ({ key, kind: "rust" as const, now: [`fn-${key}`], before: ["websocket", "rust-handlers"] })),
  // The Python handler serving every route: a ManagedFunction inside the WebSocket construct, with one integration and one permission.
  { key: "websocket", kind: "folder", now: ["fn-websocket", "function"], before: ["websocket", "handler"] },
  { key: "websocket", kind: "folder", now: ["websocket", "integration-fn-websocket"], before: ["websocket", "integration"] },
  { key: "websocket", kind: "folder", now: ["websocket", "invoke-permission-fn-websocket"], before: ["websocket", "invoke-permission"] },
];

/** Adds the moved blocks for the env's functions (see EARLIER); call it once the stack's tree is complete. */
export function moveFromEarlierAddresses(stack: TerraformStack, functions: Readonly<Record<string, EnvFunction>>): void {
  const rules = EARLIER.filter((r) => functions[r.key]?.kind === r.kind);
  if (rules.length === 0) return;
  for (const resource of stack.node.findAll().filter((c): c is TerraformResource => c instanceof TerraformResource)) {
    const components = resource.node.scopes.slice(resource.node.scopes.indexOf(stack) + 1).map((c) => c.node.id);
    const rule = rules.find((r) => r.now.every((id, i) => components[i] === id));
    if (!rule) continue;
    const before = [...rule.before, ...components.slice(rule.now.length)];
    resource.moveFromId(`${resource.terraformResourceType}.${makeUniqueId(before)}`);
  }
}
