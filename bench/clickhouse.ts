/**
 * P5: P1 on the ClickHouse backend, when `DATACUBE_BENCH_CLICKHOUSE` names a server (clickhouse://…). Without a
 * server it is recorded as skipped, which is not a failure.
 *
 * The store is opened on a fresh database `<db>_<random>` (dropped at the end), and synthetic data of P1's
 * shape (the P1 app's number of users, 30 days, the same per-user statistics as ./synthetic.ts, hashed with
 * cityHash64 instead of DuckDB's hash()) is generated inside ClickHouse with `INSERT … SELECT … FROM numbers(N)`,
 * straight into the store's `user_chain` (chain and state rows, see generateChain), whose materialized view fills
 * `chain_day_counts` as it does for appends — the only tables the portrait query reads; `events` stays empty.
 * The same user-day rows go into `bench_plain`, a plain MergeTree (app, day, uid, openid, province) sorted by
 * (app, day, uid), for the baseline `SELECT province, count(DISTINCT uid) … GROUP BY province`.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock, yesterday } from '../src/domain/clock.ts';
import { generateDemoEvents } from '../src/demo/index.ts';
import { HttpConnection } from '../src/store/clickhouse/connection.ts';
import { ROOT, startChildServer } from './child.ts';
import { parseDay } from '../src/domain/day.ts';
import { listCities } from '../src/domain/region/index.ts';
import type { Window } from '../src/domain/window.ts';
import { ClickHouseStore } from '../src/store/clickhouse/ClickHouseStore.ts';
import type { Connection } from '../src/store/clickhouse/connection.ts';
import { date, type Sql, sql } from '../src/store/clickhouse/sql.ts';
import { dropStoreDatabases } from '../src/store/clickhouse/migrate.ts';
import { parseClickHouseUrl, withDatabase } from '../src/store/clickhouse/url.ts';
import { VALUE_BITS } from '../src/store/packing.ts';
import { NO_NEXT_DAY } from '../src/store/clickhouse/chain.ts';
import { type Figure, QUICK, RUNS, log, median, ratioAtLeast, ratioAtMost, round, timed } from './lib.ts';
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
function userDaysSql(from: number, users: number, cityIds: number[], provinces: number[]): Sql {
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
        SELECT number + ${from} AS u,
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

/** `(t << VALUE_BITS) | value` when known, else 0 (the packing of src/store/clickhouse/chain.ts). */
function packed(known: Sql, t: Sql, value: Sql): Sql {
  return sql`if(${known}, bitOr(bitShiftLeft(${t}, ${VALUE_BITS}), toInt64(${value})), toInt64(0))`;
}

/** The running maximum of tuple element `n` over the user's first `k` days. */
function running(n: number): Sql {
  return sql`arrayReduce('max', arrayMap(x -> tupleElement(x, ${n}), arraySlice(ds, 1, k)))`;
}

/**
 * Generates the app's rows of `user_chain` (chain rows and state rows, see src/store/clickhouse/chain.ts) for users
 * [from, from + count): per user the sorted visit days with each day's packed values, the running maximum up to each
 * day, the next visit day, the first day ever. `events` stays 0 (no raw events are generated, and the store's check
 * compares the two).
 */
function chainInsert(c: Connection, appid: string, from: number, count: number, cities: number[], provinces: number[]): Sql {
  const src = userDaysSql(from, count, cities, provinces);
  const d0 = FIRST_DAY;
  const h = (x: Sql, shift: number) => (shift === 0 ? x : sql`bitShiftRight(${x}, ${shift})`);
  const h1 = sql`h1`;
  const h2 = sql`h2`;
  const t = sql`t`;
  const gender = sql`if(${h(h1, 7)} % 50 = 0, 1 + ${h(h1, 13)} % 2, g0)`;
  const age = sql`if(${h(h1, 23)} % 50 = 0, 1 + ${h(h1, 29)} % 6, a0)`;
  const platform = sql`if(${h(h1, 39)} % 50 = 0, 1 + ${h(h1, 45)} % 3, p0)`;
  const device = sql`if(${h(h2, 23)} % 20 = 0, 1 + ${h(h2, 29)} % 200, d0)`;
  const deviceKnown = sql`${h(h2, 16)} % 100 < 90`;
  const firstDay = sql`if(cityHash64(u, 13) % 10 < 3, toUInt16(${d0} + cityHash64(u, 11) % ${DAYS}), toUInt16(${d0} - 1 - cityHash64(u, 14) % 300))`;
  const perUser = sql`
    SELECT u, ${firstDay} AS fd,
      arraySort(groupArray((toUInt16(${d0} + i),
        ${packed(sql`h2 % 100 < 85`, t, sql`province_id`)}, ${packed(sql`h2 % 100 < 70`, t, sql`city_id`)},
        ${packed(sql`h1 % 100 < 80`, t, gender)}, ${packed(sql`${h(h1, 32)} % 100 < 95`, t, platform)},
        ${packed(sql`${h(h1, 16)} % 100 < 60`, t, age)}, ${packed(deviceKnown, sql`(t + 1)`, device)}))) AS ds
    FROM (${src}) GROUP BY u`;
  const mask = (1 << VALUE_BITS) - 1;
  return sql`
    INSERT INTO ${c.table('user_chain')} (appid, kind, next_day, day, openid, first_day, last_day, gender, age, platform, province, city, device_t, device, events, sign)
    SELECT ${appid}, kind, toDate(if(kind = 1, nd, 0)), toDate(if(kind = 1, d, 0)), concat('bench-', toString(u)), toDate(fd), toDate(d),
      g, a, p, pr, ci, bitShiftRight(dv, ${VALUE_BITS}) AS dt, if(dt > 0, concat('Bench phone ', toString(bitAnd(dv, ${mask}))), ''), 0, 1
    FROM (
      SELECT u, fd, k, ds[k].1 AS d, if(k < length(ds), ds[k + 1].1, ${NO_NEXT_DAY}) AS nd,
        ${running(2)} AS pr, ${running(3)} AS ci, ${running(4)} AS g, ${running(5)} AS p, ${running(6)} AS a, ${running(7)} AS dv,
        arrayJoin(if(k = length(ds), [toUInt8(1), toUInt8(0)], [toUInt8(1)])) AS kind
      FROM (${perUser}) ARRAY JOIN arrayEnumerate(ds) AS k
    )`;
}

/** Users per generating INSERT: the running maxima copy each user's day list per day, so chunks stay small. */
const GEN_CHUNK = 50_000;

/** Fills `user_chain` with the app's synthetic month (in chunks of users, to bound memory); returns its chain rows. */
async function generateChain(c: Connection, appid: string, users: number): Promise<number> {
  const cities = listCities();
  for (let from = 1; from <= users; from += GEN_CHUNK) {
    await c.exec(chainInsert(c, appid, from, Math.min(GEN_CHUNK, users - from + 1), cities.map((x) => x.id), cities.map((x) => x.province)), {
      max_block_size: '8192',
    });
  }
  await c.exec(sql`OPTIMIZE TABLE ${c.clustered ? c.local('user_chain') : c.table('user_chain')}${c.onCluster} FINAL`);
  return scalar(c, sql`SELECT sum(sign) AS v FROM ${c.table('user_chain')} WHERE appid = ${appid} AND kind = 1`);
}

async function generate(c: Connection, appid: string, users: number): Promise<number> {
  const cities = listCities();
  const src = userDaysSql(1, users, cities.map((x) => x.id), cities.map((x) => x.province));
  const d0 = date(FIRST_DAY);
  const chainRows = await generateChain(c, appid, users);
  // The baseline's table: the same user-day rows, the day's own province (0 = unknown) as a plain column.
  await c.exec(
    sql`CREATE TABLE ${c.table('bench_plain')} (app UInt32, day Date, uid UInt32, openid String, province UInt32)
      ENGINE = MergeTree() ORDER BY (app, day, uid)`,
  );
  await c.exec(
    sql`INSERT INTO ${c.table('bench_plain')}
      SELECT 1, ${d0} + i, toUInt32(u), concat('bench-', toString(u)), toUInt32(if(h2 % 100 < 85, province_id, 0)) FROM (${src})`,
  );
  await c.exec(sql`OPTIMIZE TABLE ${c.table('bench_plain')} FINAL`);
  return chainRows;
}

/** `ingestOnly`: just P5.ingest (`BENCH_ONLY=P5.ingest`), without generating the portraits' data. */
export async function clickhouseBench(_dir: string, opts: { ingestOnly?: boolean } = {}): Promise<Figure[]> {
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
  if (opts.ingestOnly) {
    const c = HttpConnection.open(target);
    try {
      return await ingestFigures(url, String((await c.rows<{ v: string }>(sql`SELECT version() AS v`))[0]?.v ?? '?'));
    } finally {
      await c.close();
    }
  }
  const dbUrl = withDatabase(url, `${target.database}_${randomBytes(4).toString('hex')}`);

  const store = await ClickHouseStore.open(dbUrl);
  const c = store.connection;
  const figures: Figure[] = [];
  const singleMs = new Map<number, number>();
  const portraits = new Map<number, Window>();
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
      portraits.set(len, w);
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
      singleMs.set(len, median(portrait));
    }
    const clusterUrl = process.env.DATACUBE_BENCH_CLICKHOUSE_CLUSTER;
    if (clusterUrl) figures.push(...(await clusterFigures(clusterUrl, appid, users, singleMs, portraits, version, store)));
    else figures.push({ id: 'P5.cluster', what: 'the same portraits on a two-shard cluster', value: null, baseline: null, ratio: null, goal: '≤ 0.6', met: null, skipped: 'DATACUBE_BENCH_CLICKHOUSE_CLUSTER not set' });
    figures.push(...(await ingestFigures(url, version)));
  } finally {
    try {
      await dropStoreDatabases(c);
    } finally {
      await store.close();
    }
  }
  return figures;
}

/**
 * The same synthetic month on a two-shard cluster (users spread by the store's sharding key), timed the same way; the
 * figure is cluster time ÷ single-server time per window (goal ≤ 0.6).
 */
async function clusterFigures(
  url: string,
  appid: string,
  users: number,
  singleMs: Map<number, number>,
  windows: Map<number, Window>,
  version: string,
  single: ClickHouseStore,
): Promise<Figure[]> {
  const target = parseClickHouseUrl(url);
  if (target.cluster === undefined) throw new Error('DATACUBE_BENCH_CLICKHOUSE_CLUSTER needs ?cluster=NAME');
  const u = new URL(url);
  u.pathname = `/${target.database}_${randomBytes(4).toString('hex')}`;
  const store = await ClickHouseStore.open(u.toString());
  const c = store.connection;
  const out: Figure[] = [];
  try {
    log(`P5.cluster: generating the same ${users} users on cluster ${target.cluster}…`);
    const rows = await generateChain(c, appid, users);
    for (const len of [30, 7, 1] as const) {
      const w = windows.get(len);
      const singleTime = singleMs.get(len);
      if (!w || singleTime === undefined) continue;
      await store.portrait(appid, w);
      const times: number[] = [];
      for (let i = 0; i < RUNS; i++) times.push((await timed(() => store.portrait(appid, w))).ms);
      out.push(
        ratioAtMost(
          {
            id: len === 30 ? 'P5.cluster' : `P5.cluster.${len}d`,
            what: `${len}-day portrait on the two-shard cluster (same data, ${rows.toLocaleString('en-US')} user-days; vs the single server's time)`,
            value: round(median(times), 1) ?? 0,
            baseline: round(singleTime, 1) ?? 0,
            unit: 'ms',
            detail: { clusterMs: times.map((x) => round(x, 1)), clickhouse: version, shards: 2, ...(QUICK ? { quick: true } : {}) },
          },
          0.6,
        ),
      );
      log(`P5.cluster ${len}d: ${median(times).toFixed(1)} ms vs single ${singleTime.toFixed(1)} ms`);
    }
    if (process.env.DATACUBE_BENCH_CLICKHOUSE_PIN === '1') out.push(...(await oneCoreFigures(store, single, appid, windows, rows, version)));
  } finally {
    try {
      await dropStoreDatabases(c);
    } finally {
      await store.close();
    }
  }
  return out;
}

/** The TCP port clickhouse-client reaches the bench's server on (DATACUBE_BENCH_CLICKHOUSE_TCP, else guessed). */
function tcpPort(http: string): string {
  const p = new URL(http).port;
  return process.env.DATACUBE_BENCH_CLICKHOUSE_TCP ?? (p === '18123' ? '19000' : '9000');
}

/** The user of the ingest figure's untimed warm-up events (left out of the baseline's rows). */
/**
 * With `DATACUBE_BENCH_CLICKHOUSE_PIN=1` (the servers of `.ci/clickhouse.sh`): the cluster as two one-core machines
 * against one such machine. On a 2-core box the single server already uses both cores, so the plain P5.cluster
 * figure cannot show scale-out; here `.ci/clickhouse.sh pin` puts the single server and shard 1 on CPU 0 and shard 2
 * on CPU 1, and the single server's and the cluster's portraits are timed alternately (then `unpin`).
 */
async function oneCoreFigures(cluster: ClickHouseStore, single: ClickHouseStore, appid: string, windows: Map<number, Window>, rows: number, version: string): Promise<Figure[]> {
  const script = join(ROOT, '.ci', 'clickhouse.sh');
  const out: Figure[] = [];
  execFileSync('bash', [script, 'pin'], { stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    for (const len of [30, 7, 1] as const) {
      const w = windows.get(len);
      if (!w) continue;
      await single.portrait(appid, w);
      await cluster.portrait(appid, w);
      const s: number[] = [];
      const c: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        s.push((await timed(() => single.portrait(appid, w))).ms);
        c.push((await timed(() => cluster.portrait(appid, w))).ms);
      }
      const id = len === 30 ? 'P5.cluster.1core' : `P5.cluster.1core.${len}d`;
      out.push(
        ratioAtMost(
          {
            id,
            what: `${len}-day portrait on the two-shard cluster, each server pinned to one core (shards on CPUs 0 and 1; vs the single server on CPU 0), ${rows.toLocaleString('en-US')} user-days`,
            value: round(median(c), 1) ?? 0,
            baseline: round(median(s), 1) ?? 0,
            unit: 'ms',
            detail: { clusterMs: c.map((x) => round(x, 1)), singleMs: s.map((x) => round(x, 1)), clickhouse: version, pinned: { single: 0, shard1: 0, shard2: 1 }, ...(QUICK ? { quick: true } : {}) },
          },
          0.6,
        ),
      );
      log(`${id}: cluster ${median(c).toFixed(1)} ms vs single ${median(s).toFixed(1)} ms (one core each)`);
    }
  } finally {
    execFileSync('bash', [script, 'unpin'], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  return out;
}

const WARM_UP_OPENID = 'oBenchWarmUp';

/**
 * Ingest into ClickHouse through the real server (`POST /v1/events`, 4 clients, batches of 1,000 demo events; the
 * server in a child process with the ClickHouse store) against `clickhouse-client` inserting the very rows the
 * store wrote (exported as JSONEachRow) into a table of the same shape: events/s ÷ rows/s, goal ≥ 0.3.
 */
async function ingestFigures(url: string, version: string): Promise<Figure[]> {
  const client = ['/usr/bin/clickhouse-client'].find((p) => existsSync(p));
  const target = parseClickHouseUrl(url);
  const db = `${target.database}_${randomBytes(4).toString('hex')}`;
  const storeUrl = withDatabase(url, db);
  const dir = mkdtempSync(join(tmpdir(), 'datacube-p5-ingest-'));
  const bodies: string[] = [];
  let total = 0;
  const users = QUICK ? 300 : 4_000;
  let batch: unknown[] = [];
  const devices = new Map<string, Record<string, unknown>>();
  for (const b of generateDemoEvents({ users, days: 30, endDay: yesterday(systemClock), batchSize: 1_000 })) {
    for (const e of b) {
      const r = e as Record<string, unknown>;
      const kind = JSON.stringify([r.platform, r.brand, r.model, r.ua]);
      if (!devices.has(kind)) devices.set(kind, { platform: r.platform, brand: r.brand, model: r.model, ua: r.ua, ip: r.ip });
      batch.push(e);
      if (batch.length === 1_000) {
        bodies.push(JSON.stringify(batch));
        total += batch.length;
        batch = [];
      }
    }
  }
  if (batch.length > 0) {
    bodies.push(JSON.stringify(batch));
    total += batch.length;
  }
  const server = await startChildServer(['real', join(dir, 'data'), '0', storeUrl]);
  const c = HttpConnection.open(parseClickHouseUrl(storeUrl));
  try {
    const endpoint = `${server.url}/v1/events?access_token=${server.token ?? ''}`;
    // Untimed warm-up, as a server that has been up a while (P6 does the same): one event per kind of device of the
    // demo data, so the model-name table and the IP database are loaded and cached before the clock starts (the first
    // lookup of a model costs tens of milliseconds of the server's one thread).
    const now = Date.now();
    const warm = [...devices.values()].map((d, i) => ({ ...d, openid: WARM_UP_OPENID, time: now - 1000, event_id: `warm-${i}` }));
    const w = (await (await fetch(endpoint, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(warm) })).json()) as { errcode: number };
    if (w.errcode !== 0) throw new Error(`P5 ingest warm-up: ${JSON.stringify(w)}`);
    let next = 0;
    let accepted = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (;;) {
          const i = next++;
          const body = bodies[i];
          if (body === undefined) return;
          const r = await fetch(endpoint, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
          const j = (await r.json()) as { errcode: number; accepted: number };
          if (j.errcode !== 0) throw new Error(`P5 ingest: ${JSON.stringify(j)}`);
          accepted += j.accepted;
        }
      }),
    );
    const ms = performance.now() - t0;
    const rate = (accepted / ms) * 1000;
    log(`P5.ingest: ${accepted} events in ${ms.toFixed(0)} ms through /v1/events`);
    if (!client) {
      return [{ id: 'P5.ingest', what: 'ingest into ClickHouse through /v1/events', value: round(rate, 0), baseline: null, ratio: null, goal: '≥ 0.3', met: null, unit: 'events/s', skipped: 'clickhouse-client not installed' }];
    }
    // The same rows, as the store wrote them, inserted by clickhouse-client into a copy of the table.
    const file = join(dir, 'events.ndjson');
    const out = createWriteStream(file);
    await c.stream(sql`SELECT * FROM ${c.table('events')} WHERE openid != ${WARM_UP_OPENID}`, (row) => {
      out.write(`${JSON.stringify(row)}\n`);
    });
    await new Promise<void>((r) => out.end(r));
    const base: number[] = [];
    for (let i = 0; i < Math.max(1, Math.min(RUNS, 3)); i++) {
      await c.exec(sql`DROP TABLE IF EXISTS ${c.table('events_copy')}`);
      await c.exec(sql`CREATE TABLE ${c.table('events_copy')} AS ${c.table('events')}`);
      const u = new URL(target.http);
      const t1 = performance.now();
      execFileSync('bash', ['-c', '"$0" --host "$1" --port "$2" --user "$3" --password "$4" --query "INSERT INTO $5.events_copy FORMAT JSONEachRow" < "$6"',
        client, u.hostname, tcpPort(target.http), target.username, target.password, db, file], { stdio: ['ignore', 'ignore', 'inherit'] });
      base.push(performance.now() - t1);
    }
    const baseRate = (accepted / median(base)) * 1000;
    return [
      ratioAtLeast(
        {
          id: 'P5.ingest',
          what: `ingest into ClickHouse ${version} through /v1/events, ${accepted.toLocaleString('en-US')} events, 4 clients × 1,000-event batches (vs clickhouse-client inserting the same rows)`,
          value: round(rate, 0) ?? 0,
          baseline: round(baseRate, 0) ?? 0,
          unit: 'events/s',
          detail: { datacubeMs: round(ms, 0), clickhouseClientMs: base.map((x) => round(x, 0)), total, ...(QUICK ? { quick: true } : {}) },
        },
        0.3,
      ),
    ];
  } finally {
    await server.stop();
    try {
      await dropStoreDatabases(c);
    } finally {
      await c.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
