/**
 * Verification of the TC3-HMAC-SHA256 `Authorization` header that @cloudbase/node-sdk (under wx-server-sdk)
 * puts on every `/tcb` request, computed exactly as its signer (@cloudbase/signature-nodejs, `tc3sign`) does:
 *
 *   Authorization: TC3-HMAC-SHA256 Credential=<secretId>/<yyyy-mm-dd>/tcb/tc3_request,
 *                  SignedParams=<k1;k2;…>, SignedHeaders=<h1;h2;…>, Signature=<hex>
 *   X-Timestamp:   <unix seconds>   (not a signed header, but part of the string to sign)
 *
 *   CanonicalRequest = method \n //host/path \n rawQuery \n (h:v \n)* \n h1;h2;… \n PayloadHash
 *     - method as the client spelled it (node-sdk signs lowercase `post`);
 *     - headers: name lowercased, value trimmed and lowercased, except `content-type`, which is kept as is,
 *       or reduced to `multipart/form-data` when it starts with that (the boundary is not signed);
 *     - PayloadHash = hex SHA-256 over, for each signed form field k (lowercased name) in order:
 *       `&k=` + value + `\r\n`; text values trimmed, binary parts raw; empty text fields are skipped.
 *       The raw multipart bytes (boundary, part headers) are NOT covered, only the field values.
 *   StringToSign = "TC3-HMAC-SHA256" \n timestamp \n date/tcb/tc3_request \n hex(SHA-256(CanonicalRequest))
 *   key = HMAC(HMAC(HMAC("TC3"+secretKey, date), "tcb"), "tc3_request"); Signature = hex HMAC(key, StringToSign)
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export const TC3_ALGORITHM = 'TC3-HMAC-SHA256';
export const TC3_SERVICE = 'tcb';
/** A signature's timestamp may be at most this far from the server's clock, either way. */
export const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;

export interface Tc3Request {
  /** The HTTP method as received (`POST`). */
  method: string;
  /** Path without query string, as the client addressed it (`/tcb`). */
  path: string;
  /** The raw query string without `?` (`env=…&seqId=…`), byte for byte as received. */
  query: string;
  /** Request headers as Node gives them (lowercase names). */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Form fields as received: text fields as strings, binary parts (application/octet-stream) as Buffers. */
  fields: Readonly<Record<string, string | Buffer>>;
}

export type Tc3Result = { ok: true; secretId: string } | { ok: false; reason: string };

interface ParsedAuthorization {
  secretId: string;
  date: string;
  signedParams: string[] | undefined;
  signedHeaders: string[];
  signature: Buffer;
}

const AUTH_RE =
  /^TC3-HMAC-SHA256 Credential=([^,\s]+),\s*(?:SignedParams=([^,\s]*),\s*)?SignedHeaders=([^,\s]+),\s*Signature=([0-9a-fA-F]{64})$/;

function parseAuthorization(header: string): ParsedAuthorization | undefined {
  const m = AUTH_RE.exec(header.trim());
  if (!m) return undefined;
  const credential = (m[1] ?? '').split('/');
  // secretId/date/service/tc3_request; a secretId never contains '/', but take the tail to be safe.
  if (credential.length < 4) return undefined;
  const terminator = credential.pop();
  const service = credential.pop();
  const date = credential.pop();
  const secretId = credential.join('/');
  if (terminator !== 'tc3_request' || service !== TC3_SERVICE || !date || !secretId) return undefined;
  const list = (s: string): string[] => (s === '' ? [] : s.split(';'));
  return {
    secretId,
    date,
    signedParams: m[2] === undefined ? undefined : list(m[2]),
    signedHeaders: list(m[3] ?? ''),
    signature: Buffer.from(m[4] ?? '', 'hex'),
  };
}

/** `yyyy-mm-dd` (UTC) of a unix timestamp in seconds: the signer's credential date. */
function credentialDate(timestampSec: number): string {
  return new Date(timestampSec * 1000).toISOString().slice(0, 10);
}

/** The signer's key normalisation: lowercase, trim, then URL-encode with !'()* escaped. */
function canonicalKey(key: string): string {
  return encodeURIComponent(key.toLowerCase().trim()).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function headerValue(headers: Tc3Request['headers'], name: string): string | undefined {
  if (!Object.prototype.hasOwnProperty.call(headers, name)) return undefined;
  const v: unknown = headers[name];
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v.join(', ');
  return undefined;
}

function canonicalHeaderValue(name: string, raw: string): string {
  if (name === 'content-type') return raw.startsWith('multipart/form-data') ? 'multipart/form-data' : raw;
  return raw.trim().toLowerCase();
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

function sha256hex(data: string): string {
  return createHash('sha256').update(data, 'utf8').digest('hex');
}

/**
 * The payload hash over the form fields. The field set must be exactly the one the client signed:
 * with `SignedParams`, every non-empty field must be listed and every listed field present (hashed in the
 * listed order); without it, all non-empty fields in the signer's order (`localeCompare`).
 */
function payloadHash(fields: Tc3Request['fields'], signedParams: string[] | undefined): string | { reason: string } {
  const byKey = new Map<string, string | Buffer>();
  for (const [name, value] of Object.entries(fields)) {
    const key = canonicalKey(name);
    if (byKey.has(key)) return { reason: `form field ${key} is given twice` };
    byKey.set(key, typeof value === 'string' ? value.trim() : value);
  }
  // The signer skips empty text values; binary parts are hashed even when empty.
  const contributing = [...byKey.entries()].filter(([, v]) => typeof v !== 'string' || v !== '').map(([k]) => k);
  let order: string[];
  if (signedParams) {
    const listed = new Set(signedParams);
    if (listed.size !== signedParams.length) return { reason: 'SignedParams lists a field twice' };
    const unsigned = contributing.filter((k) => !listed.has(k));
    if (unsigned.length > 0) return { reason: `form fields not signed: ${unsigned.join(', ')}` };
    const missing = signedParams.filter((k) => !byKey.has(k));
    if (missing.length > 0) return { reason: `signed form fields missing: ${missing.join(', ')}` };
    order = signedParams;
  } else {
    order = [...contributing].sort((l, r) => l.localeCompare(r));
  }
  const hash = createHash('sha256');
  for (const key of order) {
    const value = byKey.get(key);
    if (value === undefined) continue;
    hash.update(`&${key}=`);
    hash.update(value);
    hash.update('\r\n');
  }
  return hash.digest('hex');
}

/** An X-Timestamp (seconds) within MAX_CLOCK_SKEW_MS of the server's time, or of any of its times (test mode). */
function fresh(timestampS: number, nowMs: number | readonly number[]): boolean {
  const nows = typeof nowMs === 'number' ? [nowMs] : nowMs;
  return nows.some((now) => Math.abs(timestampS * 1000 - now) <= MAX_CLOCK_SKEW_MS);
}

/**
 * What can be checked of a TC3 signature before the body is read (the signature itself covers the form fields):
 * the `Authorization` header's shape, an `X-Timestamp` within MAX_CLOCK_SKEW_MS, and the credential date matching
 * it. Returns the secret id (for `/tcb`, the appid) the client claims to sign with.
 */
export function precheckTc3(headers: Tc3Request['headers'], nowMs: number | readonly number[]): Tc3Result {
  const authHeader = headerValue(headers, 'authorization');
  if (!authHeader) return { ok: false, reason: 'missing Authorization header' };
  const auth = parseAuthorization(authHeader);
  if (!auth) return { ok: false, reason: 'malformed Authorization header (expected TC3-HMAC-SHA256 for service tcb)' };
  const tsText = headerValue(headers, 'x-timestamp')?.trim() ?? '';
  if (!/^\d{1,12}$/.test(tsText)) return { ok: false, reason: 'missing or malformed X-Timestamp header' };
  const timestamp = Number(tsText);
  if (!fresh(timestamp, nowMs)) {
    return { ok: false, reason: 'signature expired: X-Timestamp is more than 5 minutes from server time' };
  }
  if (auth.date !== credentialDate(timestamp)) return { ok: false, reason: 'credential date does not match X-Timestamp' };
  return { ok: true, secretId: auth.secretId };
}

/**
 * Verifies a request's TC3 signature. `lookupSecret` maps the `Credential` secret id to its key
 * (`undefined` refuses). Reasons never contain the secret or the expected signature. `nowMs` is the server's time, or
 * several (test mode accepts a timestamp close to either the wall clock or its own frozen clock).
 */
export async function verifyTc3(
  request: Tc3Request,
  lookupSecret: (secretId: string) => Promise<string | undefined>,
  nowMs: number | readonly number[],
): Promise<Tc3Result> {
  const authHeader = headerValue(request.headers, 'authorization');
  if (!authHeader) return { ok: false, reason: 'missing Authorization header' };
  const auth = parseAuthorization(authHeader);
  if (!auth) return { ok: false, reason: 'malformed Authorization header (expected TC3-HMAC-SHA256 for service tcb)' };

  const tsText = headerValue(request.headers, 'x-timestamp')?.trim() ?? '';
  if (!/^\d{1,12}$/.test(tsText)) return { ok: false, reason: 'missing or malformed X-Timestamp header' };
  const timestamp = Number(tsText);
  if (!fresh(timestamp, nowMs)) {
    return { ok: false, reason: 'signature expired: X-Timestamp is more than 5 minutes from server time' };
  }
  if (auth.date !== credentialDate(timestamp)) {
    return { ok: false, reason: 'credential date does not match X-Timestamp' };
  }

  const signedHeaders = auth.signedHeaders;
  if (new Set(signedHeaders).size !== signedHeaders.length) return { ok: false, reason: 'SignedHeaders lists a header twice' };
  for (const required of ['host', 'content-type']) {
    if (!signedHeaders.includes(required)) return { ok: false, reason: `header ${required} must be signed` };
  }
  const headerLines: string[] = [];
  for (const name of signedHeaders) {
    if (!/^[a-z0-9-]+$/.test(name)) return { ok: false, reason: 'malformed SignedHeaders' };
    const raw = headerValue(request.headers, name);
    if (raw === undefined) return { ok: false, reason: `signed header ${name} is missing` };
    headerLines.push(`${name}:${canonicalHeaderValue(name, raw)}`);
  }

  const hashed = payloadHash(request.fields, auth.signedParams);
  if (typeof hashed !== 'string') return { ok: false, ...hashed };

  const secret = await lookupSecret(auth.secretId);
  if (secret === undefined) return { ok: false, reason: 'unknown secretId' };

  const host = (headerValue(request.headers, 'host') ?? '').trim().toLowerCase();
  const signedUrl = `//${host}${request.path}`;
  const scope = `${auth.date}/${TC3_SERVICE}/tc3_request`;
  const signingKey = hmac(hmac(hmac(`TC3${secret}`, auth.date), TC3_SERVICE), 'tc3_request');
  const tail = `${signedUrl}\n${request.query}\n${headerLines.join('\n')}\n\n${signedHeaders.join(';')}\n${hashed}`;

  // node-sdk signs the method in lowercase (`post`); other TC3 signers use uppercase. Accept either.
  const methods = [...new Set([request.method.toLowerCase(), request.method.toUpperCase()])];
  let match = false;
  for (const method of methods) {
    const stringToSign = `${TC3_ALGORITHM}\n${timestamp}\n${scope}\n${sha256hex(`${method}\n${tail}`)}`;
    const expected = createHmac('sha256', signingKey).update(stringToSign, 'utf8').digest();
    // Both are 32 bytes (the header regex demands 64 hex digits).
    if (timingSafeEqual(expected, auth.signature)) match = true;
  }
  if (!match) return { ok: false, reason: 'signature mismatch' };
  return { ok: true, secretId: auth.secretId };
}
