import { ACCESS_SOURCE_OTHER, SCENE_SOURCES } from '../../domain/accessSource.ts';
import {
  compareText,
  type DistributionCount,
  type DistributionIndex,
  type PageCounts,
  type RetentionCounts,
  SESSION_GAP_MS,
  STAY_BUCKET_BOUNDS,
  type SummaryCounts,
  type TrendCounts,
} from '../../domain/analysis.ts';
import { dayOf, startOfDay } from '../../domain/day.ts';
import type { Window } from '../../domain/window.ts';
import { checkRetentionWindows } from '../analysisQueries.ts';
import { NO_TIME_MAX, NO_TIME_MIN, SLOT_MS } from './analysisSchema.ts';
import { NO_NEXT_DAY } from './chain.ts';
import type { AnalysisSources } from './analysisFold.ts';
import type { Connection, JsonRow } from './connection.ts';
import { date, join, type Sql, sql } from './sql.ts';

/**
 * The analysis family's answers on ClickHouse, from the tables of analysisSchema.ts and the aggregates of the events
 * not folded into them yet (`src`, analysisFold.ts). Each query is written for one shard's own rows (`c.local`): on a
 * single server that is the whole query; in cluster mode it is the right side of a JOIN with `an_shards` (one row per
 * shard), so it runs on every shard against that shard's tables and events, and as each user lives on one shard, the
 * shards' counts (distinct users included) add up.
 */

/** Runs `inner` (which selects `toUInt8(0) AS dummy` and per-shard columns) on every shard; `outer` sums them. */
async function onShards<T extends JsonRow>(c: Connection, inner: Sql, outer: Sql, groupBy?: Sql): Promise<T[]> {
  const from = c.cluster ? sql`${c.table('an_shards')} ALL INNER JOIN (${inner}) USING dummy` : sql`(${inner})`;
  return c.rows<T>(sql`SELECT ${outer} FROM ${from}${groupBy ? sql` GROUP BY ${groupBy}` : sql``}`);
}

const n = (v: unknown) => Number(v ?? 0);

const dayRange = (w: Window) => sql`day >= ${date(w.begin)} AND day <= ${date(w.end)}`;

/** Users whose first day ever is in the window (one shard's). */
function newUsers(src: AnalysisSources, appid: string, w: Window): Sql {
  return sql`SELECT openid FROM ${src.from('an_user_first')} WHERE appid = ${appid}
    GROUP BY openid HAVING minMerge(first_day) >= ${date(w.begin)} AND minMerge(first_day) <= ${date(w.end)}`;
}

const SCENES = [...SCENE_SOURCES.keys()];
const SOURCES = SCENES.map((s) => SCENE_SOURCES.get(s) ?? ACCESS_SOURCE_OTHER);

/**
 * One shard's sessions whose first event is in [t0, t1) (ms), with `source`, `stay`, `depth`, `entry`/`exit`
 * (`has_entry`/`has_exit`), and `cut`: 1 when a session without a session value may go on past `lastSlot` (the query
 * must then be run again with a later `lastSlot`).
 */
/** The days of the events in 30-minute slots `first` … `last` (a day's events are those whose time falls in it). */
function slotDays(first: number, last: number): Sql {
  const day = (ms: number) => date(Math.min(Math.max(dayOf(ms), 0), NO_NEXT_DAY - 1));
  return sql`day >= ${day(first * SLOT_MS)} AND day <= ${day((last + 1) * SLOT_MS)}`;
}

function sessions(src: AnalysisSources, appid: string, t0: number, t1: number, lastSlot: number): Sql {
  const firstSlot = Math.floor(t0 / SLOT_MS) - 1;
  const idSessions = sql`
    SELECT openid, minMerge(first_time) AS first_time, minMerge(first_scene) AS sc, sumMerge(visit_stay) AS stay,
      arrayFilter(x -> x != '', groupUniqArrayMerge(page_set)) AS pages, minMerge(entry_page) AS en, maxMerge(exit_page) AS ex,
      toUInt8(0) AS cut
    FROM ${src.from('an_id_sessions')} WHERE appid = ${appid} GROUP BY openid, sid`;
  const slots = sql`
    SELECT openid, slot, minMerge(first_time) AS f, maxMerge(last_time) AS l, minMerge(first_scene) AS sc1, sumMerge(visit_stay) AS st,
      groupUniqArrayMerge(page_set) AS pg, minMerge(entry_page) AS en1, maxMerge(exit_page) AS ex1
    FROM ${src.from('an_gap_slots', sql`slot >= ${firstSlot} AND slot <= ${lastSlot}`, slotDays(firstSlot, lastSlot))}
    WHERE appid = ${appid}
    GROUP BY openid, slot`;
  // Per user, slots in order; a slot starts a session unless it directly follows a slot whose last event is at most
  // 30 minutes before its first; sessions are numbered by the running count of starts.
  const runs = sql`
    SELECT openid, arraySort(x -> tupleElement(x, 1), groupArray((slot, f, l, sc1, st, pg, en1, ex1))) AS a,
      arrayCumSum(arrayMap(i -> toUInt32(i = 1 OR tupleElement(a[i], 1) != tupleElement(a[i - 1], 1) + 1
        OR tupleElement(a[i], 2) - tupleElement(a[i - 1], 3) > ${SESSION_GAP_MS}), arrayEnumerate(a))) AS grps
    FROM (${slots}) GROUP BY openid`;
  const gapSessions = sql`
    SELECT openid, min(tupleElement(e, 2)) AS first_time, min(tupleElement(e, 4)) AS sc, sum(tupleElement(e, 5)) AS stay,
      arrayFilter(x -> x != '', groupUniqArrayArray(tupleElement(e, 6))) AS pages, min(tupleElement(e, 7)) AS en,
      max(tupleElement(e, 8)) AS ex, toUInt8(max(tupleElement(e, 1)) >= ${lastSlot}) AS cut
    FROM (${runs}) ARRAY JOIN a AS e, grps AS grp
    GROUP BY openid, grp`;
  const stayBucket = sql`multiIf(${join(STAY_BUCKET_BOUNDS.map((b, i) => sql`stay <= ${b}, ${i + 1}`))}, ${STAY_BUCKET_BOUNDS.length + 1})`;
  return sql`
    SELECT openid, stay, depth, cut,
      if(tupleElement(sc, 1) = ${NO_TIME_MAX}, ${ACCESS_SOURCE_OTHER}, transform(tupleElement(sc, 2), ${SCENES}, ${SOURCES}, ${ACCESS_SOURCE_OTHER})) AS source,
      ${stayBucket} AS stay_b,
      multiIf(depth <= 1, 1, depth <= 5, depth, depth <= 10, 6, 7) AS depth_b,
      tupleElement(en, 2) AS entry, tupleElement(en, 1) != ${NO_TIME_MAX} AS has_entry,
      tupleElement(ex, 2) AS exit, tupleElement(ex, 1) != ${NO_TIME_MIN} AS has_exit
    FROM (
      SELECT openid, first_time, sc, stay, length(pages) AS depth, en, ex, cut FROM (${idSessions})
      UNION ALL
      SELECT openid, first_time, sc, stay, length(pages) AS depth, en, ex, cut FROM (${gapSessions})
    ) WHERE first_time >= ${t0} AND first_time < ${t1}`;
}

/**
 * Runs a query over the sessions of [begin, end] with a first guess of how far sessions may run, and again with a
 * doubled reach while a session may go on past it (a session without a value can in principle go on for days).
 */
async function withSessions<T extends JsonRow & { cut: unknown }>(
  src: AnalysisSources,
  appid: string,
  w: Window,
  query: (sessionsSql: Sql) => Promise<T[]>,
): Promise<T[]> {
  const t0 = startOfDay(w.begin);
  const t1 = startOfDay(w.end + 1);
  for (let reach = 48; ; reach *= 2) {
    const rows = await query(sessions(src, appid, t0, t1, Math.floor(t1 / SLOT_MS) + reach));
    if (!rows.some((r) => n(r.cut) > 0)) return rows;
  }
}

export async function trendCounts(c: Connection, src: AnalysisSources, appid: string, w: Window): Promise<TrendCounts> {
  const [u] = await onShards<{ uv: string; pv: string; stay: number }>(
    c,
    sql`SELECT toUInt8(0) AS dummy, uniqExact(openid) AS uv, sum(pv) AS pv, sum(stay) AS stay
        FROM ${src.from('an_user_days', dayRange(w), dayRange(w))} WHERE appid = ${appid}`,
    sql`sum(uv) AS uv, sum(pv) AS pv, sum(stay) AS stay`,
  );
  // Of the window's visitors (the same as all new users without a prune; after one, a kept first day is no visit).
  const [f] = await onShards<{ n: string }>(
    c,
    sql`SELECT toUInt8(0) AS dummy, count() AS n FROM (${newUsers(src, appid, w)})
        WHERE openid IN (SELECT openid FROM ${src.from('an_user_days', dayRange(w), dayRange(w))} WHERE appid = ${appid})`,
    sql`sum(n) AS n`,
  );
  const [s] = await withSessions(src, appid, w, (ss) =>
    onShards<{ n: string; depth: string; cut: string }>(
      c,
      sql`SELECT toUInt8(0) AS dummy, count() AS n, sum(depth) AS depth, max(cut) AS cut FROM (${ss})`,
      sql`sum(n) AS n, sum(depth) AS depth, max(cut) AS cut`,
    ),
  );
  return { sessions: n(s?.n), visitPv: n(u?.pv), visitUv: n(u?.uv), visitUvNew: n(f?.n), stay: n(u?.stay), depth: n(s?.depth) };
}

export async function summaryCounts(c: Connection, src: AnalysisSources, appid: string, day: number): Promise<SummaryCounts> {
  const [t] = await onShards<{ n: string }>(
    c,
    sql`SELECT toUInt8(0) AS dummy, count() AS n FROM (
          SELECT openid FROM ${src.from('an_user_first')} WHERE appid = ${appid} GROUP BY openid HAVING minMerge(first_day) <= ${date(day)})`,
    sql`sum(n) AS n`,
  );
  const [s] = await onShards<{ pv: string; uv: string }>(
    c,
    sql`SELECT toUInt8(0) AS dummy, sum(shares) AS pv, uniqExactIf(openid, shares > 0) AS uv
        FROM ${src.from('an_user_days', sql`day = ${date(day)}`, sql`day = ${date(day)}`)} WHERE appid = ${appid}`,
    sql`sum(pv) AS pv, sum(uv) AS uv`,
  );
  return { visitTotal: n(t?.n), sharePv: n(s?.pv), shareUv: n(s?.uv) };
}

const INDEXES: Record<number, DistributionIndex> = { 1: 'access_source_session_cnt', 3: 'access_staytime_info', 4: 'access_depth_info' };

export async function distributionCounts(c: Connection, src: AnalysisSources, appid: string, day: number): Promise<DistributionCount[]> {
  const rows = await withSessions(src, appid, { begin: day, end: day }, (ss) =>
    onShards<{ idx: number; k: number; n: string; u: string; cut: string }>(
      c,
      sql`SELECT toUInt8(0) AS dummy, tupleElement(t, 1) AS idx, tupleElement(t, 2) AS k, count() AS n, uniqExact(openid) AS u, max(cut) AS cut
          FROM (${ss}) ARRAY JOIN [(1, toUInt32(source)), (3, toUInt32(stay_b)), (4, toUInt32(depth_b))] AS t
          GROUP BY idx, k`,
      sql`idx, k, sum(n) AS n, sum(u) AS u, max(cut) AS cut`,
      sql`idx, k`,
    ),
  );
  const out: DistributionCount[] = [];
  for (const r of rows) {
    const index = INDEXES[n(r.idx)];
    if (!index) continue;
    out.push({ index, key: n(r.k), value: n(r.n) });
    if (n(r.idx) === 1) out.push({ index: 'access_source_visit_uv', key: n(r.k), value: n(r.u) });
  }
  return out.filter((x) => x.value > 0);
}

export async function pageCounts(c: Connection, src: AnalysisSources, appid: string, day: number, limit: number): Promise<PageCounts[]> {
  const stats = await onShards<{ path: string; pv: string; uv: string; stay: number; spv: string; suv: string }>(
    c,
    sql`SELECT toUInt8(0) AS dummy, path, sum(views) AS pv, uniqExactIf(openid, views > 0) AS uv, sum(stay) AS stay,
          sum(shares) AS spv, uniqExactIf(openid, shares > 0) AS suv
        FROM ${src.from('an_page_days', sql`day = ${date(day)}`, sql`day = ${date(day)}`)} WHERE appid = ${appid} GROUP BY path`,
    sql`path, sum(pv) AS pv, sum(uv) AS uv, sum(stay) AS stay, sum(spv) AS spv, sum(suv) AS suv`,
    sql`path`,
  );
  const ends = await withSessions(src, appid, { begin: day, end: day }, (ss) =>
    onShards<{ kind: number; path: string; n: string; cut: string }>(
      c,
      sql`SELECT toUInt8(0) AS dummy, tupleElement(t, 1) AS kind, tupleElement(t, 2) AS path, count() AS n, max(cut) AS cut
          FROM (${ss}) ARRAY JOIN arrayFilter(x -> tupleElement(x, 3), [(1, entry, has_entry), (2, exit, has_exit)]) AS t
          GROUP BY kind, path`,
      sql`kind, path, sum(n) AS n, max(cut) AS cut`,
      sql`kind, path`,
    ),
  );
  const pages = new Map<string, PageCounts>();
  const page = (path: string) => {
    let p = pages.get(path);
    if (!p) pages.set(path, (p = { path, visitPv: 0, visitUv: 0, stay: 0, entry: 0, exit: 0, sharePv: 0, shareUv: 0 }));
    return p;
  };
  for (const r of stats) Object.assign(page(r.path), { visitPv: n(r.pv), visitUv: n(r.uv), stay: n(r.stay), sharePv: n(r.spv), shareUv: n(r.suv) });
  for (const r of ends) {
    if (n(r.kind) === 1) page(r.path).entry += n(r.n);
    else page(r.path).exit += n(r.n);
  }
  return [...pages.values()].sort((a, b) => b.visitPv - a.visitPv || compareText(a.path, b.path)).slice(0, limit);
}

export async function retentionCounts(c: Connection, src: AnalysisSources, appid: string, cohort: Window, later: readonly Window[]): Promise<RetentionCounts> {
  checkRetentionWindows(cohort, later);
  const windows = [cohort, ...later];
  const which = sql`multiIf(${join(windows.map((w, i) => sql`${dayRange(w)}, ${i}`))}, -1)`;
  const anyWindow = sql`(${join(windows.map((w) => sql`(${dayRange(w)})`), sql` OR `)})`;
  const active = sql`SELECT openid FROM ${src.from('an_user_days', dayRange(cohort), dayRange(cohort))} WHERE appid = ${appid}`;
  const rows = await onShards<{ k: number; a: string; f: string }>(
    c,
    sql`SELECT toUInt8(0) AS dummy, k, uniqExactIf(openid, openid IN (${active})) AS a, uniqExactIf(openid, openid IN (${active}) AND openid IN (${newUsers(src, appid, cohort)})) AS f
        FROM (SELECT openid, ${which} AS k FROM ${src.from('an_user_days', anyWindow, anyWindow)}
              WHERE appid = ${appid})
        WHERE k >= 0 GROUP BY k`,
    sql`k, sum(a) AS a, sum(f) AS f`,
    sql`k`,
  );
  const out: RetentionCounts = { new: windows.map(() => 0), active: windows.map(() => 0) };
  for (const r of rows) {
    const k = n(r.k);
    out.active[k] = n(r.a);
    out.new[k] = n(r.f);
  }
  return out;
}
