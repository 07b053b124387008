/**
 * WeChat's error codes: one table, used by the server (to answer) and by the SDK (to type what it receives).
 * Texts are the ones WeChat sends; clients match on the number, never on the text.
 */
/**
 * What a caller can do about an error, for every code in the table (the SDK's `WeChatApiError.kind`):
 * - `auth`: the credentials, the token or the app's rights (fix the secret, get a new token, ask for access);
 * - `quota`: a daily allowance is spent (wait for tomorrow; never retried);
 * - `invalid-argument`: the request itself is wrong (fix the call; retrying changes nothing);
 * - `rate-limit`: too many calls right now (slow down and retry);
 * - `system`: the service failed or is not ready (retry later).
 */
export type ErrorKind = 'auth' | 'quota' | 'invalid-argument' | 'rate-limit' | 'system';

export const ERRORS = {
  SYSTEM_ERROR: { errcode: -1, errmsg: 'system error', kind: 'system' },
  OK: { errcode: 0, errmsg: 'ok', kind: 'system' },
  INVALID_CREDENTIAL: { errcode: 40001, errmsg: 'invalid credential, access_token is invalid or not latest', kind: 'auth' },
  INVALID_GRANT_TYPE: { errcode: 40002, errmsg: 'invalid grant_type', kind: 'invalid-argument' },
  INVALID_APPID: { errcode: 40013, errmsg: 'invalid appid', kind: 'auth' },
  /** WeChat's answer to a token that is not even well formed (datacube answers 40001 for those). */
  INVALID_ACCESS_TOKEN: { errcode: 40014, errmsg: 'invalid access_token', kind: 'auth' },
  INVALID_URL: { errcode: 40066, errmsg: 'invalid url', kind: 'invalid-argument' },
  INVALID_ARGS: { errcode: 40097, errmsg: 'invalid args', kind: 'invalid-argument' },
  INVALID_APPSECRET: { errcode: 40125, errmsg: 'invalid appsecret', kind: 'auth' },
  ACCESS_TOKEN_MISSING: { errcode: 41001, errmsg: 'access_token missing', kind: 'auth' },
  APPID_MISSING: { errcode: 41002, errmsg: 'appid missing', kind: 'auth' },
  APPSECRET_MISSING: { errcode: 41004, errmsg: 'appsecret missing', kind: 'auth' },
  ACCESS_TOKEN_EXPIRED: { errcode: 42001, errmsg: 'access_token expired', kind: 'auth' },
  DAILY_QUOTA: { errcode: 45009, errmsg: 'reach max api daily quota limit', kind: 'quota' },
  MINUTE_QUOTA: { errcode: 45011, errmsg: 'api minute-quota reach limit must slower retry next minute', kind: 'rate-limit' },
  EMPTY_POST_DATA: { errcode: 44002, errmsg: 'empty post data', kind: 'invalid-argument' },
  /** A request body over the size limit, or a batch over the event limit. */
  CONTENT_TOO_LARGE: { errcode: 45002, errmsg: 'content size out of limit', kind: 'invalid-argument' },
  /** stable_token's forced refresh: at most 20 a day, 30 s apart. */
  FORCE_REFRESH_LIMIT: { errcode: 45009, errmsg: 'reach max api daily quota limit', kind: 'quota' },
  DATA_FORMAT: { errcode: 47001, errmsg: 'data format error', kind: 'invalid-argument' },
  API_UNAUTHORIZED: { errcode: 48001, errmsg: 'api unauthorized', kind: 'auth' },
  /** Our own use, in WeChat's style: an admin or ingest request the caller may not make. */
  INVALID_IP_OR_KEY: { errcode: 40164, errmsg: 'invalid ip, not in whitelist', kind: 'auth' },
  DATE_FORMAT: { errcode: 61500, errmsg: 'date format error', kind: 'invalid-argument' },
  DATE_RANGE: { errcode: 61501, errmsg: 'date range error', kind: 'invalid-argument' },
  DATA_NOT_READY: { errcode: 61503, errmsg: 'data not ready', kind: 'system' },
} as const satisfies Record<string, { errcode: number; errmsg: string; kind: ErrorKind }>;

export type ErrorName = keyof typeof ERRORS;
export type ErrCode = (typeof ERRORS)[ErrorName]['errcode'];

const BY_CODE = new Map<number, { errmsg: string; kind: ErrorKind }>(Object.values(ERRORS).map((e) => [e.errcode, e]));

/** WeChat's text for a code, or `undefined` for a code not in the table. */
export function errmsgOf(errcode: number): string | undefined {
  return BY_CODE.get(errcode)?.errmsg;
}

/** What kind of failure a code is (see `ErrorKind`); a code the table does not know counts as `system`. */
export function errorKindOf(errcode: number): ErrorKind {
  return BY_CODE.get(errcode)?.kind ?? 'system';
}

/** Codes that mean "this access token is no good": drop it, get another, try once more. */
export const TOKEN_INVALID_CODES: readonly number[] = [ERRORS.INVALID_CREDENTIAL.errcode, ERRORS.INVALID_ACCESS_TOKEN.errcode, ERRORS.ACCESS_TOKEN_EXPIRED.errcode];

/** Codes worth retrying after a pause (besides network failures): a system error, the minute quota. 45009 never is. */
export const RETRYABLE_CODES: readonly number[] = [ERRORS.SYSTEM_ERROR.errcode, ERRORS.MINUTE_QUOTA.errcode];

/**
 * A failure that has a WeChat errcode. Thrown by domain and service code, turned into
 * `{errcode, errmsg}` by the API layer and into a typed error by the SDK.
 */
export class WeChatError extends Error {
  readonly errcode: number;
  /** Extra detail appended to WeChat's message (for example which field was wrong). */
  readonly detail: string | undefined;

  constructor(name: ErrorName, detail?: string) {
    const e = ERRORS[name];
    super(detail ? `${e.errmsg} (${detail})` : e.errmsg);
    this.name = 'WeChatError';
    this.errcode = e.errcode;
    this.errmsg = e.errmsg;
    this.detail = detail;
  }

  /** WeChat's own text for the code, without our detail. */
  readonly errmsg: string;
}

/**
 * A value the client sent, quoted for an error's detail: JSON-quoted and cut to its first `max` characters, so a
 * 60 KB `begin_date` is not echoed back (or logged) whole.
 */
export function quoted(value: string, max = 32): string {
  return value.length > max ? `${JSON.stringify(value.slice(0, max))}… (${value.length} characters)` : JSON.stringify(value);
}

export function isWeChatError(e: unknown): e is WeChatError {
  return e instanceof WeChatError;
}

/**
 * 45011 with a time to wait: the server refuses this request for now (too many wrong secrets from this client or
 * for this app, or too much work queued) and says when to try again. Answered with HTTP 429 and `Retry-After`.
 */
export class RetryLaterError extends WeChatError {
  constructor(
    detail: string,
    readonly retryAfterSeconds: number,
  ) {
    super('MINUTE_QUOTA', detail);
    this.name = 'RetryLaterError';
  }
}
