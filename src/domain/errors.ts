/**
 * WeChat's error codes: one table, used by the server (to answer) and by the SDK (to type what it receives).
 * Texts are the ones WeChat sends; clients match on the number, never on the text.
 */
export const ERRORS = {
  SYSTEM_ERROR: { errcode: -1, errmsg: 'system error' },
  OK: { errcode: 0, errmsg: 'ok' },
  INVALID_CREDENTIAL: { errcode: 40001, errmsg: 'invalid credential, access_token is invalid or not latest' },
  INVALID_GRANT_TYPE: { errcode: 40002, errmsg: 'invalid grant_type' },
  INVALID_APPID: { errcode: 40013, errmsg: 'invalid appid' },
  INVALID_APPSECRET: { errcode: 40125, errmsg: 'invalid appsecret' },
  ACCESS_TOKEN_MISSING: { errcode: 41001, errmsg: 'access_token missing' },
  ACCESS_TOKEN_EXPIRED: { errcode: 42001, errmsg: 'access_token expired' },
  DAILY_QUOTA: { errcode: 45009, errmsg: 'reach max api daily quota limit' },
  MINUTE_QUOTA: { errcode: 45011, errmsg: 'api minute-quota reach limit must slower retry next minute' },
  EMPTY_POST_DATA: { errcode: 44002, errmsg: 'empty post data' },
  /** A request body over the size limit, or a batch over the event limit. */
  CONTENT_TOO_LARGE: { errcode: 45002, errmsg: 'content size out of limit' },
  /** stable_token's forced refresh: at most 20 a day, 30 s apart. */
  FORCE_REFRESH_LIMIT: { errcode: 45009, errmsg: 'reach max api daily quota limit' },
  DATA_FORMAT: { errcode: 47001, errmsg: 'data format error' },
  API_UNAUTHORIZED: { errcode: 48001, errmsg: 'api unauthorized' },
  /** Our own use, in WeChat's style: an admin or ingest request the caller may not make. */
  INVALID_IP_OR_KEY: { errcode: 40164, errmsg: 'invalid ip, not in whitelist' },
  DATE_FORMAT: { errcode: 61500, errmsg: 'date format error' },
  DATE_RANGE: { errcode: 61501, errmsg: 'date range error' },
  DATA_NOT_READY: { errcode: 61503, errmsg: 'data not ready' },
} as const;

export type ErrorName = keyof typeof ERRORS;
export type ErrCode = (typeof ERRORS)[ErrorName]['errcode'];

const BY_CODE = new Map<number, string>(Object.values(ERRORS).map((e) => [e.errcode, e.errmsg]));

/** WeChat's text for a code, or `undefined` for a code not in the table. */
export function errmsgOf(errcode: number): string | undefined {
  return BY_CODE.get(errcode);
}

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

export function isWeChatError(e: unknown): e is WeChatError {
  return e instanceof WeChatError;
}
