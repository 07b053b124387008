/**
 * P1 (portraits on the embedded store against a bare distinct count) and P4 (cold 30-day portraits as the number
 * of users grows). Both use one DuckDB file filled by ./synthetic.ts with four apps of different sizes.
 */
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { parseDay } from '../src/domain/day.ts';
import type { Window } from '../src/domain/window.ts';
import { DuckDBStore } from '../src/store/duckdb/index.ts';
import { type Figure, QUICK, RUNS, log, median, powerLawExponent, ratioAtMost, round, timed } from './lib.ts';
import { fillSynthetic, type FilledApp } from './synthetic.ts';

const DAYS = 30;
/** The synthetic month: 2026-10-02 … 2026-10-31 (any fixed month would do). */
const LAST_DAY = parseDay('20261031') ?? 0;
const FIRST_DAY = LAST_DAY - DAYS + 1;

export const PORTRAIT_SIZES = QUICK ? [5_000, 10_000, 20_000, 40_000] : [500_000, 1_000_000, 2_000_000, 4_000_000];
/** The P1 app: the third size (2M users, about 20M user-days). */
const P1_INDEX = 2;

function appidFor(users: number): string {
  return `wxbench${String(users).padStart(11, '0')}`;
}

/** The baseline: a bare exact distinct count per province over the same user-day rows (see bench/README.md). */
function baselineSql(app: number, w: Window): string {
  return `SELECT province, count(DISTINCT uid) AS users FROM bench_plain WHERE app = ${app} AND day BETWEEN ${w.begin} AND ${w.end} GROUP BY province`;
}

async function scalar(conn: DuckDBConnection, sql: string): Promise<string> {
  return String((await conn.runAndReadAll(sql)).getRows()[0]?.[0] ?? '');
}

export async function portraitBench(dir: string): Promise<Figure[]> {
  const file = join(dir, 'portrait.duckdb');
  const figures: Figure[] = [];
  let apps: FilledApp[];
  let threads = '';
  {
    // Generating sorts tens of millions of rows: give DuckDB room for that, then reopen with the store's defaults.
    const gstore = await DuckDBStore.create(file, { memoryLimit: '8GB' });
    const gconn = await gstore.connect();
    log(`P1/P4: generating ${PORTRAIT_SIZES.join(', ')} users × ${DAYS} days inside DuckDB…`);
    const gen = await timed(() =>
      fillSynthetic(gconn, {
        firstDay: FIRST_DAY,
        days: DAYS,
        apps: PORTRAIT_SIZES.map((users) => ({ appid: appidFor(users), users })),
        plainFor: [appidFor(PORTRAIT_SIZES[P1_INDEX] ?? 0)],
      }),
    );
    apps = gen.result;
    log(`P1/P4: generated in ${(gen.ms / 1000).toFixed(1)} s: ${apps.map((a) => `${a.users} users/${a.userDays} user-days`).join(', ')}`);
    gconn.closeSync();
    await gstore.close();
    const store = await DuckDBStore.create(file);
    const conn = await store.connect();
    threads = await scalar(conn, "SELECT current_setting('threads')");
    const p1 = apps[P1_INDEX];
    if (!p1) throw new Error('no P1 app');

    for (const len of [30, 7, 1] as const) {
      const w: Window = { begin: LAST_DAY - len + 1, end: LAST_DAY };
      const sql = baselineSql(p1.app, w);
      // Warm both (buffer pool, JIT), then alternate so that noise hits both alike.
      await store.portrait(p1.appid, w);
      await conn.runAndReadAll(sql);
      const portrait: number[] = [];
      const base: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        portrait.push((await timed(() => store.portrait(p1.appid, w))).ms);
        base.push((await timed(() => conn.runAndReadAll(sql))).ms);
      }
      const id = len === 30 ? 'P1' : `P1.${len}d`;
      figures.push(
        ratioAtMost(
          {
            id,
            what: `${len}-day portrait, embedded, ${p1.users.toLocaleString('en-US')} users / ${p1.userDays.toLocaleString('en-US')} user-days (vs bare count(DISTINCT uid) by province)`,
            value: round(median(portrait), 1) ?? 0,
            baseline: round(median(base), 1) ?? 0,
            unit: 'ms',
            detail: { portraitMs: portrait.map((x) => round(x, 1)), baselineMs: base.map((x) => round(x, 1)), window: w, duckdbThreads: threads },
          },
          1.0,
        ),
      );
      log(`${id}: portrait ${median(portrait).toFixed(1)} ms, baseline ${median(base).toFixed(1)} ms`);
    }
    conn.closeSync();
    await store.close();
  }

  // P4: a freshly opened store (empty DuckDB buffer pool; the OS page cache is left alone) per run.
  const w30: Window = { begin: FIRST_DAY, end: LAST_DAY };
  const points: { x: number; y: number }[] = [];
  const perSize: Record<string, number[]> = {};
  for (const a of apps) {
    const runs: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const store = await DuckDBStore.create(file);
      runs.push((await timed(() => store.portrait(a.appid, w30))).ms);
      await store.close();
    }
    perSize[String(a.users)] = runs.map((x) => round(x, 1) ?? 0);
    points.push({ x: a.users, y: median(runs) });
    log(`P4: ${a.users} users: cold 30-day portrait ${median(runs).toFixed(1)} ms`);
  }
  const k = powerLawExponent(points);
  const first = points[0];
  const last = points[points.length - 1];
  figures.push({
    id: 'P4',
    what: `cold 30-day portrait at ${PORTRAIT_SIZES.map((n) => n.toLocaleString('en-US')).join(' / ')} users: fitted exponent k in time ∝ users^k`,
    value: round(k, 2),
    baseline: 1,
    ratio: round(k, 2),
    goal: '≤ 1.0 (linear or better)',
    met: k <= 1.0,
    detail: {
      medianMsBySize: Object.fromEntries(points.map((p) => [String(p.x), round(p.y, 1)])),
      runsMsBySize: perSize,
      growth: first && last ? `${(last.y / first.y).toFixed(2)}× time for ${(last.x / first.x).toFixed(0)}× users` : undefined,
    },
  });
  log(`P4: exponent ${k.toFixed(2)}`);
  return figures;
}
