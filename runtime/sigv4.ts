import * as crypto from "crypto";
import type { IncomingHttpHeaders } from "http";

/**
 * Checks a request's AWS Signature Version 4 ("Create a signed AWS API request"), header or
 * query-string form, against the secret of its access key: what AWS_IAM auth on a function URL or
 * an HTTP API route asks of the caller. Locally the keys are the local AWS's (test/test). Returns
 * why the request is refused, or undefined when it is signed correctly.
 */

const sha256 = (data: string | Buffer) => crypto.createHash("sha256").update(data).digest("hex");
const hmac = (key: Buffer | string, data: string) => crypto.createHmac("sha256", key).update(data).digest();

/** RFC 3986 encoding, as SigV4 wants it. */
function encode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The hex signature of a request (SigV4's canonical request, string to sign and derived key). */
function signature4(r: { method: string; pathname: string; query: URLSearchParams; headers: IncomingHttpHeaders; signedHeaders: readonly string[]; payloadHash: string; amzDate: string; region: string; service: string; secret: string }): string {
  const canonicalHeaders = r.signedHeaders
    .map((n) => {
      const v = r.headers[n];
      return `${n}:${(Array.isArray(v) ? v.join(",") : String(v ?? "")).trim().replace(/\s+/g, " ")}\n`;
    })
    .join("");
  const canonicalQuery = [...r.query.entries()]
    .map(([k, v]) => [encode(k), encode(v)])
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  const path = r.pathname.split("/").map((s) => encode(s)).join("/");
  const canonical = [r.method, path, canonicalQuery, canonicalHeaders, r.signedHeaders.join(";"), r.payloadHash].join("\n");
  const date = r.amzDate.slice(0, 8);
  const scope = `${date}/${r.region}/${r.service}/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", r.amzDate, scope, sha256(canonical)].join("\n");
  const key = hmac(hmac(hmac(hmac(`AWS4${r.secret}`, date), r.region), r.service), "aws4_request");
  return crypto.createHmac("sha256", key).update(toSign).digest("hex");
}

/**
 * The headers that sign a request with SigV4 (Authorization, X-Amz-Date, X-Amz-Content-Sha256,
 * Host): what a caller of an AWS_IAM function URL or route sends. Locally: test/test.
 */
export function signRequest(
  req: { method: string; url: string; headers?: Record<string, string>; body?: Buffer | string },
  cred: { accessKeyId: string; secretAccessKey: string; region: string; service: string; sessionToken?: string },
  now = Date.now(),
): Record<string, string> {
  const url = new URL(req.url);
  const amzDate = new Date(now).toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
  const body = req.body === undefined ? Buffer.alloc(0) : Buffer.from(req.body);
  const headers: Record<string, string> = { ...Object.fromEntries(Object.entries(req.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])), host: url.host, "x-amz-date": amzDate, "x-amz-content-sha256": sha256(body) };
  if (cred.sessionToken) headers["x-amz-security-token"] = cred.sessionToken;
  const names = Object.keys(headers).sort();
  const sig = signature4({ method: req.method, pathname: url.pathname, query: url.searchParams, headers, signedHeaders: names, payloadHash: headers["x-amz-content-sha256"], amzDate, region: cred.region, service: cred.service, secret: cred.secretAccessKey });
  const date = amzDate.slice(0, 8);
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${cred.accessKeyId}/${date}/${cred.region}/${cred.service}/aws4_request, SignedHeaders=${names.join(";")}, Signature=${sig}`;
  return headers;
}

export interface SignedRequest {
  readonly method: string;
  /** Path and query as sent. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** The local AWS's credentials (moto's test/test): what a signed request to the local gateway must use, by key id. */
export const LOCAL_CREDENTIALS: ReadonlyMap<string, string> = new Map([["test", "test"]]);

export function verifySigV4(req: SignedRequest, secrets: ReadonlyMap<string, string>, service: string, now = Date.now()): string | undefined {
  const url = new URL(req.url, "http://x");
  const header = req.headers.authorization;
  let credential: string;
  let signedHeaders: string;
  let signature: string;
  let amzDate: string | undefined;
  const query = new URLSearchParams(url.search);
  if (header?.startsWith("AWS4-HMAC-SHA256 ")) {
    const fields = Object.fromEntries(header.slice(17).split(",").map((p) => p.trim().split("=") as [string, string]));
    [credential, signedHeaders, signature] = [fields.Credential, fields.SignedHeaders, fields.Signature];
    amzDate = String(req.headers["x-amz-date"] ?? "");
  } else if (query.get("X-Amz-Algorithm") === "AWS4-HMAC-SHA256") {
    [credential, signedHeaders, signature] = [query.get("X-Amz-Credential") ?? "", query.get("X-Amz-SignedHeaders") ?? "", query.get("X-Amz-Signature") ?? ""];
    amzDate = query.get("X-Amz-Date") ?? "";
    query.delete("X-Amz-Signature");
  } else {
    return header ? "the Authorization header is not AWS4-HMAC-SHA256" : "the request is not signed (AWS_IAM auth: sign it with SigV4, e.g. aws-sigv4 in curl or @smithy/signature-v4)";
  }
  if (!credential || !signedHeaders || !signature) return "the signature lacks Credential, SignedHeaders or Signature";
  const [accessKey, date, region, scopeService, terminator] = credential.split("/");
  if (terminator !== "aws4_request" || !date || !region) return `the credential scope ${credential} is not <key>/<date>/<region>/<service>/aws4_request`;
  if (scopeService !== service) return `the request is signed for ${scopeService}; this endpoint takes ${service}`;
  const secret = secrets.get(accessKey);
  if (secret === undefined) return `the access key ${accessKey} is not one the local AWS knows (use ${[...secrets.keys()].join(", ")})`;
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate ?? "");
  if (!m) return "X-Amz-Date is missing or not yyyymmddThhmmssZ";
  const signedAt = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
  if (Math.abs(now - signedAt) > 15 * 60_000) return "the signature is more than 15 minutes off this machine's clock";
  const names = signedHeaders.split(";");
  if (!names.includes("host")) return "the signature does not cover the host header";
  const payloadHash = String(req.headers["x-amz-content-sha256"] ?? (header ? sha256(req.body) : "UNSIGNED-PAYLOAD"));
  const expected = signature4({ method: req.method, pathname: url.pathname, query, headers: req.headers, signedHeaders: names, payloadHash, amzDate: amzDate!, region, service, secret });
  if (expected.length !== signature.length || !crypto.timingSafeEqual(Buffer.from(expected), Buffer.from(signature))) {
    return "the signature does not match the request (signed with another secret, or the request changed after signing)";
  }
  if (header && req.headers["x-amz-content-sha256"] && req.headers["x-amz-content-sha256"] !== "UNSIGNED-PAYLOAD" && req.headers["x-amz-content-sha256"] !== sha256(req.body)) {
    return "x-amz-content-sha256 does not match the body";
  }
  return undefined;
}
