import type { AppPatch, AppRecord, TokenKind, TokenRecord } from '../records.ts';
import type { Connection, JsonRow } from './connection.ts';
import type { MonotonicMicros } from './events.ts';
import { date, isoDay, type Sql, sql } from './sql.ts';

/**
 * Apps, tokens and usage counters. Apps and tokens are versioned rows (ReplacingMergeTree(version)): a change is
 * a new row, and reads take the newest version of each key with argMax, which is right before and after
 * background merges and through Distributed tables. Usage is a SummingMergeTree: add = insert, read = sum.
 */

// ---- apps

const APP_COLUMNS = sql`appid,
  argMax(name, version) AS v_name, argMax(secret_hash, version) AS v_secret_hash,
  argMax(secret_sealed, version) AS v_secret_sealed, argMax(env, version) AS v_env,
  argMax(daily_quota, version) AS v_daily_quota, argMax(created_at, version) AS v_created_at,
  argMax(collect, version) AS v_collect, argMax(retain_days, version) AS v_retain_days`;

function appFromRow(r: JsonRow): AppRecord {
  return {
    appid: String(r.appid),
    name: String(r.v_name),
    secretHash: String(r.v_secret_hash),
    secretSealed: String(r.v_secret_sealed),
    env: String(r.v_env),
    dailyQuota: Number(r.v_daily_quota),
    createdAt: Number(r.v_created_at),
    collect: Number(r.v_collect) !== 0,
    // 0 (also what rows written before migration 17 read as) keeps everything.
    retainDays: Number(r.v_retain_days) > 0 ? Number(r.v_retain_days) : null,
  };
}

function appRow(a: AppRecord, version: number): JsonRow {
  return {
    appid: a.appid,
    name: a.name,
    secret_hash: a.secretHash,
    secret_sealed: a.secretSealed,
    env: a.env,
    daily_quota: a.dailyQuota,
    created_at: a.createdAt,
    collect: a.collect ? 1 : 0,
    retain_days: a.retainDays ?? 0,
    version,
  };
}

async function apps(c: Connection, where: Sql, having: Sql = sql`1`): Promise<AppRecord[]> {
  const rows = await c.rows(
    sql`SELECT ${APP_COLUMNS} FROM ${c.table('apps')} WHERE ${where} GROUP BY appid HAVING ${having}
        ORDER BY v_created_at, appid`,
  );
  return rows.map(appFromRow);
}

export async function getApp(c: Connection, appid: string): Promise<AppRecord | undefined> {
  return (await apps(c, sql`appid = ${appid}`))[0];
}

export async function getAppByEnv(c: Connection, env: string): Promise<AppRecord | undefined> {
  // The env may have changed since a row was written: filter on the newest version only.
  return (await apps(c, sql`1`, sql`v_env = ${env}`))[0];
}

export async function listApps(c: Connection): Promise<AppRecord[]> {
  return apps(c, sql`1`);
}

export async function createApp(c: Connection, v: MonotonicMicros, app: AppRecord): Promise<void> {
  if (await getApp(c, app.appid)) throw new Error(`app ${app.appid} already exists`);
  await c.insert('apps', [appRow(app, v.take())]);
}

export async function updateApp(c: Connection, v: MonotonicMicros, appid: string, patch: AppPatch): Promise<AppRecord | undefined> {
  const cur = await getApp(c, appid);
  if (!cur) return undefined;
  const next: AppRecord = { ...cur };
  if (patch.name !== undefined) next.name = patch.name;
  if (patch.env !== undefined) next.env = patch.env;
  if (patch.dailyQuota !== undefined) next.dailyQuota = patch.dailyQuota;
  if (patch.secretHash !== undefined) next.secretHash = patch.secretHash;
  if (patch.secretSealed !== undefined) next.secretSealed = patch.secretSealed;
  if (patch.collect !== undefined) next.collect = patch.collect;
  if (patch.retainDays !== undefined) next.retainDays = patch.retainDays;
  await c.insert('apps', [appRow(next, v.take())]);
  return next;
}

// ---- tokens

const TOKEN_COLUMNS = sql`hash,
  argMax(appid, version) AS v_appid, argMax(kind, version) AS v_kind, argMax(issued_at, version) AS v_issued_at,
  argMax(expires_at, version) AS v_expires_at, argMax(sealed, version) AS v_sealed, argMax(sealed_null, version) AS v_sealed_null`;

function tokenFromRow(r: JsonRow): TokenRecord {
  return {
    hash: String(r.hash),
    appid: String(r.v_appid),
    kind: String(r.v_kind) as TokenKind,
    issuedAt: Number(r.v_issued_at),
    expiresAt: Number(r.v_expires_at),
    sealed: Number(r.v_sealed_null) ? null : String(r.v_sealed),
  };
}

function tokenRow(t: TokenRecord, version: number): JsonRow {
  return {
    hash: t.hash,
    appid: t.appid,
    kind: t.kind,
    issued_at: t.issuedAt,
    expires_at: t.expiresAt,
    sealed: t.sealed ?? '',
    sealed_null: t.sealed === null ? 1 : 0,
    version,
  };
}

/** Tokens (newest version each) matching `where` on the stored columns and `having` on the newest values. */
async function tokens(c: Connection, where: Sql, having: Sql, tail: Sql = sql``): Promise<TokenRecord[]> {
  const rows = await c.rows(
    sql`SELECT ${TOKEN_COLUMNS} FROM ${c.table('tokens')} WHERE ${where} GROUP BY hash HAVING ${having} ${tail}`,
  );
  return rows.map(tokenFromRow);
}

export async function putToken(c: Connection, v: MonotonicMicros, t: TokenRecord): Promise<void> {
  await c.insert('tokens', [tokenRow(t, v.take())]);
}

export async function getToken(c: Connection, hash: string): Promise<TokenRecord | undefined> {
  return (await tokens(c, sql`hash = ${hash}`, sql`1`))[0];
}

export async function retireTokens(
  c: Connection,
  v: MonotonicMicros,
  appid: string,
  kind: TokenKind,
  expiresAt: number,
  keepHash?: string,
): Promise<void> {
  // appid and kind never change for a hash, so filtering the stored rows on them is exact.
  const live = await tokens(
    c,
    sql`appid = ${appid} AND kind = ${kind} AND hash != ${keepHash ?? ''}`,
    sql`v_expires_at > ${expiresAt}`,
  );
  if (live.length === 0) return;
  const version = v.take(live.length);
  await c.insert(
    'tokens',
    live.map((t, i) => tokenRow({ ...t, expiresAt }, version + i)),
  );
}

export async function latestToken(c: Connection, appid: string, kind: TokenKind, now: number): Promise<TokenRecord | undefined> {
  return (
    await tokens(
      c,
      sql`appid = ${appid} AND kind = ${kind}`,
      sql`v_expires_at > ${now}`,
      sql`ORDER BY v_issued_at DESC, v_expires_at DESC, hash DESC LIMIT 1`,
    )
  )[0];
}

// ---- usage

export async function getUsage(c: Connection, appid: string, api: string, day: number): Promise<number> {
  const rows = await c.rows<{ n: string }>(
    sql`SELECT sum(calls) AS n FROM ${c.table('usage')} WHERE appid = ${appid} AND api = ${api} AND day = ${date(day)}`,
  );
  return Number(rows[0]?.n ?? 0);
}

export async function addUsage(c: Connection, appid: string, api: string, day: number, calls: number): Promise<number> {
  if (!Number.isSafeInteger(calls)) throw new RangeError(`calls must be an integer, got ${String(calls)}`);
  await c.insert('usage', [{ appid, api, day: isoDay(date(day).day), calls }]);
  return getUsage(c, appid, api, day);
}

// ---- stable_token forced refreshes

export async function addForceRefresh(c: Connection, appid: string, at: number): Promise<void> {
  if (!Number.isSafeInteger(at)) throw new RangeError(`at must be an integer, got ${String(at)}`);
  await c.insert('force_refreshes', [{ appid, refreshed_at: at }]);
}

export async function forceRefreshTimes(c: Connection, appid: string, since: number): Promise<number[]> {
  const rows = await c.rows<{ t: string }>(
    sql`SELECT refreshed_at AS t FROM ${c.table('force_refreshes')} WHERE appid = ${appid} AND refreshed_at >= ${since} ORDER BY refreshed_at`,
  );
  return rows.map((r) => Number(r.t));
}

// ---- everything, for snapshots (backups)

/** Every token still valid at `now` (newest version each). */
export async function liveTokens(c: Connection, now: number): Promise<TokenRecord[]> {
  return tokens(c, sql`1`, sql`v_expires_at > ${now}`, sql`ORDER BY v_issued_at, hash`);
}

/** Every usage counter, summed. */
export async function allUsage(c: Connection): Promise<{ appid: string; api: string; day: number; calls: number }[]> {
  const rows = await c.rows<{ appid: string; api: string; d: number; n: string }>(
    sql`SELECT appid, api, toUInt16(day) AS d, sum(calls) AS n FROM ${c.table('usage')} GROUP BY appid, api, day ORDER BY appid, api, day`,
  );
  return rows.map((r) => ({ appid: String(r.appid), api: String(r.api), day: Number(r.d), calls: Number(r.n) }));
}
