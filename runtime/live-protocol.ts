/**
 * The live relay's protocol (issue 16): how a deployed function's `runtime-proxy` extension and a
 * developer's `npm run live` session talk through the env's own WebSocket machinery
 * (`websocket_lambda`: `$connect` with `?room=`, `{"message": ...}` on `$default` sent to everyone
 * in the room as `{"room", "from", "message"}`, `{"action": "who"}` for the members). Both sides are
 * clients of a relay API whose `$connect` takes only SigV4-signed upgrades.
 *
 * - One room per function, `live-<function name>`: each sandbox's extension keeps one connection
 *   there across invocations, and a session serving that function joins it too.
 * - A session says it is there with `hello` when it joins and then every HEARTBEAT_MS, and `bye` when
 *   it stops. An extension serves an invocation live only while it has seen a `hello` for its
 *   function within PRESENCE_MS; otherwise it hands the invocation to the deployed code at once, so
 *   a function with nobody listening pays no relay round trip (nor does a forgotten live mode break
 *   anything: a session that died stops saying hello).
 * - Live mode is the session's presence, not a change to the functions: nothing is updated in the
 *   env (no drift for the next plan), and an env whose config forbids it (prod) deploys no relay and
 *   no relay address, so there is nothing to join.
 * - An invocation goes out as `invoke` parts and comes back as `result` parts, correlated by the
 *   request id. A session that takes an invocation says `ack` as soon as its first part arrives; an
 *   extension that hears no ack within its ack time (1.5 s by default) hands the invocation to the
 *   deployed code (a session that died, or a message the relay lost, costs that long, once). Every relayed message stays under API Gateway's 128 KB message limit (with the
 *   relay's own envelope around it): payloads are split into parts of PART_BYTES of base64, up to
 *   Lambda's 6 MB, and put back together in any order; a repeated part is ignored.
 * - Everyone in the room receives every message, its sender included: each side ignores what is not
 *   for it (an extension, the results of other sandboxes' invocations; a session, other sessions').
 */

/** Base64 characters per part: with the envelopes, a relayed message stays well under 128 KB. */
export const PART_BYTES = 96 * 1024;
/** API Gateway's WebSocket message limit. */
export const MESSAGE_LIMIT = 128 * 1024;
/** API Gateway's WebSocket frame limit: a client sends a larger message as continuation frames. */
export const FRAME_LIMIT = 32 * 1024;
/** Lambda's synchronous payload limit, for requests and responses. */
export const PAYLOAD_LIMIT = 6 * 1024 * 1024;
/** How often a session says hello. */
export const HEARTBEAT_MS = 2000;
/** How long a hello counts: past it, the extension serves from the deployed code. */
export const PRESENCE_MS = 3 * HEARTBEAT_MS;

export const relayRoom = (functionName: string) => `live-${functionName}`;

/** What Lambda's Runtime API gives with an invocation, passed on so the local handler sees the same context. */
export interface InvocationContext {
  readonly deadlineMs?: number;
  readonly invokedFunctionArn?: string;
  readonly traceId?: string;
  readonly clientContext?: string;
  readonly cognitoIdentity?: string;
}

export type LiveMessage =
  | { readonly t: "hello"; readonly session: string; readonly functions: readonly string[] }
  | { readonly t: "bye"; readonly session: string }
  | ({ readonly t: "invoke"; readonly id: string; readonly fn: string; readonly part: number; readonly parts: number; readonly data: string } & InvocationContext)
  | { readonly t: "ack"; readonly id: string; readonly session: string }
  | { readonly t: "result"; readonly id: string; readonly session: string; readonly part: number; readonly parts: number; readonly data: string; readonly errorType?: string };

/** What a client sends on `$default` for the relay to pass on. */
export function envelope(message: LiveMessage): string {
  return JSON.stringify({ message });
}

/** A relayed message (`{"room", "from", "message"}`), or undefined for anything else (a `who` answer, a chat line). */
export function parseRelayed(data: string): { room: string; from: string; message: LiveMessage } | undefined {
  let v: unknown;
  try {
    v = JSON.parse(data);
  } catch {
    return undefined;
  }
  const r = v as { room?: unknown; from?: unknown; message?: { t?: unknown } };
  if (typeof r?.room !== "string" || typeof r.from !== "string" || typeof r.message?.t !== "string") return undefined;
  return { room: r.room, from: r.from, message: r.message as LiveMessage };
}

/** A payload as the parts of one message kind; throws over Lambda's 6 MB. */
function parts(payload: Buffer): string[] {
  if (payload.length > PAYLOAD_LIMIT) throw new Error(`the payload is ${payload.length} bytes; Lambda takes at most ${PAYLOAD_LIMIT}`);
  const b64 = payload.toString("base64");
  const out: string[] = [];
  for (let i = 0; i < b64.length; i += PART_BYTES) out.push(b64.slice(i, i + PART_BYTES));
  return out.length ? out : [""];
}

export function invokeMessages(id: string, fn: string, payload: Buffer, context: InvocationContext = {}): LiveMessage[] {
  const all = parts(payload);
  return all.map((data, part) => ({ t: "invoke", id, fn, part, parts: all.length, data, ...(part === 0 ? context : {}) }));
}

export function resultMessages(id: string, session: string, payload: Buffer, errorType?: string): LiveMessage[] {
  const all = parts(payload);
  return all.map((data, part) => ({ t: "result", id, session, part, parts: all.length, data, ...(errorType && part === 0 ? { errorType } : {}) }));
}

type Partial = { parts: (string | undefined)[]; got: number; first?: LiveMessage; touched: number };

/**
 * Puts `invoke` or `result` parts back together, per request id, in any order; a repeated part is
 * ignored; an id whose parts stop coming is dropped after `staleMs`.
 */
export class Assembler {
  private readonly pending = new Map<string, Partial>();
  constructor(private readonly staleMs = 60_000) {}

  /** The whole payload and the first part (with the context) once the last part is in. */
  add(m: LiveMessage, now = Date.now()): { payload: Buffer; first: LiveMessage } | undefined {
    if (m.t !== "invoke" && m.t !== "result") return undefined;
    for (const [id, p] of this.pending) if (now - p.touched > this.staleMs) this.pending.delete(id);
    if (!(Number.isInteger(m.parts) && m.parts >= 1 && Number.isInteger(m.part) && m.part >= 0 && m.part < m.parts)) return undefined;
    const key = `${m.t}:${m.id}`;
    let p = this.pending.get(key);
    if (!p) {
      p = { parts: new Array<string | undefined>(m.parts).fill(undefined), got: 0, touched: now };
      this.pending.set(key, p);
    }
    if (p.parts.length !== m.parts || p.parts[m.part] !== undefined) return undefined;
    p.parts[m.part] = m.data;
    p.got++;
    p.touched = now;
    if (m.part === 0) p.first = m;
    if (p.got < m.parts) return undefined;
    this.pending.delete(key);
    return { payload: Buffer.from(p.parts.join(""), "base64"), first: p.first! };
  }

  get size(): number {
    return this.pending.size;
  }
}
