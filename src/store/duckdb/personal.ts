/**
 * Deletion and retention on the DuckDB store (see ../lifecycle.ts), table by table. Raw `events` are handled here;
 * every family of derived tables has one hook in DERIVED_FAMILIES that removes its rows of deleted users and the
 * rows that depend only on pruned days. A new family of derived tables joins by adding its hook (and its tables)
 * there; compaction (compact.ts) also reads the list.
 *
 * Every function here runs inside a transaction the caller opened on the writer connection, while the store holds
 * its writer and deriver (nothing else writes meanwhile), with every stored event folded into the derived tables.
 */
import { listValue, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import type { Day } from '../../domain/day.ts';
import type { FirstSeen } from '../lifecycle.ts';

export interface DerivedFamily {
  readonly name: string;
  /**
   * The tables the family fills. They are consistent with the family's own derive position, so compaction may
   * carry them over as a snapshot had them (the derive then catches up); `events` grows at the end and every
   * other table is copied whole.
   */
  readonly tables: readonly string[];
  /**
   * Removes the family's rows of the app's users listed in the temporary table `gone_users(openid VARCHAR)`.
   * `app` is the app's number in the derived tables, undefined if it has none (nothing derived yet).
   */
  deleteUsers(conn: DuckDBConnection, appid: string, app: number | undefined): Promise<void>;
  /**
   * Removes the family's rows that depend only on the app's events of days before `beforeDay` (those events are
   * being deleted). What "new user" needs (each user's first day) must stay.
   */
  prune(conn: DuckDBConnection, appid: string, app: number | undefined, beforeDay: Day): Promise<void>;
  /**
   * Restore: records first days kept by a snapshot, listed in the temporary table `kept_first(openid VARCHAR,
   * first_day INTEGER)`, so that the users' events, appended next, do not make them new (known users keep the
   * earlier day). `app` is the app's number.
   */
  restoreFirstSeen(conn: DuckDBConnection, app: number): Promise<void>;
}

/**
 * The portrait's tables (schema.ts): `users` (uid and first day per openid), `user_days`/`user_last` (the per-user
 * chain), and the derive position per app (`app_derive`). App numbers and device dictionaries are written with the
 * events (at append), so they are not derived: compaction copies them whole. A deleted user loses everything,
 * including the `users` row, so
 * one who comes back gets a new uid and first day. Pruning drops chain rows of days before the cut: a window from the
 * cut on reads only rows of its own days (schema.ts), and values carried forward from older days count as unknown
 * there (portraitQuery.ts), so its answer does not change. `users` keeps every first day.
 */
/**
 * `an_users.last_day` of a user none of whose days is stored (all dropped by retention, or restored from kept first
 * days only): far enough before any event that the derive (analysisDerive.ts) takes no activity bit from it.
 */
const NO_LAST_DAY = -1_000_000;

export const PORTRAIT_FAMILY: DerivedFamily = {
  name: 'portrait',
  tables: ['users', 'user_days', 'user_last', 'app_derive'],
  async deleteUsers(conn, _appid, app) {
    if (app === undefined) return;
    const uids = `SELECT uid FROM users WHERE app = ${app} AND openid IN (SELECT openid FROM gone_users)`;
    await conn.run(`DELETE FROM user_days WHERE app = ${app} AND uid IN (${uids})`);
    await conn.run(`DELETE FROM user_last WHERE app = ${app} AND uid IN (${uids})`);
    await conn.run(`DELETE FROM users WHERE app = ${app} AND openid IN (SELECT openid FROM gone_users)`);
  },
  async prune(conn, _appid, app, beforeDay) {
    if (app === undefined) return;
    await conn.run(`DELETE FROM user_days WHERE app = ${app} AND day < ${beforeDay}`);
    await conn.run(`DELETE FROM user_last WHERE app = ${app} AND day < ${beforeDay}`);
  },
  async restoreFirstSeen(conn, app) {
    await conn.run(
      `UPDATE users SET first_day = k.first_day FROM (SELECT openid, min(first_day) AS first_day FROM kept_first GROUP BY openid) k
       WHERE users.app = ${app} AND users.openid = k.openid AND k.first_day < users.first_day`,
    );
    const top = count((await conn.runAndReadAll(`SELECT coalesce(max(uid), 0) FROM users WHERE app = ${app}`)).getRows()[0]?.[0]);
    await conn.run(
      `INSERT INTO users
       SELECT ${app}, k.openid, (${top} + row_number() OVER (ORDER BY k.openid))::INTEGER, k.first_day
       FROM (SELECT openid, min(first_day) AS first_day FROM kept_first GROUP BY openid) k
       WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.app = ${app} AND u.openid = k.openid)`,
    );
  },
};

/** Drops page paths of the app that no analysis row refers to any more (a path may carry personal data). */
async function dropUnusedPages(conn: DuckDBConnection, app: number): Promise<void> {
  await conn.run(
    `DELETE FROM an_pages WHERE app = ${app} AND page NOT IN (
       SELECT page FROM an_page_days WHERE app = ${app}
       UNION SELECT unnest(pages) FROM an_sessions WHERE app = ${app}
       UNION SELECT entry_page FROM an_sessions WHERE app = ${app} AND entry_page IS NOT NULL
       UNION SELECT exit_page FROM an_sessions WHERE app = ${app} AND exit_page IS NOT NULL)`,
  );
}

/**
 * The analysis family's tables (analysisSchema.ts): `an_users` (uid, first and latest day per openid), the per-user
 * rows `an_user_days`, `an_page_days` and `an_sessions`, the page dictionary `an_pages` and the fold position per app
 * `an_state`. A deleted user loses every row (one who comes back gets a new uid and first day); page paths nobody
 * refers to any more go too. Pruning drops the per-user rows of days before the cut (a session belongs to the day
 * of its first event, so one that began before the cut goes whole); `an_users` keeps every first day, and a window
 * from the cut on reads only rows of its own days (activity bits of earlier days are read only for cohorts and
 * windows that start before it), so its answers do not change.
 */
export const ANALYSIS_FAMILY: DerivedFamily = {
  name: 'analysis',
  tables: ['an_state', 'an_users', 'an_user_days', 'an_pages', 'an_page_days', 'an_sessions'],
  async deleteUsers(conn, _appid, app) {
    if (app === undefined) return;
    const uids = `SELECT uid FROM an_users WHERE app = ${app} AND openid IN (SELECT openid FROM gone_users)`;
    for (const t of ['an_user_days', 'an_page_days', 'an_sessions']) await conn.run(`DELETE FROM ${t} WHERE app = ${app} AND uid IN (${uids})`);
    await conn.run(`DELETE FROM an_users WHERE app = ${app} AND openid IN (SELECT openid FROM gone_users)`);
    await dropUnusedPages(conn, app);
  },
  async prune(conn, _appid, app, beforeDay) {
    if (app === undefined) return;
    for (const t of ['an_user_days', 'an_page_days', 'an_sessions']) await conn.run(`DELETE FROM ${t} WHERE app = ${app} AND day < ${beforeDay}`);
    // The activity bits of the days dropped go too (bit i of a row of day d is day d - 1 - i), so a period that begins
    // before the cut counts what is left of it, as a backend without such bits (ClickHouse) and a restore do.
    await conn.run(
      `UPDATE an_user_days SET hist = hist & ((1::UBIGINT << (day - ${beforeDay})) - 1)
       WHERE app = ${app} AND day >= ${beforeDay} AND day < ${beforeDay} + 64`,
    );
    await conn.run(
      `UPDATE an_users SET last_hist = last_hist & ((1::UBIGINT << (last_day - ${beforeDay})) - 1)
       WHERE app = ${app} AND last_day >= ${beforeDay} AND last_day < ${beforeDay} + 64`,
    );
    // A user with no day left: their next day's bits must not name the dropped latest day (see NO_LAST_DAY).
    await conn.run(`UPDATE an_users SET last_day = ${NO_LAST_DAY}, last_hist = 0 WHERE app = ${app} AND last_day < ${beforeDay}`);
    await dropUnusedPages(conn, app);
  },
  async restoreFirstSeen(conn, app) {
    // No day of theirs is stored (their events are gone): no latest day whose activity bits a next day would take.
    await conn.run(
      `UPDATE an_users SET first_day = k.first_day FROM (SELECT openid, min(first_day) AS first_day FROM kept_first GROUP BY openid) k
       WHERE an_users.app = ${app} AND an_users.openid = k.openid AND k.first_day < an_users.first_day`,
    );
    const top = count((await conn.runAndReadAll(`SELECT coalesce(max(uid), 0) FROM an_users WHERE app = ${app}`)).getRows()[0]?.[0]);
    await conn.run(
      `INSERT INTO an_users
       SELECT ${app}, (${top} + row_number() OVER (ORDER BY k.openid))::INTEGER, k.openid, k.first_day, ${NO_LAST_DAY}, 0::UBIGINT
       FROM (SELECT openid, min(first_day) AS first_day FROM kept_first GROUP BY openid) k
       WHERE NOT EXISTS (SELECT 1 FROM an_users u WHERE u.app = ${app} AND u.openid = k.openid)`,
    );
  },
};

export const DERIVED_FAMILIES: readonly DerivedFamily[] = [PORTRAIT_FAMILY, ANALYSIS_FAMILY];

async function appNumberOf(conn: DuckDBConnection, appid: string): Promise<number | undefined> {
  const r = await conn.runAndReadAll('SELECT app FROM app_numbers WHERE appid = $1', [appid]);
  const v = r.getRows()[0]?.[0];
  return v === undefined || v === null ? undefined : Number(v);
}

function count(v: DuckDBValue | undefined): number {
  return typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : 0;
}

/** Deletes the users' events and derived rows (see Store.deleteUsers). */
export async function deleteUsersIn(conn: DuckDBConnection, appid: string, openids: readonly string[]): Promise<{ users: number; events: number }> {
  await conn.run('CREATE OR REPLACE TEMP TABLE gone_users (openid VARCHAR)');
  try {
    await conn.run('INSERT INTO gone_users SELECT DISTINCT unnest($1::VARCHAR[])', [listValue([...openids])]);
    const found = await conn.runAndReadAll(
      `SELECT count(*) AS n FROM gone_users g
       WHERE EXISTS (SELECT 1 FROM events e WHERE e.appid = $1 AND e.openid = g.openid)
          OR EXISTS (SELECT 1 FROM users u JOIN app_numbers n ON n.app = u.app WHERE n.appid = $1 AND u.openid = g.openid)`,
      [appid],
    );
    const users = count(found.getRows()[0]?.[0]);
    const deleted = await conn.run('DELETE FROM events WHERE appid = $1 AND openid IN (SELECT openid FROM gone_users)', [appid]);
    const app = await appNumberOf(conn, appid);
    for (const f of DERIVED_FAMILIES) await f.deleteUsers(conn, appid, app);
    return { users, events: deleted.rowsChanged };
  } finally {
    await conn.run('DROP TABLE IF EXISTS gone_users');
  }
}

/** Drops the app's events before `beforeDay` and what depends only on them (see Store.prune). */
export async function pruneIn(conn: DuckDBConnection, appid: string, beforeDay: Day): Promise<{ users: number; events: number }> {
  const r = await conn.runAndReadAll('SELECT count(DISTINCT openid) AS n FROM events WHERE appid = $1 AND day < $2', [appid, beforeDay]);
  const users = count(r.getRows()[0]?.[0]);
  if (users === 0) return { users: 0, events: 0 };
  const deleted = await conn.run('DELETE FROM events WHERE appid = $1 AND day < $2', [appid, beforeDay]);
  const app = await appNumberOf(conn, appid);
  for (const f of DERIVED_FAMILIES) await f.prune(conn, appid, app, beforeDay);
  return { users, events: deleted.rowsChanged };
}

/**
 * The app's users whose first day is kept without the events it came from (retention dropped them): their first
 * day is earlier than their earliest stored event, or they have no stored event left.
 */
export async function keptFirstSeen(conn: DuckDBConnection, appid: string): Promise<FirstSeen[]> {
  const r = await conn.runAndReadAll(
    `SELECT u.openid, u.first_day FROM users u
       JOIN app_numbers n ON n.app = u.app
       LEFT JOIN (SELECT openid, min(day) AS m FROM events WHERE appid = $1 GROUP BY openid) e ON e.openid = u.openid
     WHERE n.appid = $1 AND (e.m IS NULL OR u.first_day < e.m)
     ORDER BY u.openid`,
    [appid],
  );
  return r.getRows().map(([openid, day]) => ({ openid: String(openid), day: count(day) }));
}

/**
 * Records first days kept by a snapshot (restore) in every family: users unknown to the app (number `app`) are
 * recorded with that first day (so their events, appended next, do not make them new); known ones keep the earlier
 * of the two days.
 */
export async function restoreFirstSeenIn(conn: DuckDBConnection, app: number, rows: readonly FirstSeen[]): Promise<void> {
  if (rows.length === 0) return;
  await conn.run('CREATE OR REPLACE TEMP TABLE kept_first (openid VARCHAR, first_day INTEGER)');
  try {
    await conn.run('INSERT INTO kept_first SELECT unnest($1::VARCHAR[]), unnest($2::INTEGER[])', [
      listValue(rows.map((r) => r.openid)),
      listValue(rows.map((r) => r.day)),
    ]);
    for (const f of DERIVED_FAMILIES) await f.restoreFirstSeen(conn, app);
  } finally {
    await conn.run('DROP TABLE IF EXISTS kept_first');
  }
}
