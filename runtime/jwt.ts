import * as crypto from "crypto";

/**
 * A JWT authorizer as an HTTP API runs one ("Controlling access to HTTP APIs with JWT
 * authorizers"): the token from the Authorization header (with or without `Bearer `), its signature
 * checked against the issuer's JWKS (found through `<issuer>/.well-known/openid-configuration`),
 * `iss` equal to the issuer, `aud` or `client_id` one of the audiences, `exp` and `nbf` honoured,
 * and the scopes from `scope`/`scp`.
 */

export interface JwtAuthorizer {
  readonly issuer: string;
  readonly audiences: readonly string[];
}

const ALGORITHMS: Record<string, { hash: string; pss?: boolean; ec?: boolean }> = {
  RS256: { hash: "sha256" }, RS384: { hash: "sha384" }, RS512: { hash: "sha512" },
  PS256: { hash: "sha256", pss: true }, PS384: { hash: "sha384", pss: true }, PS512: { hash: "sha512", pss: true },
  ES256: { hash: "sha256", ec: true }, ES384: { hash: "sha384", ec: true }, ES512: { hash: "sha512", ec: true },
};

interface Jwk { kid?: string; kty: string; [k: string]: unknown }
const jwksCache = new Map<string, { at: number; keys: Jwk[] }>();

async function issuerKeys(issuer: string): Promise<Jwk[]> {
  const cached = jwksCache.get(issuer);
  if (cached && Date.now() - cached.at < 5 * 60_000) return cached.keys;
  const config = (await (await fetch(`${issuer.replace(/\/+$/, "")}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(5000) })).json()) as { jwks_uri?: string };
  if (!config.jwks_uri) throw new Error(`${issuer}'s openid-configuration names no jwks_uri`);
  const jwks = (await (await fetch(config.jwks_uri, { signal: AbortSignal.timeout(5000) })).json()) as { keys?: Jwk[] };
  const keys = jwks.keys ?? [];
  jwksCache.set(issuer, { at: Date.now(), keys });
  return keys;
}

function decodePart(part: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(part, "base64url").toString()) as Record<string, unknown>;
}

/** The token's claims and scopes, or why it is refused. */
export async function verifyJwt(header: string | undefined, auth: JwtAuthorizer, now = Date.now()): Promise<{ claims: Record<string, unknown>; scopes: string[] | null } | { problem: string }> {
  if (!header) return { problem: "no Authorization header" };
  const token = header.replace(/^Bearer\s+/i, "").trim();
  const parts = token.split(".");
  if (parts.length !== 3) return { problem: "the token is not a JWT (three base64url parts)" };
  let head: Record<string, unknown>;
  let claims: Record<string, unknown>;
  try {
    head = decodePart(parts[0]);
    claims = decodePart(parts[1]);
  } catch {
    return { problem: "the token's header or claims are not base64url JSON" };
  }
  const alg = ALGORITHMS[String(head.alg)];
  if (!alg) return { problem: `the token's algorithm ${String(head.alg)} is not one API Gateway accepts (RS*, PS*, ES*)` };
  let keys: Jwk[];
  try {
    keys = await issuerKeys(auth.issuer);
  } catch (e) {
    return { problem: `the issuer's keys could not be fetched (${(e as Error).message})` };
  }
  const jwk = keys.find((k) => (head.kid === undefined ? true : k.kid === head.kid));
  if (!jwk) return { problem: `the issuer has no key ${String(head.kid)}` };
  const signed = Buffer.from(`${parts[0]}.${parts[1]}`);
  const signature = Buffer.from(parts[2], "base64url");
  let ok: boolean;
  try {
    const key = crypto.createPublicKey({ key: jwk as crypto.JsonWebKey, format: "jwk" });
    ok = crypto.verify(alg.hash, signed, alg.pss ? { key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: crypto.constants.RSA_PSS_SALTLEN_DIGEST } : alg.ec ? { key, dsaEncoding: "ieee-p1363" } : key, signature);
  } catch (e) {
    return { problem: `the issuer's key ${String(jwk.kid ?? "")} cannot check a ${String(head.alg)} signature (${(e as Error).message})` };
  }
  if (!ok) return { problem: "the token's signature does not verify against the issuer's key" };
  if (claims.iss !== auth.issuer) return { problem: `the token's issuer is ${String(claims.iss)}, not ${auth.issuer}` };
  const aud = Array.isArray(claims.aud) ? claims.aud.map(String) : claims.aud !== undefined ? [String(claims.aud)] : claims.client_id !== undefined ? [String(claims.client_id)] : [];
  if (!aud.some((a) => auth.audiences.includes(a))) return { problem: `the token's audience ${aud.join(",") || "(none)"} is not one of ${auth.audiences.join(", ")}` };
  const seconds = now / 1000;
  if (typeof claims.exp !== "number" || claims.exp <= seconds) return { problem: "the token has expired (or has no exp)" };
  if (typeof claims.nbf === "number" && claims.nbf > seconds) return { problem: "the token is not valid yet (nbf)" };
  const scopeClaim = claims.scope ?? claims.scp;
  const scopes = typeof scopeClaim === "string" ? scopeClaim.split(" ").filter(Boolean) : Array.isArray(scopeClaim) ? scopeClaim.map(String) : null;
  return { claims, scopes };
}
