import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { signRequest } from "../runtime/sigv4";
import { UsageError } from "./cli";

/**
 * The few AWS calls npm run live makes from the developer's machine, with no SDK: the user's
 * credentials, found as the AWS SDKs find static ones; a function's role assumed with them (STS);
 * a function's deployed configuration (Lambda); the env's live relay (API Gateway v2). Each against
 * AWS, or the local AWS's endpoint for the local env.
 */

export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  /** When temporary credentials run out. @default - they do not */
  readonly expiration?: Date;
  /** Where they come from, for log lines: `AWS_ACCESS_KEY_ID`, `profile dev in ~/.aws/credentials`, ... */
  readonly source: string;
}

/** The local AWS's credentials, to sign with (moto takes any; `test` is what the env's provider and functions use, and what runtime/sigv4.ts's LOCAL_CREDENTIALS verify). */
export const LOCAL_AWS_CREDENTIALS: AwsCredentials = { accessKeyId: "test", secretAccessKey: "test", source: "the local AWS's test credentials" };

/** The sections of an AWS shared credentials or config file: `[name]` (or `[profile name]`) to its keys. */
export function parseIni(text: string): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  let section: Record<string, string> | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/^\s+|\s+$/g, "");
    if (!line || line.startsWith("#") || line.startsWith(";")) continue;
    const head = /^\[\s*(?:profile\s+)?([^\]]+?)\s*\]$/.exec(line);
    if (head) {
      section = out.get(head[1]) ?? {};
      out.set(head[1], section);
      continue;
    }
    const kv = /^([^=]+?)\s*=\s*(.*)$/.exec(line);
    if (kv && section) section[kv[1].toLowerCase()] = kv[2];
  }
  return out;
}

/**
 * The user's credentials, as the AWS SDKs look for static ones: AWS_ACCESS_KEY_ID and
 * AWS_SECRET_ACCESS_KEY (with AWS_SESSION_TOKEN), then the keys of profile AWS_PROFILE (default
 * `default`) in AWS_SHARED_CREDENTIALS_FILE (default ~/.aws/credentials) or AWS_CONFIG_FILE
 * (~/.aws/config). Profiles that get their keys another way (SSO, credential_process, a role to
 * assume) are named in the error with the command that turns them into variables.
 */
export function userCredentials(env: NodeJS.ProcessEnv = process.env, home: string = os.homedir()): AwsCredentials {
  if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    return { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}), source: "AWS_ACCESS_KEY_ID" };
  }
  const profile = env.AWS_PROFILE || env.AWS_DEFAULT_PROFILE || "default";
  const files = [env.AWS_SHARED_CREDENTIALS_FILE || path.join(home, ".aws", "credentials"), env.AWS_CONFIG_FILE || path.join(home, ".aws", "config")];
  let other: string | undefined;
  for (const file of files) {
    if (!fs.existsSync(file)) continue;
    const keys = parseIni(fs.readFileSync(file, "utf8")).get(profile);
    if (!keys) continue;
    if (keys.aws_access_key_id && keys.aws_secret_access_key) {
      return { accessKeyId: keys.aws_access_key_id, secretAccessKey: keys.aws_secret_access_key, ...(keys.aws_session_token ? { sessionToken: keys.aws_session_token } : {}), source: `profile ${profile} in ${file}` };
    }
    const via = ["sso_session", "sso_start_url", "credential_process", "role_arn"].find((k) => keys[k]);
    if (via) other ??= `profile ${profile} in ${file} gets its keys through ${via}`;
  }
  const fix = `export them first (aws configure export-credentials --profile ${profile} --format env), or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN)`;
  if (other) throw new UsageError(`${other}, which this command does not run: ${fix}`);
  throw new UsageError(`no AWS credentials: neither AWS_ACCESS_KEY_ID nor keys of profile ${profile} in ${files.join(" or ")}; ${fix}`);
}

function xmlValue(xml: string, tag: string): string | undefined {
  return new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml)?.[1]?.replace(/&amp;/g, "&").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&apos;/g, "'");
}

/** A signed request with a 10 s limit: the response, or an error naming the request. */
async function signedFetch(method: string, url: string, service: string, region: string, credentials: AwsCredentials, body?: string, headers: Record<string, string> = {}): Promise<Response> {
  const signed = signRequest({ method, url, headers, body }, { ...credentials, region, service });
  delete signed.host; // fetch sets it, to the same value
  try {
    return await fetch(url, { method, headers: signed, body, signal: AbortSignal.timeout(10000) });
  } catch (e) {
    throw new Error(`${method} ${url}: ${(e as Error).message}`);
  }
}

/**
 * sts:AssumeRole with `credentials`: the role's temporary credentials, or an error with STS's code
 * and message (AccessDenied when the role's trust policy does not let the caller in).
 */
export async function assumeRole(
  roleArn: string,
  credentials: AwsCredentials,
  opts: { readonly region: string; readonly sessionName: string; readonly endpoint?: string; readonly durationSeconds?: number },
): Promise<AwsCredentials> {
  const url = `${opts.endpoint ?? `https://sts.${opts.region}.amazonaws.com`}/`;
  const body = new URLSearchParams({ Action: "AssumeRole", Version: "2011-06-15", RoleArn: roleArn, RoleSessionName: opts.sessionName.slice(0, 64), DurationSeconds: String(opts.durationSeconds ?? 3600) }).toString();
  const r = await signedFetch("POST", url, "sts", opts.region, credentials, body, { "content-type": "application/x-www-form-urlencoded; charset=utf-8" });
  const xml = await r.text();
  if (!r.ok) throw new Error(`sts:AssumeRole ${roleArn}: ${xmlValue(xml, "Code") ?? r.status}: ${xmlValue(xml, "Message") ?? xml.slice(0, 200)}`);
  const [accessKeyId, secretAccessKey, sessionToken, expiration] = ["AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"].map((t) => xmlValue(xml, t));
  if (!accessKeyId || !secretAccessKey) throw new Error(`sts:AssumeRole ${roleArn}: an answer without credentials: ${xml.slice(0, 200)}`);
  return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}), ...(expiration ? { expiration: new Date(expiration) } : {}), source: `role ${roleArn}` };
}

/** Where a call goes: AWS (`https://<service>.<region>.amazonaws.com`) unless an endpoint is given (the local AWS). */
export interface AwsTarget {
  readonly region: string;
  readonly credentials: AwsCredentials;
  readonly endpoint?: string;
}

/** A signed call to a REST-JSON API (Lambda, API Gateway v2): its parsed answer, or an error naming the call and AWS's message. */
export async function awsJson(service: string, hostPrefix: string, path: string, target: AwsTarget): Promise<Record<string, unknown>> {
  const url = `${target.endpoint ?? `https://${hostPrefix}.${target.region}.amazonaws.com`}${path}`;
  const r = await signedFetch("GET", url, service, target.region, target.credentials);
  const text = await r.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // an answer that is not JSON: its text goes into the error below
  }
  if (!r.ok) {
    const type = String(r.headers.get("x-amzn-errortype") ?? body.__type ?? body.Type ?? r.status).split(":")[0];
    throw new Error(`GET ${url} (as ${target.credentials.source}): ${type}: ${String(body.message ?? body.Message ?? text.slice(0, 200))}`);
  }
  return body;
}
