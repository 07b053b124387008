/**
 * P10: the analysis family on the embedded store, on P1's data-set size (2,000,000 users): the 30-day-later daily
 * retention, a weekly visit trend and a day's visit distribution, each through the store's API, against the bare
 * count(DISTINCT uid) over the same rows, measured in the same run (see bench/README.md).
 */
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { RETAIN_KEYS } from '../src/domain/analysis.ts';
import { parseDay } from '../src/domain/day.ts';
import type { Window } from '../src/domain/window.ts';
import { DuckDBStore } from '../src/store/duckdb/index.ts';
import { fillAnalysisSynthetic } from './analysisSynthetic.ts';
import { type Figure, QUICK, RUNS, log, median, ratioAtMost, round, timed } from './lib.ts';
import { PORTRAIT_SIZES } from './portrait.ts';

const DAYS = 31;
/** 2026-10-01 … 2026-10-31: day 1 has a key-30 day inside the data. */
const FIRST_DAY = parseDay('20261001') ?? 0;
const LAST_DAY = FIRST_DAY + DAYS - 1;
/** Monday 2026-10-19 to Sunday 2026-10-25. */
const WEEK: Window = { begin: parseDay('20261019') ?? 0, end: parseDay('20261025') ?? 0 };
const APPID = 'wxbenchanalysis0001';

async function scalar(conn: DuckDBConnection, sql: string): Promise<number> {
  return Number((await conn.runAndReadAll(sql)).getRows()[0]?.[0] ?? NaN);
}

/** Alternates the store call and the baseline (warm: one untimed call of each first); medians of RUNS. */
async function measure(call: () => Promise<unknown>, baseline: () => Promise<unknown>): Promise<{ value: number[]; base: number[] }> {
  await call();
  await baseline();
  const value: number[] = [];
  const base: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    value.push((await timed(call)).ms);
    base.push((await timed(baseline)).ms);
  }
  return { value, base };
}

export async function analysisBench(dir: string): Promise<Figure[]> {
  const file = join(dir, 'analysis.duckdb');
  const users = PORTRAIT_SIZES[2] ?? 2_000_000;
  {
    const g = await DuckDBStore.create(file, { memoryLimit: '8GB' });
    const c = await g.connect();
    log(`P10: generating ${users} users × ${DAYS} days of sessions and user-days inside DuckDB…`);
    const gen = await timed(() => fillAnalysisSynthetic(c, { appid: APPID, users, firstDay: FIRST_DAY, days: DAYS }));
    log(`P10: generated in ${(gen.ms / 1000).toFixed(1)} s: ${gen.result.userDays} user-days, ${gen.result.sessions} sessions`);
    c.closeSync();
    await g.close();
  }
  const store = await DuckDBStore.create(file);
  const conn = await store.connect();
  const figures: Figure[] = [];
  try {
    const app = await scalar(conn, `SELECT app FROM app_numbers WHERE appid = '${APPID}'`);
    const userDays = await scalar(conn, `SELECT count(*) FROM an_user_days WHERE app = ${app}`);
    const size = `${users.toLocaleString('en-US')} users / ${userDays.toLocaleString('en-US')} user-days`;

    // The 30-day-later daily retention of the first day: keys 0–7, 14 and 30.
    const cohort: Window = { begin: FIRST_DAY, end: FIRST_DAY };
    const later = RETAIN_KEYS.day.map((k) => ({ begin: FIRST_DAY + k, end: FIRST_DAY + k }));
    const retainDays = [FIRST_DAY, ...later.map((w) => w.begin)].join(', ');
    const retainBase = `SELECT count(DISTINCT uid) FROM bench_an_days WHERE app = ${app} AND day IN (${retainDays})`;
    const r = await store.retention(APPID, cohort, later);
    const cohortRows = await scalar(conn, `SELECT count(*) FROM bench_an_days WHERE app = ${app} AND day = ${FIRST_DAY}`);
    if (r.active[0] !== cohortRows) throw new Error(`retention key 0 is ${r.active[0]}, the day has ${cohortRows} users`);
    const retain = await measure(() => store.retention(APPID, cohort, later), () => conn.runAndReadAll(retainBase));
    figures.push(
      ratioAtMost(
        {
          id: 'P10',
          what: `daily retention with keys up to 30 days later (getDailyRetain), embedded, ${size} (vs bare count(DISTINCT uid) over the same ${RETAIN_KEYS.day.length + 1} days)`,
          value: round(median(retain.value), 1) ?? 0,
          baseline: round(median(retain.base), 1) ?? 0,
          unit: 'ms',
          detail: { valueMs: retain.value.map((x) => round(x, 1)), baselineMs: retain.base.map((x) => round(x, 1)), cohort: r },
        },
        1.0,
      ),
    );
    log(`P10: retention ${median(retain.value).toFixed(1)} ms, baseline ${median(retain.base).toFixed(1)} ms`);

    // A weekly visit trend: visitors distinct over the week, new visitors, views, stay, sessions, depth.
    const weekBase = `SELECT count(DISTINCT uid) FROM bench_an_days WHERE app = ${app} AND day BETWEEN ${WEEK.begin} AND ${WEEK.end}`;
    const t = await store.visitTrend(APPID, WEEK);
    const distinct = await scalar(conn, weekBase);
    if (t.visitUv !== distinct) throw new Error(`weekly visit_uv is ${t.visitUv}, the week has ${distinct} distinct users`);
    const week = await measure(() => store.visitTrend(APPID, WEEK), () => conn.runAndReadAll(weekBase));
    figures.push(
      ratioAtMost(
        {
          id: 'P10.week',
          what: `weekly visit trend (getWeeklyVisitTrend), embedded, ${size} (vs bare count(DISTINCT uid) over the week's user-days)`,
          value: round(median(week.value), 1) ?? 0,
          baseline: round(median(week.base), 1) ?? 0,
          unit: 'ms',
          detail: { valueMs: week.value.map((x) => round(x, 1)), baselineMs: week.base.map((x) => round(x, 1)), trend: t },
        },
        1.0,
      ),
    );
    log(`P10.week: trend ${median(week.value).toFixed(1)} ms, baseline ${median(week.base).toFixed(1)} ms`);

    // A day's visit distribution: sessions and distinct visitors per access source, stay and depth buckets.
    const day = LAST_DAY;
    const distBase = `SELECT source, count(DISTINCT uid) FROM bench_an_sessions WHERE app = ${app} AND day = ${day} GROUP BY source`;
    const d = await store.visitDistribution(APPID, day);
    const perSource = (await conn.runAndReadAll(distBase)).getRows().map(([s, n]) => `${Number(s)}:${Number(n)}`).sort();
    const mine = d.filter((x) => x.index === 'access_source_visit_uv').map((x) => `${x.key}:${x.value}`).sort();
    if (JSON.stringify(mine) !== JSON.stringify(perSource)) throw new Error('visitors per access source differ from the distinct count');
    const dist = await measure(() => store.visitDistribution(APPID, day), () => conn.runAndReadAll(distBase));
    const daySessions = await scalar(conn, `SELECT count(*) FROM bench_an_sessions WHERE app = ${app} AND day = ${day}`);
    figures.push(
      ratioAtMost(
        {
          id: 'P10.dist',
          what: `a day's visit distribution (getVisitDistribution), embedded, ${daySessions.toLocaleString('en-US')} sessions that day (vs bare count(DISTINCT uid) by access source over the day's sessions)`,
          value: round(median(dist.value), 1) ?? 0,
          baseline: round(median(dist.base), 1) ?? 0,
          unit: 'ms',
          detail: { valueMs: dist.value.map((x) => round(x, 1)), baselineMs: dist.base.map((x) => round(x, 1)) },
        },
        1.0,
      ),
    );
    log(`P10.dist: distribution ${median(dist.value).toFixed(1)} ms, baseline ${median(dist.base).toFixed(1)} ms`);
  } finally {
    conn.closeSync();
    await store.close();
  }
  if (QUICK) log('P10: quick mode (small sizes): the ratios mean nothing');
  return figures;
}
