/**
 * Synthetic portrait data generated inside DuckDB (SQL `range()` and `hash()`), written straight into the store's
 * derived tables (`app_numbers`, `app_derive`, `users`, `app_devices`, `user_days`, `user_last`; see src/store/duckdb/schema.ts),
 * not through ingest. Deterministic: the same sizes give the same rows.
 *
 * Users: each has a visit rate (1–21 days in 30 on average), a day that is always a visit day, and 30 % are new in
 * the period (their first day is that day, no visits before it); the others were first seen up to 300 days before.
 * Per user and day: one time of day; each dimension known with some probability (gender 80 %, age 60 %,
 * platform 95 %, province 85 %, city 70 %, device 90 %), usually the user's own value, sometimes (2–5 % of days)
 * another one, and the city (hence province) moves on about 3 % of days. About 10 user-days per user in 30 days.
 *
 * Several apps share one staging set: the app with N users gets staging users 1..N (renumbered), so apps of
 * different sizes have the same per-user statistics. `bench_plain` (app, day, uid, province) holds the same
 * user-day rows with the day's own province as a plain INTEGER, for the baseline query.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { startOfDay } from '../src/domain/day.ts';
import { listCities } from '../src/domain/region/index.ts';
import { VALUE_BITS } from '../src/store/packing.ts';

export interface SyntheticApp {
  appid: string;
  users: number;
}

export interface FilledApp extends SyntheticApp {
  app: number;
  userDays: number;
}

const B = VALUE_BITS;

async function count(conn: DuckDBConnection, sql: string): Promise<number> {
  const v = (await conn.runAndReadAll(sql)).getRows()[0]?.[0];
  return typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : 0;
}

export async function fillSynthetic(
  conn: DuckDBConnection,
  opts: { firstDay: number; days: number; apps: readonly SyntheticApp[]; plainFor: readonly string[] },
): Promise<FilledApp[]> {
  const { firstDay: D0, days } = opts;
  const maxUsers = Math.max(...opts.apps.map((a) => a.users));
  const cities = listCities();
  const dayStart0 = startOfDay(D0);
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE syn_cities AS SELECT * FROM (VALUES ${cities.map((c, i) => `(${i}, ${c.id}, ${c.province})`).join(', ')}) t(i, city, province)`,
  );
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE syn_users AS
     SELECT u::INTEGER AS uid,
       (1 + hash(u, 12) % 21)::INTEGER AS k,
       (hash(u, 11) % ${days})::INTEGER AS f,
       hash(u, 13) % 10 < 3 AS is_new,
       CASE WHEN hash(u, 13) % 10 < 3 THEN ${D0} + hash(u, 11) % ${days} ELSE ${D0} - 1 - hash(u, 14) % 300 END::INTEGER AS first_day,
       hash(u, 15) % ${cities.length} AS home,
       1 + hash(u, 21) % 2 AS g0, 1 + hash(u, 22) % 6 AS a0, 1 + hash(u, 23) % 3 AS p0, 1 + hash(u, 24) % 200 AS d0
     FROM range(1, ${maxUsers + 1}) t(u)`,
  );
  // One row per user and visit day: each dimension's latest known value that day, packed as the store packs it.
  const packed = (known: string, value: string) => `CASE WHEN ${known} THEN (t << ${B}) | (${value})::BIGINT ELSE 0 END`;
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE syn_days AS
     SELECT x.uid, x.day,
       ${packed('h1 % 100 < 80', `CASE WHEN (h1 >> 7) % 50 = 0 THEN 1 + (h1 >> 13) % 2 ELSE g0 END`)} AS g,
       ${packed('(h1 >> 16) % 100 < 60', `CASE WHEN (h1 >> 23) % 50 = 0 THEN 1 + (h1 >> 29) % 6 ELSE a0 END`)} AS a,
       ${packed('(h1 >> 32) % 100 < 95', `CASE WHEN (h1 >> 39) % 50 = 0 THEN 1 + (h1 >> 45) % 3 ELSE p0 END`)} AS p,
       ${packed('h2 % 100 < 85', 'ci.province')} AS pr,
       ${packed('h2 % 100 < 70', 'ci.city')} AS c,
       ${packed('(h2 >> 16) % 100 < 90', `CASE WHEN (h2 >> 23) % 20 = 0 THEN 1 + (h2 >> 29) % 200 ELSE d0 END`)} AS d,
       CASE WHEN h2 % 100 < 85 THEN ci.province ELSE 0 END::INTEGER AS province
     FROM (
       SELECT s.*, (${D0} + r.i)::INTEGER AS day,
         hash(s.uid, r.i, 31) AS h1, hash(s.uid, r.i, 32) AS h2,
         ${dayStart0}::BIGINT + r.i::BIGINT * 86400000 + (hash(s.uid, r.i, 33) % 86400000)::BIGINT AS t,
         CASE WHEN hash(s.uid, r.i, 34) % 33 = 0 THEN hash(s.uid, r.i, 35) % ${cities.length} ELSE s.home END AS ci_i
       FROM syn_users s, range(0, ${days}) r(i)
       WHERE (hash(s.uid, r.i, 30) % 30 < s.k OR r.i = s.f) AND (NOT s.is_new OR r.i >= s.f)
     ) x JOIN syn_cities ci ON ci.i = x.ci_i`,
  );
  // The store's shape: running max per user (latest known value so far) and the next visit day; in (day, uid) order.
  const running = ['g', 'a', 'p', 'pr', 'c', 'd'].map((c) => `max(d.${c}) OVER w AS ${c}`).join(', ');
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE syn_chain AS
     SELECT d.day, d.uid, lead(d.day) OVER w AS next_day, u.first_day, ${running}, d.province
     FROM syn_days d JOIN syn_users u ON u.uid = d.uid
     WINDOW w AS (PARTITION BY d.uid ORDER BY d.day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
     ORDER BY d.day, d.uid`,
  );
  await conn.run('DROP TABLE syn_days');
  await conn.run('CREATE TABLE IF NOT EXISTS bench_plain (app INTEGER NOT NULL, day INTEGER NOT NULL, uid INTEGER NOT NULL, province INTEGER NOT NULL)');

  const out: FilledApp[] = [];
  for (const a of opts.apps) {
    const app = (await count(conn, 'SELECT coalesce(max(app), 0) FROM app_numbers')) + 1;
    // Users and device names are numbered per app (migration 4).
    await conn.run('INSERT INTO app_numbers VALUES ($1, $2)', [a.appid, app]);
    await conn.run('INSERT INTO app_derive VALUES ($1, 0)', [app]);
    await conn.run(`INSERT INTO app_devices SELECT ${app}, i, 'Bench phone ' || i FROM range(1, 201) t(i)`);
    await conn.run(`INSERT INTO users SELECT ${app}, 'bench-' || uid, uid, first_day FROM syn_users WHERE uid <= ${a.users} ORDER BY uid`);
    await conn.run(
      `INSERT INTO user_days SELECT ${app}, day, uid, next_day, first_day, g, a, p, pr, c, d
       FROM syn_chain WHERE uid <= ${a.users} AND next_day IS NOT NULL`,
    );
    await conn.run(
      `INSERT INTO user_last SELECT ${app}, day, uid, first_day, g, a, p, pr, c, d
       FROM syn_chain WHERE uid <= ${a.users} AND next_day IS NULL`,
    );
    if (opts.plainFor.includes(a.appid)) {
      await conn.run(`INSERT INTO bench_plain SELECT ${app}, day, uid, province FROM syn_chain WHERE uid <= ${a.users}`);
    }
    const userDays =
      (await count(conn, `SELECT count(*) FROM user_days WHERE app = ${app}`)) + (await count(conn, `SELECT count(*) FROM user_last WHERE app = ${app}`));
    out.push({ ...a, app, userDays });
  }
  await conn.run('DROP TABLE syn_chain; DROP TABLE syn_users; DROP TABLE syn_cities');
  await conn.run('CHECKPOINT');
  return out;
}
