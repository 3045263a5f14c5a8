import * as crypto from "crypto";
import * as http from "http";
import type { RuntimeEmulator } from "./emulator";
import { lastBytes, Throttled } from "./emulator";
import { readBody } from "./rapi";

/**
 * Lambda's Invoke API (POST /2015-03-31/functions/<FunctionName>/invocations), validated and
 * answered as the API reference lists it (https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html),
 * plus /health, /status and the @connections stand-in on the same port.
 *
 * - InvocationType RequestResponse (default), Event (202, run in the background with retries) or
 *   DryRun (204); anything else 400 ValidationException. LogType None or Tail (X-Amz-Log-Result: the
 *   last 4 KB of that invocation's log, base64).
 * - Payload: JSON (or empty), at most 6 MB synchronous and 1 MB asynchronous (413
 *   RequestTooLargeException); not JSON: 400 InvalidRequestContentException.
 * - X-Amz-Client-Context: base64 of a JSON object, at most 3583 bytes; decoded and handed to the
 *   runtime as JSON (Lambda-Runtime-Client-Context), synchronous invocations only, as Lambda does.
 * - X-Amzn-Trace-Id: the caller's trace header goes on to the runtime (Lambda-Runtime-Trace-Id).
 * - Qualifier: $LATEST (the only version here); any other: 404 ResourceNotFoundException.
 * - A function with reserved concurrency, invoked synchronously past it: 429
 *   TooManyRequestsException, Reason ReservedFunctionConcurrentInvocationLimitExceeded. A function
 *   without: its invocations wait for a sandbox (Lambda would scale up to the account's concurrency,
 *   1000 by default, so they would succeed there; this machine caps its sandboxes instead).
 */

export const MAX_SYNC_PAYLOAD = 6 * 1024 * 1024;
export const MAX_ASYNC_PAYLOAD = 1024 * 1024;
export const MAX_CLIENT_CONTEXT = 3583;
/** The Invoke API's FunctionName pattern (name, ARN or partial ARN, with an optional qualifier). */
const FUNCTION_NAME = /^(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_.]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?$/;

type Headers = Record<string, string>;

function json(res: http.ServerResponse, status: number, body: unknown, headers: Headers = {}): void {
  res.writeHead(status, { "Content-Type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

/** An Invoke API error as Lambda sends it: the type in X-Amzn-ErrorType and the body, which the AWS SDK reads. */
function fail(res: http.ServerResponse, status: number, type: string, message: string, extra: Record<string, unknown> = {}): void {
  json(res, status, { Type: status >= 500 ? "Service" : "User", message, ...extra }, { "X-Amzn-ErrorType": type });
}

/** The client context, decoded: JSON text, or an error message naming what is wrong. */
export function decodeClientContext(header: string): { json: string } | { error: string } {
  if (header.length > MAX_CLIENT_CONTEXT) return { error: `X-Amz-Client-Context is ${header.length} bytes; Lambda takes up to ${MAX_CLIENT_CONTEXT} bytes of base64` };
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(header) || header.length % 4 === 1) return { error: "X-Amz-Client-Context is not base64" };
  const text = Buffer.from(header, "base64").toString("utf8");
  try {
    const v = JSON.parse(text) as unknown;
    if (!v || typeof v !== "object" || Array.isArray(v)) throw new Error("not an object");
  } catch {
    return { error: "X-Amz-Client-Context must be the base64 of a JSON object" };
  }
  return { json: text };
}

/** A function name, ARN or partial ARN without its qualifier, and the qualifier it carries. */
export function splitQualifier(name: string): { base: string; qualifier?: string } {
  const parts = name.split(":");
  const at = parts[0] === "arn" ? 7 : parts[1] === "function" ? 3 : 1;
  return parts.length > at ? { base: parts.slice(0, at).join(":"), qualifier: parts.slice(at).join(":") } : { base: name };
}

export async function handleInvokeApi(emulator: RuntimeEmulator, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const body = await readBody(req, MAX_SYNC_PAYLOAD);
  const [pathPart, query = ""] = (req.url ?? "").split("?", 2);
  const url = pathPart;
  if (req.method === "GET" && url === "/health") return json(res, 200, { status: "ok", functions: emulator.functionNames.length });
  if (req.method === "GET" && url === "/status") return json(res, 200, emulator.status());
  if (emulator.connections.handle(req.method ?? "GET", url, body.data, res)) return;
  const m = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(url);
  if (!m || req.method !== "POST") {
    return json(res, 404, {
      message: `${req.method} ${url}: not an endpoint of this emulator (POST /2015-03-31/functions/<name>/invocations, GET /health, GET /status, POST|GET|DELETE <stage>/@connections/<id>)`,
    });
  }
  const name = decodeURIComponent(m[1]);
  const type = String(req.headers["x-amz-invocation-type"] ?? "RequestResponse");
  const logType = String(req.headers["x-amz-log-type"] ?? "None");
  const named = splitQualifier(name);
  const qualifier = new URLSearchParams(query).get("Qualifier") ?? named.qualifier;
  const invalid: string[] = [];
  if (!FUNCTION_NAME.test(name) || name.length > 170) invalid.push(`Value '${name}' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: ${FUNCTION_NAME.source}`);
  if (!["RequestResponse", "Event", "DryRun"].includes(type)) invalid.push(`Value '${type}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]`);
  if (!["None", "Tail"].includes(logType)) invalid.push(`Value '${logType}' at 'logType' failed to satisfy constraint: Member must satisfy enum value set: [None, Tail]`);
  if (invalid.length) return fail(res, 400, "ValidationException", `${invalid.length} validation error${invalid.length > 1 ? "s" : ""} detected: ${invalid.join("; ")}`);

  const pool = emulator.poolOf(named.base.replace(/^\d{12}:function:/, ""));
  if (!pool || (qualifier !== undefined && qualifier !== "$LATEST")) {
    const arn = pool ? pool.spec.arn : named.base.startsWith("arn:") ? named.base : `${emulator.arnPrefix}${named.base.replace(/^\d{12}:function:/, "")}`;
    return fail(res, 404, "ResourceNotFoundException", `Function not found: ${arn}${qualifier !== undefined ? `:${qualifier}` : ""}`);
  }
  const limit = type === "Event" ? MAX_ASYNC_PAYLOAD : MAX_SYNC_PAYLOAD;
  if (body.size > limit) return fail(res, 413, "RequestTooLargeException", `${body.size} byte payload is too large for the ${type === "Event" ? "Event" : "RequestResponse"} invocation type (limit ${limit} bytes)`);
  if (body.data.length > 0) {
    try {
      JSON.parse(body.data.toString());
    } catch (e) {
      return fail(res, 400, "InvalidRequestContentException", `Could not parse request body into json: Could not parse payload into json: ${(e as Error).message}`);
    }
  }
  let clientContext: string | undefined;
  const cc = req.headers["x-amz-client-context"];
  if (typeof cc === "string" && cc && type === "RequestResponse") {
    const decoded = decodeClientContext(cc);
    if ("error" in decoded) return fail(res, 400, "InvalidRequestContentException", decoded.error);
    clientContext = decoded.json;
  }
  const traceId = typeof req.headers["x-amzn-trace-id"] === "string" ? req.headers["x-amzn-trace-id"] : undefined;
  if (type === "DryRun") {
    res.writeHead(204, { "X-Amzn-RequestId": crypto.randomUUID() });
    return void res.end();
  }
  const payload = body.data.length ? body.data : Buffer.from("{}");
  if (type === "Event") {
    const requestId = emulator.invokeAsync(pool.spec.name, payload, { traceId });
    res.writeHead(202, { "X-Amzn-RequestId": requestId });
    return void res.end();
  }
  const tail = logType === "Tail";
  let answered = false;
  try {
    const done = emulator.invoke(pool.spec.name, payload, {
      clientContext,
      traceId,
      throttle: true,
      // Without Tail the caller has its answer as soon as the function gives it; with Tail, once the
      // invocation's log is complete (END and REPORT).
      onResponse: tail
        ? undefined
        : (r) => {
            answered = true;
            const headers: Headers = { "Content-Type": "application/json", "X-Amz-Executed-Version": "$LATEST", "X-Amzn-RequestId": r.requestId };
            if (r.functionError) headers["X-Amz-Function-Error"] = r.functionError;
            res.writeHead(200, headers);
            res.end(r.payload);
          },
    });
    const r = await done;
    emulator.recordSync(pool.spec.name, r);
    if (answered) return;
    const headers: Headers = { "Content-Type": "application/json", "X-Amz-Executed-Version": "$LATEST", "X-Amzn-RequestId": r.requestId };
    if (r.functionError) headers["X-Amz-Function-Error"] = r.functionError;
    if (tail) headers["X-Amz-Log-Result"] = lastBytes(r.logs, 4096).toString("base64");
    res.writeHead(r.statusCode, headers);
    res.end(r.payload);
  } catch (e) {
    if (answered) return;
    if (e instanceof Throttled) return fail(res, 429, "TooManyRequestsException", "Rate Exceeded.", { Reason: e.reason, retryAfterSeconds: "1" });
    return fail(res, 500, "ServiceException", (e as Error).message);
  }
}
