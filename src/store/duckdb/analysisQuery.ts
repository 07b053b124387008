import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import {
  type DistributionCount,
  DISTRIBUTION_INDEXES,
  type PageCounts,
  type RetentionCounts,
  STAY_BUCKET_BOUNDS,
  type SummaryCounts,
  type TrendCounts,
} from '../../domain/analysis.ts';
import type { Window } from '../../domain/window.ts';
import { checkRetentionWindows } from '../analysisQueries.ts';

/**
 * The analysis family's answers from the tables of analysisSchema.ts: each a filtered scan of one day's, week's or
 * month's rows, with no per-user grouping (see the `hist` and `src_first` columns there). Integers are written
 * into the SQL (not bound) so that scans prune row groups by `app` and `day`.
 */

function integer(n: number): string {
  if (!Number.isSafeInteger(n)) throw new Error(`expected an integer, not ${n}`);
  return String(n);
}

function num(v: DuckDBValue | undefined): number {
  return typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : v === null || v === undefined ? 0 : Number(v);
}

async function rows(conn: DuckDBConnection, sql: string): Promise<Record<string, DuckDBValue>[]> {
  return (await conn.runAndReadAll(sql)).getRowObjects();
}

/** The app's number in the derived tables, or undefined when it has no events yet. Numbers never change. */
export async function analysisApp(conn: DuckDBConnection, appid: string, cache: Map<string, number>): Promise<number | undefined> {
  const hit = cache.get(appid);
  if (hit !== undefined) return hit;
  const r = await conn.runAndReadAll('SELECT app FROM app_numbers WHERE appid = $1', [appid]);
  const v = r.getRows()[0]?.[0];
  if (v === undefined || v === null) return undefined;
  cache.set(appid, Number(v));
  return Number(v);
}

/** A shift amount clamped to 0–63: DuckDB may evaluate a FILTER's terms on rows its other terms rule out. */
function shift(amount: string): string {
  return `least(greatest(${amount}, 0), 63)`;
}

/** SQL: this user-day row (inside the window) is the user's first one inside the window starting on `begin`. */
function firstSince(begin: string): string {
  return `(hist & ((1::UBIGINT << ${shift(`day - ${begin}`)}) - 1)) = 0`;
}

export async function trendQuery(conn: DuckDBConnection, app: number, w: Window): Promise<TrendCounts> {
  const a = integer(app);
  const b = integer(w.begin);
  const e = integer(w.end);
  const [u] = await rows(
    conn,
    `SELECT count(*) FILTER (WHERE ${firstSince(b)}) AS uv, count(*) FILTER (WHERE ${firstSince(b)} AND first_day BETWEEN ${b} AND ${e}) AS uv_new,
       coalesce(sum(pv), 0) AS pv, coalesce(sum(stay), 0) AS stay
     FROM an_user_days WHERE app = ${a} AND day BETWEEN ${b} AND ${e}`,
  );
  const [s] = await rows(conn, `SELECT count(*) AS n, coalesce(sum(depth), 0) AS depth FROM an_sessions WHERE app = ${a} AND day BETWEEN ${b} AND ${e}`);
  return {
    sessions: num(s?.n),
    visitPv: num(u?.pv),
    visitUv: num(u?.uv),
    visitUvNew: num(u?.uv_new),
    stay: num(u?.stay),
    depth: num(s?.depth),
  };
}

export async function summaryQuery(conn: DuckDBConnection, app: number, day: number): Promise<SummaryCounts> {
  const a = integer(app);
  const d = integer(day);
  const [t] = await rows(conn, `SELECT count(*) AS n FROM an_users WHERE app = ${a} AND first_day <= ${d}`);
  const [s] = await rows(
    conn,
    `SELECT coalesce(sum(shares), 0) AS pv, count(*) FILTER (WHERE shares > 0) AS uv FROM an_user_days WHERE app = ${a} AND day = ${d}`,
  );
  return { visitTotal: num(t?.n), sharePv: num(s?.pv), shareUv: num(s?.uv) };
}

const STAY_CASE = `CASE ${STAY_BUCKET_BOUNDS.map((b, i) => `WHEN stay <= ${b} THEN ${i + 1}`).join(' ')} ELSE ${STAY_BUCKET_BOUNDS.length + 1} END`;
const DEPTH_CASE = 'CASE WHEN depth <= 1 THEN 1 WHEN depth <= 5 THEN depth WHEN depth <= 10 THEN 6 ELSE 7 END';

export async function distributionQuery(conn: DuckDBConnection, app: number, day: number): Promise<DistributionCount[]> {
  const r = await rows(
    conn,
    `SELECT source, stay_b, depth_b, count(*) AS n, count(*) FILTER (WHERE src_first) AS u, GROUPING(source) AS gs, GROUPING(stay_b) AS gt
     FROM (SELECT source, ${STAY_CASE} AS stay_b, ${DEPTH_CASE} AS depth_b, src_first
           FROM an_sessions WHERE app = ${integer(app)} AND day = ${integer(day)})
     GROUP BY GROUPING SETS ((source), (stay_b), (depth_b))`,
  );
  const [sourceSessions, sourceUv, stay, depth] = DISTRIBUTION_INDEXES;
  const out: DistributionCount[] = [];
  for (const x of r) {
    if (num(x.gs) === 0) {
      out.push({ index: sourceSessions, key: num(x.source), value: num(x.n) });
      out.push({ index: sourceUv, key: num(x.source), value: num(x.u) });
    } else if (num(x.gt) === 0) out.push({ index: stay, key: num(x.stay_b), value: num(x.n) });
    else out.push({ index: depth, key: num(x.depth_b), value: num(x.n) });
  }
  return out.filter((c) => c.value > 0);
}

export async function pagesQuery(conn: DuckDBConnection, app: number, day: number, limit: number): Promise<PageCounts[]> {
  const a = integer(app);
  const d = integer(day);
  const r = await rows(
    conn,
    `WITH v AS (
       SELECT page, sum(views) AS pv, count(*) FILTER (WHERE views > 0) AS uv, sum(stay) AS stay,
         sum(shares) AS spv, count(*) FILTER (WHERE shares > 0) AS suv
       FROM an_page_days WHERE app = ${a} AND day = ${d} GROUP BY page
     ), s AS (SELECT entry_page, exit_page FROM an_sessions WHERE app = ${a} AND day = ${d}),
     en AS (SELECT entry_page AS page, count(*) AS n FROM s WHERE entry_page IS NOT NULL GROUP BY 1),
     ex AS (SELECT exit_page AS page, count(*) AS n FROM s WHERE exit_page IS NOT NULL GROUP BY 1),
     k AS (SELECT page FROM v UNION SELECT page FROM en UNION SELECT page FROM ex)
     SELECT p.path, coalesce(v.pv, 0) AS pv, coalesce(v.uv, 0) AS uv, coalesce(v.stay, 0) AS stay, coalesce(en.n, 0) AS entry,
       coalesce(ex.n, 0) AS exit, coalesce(v.spv, 0) AS spv, coalesce(v.suv, 0) AS suv
     FROM k JOIN an_pages p ON p.app = ${a} AND p.page = k.page
     LEFT JOIN v ON v.page = k.page LEFT JOIN en ON en.page = k.page LEFT JOIN ex ON ex.page = k.page
     ORDER BY pv DESC, p.path LIMIT ${integer(limit)}`,
  );
  return r.map((x) => ({
    path: String(x.path),
    visitPv: num(x.pv),
    visitUv: num(x.uv),
    stay: num(x.stay),
    entry: num(x.entry),
    exit: num(x.exit),
    sharePv: num(x.spv),
    shareUv: num(x.suv),
  }));
}

/**
 * Retention in one scan of the cohort's and the later periods' rows, grouped by period: a row that is its user's
 * first inside its period counts for the active cohort when it is in the cohort's period itself or its `hist` has a
 * bit for a day of the cohort's period, and for the new cohort when it counts for the active one and the user's first
 * day is in the cohort's period (the same without a prune; after one, a kept first day without a day left is no
 * visit).
 */
export async function retentionQuery(conn: DuckDBConnection, app: number, cohort: Window, later: readonly Window[]): Promise<RetentionCounts> {
  checkRetentionWindows(cohort, later);
  const windows = [cohort, ...later];
  const b = integer(cohort.begin);
  const e = integer(cohort.end);
  const span = integer(cohort.end - cohort.begin + 1);
  const inWindow = (w: Window) => `day BETWEEN ${integer(w.begin)} AND ${integer(w.end)}`;
  const k = `CASE ${windows.map((w, i) => `WHEN ${inWindow(w)} THEN ${i}`).join(' ')} END`;
  const begin = `CASE ${windows.map((w) => `WHEN ${inWindow(w)} THEN ${integer(w.begin)}`).join(' ')} END`;
  const r = await rows(
    conn,
    `SELECT k, count(*) FILTER (WHERE active) AS a, count(*) FILTER (WHERE fresh) AS n
     FROM (
       SELECT k, active AND first_day BETWEEN ${b} AND ${e} AS fresh, active
       FROM (SELECT k, first_day, k = 0 OR (hist & (((1::UBIGINT << ${span}) - 1) << ${shift(`day - 1 - ${e}`)})) <> 0 AS active, hist, day, wb
       FROM (SELECT ${k} AS k, ${begin} AS wb, day, hist, first_day FROM an_user_days
             WHERE app = ${integer(app)} AND (${windows.map(inWindow).join(' OR ')})))
       WHERE (hist & ((1::UBIGINT << ${shift('day - wb')}) - 1)) = 0
     )
     GROUP BY k`,
  );
  const out: RetentionCounts = { new: windows.map(() => 0), active: windows.map(() => 0) };
  for (const x of r) {
    const i = num(x.k);
    out.active[i] = num(x.a);
    out.new[i] = num(x.n);
  }
  return out;
}
