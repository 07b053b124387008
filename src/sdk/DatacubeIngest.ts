import { ERRORS } from '../domain/errors.ts';
import { OPENID_PATTERN } from '../domain/event.ts';
import { type ClockLike, nowMs, systemClock } from './clock.ts';
import { backoffDelay, type BackoffOptions, exchange, type FetchLike, request, sleep, type TransportOptions } from './http.ts';
import { MemoryTokenStore, type TokenEndpoint, TokenManager, type TokenStore } from './tokens.ts';
import { WeChatApiError } from './WeChatApiError.ts';
import { transportFrom, trimBaseUrl } from './WeChatClient.ts';

/** One event as `POST /v1/events` takes it (README "Sending events"). */
export interface DatacubeEvent {
  /** The user: 1–128 characters of `[A-Za-z0-9_-]`. */
  openid: string;
  /** When it happened: a `Date`, epoch milliseconds or ISO 8601 with an offset. Default: now (the client's clock). */
  time?: Date | number | string;
  /** Makes resends safe: an `(appid, event_id)` already stored is skipped. Default: a random UUID, kept across resends. */
  event_id?: string | number;
  /** `visit` (a page view, the default), `open` (launch or back to the foreground), `share`, or your own kind. */
  type?: 'visit' | 'open' | 'share' | (string & {});
  gender?: 0 | 1 | 2 | 'unknown' | 'male' | 'female';
  /** Whole years, 0–120. */
  age?: number;
  /** What `wx.getSystemInfo().platform` reports: `ios`, `android`, `ohos`, `windows`, `mac`, `devtools`, … */
  platform?: string;
  /** What `wx.getSystemInfo()` reports. */
  brand?: string;
  model?: string;
  /** Chinese names, with or without their suffix (`广东省`/`广东`, `广州市`/`广州`). */
  province?: string;
  city?: string;
  ip?: string;
  /** Page path, e.g. `pages/index/index`. */
  page?: string;
  /** WeChat's scene code of the open. */
  scene?: number;
  /** Groups events into one open. */
  session?: string;
  /** Seconds the page was in the foreground. */
  stay?: number;
}

/**
 * An event that was not stored. `reason` says why:
 * `rejected` — the server refused the event itself (malformed: errcode 47001 with the field in `errmsg`; or too
 * large on its own: 45002); sending it again would not help.
 * `undeliverable` — it could not be delivered: the credentials were refused, retries ran out, or `close` gave up waiting.
 */
export class IngestEventError<E extends DatacubeEvent = DatacubeEvent> extends WeChatApiError {
  readonly reason: 'rejected' | 'undeliverable';
  /** The event as it was sent (with its `event_id` and `time`). */
  readonly event: E;
  readonly eventId: string;

  constructor(from: WeChatApiError, event: E, eventId: string, reason: 'rejected' | 'undeliverable') {
    super(from.errcode, from.errmsg, {
      ...(from.api === undefined ? {} : { api: from.api }),
      ...(from.status === undefined ? {} : { status: from.status }),
      ...(from.cause === undefined ? {} : { cause: from.cause }),
      retryable: false,
    });
    this.name = 'IngestEventError';
    this.reason = reason;
    this.event = event;
    this.eventId = eventId;
  }
}

export interface DatacubeIngestOptions<E extends DatacubeEvent = DatacubeEvent> {
  /** The datacube server, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  appid: string;
  secret: string;
  /** Events per request (default 500; the server takes up to 10,000). */
  maxBatchEvents?: number;
  /** Bytes of JSON per request (default 1 MiB; the server takes up to 10 MB). A larger single event goes alone. */
  maxBatchBytes?: number;
  /** How long an event may wait for its batch to fill, ms (default 1,000). */
  flushIntervalMs?: number;
  /** Attempts after the first for a batch that got -1, 45011 or no answer (default 10: one to two minutes of backoff in all). */
  retries?: number;
  backoff?: BackoffOptions;
  /** Per request, ms (default 30,000: the server answers once the batch is durable). */
  timeoutMs?: number;
  /** Events waiting at most; past it `track` reports new events as undeliverable (default 100,000). */
  maxQueueEvents?: number;
  /** Called for every event that was not stored (see IngestEventError). Default: a warning on the console per batch. */
  onError?: (error: IngestEventError<E>, event: E) => void;
  tokenStore?: TokenStore;
  tokenEndpoint?: TokenEndpoint;
  fetch?: FetchLike;
  /** "Now", for events without a `time` and for token lifetimes. */
  clock?: ClockLike;
}

/** What happened to the events tracked so far. */
export interface IngestStats {
  tracked: number;
  /** Stored by this client's requests. */
  accepted: number;
  /** Already stored when they arrived (a resend of a batch whose answer was lost). */
  duplicates: number;
  /** Refused by the server as malformed (see `onError`). */
  rejected: number;
  /** Given up on (see `onError`). */
  undeliverable: number;
  /** Waiting or being sent. */
  pending: number;
}

/** What `deleteUsers` removed, as the server counted it. */
export interface DeletedUsers {
  /** Openids of the list the app had anything of (events or derived rows). */
  users: number;
  /** Their events removed. */
  events: number;
}

export interface DeleteUsersOptions {
  signal?: AbortSignal;
  /**
   * Per request, ms (default 300,000). A deletion answers once the data is gone: on DuckDB after the database file is
   * written afresh, which takes time in proportion to its size. (Node's own `fetch` waits at most 300 s for an answer.)
   */
  timeoutMs?: number;
}

/** Openids per `POST /v1/users/delete` (the server takes at most 1,000). */
export const DELETE_USERS_PER_REQUEST = 1000;
const DELETE_TIMEOUT_MS = 300_000;

interface Queued<E> {
  event: E;
  eventId: string;
  json: string;
  bytes: number;
  at: number;
}

const DEFAULT_BACKOFF: Required<BackoffOptions> = { baseMs: 200, maxMs: 30_000 };
const MAX_GAP_MS = 10_000;

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

function positive(name: string, v: number | undefined, dflt: number): number {
  const x = v ?? dflt;
  if (!(x > 0) || !Number.isFinite(x)) throw new TypeError(`${name} must be a positive number, not ${String(v)}`);
  return x;
}

/**
 * Sends events to a datacube server (`POST /v1/events`): batched by count, bytes and time; every event keeps one
 * `event_id` across resends, so a batch resent after a lost answer is stored once; retried with backoff on -1,
 * 45011 and network failures; slowed down when the server answers 45011 (its `Retry-After` honoured, later
 * batches spaced out until answers come back clean); malformed events reported to `onError`.
 * Call `flush()` to wait for everything tracked so far, `close()` before the process ends.
 */
export class DatacubeIngest<E extends DatacubeEvent = DatacubeEvent> {
  private readonly baseUrl: string;
  private readonly transport: TransportOptions;
  private readonly tokens: TokenManager;
  private readonly clock: ClockLike;
  private readonly maxBatchEvents: number;
  private readonly maxBatchBytes: number;
  private readonly flushIntervalMs: number;
  private readonly maxQueueEvents: number;
  private readonly onError: ((error: IngestEventError<E>, event: E) => void) | undefined;
  private readonly random = Math.random;

  private queue: Queued<E>[] = [];
  private queuedBytes = 0;
  private sending = 0;
  private pumping = false;
  private draining = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private idleWaiters: (() => void)[] = [];
  private closed = false;
  private readonly abort = new AbortController();
  /** Extra pause between requests while the server says it is saturated (45011); halves after each clean answer. */
  private gapMs = 0;
  private pauseUntil = 0;
  private readonly counts = { tracked: 0, accepted: 0, duplicates: 0, rejected: 0, undeliverable: 0 };

  constructor(options: DatacubeIngestOptions<E>) {
    if (typeof options.appid !== 'string' || options.appid === '') throw new TypeError('appid is required');
    if (typeof options.secret !== 'string' || options.secret === '') throw new TypeError('secret is required');
    if (typeof options.baseUrl !== 'string') throw new TypeError('baseUrl is required (the datacube server)');
    this.baseUrl = trimBaseUrl(options.baseUrl);
    this.clock = options.clock ?? systemClock;
    this.transport = transportFrom(options, { timeoutMs: 30_000, retries: 10, backoff: DEFAULT_BACKOFF });
    this.tokens = new TokenManager({
      appid: options.appid,
      secret: options.secret,
      baseUrl: this.baseUrl,
      endpoint: options.tokenEndpoint ?? 'stable_token',
      store: options.tokenStore ?? new MemoryTokenStore(this.clock),
      // The send loop below retries (with its pacing); the token fetch inside it tries once per attempt.
      transport: { ...this.transport, retries: 0 },
    });
    this.maxBatchEvents = positive('maxBatchEvents', options.maxBatchEvents, 500);
    this.maxBatchBytes = positive('maxBatchBytes', options.maxBatchBytes, 1024 * 1024);
    this.flushIntervalMs = positive('flushIntervalMs', options.flushIntervalMs, 1000);
    this.maxQueueEvents = positive('maxQueueEvents', options.maxQueueEvents, 100_000);
    this.onError = options.onError;
  }

  /**
   * Queues one event and returns its `event_id` (the one given, or a new UUID). Throws a TypeError for a value
   * that cannot be sent as JSON, and an Error after `close()`.
   */
  track(event: E): string {
    if (this.closed) throw new Error('DatacubeIngest is closed');
    if (event === null || typeof event !== 'object') throw new TypeError('an event must be an object');
    const eventId = event.event_id === undefined ? globalThis.crypto.randomUUID() : String(event.event_id);
    const time = event.time === undefined ? nowMs(this.clock) : event.time instanceof Date ? event.time.getTime() : event.time;
    const sent = { ...event, event_id: event.event_id ?? eventId, time } as E;
    let json: string;
    try {
      json = JSON.stringify(sent);
    } catch (e) {
      throw new TypeError(`the event cannot be sent as JSON: ${e instanceof Error ? e.message : String(e)}`);
    }
    this.counts.tracked++;
    if (this.queue.length >= this.maxQueueEvents) {
      const err = new WeChatApiError(ERRORS.SYSTEM_ERROR.errcode, `the ingest queue is full (${this.maxQueueEvents} events wait for the server); event dropped`, { api: 'events' });
      this.fail([{ event: sent, eventId, json, bytes: 0, at: 0 }], err, 'undeliverable');
      return eventId;
    }
    const bytes = utf8Length(json);
    this.queue.push({ event: sent, eventId, json, bytes, at: nowMs(systemClock) });
    this.queuedBytes += bytes;
    if (this.queue.length >= this.maxBatchEvents || this.queuedBytes >= this.maxBatchBytes) this.kick();
    else if (!this.timer && !this.pumping) this.schedule(this.flushIntervalMs);
    return eventId;
  }

  /** Sends everything tracked so far (and anything tracked meanwhile); resolves once each event is stored or reported to `onError`. */
  async flush(): Promise<IngestStats> {
    this.draining++;
    try {
      await this.whenIdle();
    } finally {
      this.draining--;
    }
    return this.stats();
  }

  /**
   * Flushes, then refuses further events. With `timeoutMs`, events still unsent by then are reported to
   * `onError` as undeliverable and close resolves.
   */
  async close(options: { timeoutMs?: number } = {}): Promise<IngestStats> {
    this.closed = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    if (options.timeoutMs !== undefined) timer = setTimeout(() => this.abort.abort(new Error(`close gave up after ${options.timeoutMs} ms`)), options.timeoutMs);
    try {
      return await this.flush();
    } finally {
      if (timer) clearTimeout(timer);
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  stats(): IngestStats {
    return { ...this.counts, pending: this.queue.length + this.sending };
  }

  /**
   * Deletes users of the app with everything datacube holds of them (`POST /v1/users/delete`): their events and every
   * derived row; the analysis APIs then answer as if they had never been seen, and one who comes back is new.
   * Events tracked before the call are sent first (so they are deleted too, not stored after the deletion).
   * Any number of openids: duplicates are dropped and the rest sent 1,000 a request; it resolves once all are gone.
   * Throws a TypeError for something that is not an openid (before anything is sent) and a WeChatApiError for a
   * refused or failed request; the requests before it stay done, and calling again is safe (deleting a user twice
   * removes nothing more), so a request resent after a lost answer counts only what was left.
   */
  async deleteUsers(openids: readonly string[], options: DeleteUsersOptions = {}): Promise<DeletedUsers> {
    if (!Array.isArray(openids)) throw new TypeError('openids must be an array of openids');
    openids.forEach((o: unknown, i) => {
      if (typeof o !== 'string' || !OPENID_PATTERN.test(o)) {
        throw new TypeError(`openids[${i}] is not an openid (1-128 characters of [A-Za-z0-9_-]): ${JSON.stringify(o) ?? String(o)}`);
      }
    });
    const list = [...new Set(openids)];
    const deleted: DeletedUsers = { users: 0, events: 0 };
    if (list.length === 0) return deleted;
    await this.flush();
    const count = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
    for (let i = 0; i < list.length; i += DELETE_USERS_PER_REQUEST) {
      const json = await this.post('users/delete', '/v1/users/delete', { openids: list.slice(i, i + DELETE_USERS_PER_REQUEST) }, options);
      deleted.users += count(json.users);
      deleted.events += count(json.events);
    }
    return deleted;
  }

  /** One POST with the app's token: retried like the client's batches (-1, 45011, no answer); a refused token renewed once. */
  private async post(api: string, path: string, body: unknown, options: DeleteUsersOptions): Promise<Record<string, unknown>> {
    const signal = options.signal;
    const send = async (token: string) =>
      (
        await request(this.transport, {
          api,
          method: 'POST',
          url: `${this.baseUrl}${path}?access_token=${encodeURIComponent(token)}`,
          body: JSON.stringify(body),
          timeoutMs: options.timeoutMs ?? Math.max(this.transport.timeoutMs, DELETE_TIMEOUT_MS),
          ...(signal ? { signal } : {}),
        })
      ).json;
    const token = await this.tokens.get(signal);
    try {
      return await send(token);
    } catch (e) {
      if (!(e instanceof WeChatApiError && e.tokenInvalid)) throw e;
      return send(await this.tokens.renew(token, signal));
    }
  }

  // ---- sending

  private whenIdle(): Promise<void> {
    if (this.queue.length === 0 && !this.pumping) return Promise.resolve();
    const p = new Promise<void>((r) => this.idleWaiters.push(r));
    this.kick();
    return p;
  }

  private schedule(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.kick();
    }, Math.max(0, ms));
  }

  private kick(): void {
    if (this.pumping) return;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.pumping = true;
    void this.pump().finally(() => {
      this.pumping = false;
      if (this.queue.length === 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const w of waiters) w();
      } else if (this.draining > 0) this.kick();
    });
  }

  private async pump(): Promise<void> {
    while (this.queue.length > 0) {
      const head = this.queue[0];
      const full = this.queue.length >= this.maxBatchEvents || this.queuedBytes >= this.maxBatchBytes;
      const waited = head ? nowMs(systemClock) - head.at : 0;
      if (!full && this.draining === 0 && waited < this.flushIntervalMs) {
        this.schedule(this.flushIntervalMs - waited);
        return;
      }
      const batch = this.take();
      this.sending += batch.length;
      try {
        await this.send(batch);
      } finally {
        this.sending -= batch.length;
      }
    }
  }

  /** The oldest events, up to the batch limits (always at least one). */
  private take(): Queued<E>[] {
    let n = 0;
    let bytes = 0;
    for (const q of this.queue) {
      if (n > 0 && (n >= this.maxBatchEvents || bytes + q.bytes + 1 > this.maxBatchBytes)) break;
      n++;
      bytes += q.bytes + 1;
    }
    const batch = this.queue.splice(0, n);
    for (const q of batch) this.queuedBytes -= q.bytes;
    return batch;
  }

  /** Sends one batch until it is answered, split, or given up on. */
  private async send(batch: Queued<E>[]): Promise<void> {
    const body = `[${batch.map((q) => q.json).join(',')}]`;
    let tokenRetried = false;
    for (let attempt = 0; ; ) {
      if (this.abort.signal.aborted) return this.fail(batch, this.aborted(), 'undeliverable');
      let token: string | undefined;
      try {
        await this.pace();
        token = await this.tokens.get(this.abort.signal);
        const answer = await exchange(this.transport, {
          api: 'events',
          method: 'POST',
          url: `${this.baseUrl}/v1/events?access_token=${encodeURIComponent(token)}`,
          body,
          signal: this.abort.signal,
        });
        this.gapMs = this.gapMs < 20 ? 0 : this.gapMs / 2;
        return this.settle(batch, answer.json);
      } catch (e) {
        if (this.abort.signal.aborted) return this.fail(batch, this.aborted(), 'undeliverable');
        if (!(e instanceof WeChatApiError)) {
          return this.fail(batch, new WeChatApiError(ERRORS.SYSTEM_ERROR.errcode, `unexpected failure: ${e instanceof Error ? e.message : String(e)}`, { api: 'events', cause: e, retryable: false }), 'undeliverable');
        }
        if (e.tokenInvalid && token !== undefined && !tokenRetried) {
          tokenRetried = true;
          try {
            await this.tokens.renew(token, this.abort.signal);
            continue;
          } catch (renewError) {
            e = renewError instanceof WeChatApiError ? renewError : new WeChatApiError(ERRORS.SYSTEM_ERROR.errcode, String(renewError), { api: 'events', retryable: false });
          }
        }
        const err = e as WeChatApiError;
        if (err.errcode === ERRORS.CONTENT_TOO_LARGE.errcode) {
          // The server takes less than we sent: halve the batch (one event too large on its own is refused).
          if (batch.length === 1) return this.fail(batch, err, 'rejected');
          const half = Math.ceil(batch.length / 2);
          await this.send(batch.slice(0, half));
          return this.send(batch.slice(half));
        }
        if (!err.retryable || attempt >= this.transport.retries) return this.fail(batch, err, 'undeliverable');
        const delay = backoffDelay(attempt, this.transport.backoff, this.random, err.retryAfter);
        if (err.errcode === ERRORS.MINUTE_QUOTA.errcode) {
          // Saturated: wait as asked, then keep later batches spaced out until answers come back clean.
          this.gapMs = Math.min(MAX_GAP_MS, Math.max(100, this.gapMs * 2));
        }
        this.pauseUntil = Math.max(this.pauseUntil, nowMs(systemClock) + delay);
        attempt++;
      }
    }
  }

  private async pace(): Promise<void> {
    const wait = Math.max(this.pauseUntil - nowMs(systemClock), this.gapMs);
    if (wait > 0) await sleep(wait, this.abort.signal);
  }

  private aborted(): WeChatApiError {
    const reason: unknown = this.abort.signal.reason;
    return new WeChatApiError(ERRORS.SYSTEM_ERROR.errcode, reason instanceof Error ? reason.message : 'closed before delivery', { api: 'events', retryable: false });
  }

  private settle(batch: Queued<E>[], json: Record<string, unknown>): void {
    const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
    this.counts.accepted += n(json.accepted);
    this.counts.duplicates += n(json.duplicates);
    const rejected = Array.isArray(json.rejected) ? json.rejected : [];
    for (const r of rejected) {
      if (r === null || typeof r !== 'object') continue;
      const { index, errcode, errmsg } = r as { index?: unknown; errcode?: unknown; errmsg?: unknown };
      const q = typeof index === 'number' ? batch[index] : undefined;
      if (!q) continue;
      const err = new WeChatApiError(typeof errcode === 'number' ? errcode : ERRORS.DATA_FORMAT.errcode, typeof errmsg === 'string' ? errmsg : '', { api: 'events' });
      this.fail([q], err, 'rejected');
    }
  }

  private fail(items: Queued<E>[], err: WeChatApiError, reason: 'rejected' | 'undeliverable'): void {
    if (reason === 'rejected') this.counts.rejected += items.length;
    else this.counts.undeliverable += items.length;
    if (!this.onError) {
      console.warn(`datacube ingest: ${items.length} event(s) ${reason === 'rejected' ? 'rejected' : 'not delivered'}: ${err.message}`);
      return;
    }
    for (const q of items) {
      try {
        this.onError(new IngestEventError<E>(err, q.event, q.eventId, reason), q.event);
      } catch {
        // A throwing hook must not stop delivery of the other events.
      }
    }
  }
}
