import { ERRORS, errorKindOf, RETRYABLE_CODES, TOKEN_INVALID_CODES, type ErrorKind } from '../domain/errors.ts';

export type { ErrorKind };

/** What the SDK knows about an error besides WeChat's own `{errcode, errmsg}`. */
export interface WeChatApiErrorDetails {
  /** Which call failed: an API name (`getUserPortrait`), `stable_token`, `token` or `events`. */
  api?: string;
  /** HTTP status of the answer; undefined when there was no answer (network failure, timeout). */
  status?: number;
  /** Seconds the service asked us to wait (`Retry-After`), if it said. */
  retryAfter?: number;
  /** The underlying failure (a network error, a timeout). */
  cause?: unknown;
  /** Overrides the table's verdict on whether trying again may help (an HTTP 4xx page is -1 but not retryable). */
  retryable?: boolean;
}

const RID = /\brid: ?([0-9A-Za-z-]+)/;
const HINT = /hint: ?\[([^\]]*)\]/;

/**
 * Every failure of a WeChat or datacube call: WeChat's `errcode` and `errmsg` (exactly as sent, request id
 * included), the request id on its own (`rid`), and a `kind` from the same errcode table the datacube server
 * answers with: `auth`, `quota`, `invalid-argument`, `rate-limit` or `system`.
 *
 * A call that got no answer (refused connection, reset, timeout) fails with `errcode` -1, `kind: 'system'`, no
 * `rid` and the network error as `cause`. Match on `errcode` or `kind`, never on the text.
 */
export class WeChatApiError extends Error {
  readonly errcode: number;
  readonly errmsg: string;
  readonly rid: string | undefined;
  readonly kind: ErrorKind;
  /** The detail the service added (`hint: [...]` in the text), if any. */
  readonly hint: string | undefined;
  readonly api: string | undefined;
  readonly status: number | undefined;
  readonly retryAfter: number | undefined;
  /** True for the failures worth trying again after a pause: -1 (system error, no answer) and 45011 (minute quota). 45009 never is. */
  readonly retryable: boolean;

  constructor(errcode: number, errmsg: string, details: WeChatApiErrorDetails = {}) {
    super(`${details.api ? `${details.api}: ` : ''}${errcode} ${errmsg}`, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'WeChatApiError';
    this.errcode = errcode;
    this.errmsg = errmsg;
    this.rid = RID.exec(errmsg)?.[1];
    this.hint = HINT.exec(errmsg)?.[1];
    this.kind = errorKindOf(errcode);
    this.api = details.api;
    this.status = details.status;
    this.retryAfter = details.retryAfter;
    this.retryable = details.retryable ?? RETRYABLE_CODES.includes(errcode);
  }

  /** True when the access token was refused (40001, 40014, 42001): a new token may help. */
  get tokenInvalid(): boolean {
    return TOKEN_INVALID_CODES.includes(this.errcode);
  }

  /** A call that got no answer: the same shape, errcode -1. */
  static network(api: string | undefined, what: string, cause: unknown): WeChatApiError {
    return new WeChatApiError(ERRORS.SYSTEM_ERROR.errcode, what, { api, cause });
  }
}
