import WebSocket from "ws";

/**
 * The load check: `clients` real WebSocket clients in rooms of `roomSize`, each sending `messages`
 * messages through the env's `$default` route; every message must reach every member of its room
 * exactly once and nobody outside it. Returns what it saw, for the caller's expectations.
 */
export async function roomLoad(wsUrl: string, opts: { clients: number; roomSize: number; messages: number; tag: string }): Promise<{ ms: number; problems: string[]; delivered: number; expected: number }> {
  const rooms = Math.ceil(opts.clients / opts.roomSize);
  const sockets: Array<{ ws: WebSocket; room: number; got: string[] }> = [];
  await Promise.all(
    Array.from({ length: opts.clients }, (_, i) => {
      const room = i % rooms;
      const ws = new WebSocket(`${wsUrl}?room=${opts.tag}-${room}`);
      const c = { ws, room, got: [] as string[] };
      sockets[i] = c;
      ws.on("message", (d) => {
        const m = JSON.parse(d.toString()) as { room: string; message: { c: number; n: number } };
        c.got.push(`${m.room}/${m.message.c}/${m.message.n}`);
      });
      return new Promise<void>((resolve, reject) => {
        ws.once("open", () => resolve());
        ws.once("error", reject);
      });
    }),
  );
  const started = Date.now();
  for (let n = 0; n < opts.messages; n++) for (let c = 0; c < opts.clients; c++) sockets[c].ws.send(JSON.stringify({ message: { c, n } }));
  const expectedPer = opts.roomSize * opts.messages;
  const deadline = Date.now() + 300_000;
  while (sockets.some((s) => s.got.length < expectedPer) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const ms = Date.now() - started;
  // A little longer, to catch duplicates arriving late.
  await new Promise((r) => setTimeout(r, 1000));
  const problems: string[] = [];
  sockets.forEach((s, i) => {
    const want = new Set<string>();
    for (let c = 0; c < opts.clients; c++) if (c % rooms === s.room) for (let n = 0; n < opts.messages; n++) want.add(`${opts.tag}-${s.room}/${c}/${n}`);
    const seen = new Set<string>();
    for (const g of s.got) {
      if (!want.has(g)) problems.push(`client ${i} (room ${s.room}) got ${g}, not of its room`);
      else if (seen.has(g)) problems.push(`client ${i} got ${g} twice`);
      seen.add(g);
    }
    const missing = [...want].filter((w) => !seen.has(w));
    if (missing.length) problems.push(`client ${i} missed ${missing.length} message(s), e.g. ${missing[0]}`);
  });
  for (const s of sockets) s.ws.close();
  return { ms, problems: problems.slice(0, 20), delivered: sockets.reduce((a, s) => a + s.got.length, 0), expected: opts.clients * expectedPer };
}
