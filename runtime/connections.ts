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

export class ConnectionsStandIn {
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
