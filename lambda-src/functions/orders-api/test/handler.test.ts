import * as fs from "fs";
import * as path from "path";

// The function's own dependencies, installed in its folder (npm run setup does it).
if (!fs.existsSync(path.join(__dirname, "..", "node_modules", "uuid"))) {
  throw new Error(`${path.join(__dirname, "..")} has no node_modules: run npm run setup (or npm ci in that folder)`);
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { handler, newOrder } = require("../src/handler") as typeof import("../src/handler");

const post = (body: string) => ({ rawPath: "/orders", body, requestContext: { http: { method: "POST" } } });

describe("orders-api", () => {
  it("answers its health route", async () => {
    const r = await handler({ rawPath: "/health", requestContext: { http: { method: "GET" } } });
    expect(r.statusCode).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ status: "ok" });
  });

  it("creates an order with a new uuid", async () => {
    const r = await handler(post(JSON.stringify({ item: "book", quantity: 2 })));
    expect(r.statusCode).toBe(201);
    const order = JSON.parse(r.body);
    expect(order).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), item: "book", quantity: 2 });
  });

  it("reads a base64 body", async () => {
    const r = await handler({ ...post(Buffer.from(JSON.stringify({ item: "pen", quantity: 1 })).toString("base64")), isBase64Encoded: true });
    expect(r.statusCode).toBe(201);
  });

  it("refuses bad orders with the reason", async () => {
    expect(newOrder({ item: "", quantity: 1 })).toMatch(/item/);
    expect(newOrder({ item: "x", quantity: 0 })).toMatch(/quantity/);
    expect((await handler(post("{"))).statusCode).toBe(400);
  });

  it("names the routes it has", async () => {
    const r = await handler({ rawPath: "/nope", requestContext: { http: { method: "GET" } } });
    expect(r.statusCode).toBe(404);
    expect(JSON.parse(r.body).error).toMatch(/GET \/health/);
  });
});
