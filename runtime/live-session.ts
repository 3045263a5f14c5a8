import * as crypto from "crypto";
import WebSocket from "ws";
import { Assembler, envelope, HEARTBEAT_MS, InvocationContext, LiveMessage, parseRelayed, relayRoom, resultMessages } from "./live-protocol";

/**
 * The developer's side of the live relay (./live-protocol): one connection per served function to
 * the relay's room for it, a hello now and every HEARTBEAT_MS, and for each invocation that comes in
 * whole, the local handler's answer sent back in parts. `npm run live` runs it with the handlers
 * run from source by the runtime emulator.
 */

export type LocalHandler = (fn: string, payload: Buffer, context: InvocationContext) => Promise<{ payload: Buffer; errorType?: string }>;

export interface LiveSessionOptions {
  /** The relay's WebSocket URL (`ws://127.0.0.1:<port>/<stage>` locally, `wss://...` on AWS). */
  readonly url: string;
  readonly functions: readonly string[];
  readonly handler: LocalHandler;
  /** Headers for each connection's upgrade (a SigV4 signature), from its full URL. */
  readonly headers?: (url: string) => Record<string, string>;
  /** Certificates to trust for a wss:// relay besides the system's (PEM). @default - the system's */
  readonly ca?: string | Buffer;
  readonly log?: (line: string) => void;
}

/** How long stop waits for the relay to bring its bye back before closing anyway. */
const BYE_WAIT_MS = 3000;

export class LiveSession {
  readonly id = crypto.randomUUID();
  private readonly sockets = new Map<string, WebSocket>();
  private readonly assembler = new Assembler();
  private heartbeat?: NodeJS.Timeout;

  constructor(private readonly opts: LiveSessionOptions) {}

  async start(): Promise<void> {
    await Promise.all(this.opts.functions.map((fn) => this.join(fn)));
    this.heartbeat = setInterval(() => this.hello(), HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  private async join(fn: string): Promise<void> {
    const url = `${this.opts.url}?room=${encodeURIComponent(relayRoom(fn))}`;
    const ws = new WebSocket(url, { headers: this.opts.headers?.(url) ?? {}, ...(this.opts.ca ? { ca: this.opts.ca } : {}) });
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("unexpected-response", (_req, res) => reject(new Error(`the relay at ${this.opts.url} refused the session for ${fn}: ${res.statusCode}`)));
      ws.once("error", reject);
    });
    ws.on("message", (d) => void this.received(fn, ws, d.toString()));
    this.sockets.set(fn, ws);
    ws.send(envelope({ t: "hello", session: this.id, functions: [fn] }));
  }

  private hello(): void {
    for (const [fn, ws] of this.sockets) if (ws.readyState === WebSocket.OPEN) ws.send(envelope({ t: "hello", session: this.id, functions: [fn] }));
  }

  private async received(fn: string, ws: WebSocket, data: string): Promise<void> {
    const r = parseRelayed(data);
    if (!r || r.message.t !== "invoke" || r.message.fn !== fn) return;
    // Taken: the extension waits for the result instead of handing the invocation to the deployed code.
    if (r.message.part === 0) ws.send(envelope({ t: "ack", id: r.message.id, session: this.id }));
    const whole = this.assembler.add(r.message);
    if (!whole) return;
    const first = whole.first as Extract<LiveMessage, { t: "invoke" }>;
    const started = Date.now();
    let answer: { payload: Buffer; errorType?: string };
    try {
      answer = await this.opts.handler(fn, whole.payload, first);
    } catch (e) {
      answer = { payload: Buffer.from(JSON.stringify({ errorMessage: (e as Error).message, errorType: "Runtime.LiveSessionError" })), errorType: "Runtime.LiveSessionError" };
    }
    for (const m of resultMessages(first.id, this.id, answer.payload, answer.errorType)) ws.send(envelope(m));
    this.opts.log?.(`${fn} ${first.id}: served live in ${Date.now() - started} ms${answer.errorType ? ` (${answer.errorType})` : ""}`);
  }

  /**
   * Says bye and closes: the extensions serve from the deployed code from the next invocation on.
   * The relay sends the bye to everyone in the room, this session included: each connection closes
   * once its own bye came back (so the extensions have it too), or after BYE_WAIT_MS.
   */
  async stop(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    await Promise.all(
      [...this.sockets.values()].map(
        (ws) =>
          new Promise<void>((resolve) => {
            if (ws.readyState !== WebSocket.OPEN) return resolve();
            const close = () => {
              clearTimeout(timer);
              ws.off("message", echoed);
              ws.once("close", () => resolve());
              ws.close(1000, "live session stopped");
              setTimeout(resolve, 2000).unref();
            };
            const echoed = (d: WebSocket.RawData) => {
              const r = parseRelayed(d.toString());
              if (r?.message.t === "bye" && r.message.session === this.id) close();
            };
            const timer = setTimeout(close, BYE_WAIT_MS);
            ws.on("message", echoed);
            ws.send(envelope({ t: "bye", session: this.id }));
          }),
      ),
    );
    this.sockets.clear();
  }
}
