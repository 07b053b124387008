import type { Clock } from '../domain/clock.ts';
import { today } from '../domain/clock.ts';
import { WeChatError } from '../domain/errors.ts';
import type { AppRecord, TokenKind, TokenRecord } from '../store/records.ts';
import type { Store } from '../store/store.ts';
import { APPID_PATTERN, hashSecret, hashToken, newAppid, newSecret, newToken, Sealer, verifySecret } from './crypto.ts';

/** After a new token is issued, the previous one keeps working this long (WeChat: 5 minutes). */
export const TOKEN_OVERLAP_MS = 5 * 60_000;
/** stable_token force_refresh: at most 20 a day, at least 30 s apart. */
const FORCE_REFRESH_PER_DAY = 20;
const FORCE_REFRESH_GAP_MS = 30_000;
/** How long a looked-up token or app may be served from memory (servers sharing a ClickHouse see changes within it). */
const CACHE_MS = 5_000;
/** Most entries each lookup cache holds; past it the cache starts over (well-formed unknown appids are unlimited). */
const CACHE_ENTRIES = 10_000;
/** Bounds of an app's daily quota and of its name and cloud env id. */
const MAX_DAILY_QUOTA = 1_000_000_000;
const MAX_NAME = 128;

function checkAppInput(input: { name?: string; env?: string; dailyQuota?: number }): void {
  if (input.dailyQuota !== undefined && (!Number.isSafeInteger(input.dailyQuota) || input.dailyQuota < 1 || input.dailyQuota > MAX_DAILY_QUOTA)) {
    throw new Error(`dailyQuota must be a whole number from 1 to ${MAX_DAILY_QUOTA}`);
  }
  if (input.name !== undefined && (input.name.length === 0 || input.name.length > MAX_NAME)) throw new Error(`name must be 1-${MAX_NAME} characters`);
  if (input.env !== undefined && (input.env.length === 0 || input.env.length > MAX_NAME)) throw new Error(`env must be 1-${MAX_NAME} characters`);
}

export interface IssuedToken {
  access_token: string;
  expires_in: number;
}

export interface AuthOptions {
  tokenTtlSeconds: number;
  defaultDailyQuota: number;
}

/**
 * Apps, secrets, access tokens (both kinds) and per-app daily quotas. Secrets and tokens are kept only as
 * hashes (plus copies sealed with the server's master key where the plain value must be given back).
 */
export class AuthService {
  private readonly tokenCache = new Map<string, { record: TokenRecord; until: number }>();
  private readonly appCache = new Map<string, { app: AppRecord | undefined; until: number }>();
  private readonly usage = new Map<string, { calls: number; pending: number }>();
  private readonly forceRefreshes = new Map<string, number[]>();
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly sealer: Sealer,
    private readonly opts: AuthOptions,
  ) {}

  // ---- apps

  async createApp(input: { name?: string; env?: string; dailyQuota?: number; collect?: boolean } = {}): Promise<{ app: AppRecord; secret: string }> {
    checkAppInput(input);
    const appid = newAppid();
    const secret = newSecret();
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
    return { app, secret };
  }

  async updateApp(appid: string, patch: { name?: string; env?: string; dailyQuota?: number; collect?: boolean }): Promise<AppRecord> {
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

  /** Checks appid and secret as the token endpoints do: 40013 unknown appid, 40125 wrong secret. */
  async authenticate(appid: unknown, secret: unknown): Promise<AppRecord> {
    if (typeof appid !== 'string' || !APPID_PATTERN.test(appid)) throw new WeChatError('INVALID_APPID');
    const app = await this.getApp(appid);
    if (!app) throw new WeChatError('INVALID_APPID');
    if (typeof secret !== 'string' || secret.length === 0 || secret.length > 128 || !(await verifySecret(secret, app.secretHash))) {
      throw new WeChatError('INVALID_APPSECRET');
    }
    return app;
  }

  // ---- tokens

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
    for (const [h, c] of this.tokenCache) {
      if (c.record.appid === appid && c.record.kind === kind && h !== record.hash) {
        c.record = { ...c.record, expiresAt: Math.min(c.record.expiresAt, now + TOKEN_OVERLAP_MS) };
      }
    }
    return { access_token: token, expires_in: this.opts.tokenTtlSeconds };
  }

  /** GET /cgi-bin/token: a new token on every call; the previous one works 5 more minutes. */
  async token(grantType: unknown, appid: unknown, secret: unknown): Promise<IssuedToken> {
    if (grantType !== 'client_credential') throw new WeChatError('INVALID_GRANT_TYPE');
    const app = await this.authenticate(appid, secret);
    return this.issue(app.appid, 'token', false);
  }

  /** POST /cgi-bin/stable_token: the same token while it is valid; a new one with force_refresh. */
  async stableToken(grantType: unknown, appid: unknown, secret: unknown, forceRefresh: unknown): Promise<IssuedToken> {
    if (grantType !== 'client_credential') throw new WeChatError('INVALID_GRANT_TYPE');
    if (forceRefresh !== undefined && typeof forceRefresh !== 'boolean') throw new WeChatError('DATA_FORMAT', 'force_refresh must be a boolean');
    const app = await this.authenticate(appid, secret);
    const now = this.clock.now();
    if (forceRefresh === true) {
      const day = today(this.clock);
      const recent = (this.forceRefreshes.get(app.appid) ?? []).filter((t) => today({ now: () => t }) === day);
      const last = recent[recent.length - 1];
      if (recent.length >= FORCE_REFRESH_PER_DAY || (last !== undefined && now - last < FORCE_REFRESH_GAP_MS)) {
        throw new WeChatError('FORCE_REFRESH_LIMIT', 'force_refresh is allowed 20 times a day, at least 30 seconds apart');
      }
      recent.push(now);
      this.forceRefreshes.set(app.appid, recent);
      return this.issue(app.appid, 'stable', true);
    }
    const live = await this.store.latestToken(app.appid, 'stable', now);
    // A token in its overlap period after a forced refresh is not handed out again.
    if (live && live.sealed && live.expiresAt - now > TOKEN_OVERLAP_MS) {
      const token = this.sealer.open(live.sealed, `token:${app.appid}`);
      if (token) return { access_token: token, expires_in: Math.floor((live.expiresAt - now) / 1000) };
    }
    return this.issue(app.appid, 'stable', true);
  }

  /** The app a token belongs to: 41001 missing, 40001 unknown or replaced, 42001 expired. */
  async verify(token: unknown): Promise<string> {
    if (token === undefined || token === null || token === '') throw new WeChatError('ACCESS_TOKEN_MISSING');
    if (typeof token !== 'string' || token.length > 512) throw new WeChatError('INVALID_CREDENTIAL');
    const hash = hashToken(token);
    const now = this.clock.now();
    let record: TokenRecord | undefined;
    const hit = this.tokenCache.get(hash);
    if (hit && hit.until > now) record = hit.record;
    else {
      record = await this.store.getToken(hash);
      if (record) this.tokenCache.set(hash, { record, until: now + CACHE_MS });
      if (this.tokenCache.size > CACHE_ENTRIES) this.tokenCache.clear();
    }
    if (!record) throw new WeChatError('INVALID_CREDENTIAL');
    if (record.expiresAt <= now) {
      // Cut short by a newer token: "not latest"; otherwise it simply ran out.
      const replaced = record.expiresAt < record.issuedAt + this.opts.tokenTtlSeconds * 1000;
      throw new WeChatError(replaced ? 'INVALID_CREDENTIAL' : 'ACCESS_TOKEN_EXPIRED');
    }
    return record.appid;
  }

  // ---- quotas

  /**
   * Counts one call of `api` by the app today and throws 45009 past the app's daily quota. Counts are kept in
   * memory and written to the store in the background (at most a second behind, and on close).
   */
  async charge(appid: string, api: string): Promise<void> {
    const app = await this.getApp(appid);
    const limit = app?.dailyQuota ?? this.opts.defaultDailyQuota;
    const day = today(this.clock);
    const key = `${appid}\u0000${api}\u0000${day}`;
    let u = this.usage.get(key);
    if (!u) {
      u = { calls: await this.store.getUsage(appid, api, day), pending: 0 };
      const again = this.usage.get(key);
      if (again) u = again;
      else this.usage.set(key, u);
    }
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
