import * as http from "http";

/**
 * The API Gateway Management API stand-in (`<endpoint>/<stage>/@connections/<id>`): WebSocket
 * handlers post to it instead of AWS (MANAGEMENT_API_ENDPOINT points here). It records what was
 * posted, bounded to the last `limit` messages so a long session does not grow without limit.
 * POST records and answers 200, GET answers the connection's description, DELETE answers 204; a
 * connection deleted here is gone: posts to it answer 410 GoneException, as API Gateway does.
 */

/** A message a function sent to a WebSocket client. */
export interface PostedMessage {
  readonly connectionId: string;
  readonly data: string;
  readonly at: string;
}

/** Real sockets behind @connections (the local gateway's WebSocket connections). */
export interface LiveConnections {
  /** Sends a message; false when the connection is not open (410 GoneException). */
  post(connectionId: string, data: Buffer): boolean;
  /** What GET answers, or undefined for a connection that is not open. */
  describe(connectionId: string): { ConnectedAt: string; Identity: { SourceIp: string; UserAgent?: string }; LastActiveAt: string } | undefined;
  /** Closes the connection (its $disconnect follows); false when it is not open. */
  close(connectionId: string): boolean;
}

/** API Gateway's largest @connections message (its WebSocket message limit). */
export const MAX_POST_BYTES = 128 * 1024;

export class ConnectionsStandIn {
  /**
   * Set by the local gateway: posts reach its real sockets, and a connection it does not hold is
   * gone (410), as API Gateway answers. Without it, posts are only recorded.
   */
  live?: LiveConnections;

  private readonly records: PostedMessage[] = [];
  private total = 0;
  private readonly gone = new Set<string>();
  private readonly started = new Date().toISOString();

  constructor(readonly limit = 1000) {}

  /** The last `limit` messages posted, oldest first. */
  get posted(): readonly PostedMessage[] {
    return this.records;
  }

  /** Every message posted since the start, including those no longer kept. */
  get postedTotal(): number {
    return this.total;
  }

  record(connectionId: string, data: string): void {
    this.total++;
    this.records.push({ connectionId, data, at: new Date().toISOString() });
    if (this.records.length > this.limit) this.records.splice(0, this.records.length - this.limit);
  }

  /** Handles a request whose path ends in /@connections/<id>; false when the path is not one. */
  handle(method: string, url: string, body: Buffer, res: http.ServerResponse): boolean {
    const m = /\/@connections\/([^/?]+)$/.exec(url);
    if (!m) return false;
    const connectionId = decodeURIComponent(m[1]);
    const json = (status: number, payload?: object, headers: Record<string, string> = {}) => {
      res.writeHead(status, { "Content-Type": "application/json", ...headers });
      res.end(payload ? JSON.stringify(payload) : undefined);
    };
    const gone = () => json(410, { message: "GoneException" }, { "X-Amzn-ErrorType": "GoneException" });
    const live = this.live;
    if (live) {
      if (method === "POST") {
        if (body.length > MAX_POST_BYTES) json(413, { message: `the message is ${body.length} bytes; API Gateway takes at most ${MAX_POST_BYTES}` }, { "X-Amzn-ErrorType": "PayloadTooLargeException" });
        else if (!live.post(connectionId, body)) gone();
        else {
          this.record(connectionId, body.toString());
          json(200);
        }
      } else if (method === "GET") {
        const d = live.describe(connectionId);
        if (d) json(200, d);
        else gone();
      } else if (method === "DELETE") {
        if (live.close(connectionId)) json(204);
        else gone();
      } else json(405, { message: `${method} is not a method of @connections (POST, GET, DELETE)` });
      return true;
    }
    if (this.gone.has(connectionId) && method !== "DELETE") json(410, { message: "GoneException" }, { "X-Amzn-ErrorType": "GoneException" });
    else if (method === "POST") {
      this.record(connectionId, body.toString());
      json(200);
    } else if (method === "DELETE") {
      this.gone.add(connectionId);
      json(204);
    } else if (method === "GET") {
      json(200, { ConnectedAt: this.started, Identity: { SourceIp: "127.0.0.1", UserAgent: "lambdaship-emulator" }, LastActiveAt: new Date().toISOString() });
    } else {
      json(405, { message: `${method} is not a method of @connections (POST, GET, DELETE)` });
    }
    return true;
  }
}
