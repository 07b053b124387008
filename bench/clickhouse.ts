/**
 * P5: P1 on the ClickHouse backend, when `DATACUBE_BENCH_CLICKHOUSE` names a server (clickhouse://…). Without a
 * server it is recorded as skipped, which is not a failure.
 *
 * The store is opened on a fresh database `<db>_<random>` (dropped at the end), and synthetic data of P1's
 * shape (the P1 app's number of users, 30 days, the same per-user statistics as ./synthetic.ts, hashed with
 * cityHash64 instead of DuckDB's hash()) is generated inside ClickHouse with `INSERT … SELECT … FROM numbers(N)`,
 * straight into the store's derived tables `user_days` (maxState of the packed values, device tuples) and
 * `user_first` (minState of the first day) — the only tables the portrait query reads; `events` stays empty.
 * The same user-day rows go into `bench_plain`, a plain MergeTree (app, day, uid, openid, province) sorted by
 * (app, day, uid), for the baseline `SELECT province, count(DISTINCT uid) … GROUP BY province`.
 */
import { randomBytes } from 'node:crypto';
import { parseDay } from '../src/domain/day.ts';
import { listCities } from '../src/domain/region/index.ts';
import type { Window } from '../src/domain/window.ts';
import { ClickHouseStore } from '../src/store/clickhouse/ClickHouseStore.ts';
import type { Connection } from '../src/store/clickhouse/connection.ts';
import { date, ident, type Sql, sql } from '../src/store/clickhouse/sql.ts';
import { parseClickHouseUrl, withDatabase } from '../src/store/clickhouse/url.ts';
import { VALUE_BITS } from '../src/store/packing.ts';
import { type Figure, QUICK, RUNS, log, median, ratioAtMost, round, timed } from './lib.ts';
import { PORTRAIT_SIZES } from './portrait.ts';

const DAYS = 30;
/** The same synthetic month as P1: 2026-10-02 … 2026-10-31. */
const LAST_DAY = parseDay('20261031') ?? 0;
const FIRST_DAY = LAST_DAY - DAYS + 1;
/** P1's app is the third size (2M users; BENCH_QUICK=1: 20,000). `DATACUBE_BENCH_CLICKHOUSE_USERS` overrides it. */
const P1_USERS = PORTRAIT_SIZES[2] ?? 0;

async function scalar(c: Connection, q: Sql): Promise<number> {
  const r = (await c.rows<{ v: string | number }>(q))[0];
  return Number(r?.v ?? 0);
}

/**
 * One row per (user, visit day) of the synthetic month, with the day's hashes: the same rules as ./synthetic.ts
 * (visit rate 1–21 days in 30, one sure visit day `f`, 30 % new users with no visit before `f`, home city moving
 * on ~3 % of days). `t` is the store's packed time: ms since Shanghai 1970-01-01 00:00
 * (event time + TIME_OFFSET_MS, see src/store/clickhouse/schema.ts).
 */
function userDaysSql(users: number, cityIds: number[], provinces: number[]): Sql {
  const nc = cityIds.length;
  return sql`
    SELECT u, i, g0, a0, p0, d0, h1, h2,
      toInt64(${FIRST_DAY} + i) * 86400000 + toInt64(cityHash64(u, i, 33) % 86400000) AS t,
      if(cityHash64(u, i, 34) % 33 = 0, cityHash64(u, i, 35) % ${nc}, home) AS ci,
      arrayElement(${cityIds}, ci + 1) AS city_id,
      arrayElement(${provinces}, ci + 1) AS province_id
    FROM (
      SELECT u, i, g0, a0, p0, d0, home, cityHash64(u, i, 31) AS h1, cityHash64(u, i, 32) AS h2
      FROM (
        SELECT number + 1 AS u,
          1 + cityHash64(u, 12) % 21 AS k,
          cityHash64(u, 11) % ${DAYS} AS f,
          cityHash64(u, 13) % 10 < 3 AS is_new,
          cityHash64(u, 15) % ${nc} AS home,
          1 + cityHash64(u, 21) % 2 AS g0, 1 + cityHash64(u, 22) % 6 AS a0,
          1 + cityHash64(u, 23) % 3 AS p0, 1 + cityHash64(u, 24) % 200 AS d0,
          arrayJoin(range(${DAYS})) AS i
        FROM numbers(${users})
      )
      WHERE (cityHash64(u, i, 30) % 30 < k OR i = f) AND (NOT is_new OR i >= f)
    )`;
}

/** `maxState` of one packed value, for one row (every generated (day, user) is unique: no GROUP BY needed). */
function packedState(known: Sql, value: Sql): Sql {
  return sql`arrayReduce('maxState', [if(${known}, bitOr(bitShiftLeft(t, ${VALUE_BITS}), toInt64(${value})), toInt64(0))])`;
}

async function generate(c: Connection, appid: string, users: number): Promise<number> {
  const cities = listCities();
  const src = userDaysSql(
    users,
    cities.map((x) => x.id),
    cities.map((x) => x.province),
  );
  const d0 = date(FIRST_DAY);
  const h = (x: Sql, shift: number) => (shift === 0 ? x : sql`bitShiftRight(${x}, ${shift})`);
  const h1 = sql`h1`;
  const h2 = sql`h2`;
  // The day's value of each dimension: usually the user's own, sometimes (2–5 % of days) another.
  const gender = sql`if(${h(h1, 7)} % 50 = 0, 1 + ${h(h1, 13)} % 2, g0)`;
  const age = sql`if(${h(h1, 23)} % 50 = 0, 1 + ${h(h1, 29)} % 6, a0)`;
  const platform = sql`if(${h(h1, 39)} % 50 = 0, 1 + ${h(h1, 45)} % 3, p0)`;
  const device = sql`if(${h(h2, 23)} % 20 = 0, 1 + ${h(h2, 29)} % 200, d0)`;
  const deviceKnown = sql`${h(h2, 16)} % 100 < 90`;
  await c.exec(
    sql`INSERT INTO ${c.table('user_days')} (appid, day, openid, province, city, gender, platform, age, device)
      SELECT ${appid}, ${d0} + i, concat('bench-', toString(u)),
        ${packedState(sql`h2 % 100 < 85`, sql`province_id`)},
        ${packedState(sql`h2 % 100 < 70`, sql`city_id`)},
        ${packedState(sql`h1 % 100 < 80`, gender)},
        ${packedState(sql`${h(h1, 32)} % 100 < 95`, platform)},
        ${packedState(sql`${h(h1, 16)} % 100 < 60`, age)},
        arrayReduce('maxState', [tuple(if(${deviceKnown}, t + 1, toInt64(0)), if(${deviceKnown}, concat('Bench phone ', toString(${device})), ''))])
      FROM (${src})`,
  );
  await c.exec(
    sql`INSERT INTO ${c.table('user_first')} (appid, openid, first_day)
      SELECT ${appid}, concat('bench-', toString(number + 1)),
        arrayReduce('minState', [if(cityHash64(number + 1, 13) % 10 < 3,
          ${d0} + cityHash64(number + 1, 11) % ${DAYS},
          ${d0} - 1 - cityHash64(number + 1, 14) % 300)])
      FROM numbers(${users})`,
  );
  // The baseline's table: the same user-day rows, the day's own province (0 = unknown) as a plain column.
  await c.exec(
    sql`CREATE TABLE ${c.table('bench_plain')} (app UInt32, day Date, uid UInt32, openid String, province UInt32)
      ENGINE = MergeTree() ORDER BY (app, day, uid)`,
  );
  await c.exec(
    sql`INSERT INTO ${c.table('bench_plain')}
      SELECT 1, ${d0} + i, toUInt32(u), concat('bench-', toString(u)), toUInt32(if(h2 % 100 < 85, province_id, 0)) FROM (${src})`,
  );
  // Merge each table into one part per partition, as background merges eventually would, so that both sides
  // are timed on settled tables.
  for (const t of ['user_days', 'user_first', 'bench_plain']) await c.exec(sql`OPTIMIZE TABLE ${c.table(t)} FINAL`);
  return scalar(c, sql`SELECT count() AS v FROM ${c.table('user_days')} WHERE appid = ${appid}`);
}

export async function clickhouseBench(_dir: string): Promise<Figure[]> {
  const url = process.env.DATACUBE_BENCH_CLICKHOUSE;
  const skipped = (why: string): Figure[] => [
    { id: 'P5', what: 'P1 on ClickHouse', value: null, baseline: null, ratio: null, goal: '≤ 1.0', met: null, skipped: why },
  ];
  if (!url || !url.startsWith('clickhouse')) return skipped('no ClickHouse server');
  const target = parseClickHouseUrl(url);
  if (target.cluster !== undefined) return skipped('P5 needs a single-server URL (no ?cluster=)');
  const users = Number(process.env.DATACUBE_BENCH_CLICKHOUSE_USERS ?? P1_USERS);
  if (!Number.isSafeInteger(users) || users <= 0) throw new Error('DATACUBE_BENCH_CLICKHOUSE_USERS must be a positive integer');
  const appid = `wxbench${String(users).padStart(11, '0')}`;
  const dbUrl = withDatabase(url, `${target.database}_${randomBytes(4).toString('hex')}`);

  const store = await ClickHouseStore.open(dbUrl);
  const c = store.connection;
  const figures: Figure[] = [];
  try {
    const version = String((await c.rows<{ v: string }>(sql`SELECT version() AS v`))[0]?.v ?? '?');
    log(`P5: generating ${users} users × ${DAYS} days inside ClickHouse ${version} (database ${parseClickHouseUrl(dbUrl).database})…`);
    const gen = await timed(() => generate(c, appid, users));
    const userDays = gen.result;
    log(`P5: generated ${users} users / ${userDays} user-days in ${(gen.ms / 1000).toFixed(1)} s`);

    for (const len of [30, 7, 1] as const) {
      const w: Window = { begin: LAST_DAY - len + 1, end: LAST_DAY };
      const baseline = sql`SELECT province, count(DISTINCT uid) AS users FROM ${c.table('bench_plain')}
        WHERE app = 1 AND day >= ${date(w.begin)} AND day <= ${date(w.end)} GROUP BY province`;
      const byOpenid = sql`SELECT province, count(DISTINCT openid) AS users FROM ${c.table('bench_plain')}
        WHERE app = 1 AND day >= ${date(w.begin)} AND day <= ${date(w.end)} GROUP BY province`;
      // Warm both (mark cache, page cache), and check that the portrait counts the window's users.
      const counts = await store.portrait(appid, w);
      await c.rows(baseline);
      await c.rows(byOpenid);
      const active = counts.filter((x) => x.dimension === 'province').reduce((s, x) => s + x.active, 0);
      const fresh = counts.filter((x) => x.dimension === 'province').reduce((s, x) => s + x.new, 0);
      const expected = await scalar(
        c,
        sql`SELECT uniqExact(uid) AS v FROM ${c.table('bench_plain')} WHERE app = 1 AND day >= ${date(w.begin)} AND day <= ${date(w.end)}`,
      );
      if (active !== expected) throw new Error(`P5: the ${len}-day portrait counts ${active} users, the window has ${expected}`);
      const portrait: number[] = [];
      const base: number[] = [];
      const baseOpenid: number[] = [];
      // Alternate, so that noise hits both alike.
      for (let i = 0; i < RUNS; i++) {
        portrait.push((await timed(() => store.portrait(appid, w))).ms);
        base.push((await timed(() => c.rows(baseline))).ms);
        baseOpenid.push((await timed(() => c.rows(byOpenid))).ms);
      }
      const id = len === 30 ? 'P5' : `P5.${len}d`;
      figures.push(
        ratioAtMost(
          {
            id,
            what: `${len}-day portrait, ClickHouse ${version}, ${users.toLocaleString('en-US')} users / ${userDays.toLocaleString('en-US')} user-days (vs bare count(DISTINCT uid) by province)`,
            value: round(median(portrait), 1) ?? 0,
            baseline: round(median(base), 1) ?? 0,
            unit: 'ms',
            detail: {
              portraitMs: portrait.map((x) => round(x, 1)),
              baselineMs: base.map((x) => round(x, 1)),
              // The same count over the String openid column (the key the store itself groups by).
              baselineOpenidMs: baseOpenid.map((x) => round(x, 1)),
              baselineOpenidMedianMs: round(median(baseOpenid), 1),
              activeUsers: active,
              newUsers: fresh,
              window: w,
              generationSeconds: round(gen.ms / 1000, 1),
              clickhouse: version,
              ...(QUICK ? { quick: true } : {}),
            },
          },
          1.0,
        ),
      );
      log(`${id}: portrait ${median(portrait).toFixed(1)} ms, baseline ${median(base).toFixed(1)} ms (by openid ${median(baseOpenid).toFixed(1)} ms)`);
    }
  } finally {
    try {
      await c.exec(sql`DROP DATABASE IF EXISTS ${ident(parseClickHouseUrl(dbUrl).database)}`);
    } finally {
      await store.close();
    }
  }
  return figures;
}
