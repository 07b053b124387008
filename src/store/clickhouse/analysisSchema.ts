import { EVENT_TYPES, SESSION_GAP_MS } from '../../domain/analysis.ts';
import type { Connection } from './connection.ts';
import type { Migration } from './schema.ts';
import { ident, type Sql, sql } from './sql.ts';

/**
 * The ClickHouse tables behind the analysis family, folded from `events` in steps (analysisFold.ts; until migration
 * 1502, by materialized views on every insert), all of them sharded by cityHash64(appid, openid) like `events`, so a
 * user's rows live on the user's shard. Every table holds mergeable partial rows; queries (analysisQuery.ts) merge
 * them with the same aggregates of the events not folded yet, and finish sessions.
 *
 * - `an_user_days`: per (app, day, user): events, visit events (`pv`), their stay, share events. SummingMergeTree;
 *   `events` is never 0, so no row is ever summed away.
 * - `an_user_first`: per (app, user): the first day ever (minState).
 * - `an_page_days`: per (app, day, page `path`, user): visit and share events naming the page, views, their stay, shares.
 * - `an_id_sessions`: per (app, user, session value `sid`), of visit, open and share events only (an event of any
 *   other type takes no part in sessions): the session's first event time, first scene as a
 *   (time, scene) minimum, stay of its visits, distinct pages of its visits (`''` stands for none), entry and exit page
 *   as (time, page) minimum and maximum of its visits (sentinel times when none).
 * - `an_gap_slots`: the same per (app, user, 30-minute `slot` = time ÷ 30 min) for such events without a session value,
 *   plus the last event time. Two events in one slot are less than 30 minutes apart, and events two slots apart are
 *   more: so sessions without a value are the runs of consecutive slots in which each slot's first event follows the
 *   previous slot's last by at most 30 minutes, cut where it does not (found at query time).
 * - `an_shards` (cluster mode only): Distributed over `system.one`, one row per shard, to run a query once on every shard.
 *
 * Events stored before this migration are copied in once (each table only while it is still empty), before the views
 * start: events another server stores during those few statements are missed, so upgrade a shared ClickHouse with
 * ingest stopped, as for any migration.
 */

/** Sentinel times (±2^62, far beyond any event's): "no such event" in (time, value) minima and maxima. */
export const NO_TIME_MAX = 4_611_686_018_427_387_904n;
export const NO_TIME_MIN = -4_611_686_018_427_387_904n;
export const SLOT_MS = SESSION_GAP_MS;

const VISIT = EVENT_TYPES.VISIT;
const SHARE = EVENT_TYPES.SHARE;
/**
 * An event's type as ingest stores it since the analysis family: in lower case. Versions before it stored the type as
 * sent (`Visit`, `SHARE`), and such rows stay in `events`: every SELECT below reads the type through this.
 */
const TYPE = sql`lower(type)`;
/** Only these types make sessions: an event of any other type counts for visitors (uv) only (an_user_days/first). */
const SESSION_TYPES = sql`${TYPE} IN (${VISIT}, ${EVENT_TYPES.OPEN}, ${SHARE})`;

const SHARD_KEY = sql`cityHash64(appid, openid)`;

/**
 * The table on a single server; in cluster mode the local table on every server and the Distributed table in front,
 * sharded like `events` (schema.ts's createTable does the same; not imported, as schema.ts imports this file).
 */
function createTable(c: Connection, name: string, body: Sql, shardKey: Sql = SHARD_KEY): Sql[] {
  const local = c.local(name);
  if (!c.cluster) return [sql`CREATE TABLE IF NOT EXISTS ${local} ${body}`];
  return [
    sql`CREATE TABLE IF NOT EXISTS ${local}${c.onCluster} ${body}`,
    sql`CREATE TABLE IF NOT EXISTS ${c.table(name)}${c.onCluster} AS ${local}
        ENGINE = Distributed(${c.cluster}, ${c.db}, ${ident(c.localName(name))}, ${shardKey})`,
  ];
}

/** The aggregate columns of a session or slot row. */
const SESSION_STATE_COLUMNS = sql`
  first_time AggregateFunction(min, Int64),
  first_scene AggregateFunction(min, Tuple(Int64, Int32)),
  visit_stay AggregateFunction(sum, Float64),
  page_set AggregateFunction(groupUniqArray, String),
  entry_page AggregateFunction(min, Tuple(Int64, String)),
  exit_page AggregateFunction(max, Tuple(Int64, String))`;

/** The aggregate expressions filling SESSION_STATE_COLUMNS from events. */
function sessionStates(): Sql {
  const isVisit = sql`${TYPE} = ${VISIT}`;
  const viewed = sql`(${isVisit} AND isNotNull(page))`;
  return sql`
    minState(time) AS first_time,
    minState(tuple(if(isNull(scene), toInt64(${NO_TIME_MAX}), time), toInt32(ifNull(scene, 0)))) AS first_scene,
    sumState(if(${isVisit}, ifNull(stay, 0.), 0.)) AS visit_stay,
    groupUniqArrayState(if(${viewed}, ifNull(page, ''), '')) AS page_set,
    minState(tuple(if(${viewed}, time, toInt64(${NO_TIME_MAX})), ifNull(page, ''))) AS entry_page,
    maxState(tuple(if(${viewed}, time, toInt64(${NO_TIME_MIN})), ifNull(page, ''))) AS exit_page`;
}

/** An analysis table: its name, columns and engine, and the SELECT over `events` (or a part of it) that fills it. */
export interface AnalysisTable {
  name: AnalysisTableName;
  body: Sql;
  select: Sql;
}

export type AnalysisTableName = 'an_user_days' | 'an_user_first' | 'an_page_days' | 'an_id_sessions' | 'an_gap_slots';

/**
 * Each derived table and the SELECT that fills it from `events` — any table or subquery with the columns of
 * `events`, such as one app's events past a `seq` (analysisFold.ts). The SELECT's columns are the table's, in order.
 */
export function analysisTables(events: Sql, filter: Sql = sql`1`): AnalysisTable[] {
  return [
    {
      name: 'an_user_days',
      body: sql`(appid String, day Date, openid String, events UInt64, pv UInt64, stay Float64, shares UInt64)
        ENGINE = SummingMergeTree((events, pv, stay, shares)) PARTITION BY toYYYYMM(day) ORDER BY (appid, day, openid)`,
      select: sql`SELECT appid, day, openid, count() AS events, countIf(${TYPE} = ${VISIT}) AS pv,
          sumIf(ifNull(stay, 0.), ${TYPE} = ${VISIT}) AS stay, countIf(${TYPE} = ${SHARE}) AS shares
        FROM ${events} WHERE ${filter} GROUP BY appid, day, openid`,
    },
    {
      name: 'an_user_first',
      body: sql`(appid String, openid String, first_day AggregateFunction(min, Date)) ENGINE = AggregatingMergeTree() ORDER BY (appid, openid)`,
      select: sql`SELECT appid, openid, minState(day) AS first_day FROM ${events} WHERE ${filter} GROUP BY appid, openid`,
    },
    {
      name: 'an_page_days',
      body: sql`(appid String, day Date, path String, openid String, events UInt64, views UInt64, stay Float64, shares UInt64)
        ENGINE = SummingMergeTree((events, views, stay, shares)) PARTITION BY toYYYYMM(day) ORDER BY (appid, day, path, openid)`,
      select: sql`SELECT appid, day, assumeNotNull(page) AS path, openid, count() AS events, countIf(${TYPE} = ${VISIT}) AS views,
          sumIf(ifNull(stay, 0.), ${TYPE} = ${VISIT}) AS stay, countIf(${TYPE} = ${SHARE}) AS shares
        FROM ${events} WHERE ${filter} AND isNotNull(page) AND ${TYPE} IN (${VISIT}, ${SHARE}) GROUP BY appid, day, path, openid`,
    },
    {
      name: 'an_id_sessions',
      body: sql`(appid String, openid String, sid String, ${SESSION_STATE_COLUMNS})
        ENGINE = AggregatingMergeTree() ORDER BY (appid, openid, sid)`,
      select: sql`SELECT appid, openid, assumeNotNull(session) AS sid, ${sessionStates()}
        FROM ${events} WHERE ${filter} AND isNotNull(session) AND ${SESSION_TYPES} GROUP BY appid, openid, sid`,
    },
    {
      name: 'an_gap_slots',
      body: sql`(appid String, openid String, slot Int64, last_time AggregateFunction(max, Int64), ${SESSION_STATE_COLUMNS})
        ENGINE = AggregatingMergeTree() ORDER BY (appid, openid, slot)`,
      select: sql`SELECT appid, openid, intDiv(time, ${SLOT_MS}) AS slot, maxState(time) AS last_time, ${sessionStates()}
        FROM ${events} WHERE ${filter} AND isNull(session) AND ${SESSION_TYPES} GROUP BY appid, openid, slot`,
    },
  ];
}

export const ANALYSIS_MIGRATION: Migration = {
  // Numbered after its issue (14), as migrations 11 and 15 are, so that migrations added in parallel never collide.
  version: 14,
  name: 'analysis family: user-days, first days, page-days, sessions',
  statements: (c) => {
    const tables = analysisTables(c.local('events'));
    const backfill = analysisTables(c.table('events'));
    return [
      ...tables.flatMap((t) => createTable(c, t.name, t.body)),
      // Events stored before: copied in once, into tables still empty (through the Distributed tables in cluster mode).
      ...backfill.map(
        (t) => sql`INSERT INTO ${c.table(t.name)} SELECT * FROM (${t.select}) WHERE (SELECT count() FROM ${c.table(t.name)}) = 0
          ${c.cluster ? sql`SETTINGS insert_distributed_sync = 1` : sql``}`,
      ),
      ...tables.map((t) => sql`CREATE MATERIALIZED VIEW IF NOT EXISTS ${c.local(`${t.name}_mv`)}${c.onCluster} TO ${c.local(t.name)} AS ${t.select}`),
      ...(c.cluster ? [sql`CREATE TABLE IF NOT EXISTS ${c.table('an_shards')}${c.onCluster} (dummy UInt8) ENGINE = Distributed(${c.cluster}, system, one)`] : []),
    ];
  },
};

export const ANALYSIS_TABLE_NAMES: readonly AnalysisTableName[] = ['an_user_days', 'an_user_first', 'an_page_days', 'an_id_sessions', 'an_gap_slots'];

/**
 * Issue 15: the analysis tables are no longer filled by five materialized views on every insert into `events` (five
 * more parts per ingest commit, the largest share of ClickHouse's work per batch) but folded from `events` in larger
 * steps, by `seq`, under the app's writer lease (analysisFold.ts). `an_folds` records, per app, how far: every event
 * with `seq <= hi` is in the tables, `events` of them (a count, to notice events that appeared late or went), `done`
 * = 0 while a fold is under way (its rows may be partly in). The views go; every app's events are folded already
 * (the views did it), which the migration records. Upgrade with ingest stopped, as for any migration.
 */
export const ANALYSIS_FOLD_MIGRATION: Migration = {
  // Issue 15's third migration, after 15 and 1501 ("15, part 2").
  version: 1502,
  name: 'analysis tables folded from events in steps (an_folds), not by materialized views on every insert',
  statements: (c) => [
    ...createTable(
      c,
      'an_folds',
      sql`(appid String, hi UInt64, events UInt64, done UInt8, version UInt64) ENGINE = ReplacingMergeTree(version) ORDER BY appid`,
      sql`cityHash64(appid)`,
    ),
    ...ANALYSIS_TABLE_NAMES.map((name) => sql`DROP TABLE IF EXISTS ${c.local(`${name}_mv`)}${c.onCluster}`),
  ],
  // Safe to run again: the same rows (ReplacingMergeTree keeps one per app).
  run: async (c) => {
    await c.exec(
      sql`INSERT INTO ${c.table('an_folds')} SELECT appid, max(seq), count(), toUInt8(1), toUInt64(1) FROM ${c.table('events')} GROUP BY appid`,
    );
  },
};
