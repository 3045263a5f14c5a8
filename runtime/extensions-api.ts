import * as crypto from "crypto";
import * as http from "http";
import { Body, reply } from "./rapi";

/**
 * The Extensions API (2020-01-01, https://docs.aws.amazon.com/lambda/latest/dg/runtimes-extensions-api.html)
 * of one sandbox: external extensions register (by their file's name, for INVOKE and/or SHUTDOWN),
 * ask for events with event/next, and report init/error or exit/error. The sandbox starts the
 * runtime once every extension has registered and asked for its first event, and an invocation is
 * over when the runtime has answered and every extension registered for INVOKE has asked for its
 * next event.
 */

export const EXTENSIONS_API_PREFIX = "/2020-01-01/extension";

interface Extension {
  readonly name: string;
  id?: string;
  events: string[];
  waiting?: http.ServerResponse;
  readonly queue: object[];
  /** The request id of the INVOKE event it was sent and has not finished (asked for the next event since). */
  busyWith?: string;
}

export interface ExtensionsHooks {
  /** Every extension registered and is waiting for an event: init can go on to the runtime. */
  onAllWaiting(): void;
  /** An extension finished its part of an invocation. */
  onInvokeDone(requestId: string): void;
  /** An extension reported init/error or exit/error: the sandbox fails with that error. */
  onError(name: string, errorType: string, errorMessage: string): void;
}

export class ExtensionsApi {
  private readonly extensions: Extension[];

  constructor(
    names: readonly string[],
    private readonly registration: () => { functionName?: string; functionVersion?: string; handler?: string },
    private readonly hooks: ExtensionsHooks,
  ) {
    this.extensions = names.map((name) => ({ name, events: [], queue: [] }));
  }

  get count(): number {
    return this.extensions.length;
  }

  /** The extensions not yet registered and waiting for an event (for an init timeout's message). */
  get late(): string[] {
    return this.extensions.filter((x) => !x.waiting && !x.busyWith).map((x) => x.name);
  }

  /** Whether an extension is still working on `requestId`. */
  busyWith(requestId: string): boolean {
    return this.extensions.some((x) => x.busyWith === requestId);
  }

  /** Sends INVOKE to the extensions registered for it. */
  invoke(event: { requestId: string; deadlineMs: number; invokedFunctionArn: string; traceId: string }): void {
    for (const x of this.extensions.filter((e) => e.events.includes("INVOKE"))) {
      x.busyWith = event.requestId;
      this.send(x, { eventType: "INVOKE", deadlineMs: event.deadlineMs, requestId: event.requestId, invokedFunctionArn: event.invokedFunctionArn, tracing: { type: "X-Amzn-Trace-Id", value: event.traceId } });
    }
  }

  /** Sends SHUTDOWN to the extensions registered for it; returns how many were sent one. */
  shutdown(reason: "spindown" | "timeout" | "failure", deadlineMs: number): number {
    const to = this.extensions.filter((x) => x.events.includes("SHUTDOWN"));
    for (const x of to) this.send(x, { eventType: "SHUTDOWN", shutdownReason: reason, deadlineMs });
    return to.length;
  }

  /** Ends the requests extensions are waiting on (the sandbox is going away). */
  close(): void {
    for (const x of this.extensions) {
      x.waiting?.destroy();
      x.waiting = undefined;
    }
  }

  private send(x: Extension, event: object): void {
    x.queue.push(event);
    this.flush(x);
  }

  private flush(x: Extension): void {
    if (!x.waiting || x.queue.length === 0) return;
    const res = x.waiting;
    x.waiting = undefined;
    res.writeHead(200, { "Content-Type": "application/json", "Lambda-Extension-Event-Identifier": crypto.randomUUID() });
    res.end(JSON.stringify(x.queue.shift()));
  }

  /** Handles a request under /2020-01-01/extension (`path` is what follows). */
  handle(req: http.IncomingMessage, path: string, body: Body, res: http.ServerResponse): void {
    if (req.method === "POST" && path === "/register") return this.register(req, body, res);
    const x = this.extensions.find((e) => e.id !== undefined && e.id === req.headers["lambda-extension-identifier"]);
    if (!x) return reply(res, 403, { errorType: "Extension.InvalidExtensionIdentifier", errorMessage: "missing or unknown Lambda-Extension-Identifier header: register first" });
    if (req.method === "GET" && path === "/event/next") return this.next(x, res);
    const err = /^\/(init|exit)\/error$/.exec(path);
    if (req.method === "POST" && err) {
      const errorType = String(req.headers["lambda-extension-function-error-type"] ?? "Extension.Unknown");
      let message = body.data.toString();
      try {
        message = String((JSON.parse(message) as { errorMessage?: unknown }).errorMessage ?? message);
      } catch {
        /* not JSON: the body is the message */
      }
      reply(res, 202, { status: "OK" });
      return this.hooks.onError(x.name, errorType, `extension ${x.name}: ${message}`);
    }
    return reply(res, 404, { errorType: "NotFound", errorMessage: `${req.method} ${EXTENSIONS_API_PREFIX}${path} is not part of the Extensions API 2020-01-01` });
  }

  private register(req: http.IncomingMessage, body: Body, res: http.ServerResponse): void {
    const name = String(req.headers["lambda-extension-name"] ?? "");
    const x = this.extensions.find((e) => e.name === name && e.id === undefined);
    if (!x) return reply(res, 403, { errorType: "Extension.InvalidExtensionName", errorMessage: `no unregistered extension named ${JSON.stringify(name)} in /opt/extensions (the name must be the file's)` });
    let events: unknown;
    try {
      events = (JSON.parse(body.data.toString() || "{}") as { events?: unknown }).events;
    } catch {
      /* handled below */
    }
    if (!Array.isArray(events) || !events.every((e) => e === "INVOKE" || e === "SHUTDOWN")) {
      return reply(res, 400, { errorType: "InvalidRequest", errorMessage: 'the body must be {"events": [...]} with INVOKE and/or SHUTDOWN' });
    }
    x.id = crypto.randomUUID();
    x.events = events as string[];
    return reply(res, 200, this.registration(), { "Lambda-Extension-Identifier": x.id });
  }

  private next(x: Extension, res: http.ServerResponse): void {
    if (x.waiting) return reply(res, 400, { errorType: "InvalidStateTransition", errorMessage: "a request for the next event is already waiting" });
    x.waiting = res;
    if (x.busyWith && x.queue.length === 0) {
      const done = x.busyWith;
      x.busyWith = undefined;
      this.hooks.onInvokeDone(done);
    }
    if (this.extensions.every((e) => e.waiting || e.busyWith)) this.hooks.onAllWaiting();
    this.flush(x);
  }
}
