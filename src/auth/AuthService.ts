import { createHash } from 'node:crypto';
import type { Clock } from '../domain/clock.ts';
import { today } from '../domain/clock.ts';
import { startOfDay } from '../domain/day.ts';
import { WeChatError } from '../domain/errors.ts';
import { retainDaysProblem } from '../domain/retention.ts';
import type { AppRecord, TokenKind, TokenRecord } from '../store/records.ts';
import type { Store } from '../store/store.ts';
import { APPID_PATTERN, SECRET_PATTERN, envIdProblem, hashSecret, hashToken, newAppid, newSecret, newToken, Sealer, verifySecret } from './crypto.ts';
import { FailureLimiter } from './failureLimiter.ts';
import { KeyedSerial } from './keyedSerial.ts';
import { WorkPool } from './workPool.ts';

/** After a new token is issued, the previous one keeps working this long (WeChat: 5 minutes). */
export const TOKEN_OVERLAP_MS = 5 * 60_000;
/** stable_token force_refresh: at most 20 a day, at least 30 s apart. */
const FORCE_REFRESH_PER_DAY = 20;
const FORCE_REFRESH_GAP_MS = 30_000;
/** How long a looked-up token or app may be served from memory (servers sharing a ClickHouse see changes within it). */
const CACHE_MS = 5_000;
/** Most entries each lookup cache holds; past it the cache starts over (well-formed unknown appids are unlimited). */
const CACHE_ENTRIES = 10_000;
/**
 * How long a successful secret check is remembered (by a hash of appid and secret), so that a client asking for
 * tokens again, or several workers starting together, do not each pay scrypt; and so that a client whose secret was
 * verified recently is not refused while someone else sends wrong secrets for its appid.
 */
export const VERIFIED_SECRET_MS = 5 * 60_000;
/** Bounds of an app's daily quota and of its name and cloud env id. */
const MAX_DAILY_QUOTA = 1_000_000_000;
const MAX_NAME = 128;

function checkAppInput(input: { name?: string; env?: string; dailyQuota?: number; retainDays?: number | null }): void {
  if (input.retainDays !== undefined && input.retainDays !== null) {
    const problem = retainDaysProblem(input.retainDays);
    if (problem) throw new Error(problem);
  }
  if (input.dailyQuota !== undefined && (!Number.isSafeInteger(input.dailyQuota) || input.dailyQuota < 1 || input.dailyQuota > MAX_DAILY_QUOTA)) {
    throw new Error(`dailyQuota must be a whole number from 1 to ${MAX_DAILY_QUOTA}`);
  }
  if (input.name !== undefined && (input.name.length === 0 || input.name.length > MAX_NAME)) throw new Error(`name must be 1-${MAX_NAME} characters`);
  if (input.env !== undefined) {
    const why = envIdProblem(input.env);
    if (why) throw new Error(why);
  }
}

export interface IssuedToken {
  access_token: string;
  expires_in: number;
}

export interface AuthOptions {
  tokenTtlSeconds: number;
  defaultDailyQuota: number;
  /** Secret checks (scrypt) at once (default 1). */
  scryptConcurrency?: number;
  /** Wrong secrets a client IP may send in 60 s (default 10). */
  secretFailuresPerIp?: number;
  /** Wrong secrets an appid may receive in 60 s (default 30). */
  secretFailuresPerApp?: number;
}

/** The key of one app's calls of one API on one day in `usage`. */
function usageKey(appid: string, api: string, day: number): string {
  return `${appid}\u0000${api}\u0000${day}`;
}

/**
 * Apps, secrets, access tokens (both kinds) and per-app daily quotas. Secrets and tokens are kept only as
 * hashes (plus copies sealed with the server's master key where the plain value must be given back).
 */
export class AuthService {
  /**
   * Tokens looked up in the last CACHE_MS, by the token itself (in memory only, like the requests that carry it): a
   * hit costs no hash. The store keeps only hashes.
   */
  private readonly tokenCache = new Map<string, { record: TokenRecord; until: number }>();
  private readonly appCache = new Map<string, { app: AppRecord | undefined; until: number }>();
  private readonly usage = new Map<string, { calls: number; pending: number }>();
  /** Token issuance, one at a time per app and kind (see `issue`). */
  private readonly issuing = new KeyedSerial();
  private readonly scrypt: WorkPool;
  private readonly failures: FailureLimiter;
  /** sha256(appid, secret) → the stored hash it matched, until when (see VERIFIED_SECRET_MS). */
  private readonly verified = new Map<string, { secretHash: string; until: number }>();
  /** Checks under way, so concurrent requests with the same secret share one scrypt. */
  private readonly checking = new Map<string, Promise<boolean>>();
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly sealer: Sealer,
    private readonly opts: AuthOptions,
  ) {
    this.scrypt = new WorkPool(opts.scryptConcurrency ?? 1);
    this.failures = new FailureLimiter(opts.secretFailuresPerIp ?? 10, opts.secretFailuresPerApp ?? 30, () => this.clock.now());
  }

  // ---- apps

  /**
   * Creates an app with a new random appid and secret, or with the given ones (seeded demo data: both must have the
   * usual form and the appid must be free).
   */
  async createApp(
    input: { name?: string; env?: string; dailyQuota?: number; collect?: boolean; credentials?: { appid: string; secret: string } } = {},
  ): Promise<{ app: AppRecord; secret: string }> {
    checkAppInput(input);
    const given = input.credentials;
    if (given) {
      if (!APPID_PATTERN.test(given.appid)) throw new Error('appid must be "wx" and 16 lowercase hex characters');
      if (!SECRET_PATTERN.test(given.secret)) throw new Error('secret must be 32 lowercase hex characters');
      if (await this.store.getApp(given.appid)) throw new Error(`app ${given.appid} already exists`);
    }
    const appid = given?.appid ?? newAppid();
    const secret = given?.secret ?? newSecret();
    const app: AppRecord = {
      appid,
      name: input.name ?? appid,
      secretHash: hashSecret(secret),
      secretSealed: this.sealer.seal(secret, `secret:${appid}`),
      env: input.env ?? appid,
      dailyQuota: input.dailyQuota ?? this.opts.defaultDailyQuota,
      createdAt: this.clock.now(),
      collect: input.collect ?? true,
    };
    if (input.env && (await this.store.getAppByEnv(input.env))) throw new Error(`the cloud env "${input.env}" already belongs to another app`);
    await this.store.createApp(app);
    this.appCache.delete(appid); // an earlier "no such app" must not outlive the app's creation
    return { app, secret };
  }

  /**
   * Adds an app exported by another datacube (`datacube import`) with the checks `createApp` makes: a well-formed
   * appid, name, env and quota, a secret kept as a scrypt hash, and a cloud env no other app has.
   */
  async importApp(app: AppRecord): Promise<void> {
    if (typeof app.appid !== 'string' || !APPID_PATTERN.test(app.appid)) throw new Error(`appid ${JSON.stringify(app.appid)} is not an appid (wx + 16 hex digits)`);
    if (typeof app.name !== 'string' || typeof app.env !== 'string' || typeof app.dailyQuota !== 'number') throw new Error('the app needs a name, an env and a daily quota');
    checkAppInput({ name: app.name, env: app.env, dailyQuota: app.dailyQuota, retainDays: app.retainDays ?? null });
    if (typeof app.secretHash !== 'string' || !/^scrypt\$[0-9a-f]{32}\$[0-9a-f]{64}$/.test(app.secretHash)) throw new Error('the app secret is not kept as datacube keeps it (scrypt$salt$hash)');
    if (typeof app.secretSealed !== 'string' || typeof app.createdAt !== 'number' || !Number.isSafeInteger(app.createdAt)) throw new Error('the app record is incomplete');
    const owner = await this.store.getAppByEnv(app.env);
    if (owner && owner.appid !== app.appid) throw new Error(`the cloud env "${app.env}" already belongs to ${owner.appid}`);
    await this.store.createApp({
      appid: app.appid,
      name: app.name,
      secretHash: app.secretHash,
      secretSealed: app.secretSealed,
      env: app.env,
      dailyQuota: app.dailyQuota,
      createdAt: app.createdAt,
      // An export from a version before collection existed has no flag: collection stays on, as for any new app.
      collect: app.collect !== false,
      // Its retention goes with it (an export from before retention existed keeps everything).
      retainDays: app.retainDays ?? null,
    });
  }

  /** Changes an app; `retainDays` null keeps every event again (see src/domain/retention.ts). */
  async updateApp(
    appid: string,
    patch: { name?: string; env?: string; dailyQuota?: number; collect?: boolean; retainDays?: number | null },
  ): Promise<AppRecord> {
    checkAppInput(patch);
    if (patch.env !== undefined) {
      const owner = await this.store.getAppByEnv(patch.env);
      if (owner && owner.appid !== appid) throw new Error(`the cloud env "${patch.env}" already belongs to ${owner.appid}`);
    }
    const app = await this.store.updateApp(appid, patch);
    if (!app) throw new Error(`no app ${appid}`);
    this.appCache.delete(appid);
    return app;
  }

  /**
   * Removes the app with its events, tokens and counters; its tokens stop working at once (here; other servers
   * sharing a ClickHouse store stop accepting them within their 5-second lookup cache).
   */
  async deleteApp(appid: string): Promise<boolean> {
    const existed = await this.store.deleteApp(appid);
    this.forget(appid);
    return existed;
  }

  /**
   * Gives the app a new secret (returned once, never stored in clear) and ends every token issued with the old
   * one: they answer 40001 from now on. The old secret no longer gets a token or signs a cloud call.
   */
  async resetSecret(appid: string): Promise<{ app: AppRecord; secret: string }> {
    if (!(await this.store.getApp(appid))) throw new Error(`no app ${appid}`);
    const secret = newSecret();
    const app = await this.store.updateApp(appid, { secretHash: hashSecret(secret), secretSealed: this.sealer.seal(secret, `secret:${appid}`) });
    if (!app) throw new Error(`no app ${appid}`);
    const now = this.clock.now();
    await this.store.retireTokens(appid, 'token', now);
    await this.store.retireTokens(appid, 'stable', now);
    this.forget(appid);
    return { app, secret };
  }

  /**
   * Drops what this process remembers about an app (its lookups, its tokens). Secrets it verified lately are
   * remembered with the hash they matched, so the old secret of a reset app matches nothing.
   */
  private forget(appid: string): void {
    this.appCache.delete(appid);
    for (const [t, c] of this.tokenCache) if (c.record.appid === appid) this.tokenCache.delete(t);
  }

  async getApp(appid: string): Promise<AppRecord | undefined> {
    const now = this.clock.now();
    const hit = this.appCache.get(appid);
    if (hit && hit.until > now) return hit.app;
    const app = await this.store.getApp(appid);
    if (this.appCache.size >= CACHE_ENTRIES) this.appCache.clear();
    this.appCache.set(appid, { app, until: now + CACHE_MS });
    return app;
  }

  /** The app's secret in clear (for checking cloud-call signatures), or undefined if it cannot be unsealed. */
  secretOf(app: AppRecord): string | undefined {
    return this.sealer.open(app.secretSealed, `secret:${app.appid}`);
  }

  /**
   * Checks appid and secret as the token endpoints do: 40013 unknown appid, 40125 wrong secret, and 45011
   * (RetryLaterError: HTTP 429 with Retry-After) while the client IP or the appid is past its limit of wrong
   * secrets. A secret verified in the last VERIFIED_SECRET_MS is accepted without scrypt and without the limits;
   * others queue for the bounded scrypt pool. `client` is the caller's IP ('' when not over HTTP).
   */
  async authenticate(appid: unknown, secret: unknown, client = ''): Promise<AppRecord> {
    const wellFormed = typeof appid === 'string' && APPID_PATTERN.test(appid);
    const secretOk = typeof secret === 'string' && secret.length > 0 && secret.length <= 128;
    const key = wellFormed && secretOk ? createHash('sha256').update(`${appid}\u0000${secret}`).digest('hex') : '';
    const now = this.clock.now();
    const remembered = key ? this.verified.get(key) : undefined;
    const hit = remembered && remembered.until > now ? remembered : undefined;
    // A client past its limit is refused before anything is looked up (unless its secret was verified lately).
    if (!hit) this.failures.checkIp(client);
    if (!wellFormed) {
      this.failures.fail(client);
      throw new WeChatError('INVALID_APPID');
    }
    const app = await this.getApp(appid);
    if (!app) {
      this.failures.fail(client);
      throw new WeChatError('INVALID_APPID');
    }
    if (hit && hit.secretHash === app.secretHash) return app;
    const attempt = this.failures.begin(client, app.appid);
    let ok = false;
    try {
      ok = secretOk && (await this.checkSecret(key, secret as string, app.secretHash));
    } finally {
      attempt.end(ok);
    }
    if (!ok) throw new WeChatError('INVALID_APPSECRET');
    if (this.verified.size >= CACHE_ENTRIES) {
      const oldest = this.verified.keys().next().value;
      if (oldest !== undefined) this.verified.delete(oldest);
    }
    this.verified.delete(key);
    this.verified.set(key, { secretHash: app.secretHash, until: this.clock.now() + VERIFIED_SECRET_MS });
    return app;
  }

  /** scrypt in the bounded pool; identical checks under way share one run. */
  private checkSecret(key: string, secret: string, stored: string): Promise<boolean> {
    const id = `${key}\u0000${stored}`;
    const running = this.checking.get(id);
    if (running) return running;
    const p = this.scrypt.run(() => verifySecret(secret, stored)).finally(() => this.checking.delete(id));
    this.checking.set(id, p);
    return p;
  }

  // ---- tokens

  /**
   * Issues a token of `kind` for the app and cuts every other live token of that kind to 5 more minutes. Callers
   * hold the app's issuing turn (`issuing.run`), so concurrent requests behave exactly as if they came one after
   * another: the last one issued lives its full lifetime, each earlier one 5 minutes from the issue after it.
   */
  private async issue(appid: string, kind: TokenKind, sealed: boolean): Promise<IssuedToken> {
    const token = newToken();
    const now = this.clock.now();
    const record: TokenRecord = {
      hash: hashToken(token),
      appid,
      kind,
      issuedAt: now,
      expiresAt: now + this.opts.tokenTtlSeconds * 1000,
      sealed: sealed ? this.sealer.seal(token, `token:${appid}`) : null,
    };
    await this.store.putToken(record);
    await this.store.retireTokens(appid, kind, now + TOKEN_OVERLAP_MS, record.hash);
    for (const c of this.tokenCache.values()) {
      if (c.record.appid === appid && c.record.kind === kind && c.record.hash !== record.hash) {
        c.record = { ...c.record, expiresAt: Math.min(c.record.expiresAt, now + TOKEN_OVERLAP_MS) };
      }
    }
    return { access_token: token, expires_in: this.opts.tokenTtlSeconds };
  }

  /** GET /cgi-bin/token: a new token on every call; the previous one works 5 more minutes. */
  async token(grantType: unknown, appid: unknown, secret: unknown, client = ''): Promise<IssuedToken> {
    if (grantType !== 'client_credential') throw new WeChatError('INVALID_GRANT_TYPE');
    const app = await this.authenticate(appid, secret, client);
    return this.issuing.run(`${app.appid}\u0000token`, () => this.issue(app.appid, 'token', false));
  }

  /**
   * POST /cgi-bin/stable_token: the same token while it is valid (concurrent calls get one token); a new one with
   * force_refresh, at most 20 a day and 30 s apart (the times are kept in the store, so restarts do not reset them).
   */
  async stableToken(grantType: unknown, appid: unknown, secret: unknown, forceRefresh: unknown, client = ''): Promise<IssuedToken> {
    if (grantType !== 'client_credential') throw new WeChatError('INVALID_GRANT_TYPE');
    if (forceRefresh !== undefined && typeof forceRefresh !== 'boolean') throw new WeChatError('DATA_FORMAT', 'force_refresh must be a boolean');
    const app = await this.authenticate(appid, secret, client);
    return this.issuing.run(`${app.appid}\u0000stable`, async () => {
      const now = this.clock.now();
      if (forceRefresh === true) {
        const dayStart = startOfDay(today(this.clock));
        const times = await this.store.forceRefreshTimes(app.appid, Math.min(dayStart, now - FORCE_REFRESH_GAP_MS));
        const todays = times.filter((t) => t >= dayStart).length;
        const last = times[times.length - 1];
        if (todays >= FORCE_REFRESH_PER_DAY || (last !== undefined && now - last < FORCE_REFRESH_GAP_MS)) {
          throw new WeChatError('FORCE_REFRESH_LIMIT', 'force_refresh is allowed 20 times a day, at least 30 seconds apart');
        }
        await this.store.addForceRefresh(app.appid, now);
        return this.issue(app.appid, 'stable', true);
      }
      const live = await this.store.latestToken(app.appid, 'stable', now);
      // A token cut short by a forced refresh (in its overlap period) is not handed out again; one simply nearing
      // the end of its lifetime is, with the seconds it has left.
      if (live && live.sealed && !this.cutShort(live)) {
        const token = this.sealer.open(live.sealed, `token:${app.appid}`);
        if (token) return { access_token: token, expires_in: Math.floor((live.expiresAt - now) / 1000) };
      }
      return this.issue(app.appid, 'stable', true);
    });
  }

  /** The app a token belongs to: 41001 missing, 40001 unknown or replaced, 42001 expired. */
  async verify(token: unknown): Promise<string> {
    const known = this.verifyCached(token);
    if (known !== undefined) return known;
    const now = this.clock.now();
    const record = await this.store.getToken(hashToken(token as string));
    if (record) this.tokenCache.set(token as string, { record, until: now + CACHE_MS });
    if (this.tokenCache.size > CACHE_ENTRIES) this.tokenCache.clear();
    return this.appOfToken(record, now);
  }

  /**
   * `verify` without the store: the app of a token this process looked up in the last few seconds (or the error it
   * implies: a malformed, expired or replaced token), or undefined when the store must be asked. Synchronous, so the
   * routes' token check costs no promise on the common path.
   */
  verifyCached(token: unknown): string | undefined {
    if (token === undefined || token === null || token === '') throw new WeChatError('ACCESS_TOKEN_MISSING');
    if (Array.isArray(token)) throw new WeChatError('INVALID_CREDENTIAL', 'access_token is given more than once, with different values');
    if (typeof token !== 'string' || token.length > 512) throw new WeChatError('INVALID_CREDENTIAL');
    const now = this.clock.now();
    const hit = this.tokenCache.get(token);
    if (!hit || hit.until <= now) return undefined;
    return this.appOfToken(hit.record, now);
  }

  private appOfToken(record: TokenRecord | undefined, now: number): string {
    if (!record) throw new WeChatError('INVALID_CREDENTIAL');
    if (record.expiresAt <= now) {
      // Cut short by a newer token: "not latest"; otherwise it simply ran out.
      throw new WeChatError(this.cutShort(record) ? 'INVALID_CREDENTIAL' : 'ACCESS_TOKEN_EXPIRED');
    }
    return record.appid;
  }

  /** True for a token whose lifetime a newer token (or a reset secret) cut short. */
  private cutShort(t: TokenRecord): boolean {
    return t.expiresAt < t.issuedAt + this.opts.tokenTtlSeconds * 1000;
  }

  // ---- quotas

  /**
   * Counts one call of `api` by the app today and throws 45009 past the app's daily quota. Counts are kept in
   * memory and written to the store in the background (at most a second behind, and on close).
   */
  async charge(appid: string, api: string): Promise<void> {
    if (this.chargeNow(appid, api)) return;
    const app = await this.getApp(appid);
    const limit = app?.dailyQuota ?? this.opts.defaultDailyQuota;
    const day = today(this.clock);
    const key = usageKey(appid, api, day);
    let u = this.usage.get(key);
    if (!u) {
      u = { calls: await this.store.getUsage(appid, api, day), pending: 0 };
      const again = this.usage.get(key);
      if (again) u = again;
      else this.usage.set(key, u);
    }
    this.count(u, limit);
  }

  /**
   * `charge` without the store, when the app and today's count are at hand (looked up lately): true once counted
   * (or throws 45009), false when `charge` must be called. Synchronous, for the routes' fast path.
   */
  chargeNow(appid: string, api: string): boolean {
    const hit = this.appCache.get(appid);
    if (!hit || hit.until <= this.clock.now()) return false;
    const u = this.usage.get(usageKey(appid, api, today(this.clock)));
    if (!u) return false;
    this.count(u, hit.app?.dailyQuota ?? this.opts.defaultDailyQuota);
    return true;
  }

  private count(u: { calls: number; pending: number }, limit: number): void {
    if (u.calls >= limit) throw new WeChatError('DAILY_QUOTA');
    u.calls++;
    u.pending++;
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      void this.flushUsage().catch(() => undefined);
    }, 1000);
    this.flushTimer.unref();
  }

  async flushUsage(): Promise<void> {
    const today0 = today(this.clock);
    for (const [key, u] of this.usage) {
      const [appid, api, dayText] = key.split('\u0000');
      if (appid === undefined || api === undefined || dayText === undefined) continue;
      if (u.pending > 0) {
        const n = u.pending;
        u.pending = 0;
        await this.store.addUsage(appid, api, Number(dayText), n);
      }
      if (Number(dayText) < today0) this.usage.delete(key);
    }
  }

  async close(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    await this.flushUsage();
  }
}
