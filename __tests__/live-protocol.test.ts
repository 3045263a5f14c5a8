import * as crypto from "crypto";
import { Assembler, envelope, invokeMessages, LiveMessage, MESSAGE_LIMIT, PAYLOAD_LIMIT, parseRelayed, relayRoom, resultMessages } from "../runtime/live-protocol";

/** The live relay's protocol (runtime/live-protocol.ts): parts under API Gateway's limits, reassembly (presence is the extension's: live.rs's tests). */

/** What the relay's $default function sends each member: {"room", "from", "message"} (ws-default's message_payload). */
const relayed = (m: LiveMessage, from = "Abc123Def456Gh=") => JSON.stringify({ room: relayRoom("lambdaship-dev-orders-api"), from, message: m });

describe("live relay protocol", () => {
  it("splits a 6 MB payload into parts that stay under 128 KB as sent and as relayed, and puts them back in any order", () => {
    const payload = crypto.randomBytes(PAYLOAD_LIMIT);
    const msgs = invokeMessages("req-1", "lambdaship-dev-orders-api", payload, { deadlineMs: 1767225600000, traceId: "Root=1-abc", invokedFunctionArn: "arn:aws:lambda:us-east-1:1:function:f" });
    expect(msgs.length).toBeGreaterThan(60);
    for (const m of msgs) {
      expect(Buffer.byteLength(envelope(m))).toBeLessThan(MESSAGE_LIMIT);
      expect(Buffer.byteLength(relayed(m))).toBeLessThan(MESSAGE_LIMIT);
    }
    const a = new Assembler();
    const shuffled = [...msgs].reverse();
    let done: ReturnType<Assembler["add"]>;
    for (const m of shuffled) done = a.add(parseRelayed(relayed(m))!.message) ?? done;
    expect(done!.payload.equals(payload)).toBe(true);
    expect(done!.first).toMatchObject({ part: 0, deadlineMs: 1767225600000, traceId: "Root=1-abc" });
    expect(a.size).toBe(0);
  });

  it("ignores a repeated part, a part out of range and other messages; drops a stalled payload", () => {
    const [p0, p1] = resultMessages("req-2", "s1", Buffer.alloc(100_000, 7), "Runtime.HandlerError");
    expect(p0).toMatchObject({ t: "result", part: 0, parts: 2, errorType: "Runtime.HandlerError" });
    expect(p1).not.toHaveProperty("errorType");
    const a = new Assembler(1000);
    expect(a.add(p0, 0)).toBeUndefined();
    expect(a.add(p0, 1)).toBeUndefined();
    expect(a.add({ ...p1, part: 5 } as LiveMessage, 2)).toBeUndefined();
    expect(a.add({ t: "hello", session: "s", functions: [] }, 3)).toBeUndefined();
    expect(a.add(p1, 4)!.payload).toEqual(Buffer.alloc(100_000, 7));
    // Parts that stop coming are forgotten.
    a.add(p0, 10);
    expect(a.size).toBe(1);
    a.add(resultMessages("other", "s1", Buffer.from("{}"))[0], 5000);
    expect(a.size).toBe(0);
  });

  it("refuses a payload over Lambda's 6 MB, and sends an empty one as one part", () => {
    expect(() => invokeMessages("r", "f", Buffer.alloc(PAYLOAD_LIMIT + 1))).toThrow("the payload is 6291457 bytes; Lambda takes at most 6291456");
    const [only] = invokeMessages("r", "f", Buffer.alloc(0));
    expect(new Assembler().add(only)!.payload.length).toBe(0);
  });

  it("reads only relayed protocol messages (not who answers, chat lines or text)", () => {
    expect(parseRelayed('{"room":"r","members":["a"],"you":"a"}')).toBeUndefined();
    expect(parseRelayed('{"room":"r","from":"a","message":"hi"}')).toBeUndefined();
    expect(parseRelayed("not json")).toBeUndefined();
    expect(parseRelayed(relayed({ t: "bye", session: "s" }))).toMatchObject({ from: "Abc123Def456Gh=", message: { t: "bye" } });
  });
});
