import * as http from "http";

/**
 * The Runtime API (2018-06-01) as a router with one handler per endpoint, in the manner of RIE's
 * `rapi/`: GET invocation/next, POST invocation/<id>/response, POST invocation/<id>/error and POST
 * init/error (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html). The router parses
 * and validates the request; what each request means for the sandbox is the handler's.
 */

export const RUNTIME_API_PREFIX = "/2018-06-01";

/** Lambda's limit on a synchronous response (as Lambda reports it: 6291556 bytes). */
export const MAX_RESPONSE_BYTES = 6 * 1024 * 1024 + 100;

/** A request body, read up to a limit: past it, only its size is kept. */
export interface Body {
  readonly data: Buffer;
  readonly size: number;
  readonly tooLarge: boolean;
}

export function readBody(req: http.IncomingMessage, limit: number): Promise<Body> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size <= limit) chunks.push(c);
    });
    req.on("end", () => resolve({ data: size <= limit ? Buffer.concat(chunks) : Buffer.alloc(0), size, tooLarge: size > limit }));
    req.on("error", reject);
  });
}

export function reply(res: http.ServerResponse, status: number, body?: object, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "Content-Type": "application/json", ...headers });
  res.end(body ? JSON.stringify(body) : undefined);
}

/** A Runtime API error answer: `{errorType, errorMessage}` with its status. */
export function refuse(res: http.ServerResponse, status: number, errorType: string, errorMessage: string): void {
  reply(res, status, { errorType, errorMessage });
}

/** What a runtime reported as an error: the type from its body, else its header, else `fallback`. */
export function reportedError(body: Buffer, header: string | string[] | undefined, fallback: string): { errorType: string; errorMessage?: string } {
  let parsed: { errorType?: unknown; errorMessage?: unknown } = {};
  try {
    const v = JSON.parse(body.toString()) as unknown;
    if (v && typeof v === "object") parsed = v as typeof parsed;
  } catch {
    /* not JSON: the body is the message */
  }
  const errorType = typeof parsed.errorType === "string" && parsed.errorType ? parsed.errorType : typeof header === "string" && header ? header : fallback;
  return { errorType, errorMessage: typeof parsed.errorMessage === "string" ? parsed.errorMessage : body.length ? body.toString() : undefined };
}

export interface RuntimeApiHandlers {
  /** GET invocation/next: the runtime waits for its next event on `res`. */
  next(res: http.ServerResponse): void;
  /** POST invocation/<id>/response; `body.tooLarge` past MAX_RESPONSE_BYTES. */
  response(requestId: string, body: Body, res: http.ServerResponse): void;
  /** POST invocation/<id>/error. */
  error(requestId: string, body: Body, errorTypeHeader: string | undefined, res: http.ServerResponse): void;
  /** POST init/error. */
  initError(body: Body, errorTypeHeader: string | undefined, res: http.ServerResponse): void;
}

/**
 * Routes one Runtime API request (the path with or without the version prefix) to its handler;
 * false when the path is not part of the Runtime API.
 */
export function routeRuntimeApi(req: http.IncomingMessage, path: string, body: Body, res: http.ServerResponse, h: RuntimeApiHandlers): boolean {
  const p = path.startsWith(RUNTIME_API_PREFIX) ? path.slice(RUNTIME_API_PREFIX.length) : path;
  if (!p.startsWith("/runtime/")) return false;
  const errorType = req.headers["lambda-runtime-function-error-type"];
  const header = typeof errorType === "string" ? errorType : undefined;
  if (p === "/runtime/invocation/next") {
    if (req.method !== "GET") refuse(res, 405, "MethodNotAllowed", `${req.method} ${path}: invocation/next is a GET`);
    else h.next(res);
    return true;
  }
  const m = /^\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(p);
  if (m) {
    if (req.method !== "POST") refuse(res, 405, "MethodNotAllowed", `${req.method} ${path}: invocation/<id>/${m[2]} is a POST`);
    else if (m[2] === "response") h.response(decodeURIComponent(m[1]), body, res);
    else h.error(decodeURIComponent(m[1]), body, header, res);
    return true;
  }
  if (p === "/runtime/init/error") {
    if (req.method !== "POST") refuse(res, 405, "MethodNotAllowed", `${req.method} ${path}: init/error is a POST`);
    else h.initError(body, header, res);
    return true;
  }
  refuse(res, 404, "NotFound", `${req.method} ${path} is not part of the Runtime API 2018-06-01`);
  return true;
}
