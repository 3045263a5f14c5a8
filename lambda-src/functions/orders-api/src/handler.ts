import { v4 as uuidv4, validate } from "uuid";

/** The part of an API Gateway v2 / function URL event (payload format 2.0) this API reads. */
export interface HttpEvent {
  readonly rawPath?: string;
  readonly body?: string;
  readonly isBase64Encoded?: boolean;
  readonly requestContext?: { readonly http?: { readonly method?: string } };
}

export interface HttpResult {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

export interface Order {
  readonly id: string;
  readonly item: string;
  readonly quantity: number;
}

function json(statusCode: number, value: unknown): HttpResult {
  return { statusCode, headers: { "content-type": "application/json" }, body: JSON.stringify(value) };
}

/** Checks an order request; returns the problem, or the order with a new id. */
export function newOrder(input: unknown, id: string = uuidv4()): Order | string {
  if (typeof input !== "object" || input === null) return "the body is a JSON object: {\"item\": \"...\", \"quantity\": 1}";
  const { item, quantity } = input as { item?: unknown; quantity?: unknown };
  if (typeof item !== "string" || item.length === 0 || item.length > 100) return "item is a string of 1-100 characters";
  if (typeof quantity !== "number" || !Number.isInteger(quantity) || quantity < 1 || quantity > 1000) return "quantity is a whole number of 1-1000";
  return { id, item, quantity };
}

export const handler = async (event: HttpEvent): Promise<HttpResult> => {
  const method = event.requestContext?.http?.method ?? "GET";
  const route = `${method} ${event.rawPath ?? "/"}`;
  if (route === "GET /health") return json(200, { status: "ok" });
  if (route === "POST /orders") {
    let input: unknown;
    try {
      const text = event.isBase64Encoded ? Buffer.from(event.body ?? "", "base64").toString("utf8") : (event.body ?? "");
      input = JSON.parse(text);
    } catch {
      return json(400, { error: "the body is not JSON" });
    }
    const order = newOrder(input);
    if (typeof order === "string") return json(400, { error: order });
    if (!validate(order.id)) return json(500, { error: "could not make an order id" });
    return json(201, order);
  }
  return json(404, { error: `no route ${route}; try GET /health or POST /orders` });
};
