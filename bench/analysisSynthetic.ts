/**
 * Synthetic data for the analysis family's tables (src/store/duckdb/analysisSchema.ts), generated inside DuckDB (SQL
 * `range()` and `hash()`) and written straight into the store's tables, not through ingest. Deterministic.
 *
 * Users and visit days follow bench/synthetic.ts (a per-user visit rate of 1–21 days in 30, one day that is always a
 * visit day, 30 % of users new in the period): about 10 user-days per user in 30 days. Per user-day: 1–3 sessions
 * (72 / 22 / 6 %), each with an access source (a skewed mix of 12 of them), a stay (1–900 s, log-spread) and 1–12
 * pages (`depth`; the page lists themselves are left empty: no answer reads them); page views and stay of the day are
 * the sessions' sums, now and then a share. `hist` holds the user's other days with events in the 64 before, as the
 * store's derive writes it. Rows are written in day order, as the derive writes them. `bench_an_days (app, day, uid)` and
 * `bench_an_sessions (app, day, uid, source)` hold the same rows, plain, for the baselines.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { startOfDay } from '../src/domain/day.ts';

export interface AnalysisApp {
  appid: string;
  app: number;
  users: number;
  userDays: number;
  sessions: number;
}

async function count(conn: DuckDBConnection, sql: string): Promise<number> {
  const v = (await conn.runAndReadAll(sql)).getRows()[0]?.[0];
  return typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : 0;
}

/** Sources and their weights (history list, chat, task bar recent, scan, search, …). */
const SOURCES = [[1, 20], [3, 18], [29, 16], [4, 10], [2, 8], [36, 8], [13, 5], [11, 4], [22, 4], [14, 3], [23, 2], [10, 2]] as const;

export async function fillAnalysisSynthetic(
  conn: DuckDBConnection,
  opts: { appid: string; users: number; firstDay: number; days: number },
): Promise<AnalysisApp> {
  const { users, firstDay: D0, days } = opts;
  const total = SOURCES.reduce((s, [, w]) => s + w, 0);
  let acc = 0;
  const sourceCase = `CASE ${SOURCES.map(([k, w]) => {
    acc += w;
    return `WHEN h % ${total} < ${acc} THEN ${k}`;
  }).join(' ')} ELSE 10 END`;
  const app = (await count(conn, 'SELECT coalesce(max(app), 0) FROM app_numbers')) + 1;
  await conn.run('INSERT INTO app_numbers VALUES ($1, $2)', [opts.appid, app]);
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE syn_users AS
     SELECT u::INTEGER AS uid, (1 + hash(u, 12) % 21)::INTEGER AS k, (hash(u, 11) % ${days})::INTEGER AS f, hash(u, 13) % 10 < 3 AS is_new,
       CASE WHEN hash(u, 13) % 10 < 3 THEN ${D0} + hash(u, 11) % ${days} ELSE ${D0} - 1 - hash(u, 14) % 300 END::INTEGER AS first_day
     FROM range(1, ${users + 1}) t(u)`,
  );
  // One row per user and day with events (the days of bench/synthetic.ts). Its bits (hist, see the schema) come from
  // the user's days written backwards in one integer (bit days-1-i for day i): shifted right by days - i, exactly
  // the days before i remain, at bit i-1-j for day j.
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE syn_visits AS
     SELECT s.uid, r.i::INTEGER AS i, s.first_day FROM syn_users s, range(0, ${days}) r(i)
     WHERE (hash(s.uid, r.i, 30) % 30 < s.k OR r.i = s.f) AND (NOT s.is_new OR r.i >= s.f)`,
  );
  await conn.run(`CREATE OR REPLACE TEMP TABLE syn_masks AS SELECT uid, bit_or(1::UBIGINT << (${days - 1} - i)) AS rmask FROM syn_visits GROUP BY uid`);
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE syn_days AS
     SELECT v.uid, (${D0} + v.i)::INTEGER AS day, v.first_day, (m.rmask >> (${days} - v.i))::UBIGINT AS hist,
       hash(v.uid, v.i, 41) AS h0, hash(v.uid, v.i, 46) AS h1, hash(v.uid, v.i, 47) AS h2, hash(v.uid, v.i, 44) % 100 AS more
     FROM syn_visits v JOIN syn_masks m ON m.uid = v.uid`,
  );
  await conn.run('DROP TABLE syn_visits; DROP TABLE syn_masks');
  // 1–3 sessions per user-day (72 / 22 / 6 %); a session is its user's first of the day with its source unless an
  // earlier one of the same day has that source.
  const src = (h: string) => sourceCase.replaceAll('WHEN h %', `WHEN ${h} %`);
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE syn_sessions AS
     WITH x AS (SELECT uid, day, more, (${src('h0')})::UTINYINT AS s0, (${src('h1')})::UTINYINT AS s1, (${src('h2')})::UTINYINT AS s2 FROM syn_days)
     SELECT uid, day, j, source, src_first,
       ${startOfDay(D0)}::BIGINT + (day - ${D0})::BIGINT * 86400000 + (hash(uid, day, j, 40) % 86000000)::BIGINT AS first_time,
       round(exp(ln(20) + ((hash(uid, day, j, 42) % 1000) / 1000.0 - 0.5) * 4))::DOUBLE AS stay,
       (1 + (hash(uid, day, j, 43) % 100) // 9)::INTEGER AS depth
     FROM (
       SELECT uid, day, 0 AS j, s0 AS source, true AS src_first FROM x
       UNION ALL SELECT uid, day, 1, s1, s1 <> s0 FROM x WHERE more < 28
       UNION ALL SELECT uid, day, 2, s2, s2 <> s0 AND s2 <> s1 FROM x WHERE more < 6
     )`,
  );
  const base = await count(conn, `SELECT coalesce(max(uid), 0) FROM an_users WHERE app = ${app}`);
  // In day order, as the derive writes them; the page lists are left empty (no answer reads them; depth is their size).
  await conn.run(
    `INSERT INTO an_sessions
     SELECT ${app}, day, ${base} + uid, NULL, first_time, first_time + 1000 * (stay::BIGINT + depth), first_time, 1001, source, stay,
       []::INTEGER[], depth, first_time, 1, first_time + 1000, depth, src_first
     FROM syn_sessions ORDER BY day`,
  );
  await conn.run(
    `INSERT INTO an_user_days
     SELECT ${app}, d.day, ${base} + d.uid, d.first_day, d.hist, s.pv, s.stay, (hash(d.uid, d.day, 45) % 50 = 0)::INTEGER
     FROM syn_days d JOIN (SELECT uid, day, sum(depth)::INTEGER AS pv, sum(stay) AS stay FROM syn_sessions GROUP BY uid, day) s
       ON s.uid = d.uid AND s.day = d.day
     ORDER BY d.day`,
  );
  await conn.run(
    `INSERT INTO an_users
     SELECT ${app}, ${base} + uid, 'bench-' || uid, min(first_day), max(day), arg_max(hist, day) FROM syn_days GROUP BY uid ORDER BY uid`,
  );
  await conn.run('CREATE TABLE IF NOT EXISTS bench_an_days (app INTEGER NOT NULL, day INTEGER NOT NULL, uid INTEGER NOT NULL)');
  await conn.run(`INSERT INTO bench_an_days SELECT ${app}, day, ${base} + uid FROM syn_days ORDER BY day`);
  await conn.run('CREATE TABLE IF NOT EXISTS bench_an_sessions (app INTEGER NOT NULL, day INTEGER NOT NULL, uid INTEGER NOT NULL, source INTEGER NOT NULL)');
  await conn.run(`INSERT INTO bench_an_sessions SELECT ${app}, day, ${base} + uid, source FROM syn_sessions ORDER BY day`);
  const out: AnalysisApp = {
    appid: opts.appid,
    app,
    users,
    userDays: await count(conn, `SELECT count(*) FROM an_user_days WHERE app = ${app}`),
    sessions: await count(conn, `SELECT count(*) FROM an_sessions WHERE app = ${app}`),
  };
  await conn.run('DROP TABLE syn_sessions; DROP TABLE syn_days; DROP TABLE syn_users');
  await conn.run('CHECKPOINT');
  return out;
}
