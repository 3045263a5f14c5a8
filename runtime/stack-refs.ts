/**
 * Reading a synthesized stack's references (`${aws_x.name.attr}`) back to what they name: which
 * function an integration, a mapping, a schedule or a route invokes. Dependency-free, shared by the
 * local gateway, `npm run trigger` and the plan review.
 */

/** A synthesized stack's resources and data sources, by type and name. */
export interface StackResources {
  readonly resource?: Record<string, Record<string, Record<string, unknown>>>;
  readonly data?: Record<string, Record<string, Record<string, unknown>>>;
}

/** `${aws_x.name.attr}` -> [type, name, attr] (`data.` kept in the type). */
export function reference(value: unknown): [string, string, string] | undefined {
  const m = /\$\{((?:data\.)?[\w]+)\.([\w-]+)\.(\w+)\}/.exec(String(value ?? ""));
  return m ? [m[1], m[2], m[3]] : undefined;
}

/** The function name an integration URI, function_name or target ARN refers to: a literal name or ARN, or a function the stack creates or reads. */
export function functionNameOf(stack: StackResources, value: unknown): string | undefined {
  const ref = reference(value);
  if (!ref) return typeof value === "string" && !value.includes("${") ? value.split(":").pop() : undefined;
  const [type, name] = ref;
  const r = type.startsWith("data.") ? stack.data?.[type.slice(5)]?.[name] : stack.resource?.[type]?.[name];
  const fn = r?.function_name;
  return typeof fn === "string" && !fn.includes("${") ? fn : undefined;
}

/** The function an API route's target (`integrations/${aws_apigatewayv2_integration.x.id}`) invokes. */
export function routeFunction(stack: StackResources, route: Record<string, unknown> | undefined): string | undefined {
  const integration = reference(route?.target);
  const i = integration && stack.resource?.[integration[0]]?.[integration[1]];
  return i ? functionNameOf(stack, i.integration_uri) : undefined;
}
