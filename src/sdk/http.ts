import { WeChatApiError } from './WeChatApiError.ts';

/**
 * The `fetch` the SDK needs: Node 20's global `fetch` fits, and so does any function taking these arguments
 * and returning an answer with `status`, `headers.get` and `text()` (to count, log or reroute requests).
 */
export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string; signal: AbortSignal },
) => Promise<{ status: number; headers: { get(name: string): string | null }; text(): Promise<string> }>;

/** Exponential backoff with jitter: attempt n waits between half and all of `min(maxMs, baseMs × 2ⁿ)`. */
export interface BackoffOptions {
  /** The first retry's ceiling, ms (default 200). */
  baseMs?: number;
  /** The largest pause between two attempts, ms (default 5,000). A longer `Retry-After` is honoured up to 60 s. */
  maxMs?: number;
}

export interface TransportOptions {
  fetch: FetchLike;
  /** Per attempt, ms. */
  timeoutMs: number;
  /** Attempts after the first, for retryable failures only. */
  retries: number;
  backoff: Required<BackoffOptions>;
  random?: () => number;
}

export interface HttpRequest {
  /** For errors: which API this is. */
  api: string;
  method: 'GET' | 'POST';
  url: string;
  body?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface HttpAnswer {
  status: number;
  json: Record<string, unknown>;
}

const MAX_RETRY_AFTER_MS = 60_000;

/** Seconds from a `Retry-After` header (delta-seconds or an HTTP date); undefined if absent or unreadable. */
export function retryAfterSeconds(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(header.trim())) return Number(header.trim());
  const at = Date.parse(header);
  return Number.isFinite(at) ? Math.max(0, (at - now) / 1000) : undefined;
}

/** The pause before retry number `attempt` (0-based), honouring the service's `Retry-After`. */
export function backoffDelay(attempt: number, backoff: Required<BackoffOptions>, random: () => number, retryAfter?: number): number {
  const ceiling = Math.min(backoff.maxMs, backoff.baseMs * 2 ** attempt);
  const jittered = ceiling / 2 + (random() * ceiling) / 2;
  const asked = retryAfter === undefined ? 0 : Math.min(MAX_RETRY_AFTER_MS, retryAfter * 1000);
  return Math.max(jittered, asked);
}

/** Waits `ms`, or rejects when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * One HTTP exchange: a timeout, the answer read as JSON, WeChat's `{errcode≠0}` thrown as a WeChatApiError
 * (with the HTTP status and `Retry-After`), no answer thrown as errcode -1 with the network error as its cause.
 */
export async function exchange(t: TransportOptions, req: HttpRequest): Promise<HttpAnswer> {
  const timeoutMs = req.timeoutMs ?? t.timeoutMs;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
  let status: number;
  let text: string;
  let retryAfter: number | undefined;
  try {
    const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
    if (req.body !== undefined) headers['content-type'] ??= 'application/json';
    const res = await t.fetch(req.url, { method: req.method, headers, ...(req.body === undefined ? {} : { body: req.body }), signal });
    status = res.status;
    retryAfter = retryAfterSeconds(res.headers.get('retry-after'));
    text = await res.text();
  } catch (e) {
    if (req.signal?.aborted) throw req.signal.reason;
    if (timeout.aborted) throw WeChatApiError.network(req.api, `no answer within ${timeoutMs} ms (timeout)`, e);
    throw WeChatApiError.network(req.api, `network error: ${describe(e)}`, e);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    // Not WeChat's JSON: a proxy's error page, a gateway timeout. Worth retrying only if the server side failed.
    const what = `HTTP ${status}, not a JSON object: ${text.slice(0, 200)}`;
    throw new WeChatApiError(-1, what, { api: req.api, status, retryable: status >= 500, ...(retryAfter === undefined ? {} : { retryAfter }) });
  }
  const body = json as Record<string, unknown>;
  const errcode = body.errcode;
  if (typeof errcode === 'number' && errcode !== 0) {
    throw new WeChatApiError(errcode, typeof body.errmsg === 'string' ? body.errmsg : '', { api: req.api, status, ...(retryAfter === undefined ? {} : { retryAfter }) });
  }
  return { status, json: body };
}

function describe(e: unknown): string {
  if (e instanceof Error) {
    const cause = (e as { cause?: unknown }).cause;
    const detail = cause instanceof Error ? `: ${(cause as { code?: string }).code ?? cause.message}` : '';
    return `${e.message}${detail}`;
  }
  return String(e);
}

/** Whether a failure is worth another attempt: -1 (including no answer or a 5xx page) and 45011; never 45009. */
export function shouldRetry(e: unknown): e is WeChatApiError {
  return e instanceof WeChatApiError && e.retryable;
}

/** `exchange` with retries on -1, 45011 and network failures, exponential backoff with jitter between them. */
export async function request(t: TransportOptions, req: HttpRequest): Promise<HttpAnswer> {
  const random = t.random ?? Math.random;
  for (let attempt = 0; ; attempt++) {
    try {
      return await exchange(t, req);
    } catch (e) {
      if (!shouldRetry(e) || attempt >= t.retries) throw e;
      await sleep(backoffDelay(attempt, t.backoff, random, e.retryAfter), req.signal);
    }
  }
}
