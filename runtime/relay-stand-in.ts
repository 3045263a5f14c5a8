import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import type { AddressInfo } from "net";
import * as path from "path";
import WebSocket, { WebSocketServer } from "ws";
import { LOCAL_CREDENTIALS, verifySigV4 } from "./sigv4";

/**
 * A live relay with the env's WebSocket handlers' behaviour, in memory, for the extension's tests and
 * the bench: `$connect` with `?room=` (SigV4-signed upgrades only, checked by the local gateway's
 * verifier; others 403), and every `{"message": ...}` sent to the whole room, its sender included,
 * as `{"room", "from", "message"}`. The real relay is the env's own (websocket_lambda's liveRelay).
 * With `tls` it serves wss:// (as API Gateway does) with the given key and certificate.
 */
export interface RelayStandIn {
  readonly url: string;
  /** Why each refused upgrade was refused. */
  readonly refused: string[];
  /** Rooms of the accepted connections, in order. */
  readonly joined: string[];
  close(): Promise<void>;
}

export async function startRelayStandIn(opts: { tls?: { key: string | Buffer; cert: string | Buffer } } = {}): Promise<RelayStandIn> {
  const server: http.Server = opts.tls ? https.createServer({ key: opts.tls.key, cert: opts.tls.cert }) : http.createServer();
  const wss = new WebSocketServer({ noServer: true });
  const members = new Set<{ ws: WebSocket; room: string; id: string }>();
  const refused: string[] = [];
  const joined: string[] = [];
  server.on("upgrade", (req, socket, head) => {
    const problem = verifySigV4({ method: "GET", url: req.url ?? "/", headers: req.headers, body: Buffer.alloc(0) }, LOCAL_CREDENTIALS, "execute-api");
    if (problem) {
      refused.push(problem);
      socket.end("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    const room = new URL(req.url ?? "/", "http://x").searchParams.get("room") ?? "";
    wss.handleUpgrade(req, socket, head, (ws) => {
      const me = { ws, room, id: crypto.randomBytes(9).toString("base64") };
      members.add(me);
      joined.push(room);
      ws.on("message", (d) => {
        let message: unknown;
        try {
          message = (JSON.parse(d.toString()) as { message?: unknown }).message;
        } catch {
          return;
        }
        for (const m of members) if (m.room === room && m.ws.readyState === WebSocket.OPEN) m.ws.send(JSON.stringify({ room, from: me.id, message }));
      });
      ws.on("close", () => members.delete(me));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `${opts.tls ? "wss" : "ws"}://127.0.0.1:${(server.address() as AddressInfo).port}/relay`,
    refused,
    joined,
    close: async () => {
      for (const m of members) m.ws.terminate();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * A certificate authority and a certificate it signed for 127.0.0.1, made with openssl in `dir`: a
 * wss:// stand-in's key and certificate, and the CA file the extension trusts through
 * LAMBDASHIP_LIVE_CA_FILE (and a session through its `ca`).
 */
export function relayCertificates(dir: string): { key: string; cert: string; caFile: string } {
  const run = (...args: string[]) => {
    const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
    if (r.error || r.status !== 0) throw new Error(`openssl ${args.join(" ")} failed (apt-get install openssl): ${r.error?.message ?? r.stderr}`);
  };
  fs.mkdirSync(dir, { recursive: true });
  run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=lambdaship test CA", "-keyout", "ca.key", "-out", "ca.pem");
  run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "relay.key", "-out", "relay.csr");
  fs.writeFileSync(path.join(dir, "ext.cnf"), "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n");
  run("x509", "-req", "-in", "relay.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", "ext.cnf", "-out", "relay.pem");
  return { key: fs.readFileSync(path.join(dir, "relay.key"), "utf8"), cert: fs.readFileSync(path.join(dir, "relay.pem"), "utf8"), caFile: path.join(dir, "ca.pem") };
}
