import { type ClockLike, nowMs } from './clock.ts';
import { request, type TransportOptions } from './http.ts';
import { WeChatApiError } from './WeChatApiError.ts';

/**
 * Where access tokens are kept, so that several clients — in one process or many — share one token instead of
 * each fetching (and, with `/cgi-bin/token`, invalidating) their own. `set` gives the seconds the entry may be
 * used; a store that honours it (Redis `SET key value EX ttl`, a database row with an expiry) makes every sharer
 * refresh in time. A plain `Map` also works (it just keeps a token until a call finds it refused).
 */
export interface TokenStore {
  get(key: string): string | null | undefined | Promise<string | null | undefined>;
  /** Keeps `token` under `key` for `ttlSeconds` seconds (the token's life less 5 minutes). */
  set(key: string, token: string, ttlSeconds: number): unknown;
  /** Drops the entry (called when WeChat refuses the token it holds); optional — the next `set` replaces it anyway. */
  delete?(key: string): unknown;
}

/** The default store: this process's memory, with TTLs on the client's clock. */
export class MemoryTokenStore implements TokenStore {
  private readonly entries = new Map<string, { token: string; until: number }>();
  constructor(private readonly clock: ClockLike = { now: () => Date.now() }) {}
  get(key: string): string | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (nowMs(this.clock) >= e.until) {
      this.entries.delete(key);
      return undefined;
    }
    return e.token;
  }
  set(key: string, token: string, ttlSeconds: number): void {
    this.entries.set(key, { token, until: nowMs(this.clock) + ttlSeconds * 1000 });
  }
  delete(key: string): void {
    this.entries.delete(key);
  }
}

/**
 * Which token route to use. `stable_token` (the default) hands every caller the same token while it is valid,
 * so servers do not invalidate each other's; `token` is the classic `/cgi-bin/token`, which issues a new token on
 * every call (the previous one dies 5 minutes later).
 */
export type TokenEndpoint = 'stable_token' | 'token';

/** A token is used until this long before it expires. */
export const REFRESH_MARGIN_SECONDS = 300;

/**
 * Seconds a new token may be used: until 5 minutes before it expires. A token with less than 10 minutes left
 * (a stable token near its end) is used for half of what remains, so a client never refreshes on every call.
 */
export function usableSeconds(expiresIn: number): number {
  return expiresIn > 2 * REFRESH_MARGIN_SECONDS ? expiresIn - REFRESH_MARGIN_SECONDS : Math.max(1, Math.floor(expiresIn / 2));
}

export interface TokenSourceOptions {
  appid: string;
  secret: string;
  /** The base URL without a trailing slash. */
  baseUrl: string;
  endpoint: TokenEndpoint;
  store: TokenStore;
  transport: TransportOptions;
}

/**
 * The access token of one app: read from the store; fetched when the store has none, with one fetch in flight
 * however many calls wait for it; replaced (once per refused token) when WeChat refuses it with 40001/42001.
 */
export class TokenManager {
  private inflight: Promise<string> | undefined;
  readonly key: string;

  constructor(private readonly o: TokenSourceOptions) {
    this.key = `wechat-access-token:${o.endpoint}:${o.appid}@${o.baseUrl}`;
  }

  /** A token to call with. */
  async get(signal?: AbortSignal): Promise<string> {
    if (this.inflight) return this.inflight;
    const stored = await this.o.store.get(this.key);
    if (typeof stored === 'string' && stored !== '') return stored;
    return this.refresh(undefined, signal);
  }

  /**
   * The token `refused` was refused: returns the one to retry with. If another call already replaced it, that
   * replacement; otherwise a fresh fetch (for a stable token that comes back unchanged, a forced refresh).
   */
  async renew(refused: string, signal?: AbortSignal): Promise<string> {
    if (this.inflight) return this.inflight;
    const stored = await this.o.store.get(this.key);
    if (typeof stored === 'string' && stored !== '' && stored !== refused) return stored;
    if (stored === refused) await this.o.store.delete?.(this.key);
    return this.refresh(refused, signal);
  }

  private refresh(refused: string | undefined, signal?: AbortSignal): Promise<string> {
    if (this.inflight) return this.inflight;
    const p = (async () => {
      let t = await this.fetchToken(false, signal);
      if (refused !== undefined && t.token === refused && this.o.endpoint === 'stable_token') {
        try {
          t = await this.fetchToken(true, signal);
        } catch (e) {
          // The forced refresh was refused (45009: 20 a day, 30 s apart) or failed: the stable route still names this
          // token as current, so the one retry goes out with it (it answers for itself) instead of failing with 45009.
          if (!(e instanceof WeChatApiError)) throw e;
        }
      }
      await this.o.store.set(this.key, t.token, usableSeconds(t.expiresIn));
      return t.token;
    })();
    this.inflight = p;
    // The next caller after this settles reads the store (or, after a failure, tries again).
    const clear = () => {
      if (this.inflight === p) this.inflight = undefined;
    };
    p.then(clear, clear);
    return p;
  }

  private async fetchToken(forceRefresh: boolean, signal?: AbortSignal): Promise<{ token: string; expiresIn: number }> {
    const { appid, secret, baseUrl, endpoint } = this.o;
    const answer =
      endpoint === 'stable_token'
        ? await request(this.o.transport, {
            api: 'stable_token',
            method: 'POST',
            url: `${baseUrl}/cgi-bin/stable_token`,
            body: JSON.stringify({ grant_type: 'client_credential', appid, secret, force_refresh: forceRefresh }),
            ...(signal ? { signal } : {}),
          })
        : await request(this.o.transport, {
            api: 'token',
            method: 'GET',
            url: `${baseUrl}/cgi-bin/token?grant_type=client_credential&appid=${encodeURIComponent(appid)}&secret=${encodeURIComponent(secret)}`,
            ...(signal ? { signal } : {}),
          });
    const { access_token: token, expires_in: expiresIn } = answer.json;
    if (typeof token !== 'string' || token === '' || typeof expiresIn !== 'number' || !(expiresIn > 0)) {
      throw new WeChatApiError(-1, `the token answer has no access_token/expires_in: ${JSON.stringify(answer.json).slice(0, 200)}`, {
        api: endpoint,
        status: answer.status,
        retryable: false,
      });
    }
    return { token, expiresIn };
  }
}
