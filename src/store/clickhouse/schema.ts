import { VALUE_BITS } from '../packing.ts';
import { ANALYSIS_SESSION_TYPES_MIGRATION, ANALYSIS_TYPE_CASE_MIGRATION } from './analysisFold.ts';
import { ANALYSIS_FOLD_MIGRATION, ANALYSIS_MIGRATION } from './analysisSchema.ts';
import type { Connection } from './connection.ts';
import { TIME_OFFSET_MS } from './chain.ts';
import { chainDayCounts } from './dayCounts.ts';
import { appsWithEvents, rebuildChain } from './derive.ts';
import { ident, type Sql, sql } from './sql.ts';

/**
 * The ClickHouse schema as numbered migrations. Each runs once, in order, and is recorded in `schema_migrations`.
 * Every statement is idempotent (`IF NOT EXISTS`), because two datacube servers may start at the same time and
 * because a crash can fall between a statement and its record. Never edit a migration that has shipped.
 *
 * Tables (see connection.ts for the single-server and cluster layouts):
 * - `events`: every accepted event, append-only, the truth. MergeTree partitioned by month of `day`, sorted by
 *   (appid, day, cityHash64(openid)). Sharded by cityHash64(appid, openid): each user lives on exactly one shard,
 *   and so do the user's rows in the derived tables below, which the shard's materialized views fill.
 * - `user_chain` (migration 15; replaces `user_days` and `user_first`, whose materialized views it drops): per user a
 *   chain row per visit day and a state row, written by datacube (derive.ts; layout in chain.ts), read by portrait.ts.
 * Before migration 15:
 * - `user_days`: per (app, day, user) and dimension, the latest known value packed as `(t << 20) | value` where
 *   t = ms since Shanghai 1970-01-01 00:00 (always >= 0 for a valid Date) and 0 = unknown; devices as the
 *   largest (t + 1, name) tuple, (0, '') = unknown. AggregatingMergeTree with maxState, fed by `user_days_mv`.
 * - `user_first`: per (app, user) the first day ever (minState), fed by `user_first_mv`.
 * - `event_ids`: (app, event_id) of every stored event that has one, for duplicate checks by primary key.
 * - `apps`, `tokens`: ReplacingMergeTree(version); a change is a new row with a higher version and reads take
 *   argMax(…, version), so any number of datacube servers in front of the same ClickHouse agree without FINAL.
 * - `usage`: SummingMergeTree(calls); adding is inserting a row, reading is sum(calls).
 * - `app_devices` (migration 3): the device names each app has used, at most DATACUBE_MAX_DEVICE_NAMES per app.
 * - `force_refreshes` (migration 3): the time of each stable_token forced refresh.
 * In cluster mode the small tables are sharded too (by appid, token hash, usage key), so every server of the
 * cluster sees the same apps, tokens and counters, and no server is special.
 * - `shards` (cluster mode only): Distributed over `system.one`, one row per shard, used to run a query once on
 *   every shard against its local tables (see portrait.ts).
 */
export interface Migration {
  version: number;
  name: string;
  statements(c: Connection): Sql[];
  /** Work after the statements (data to move); must be safe to run again if it was cut short. */
  run?(c: Connection, keepAlive: () => Promise<void>): Promise<void>;
}

/**
 * `CREATE TABLE` for a logical table: the table itself on a single server; in cluster mode the local table on
 * every server plus the Distributed table in front, sharded by `shardKey`.
 */
export function createTable(c: Connection, name: string, body: Sql, shardKey: Sql): Sql[] {
  const local = c.local(name);
  if (!c.cluster) return [sql`CREATE TABLE IF NOT EXISTS ${local} ${body}`];
  return [
    sql`CREATE TABLE IF NOT EXISTS ${local}${c.onCluster} ${body}`,
    sql`CREATE TABLE IF NOT EXISTS ${c.table(name)}${c.onCluster} AS ${local}
        ENGINE = Distributed(${c.cluster}, ${c.db}, ${ident(c.localName(name))}, ${shardKey})`,
  ];
}

/**
 * `ALTER TABLE … ADD COLUMN` for a logical table (the local table, and in cluster mode the Distributed table in front).
 * ClickHouse 18.16 has no `ADD COLUMN IF NOT EXISTS`: `migrate` takes "column already exists" as done.
 */
export function addColumn(c: Connection, name: string, column: Sql): Sql[] {
  const local = sql`ALTER TABLE ${c.local(name)}${c.onCluster} ADD COLUMN ${column}`;
  if (!c.cluster) return [local];
  return [local, sql`ALTER TABLE ${c.table(name)}${c.onCluster} ADD COLUMN ${column}`];
}

/** A materialized view from a local table into a local table (on every server in cluster mode). */
function createView(c: Connection, name: string, target: string, select: Sql): Sql {
  return sql`CREATE MATERIALIZED VIEW IF NOT EXISTS ${c.local(name)}${c.onCluster} TO ${c.local(target)} AS ${select}`;
}

export { TIME_OFFSET_MS };

/** `(t << VALUE_BITS) | value` when the value is known (non-zero), else 0; as Int64. */
function packed(column: string): Sql {
  const col = ident(column);
  return sql`if(${col} = 0, toInt64(0), bitOr(bitShiftLeft(toInt64(time + ${TIME_OFFSET_MS}), ${VALUE_BITS}), toInt64(${col})))`;
}

export const BOOTSTRAP = (c: Connection): Sql[] => [
  sql`CREATE DATABASE IF NOT EXISTS ${c.db}${c.onCluster}`,
  ...createTable(
    c,
    'schema_migrations',
    sql`(version UInt32, name String, applied_at DateTime DEFAULT now()) ENGINE = ReplacingMergeTree() ORDER BY version`,
    sql`version`,
  ),
];

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'events and derived per-user tables',
    statements: (c) => [
      ...createTable(
        c,
        'events',
        sql`(
          appid String,
          seq UInt64,
          event_id Nullable(String),
          openid String,
          time Int64,
          day Date,
          gender UInt8,
          age Nullable(UInt8),
          age_bucket UInt8,
          platform Nullable(String),
          platform_id UInt8,
          brand Nullable(String),
          model Nullable(String),
          device Nullable(String),
          province UInt32,
          city UInt32,
          ip Nullable(String),
          type String,
          page Nullable(String),
          scene Nullable(Int32),
          session Nullable(String),
          stay Nullable(Float64),
          props Nullable(String),
          inserted_at DateTime DEFAULT now()
        ) ENGINE = MergeTree() PARTITION BY toYYYYMM(day) ORDER BY (appid, day, cityHash64(openid))`,
        sql`cityHash64(appid, openid)`,
      ),
      ...createTable(
        c,
        'user_days',
        sql`(
          appid String,
          day Date,
          openid String,
          province AggregateFunction(max, Int64),
          city AggregateFunction(max, Int64),
          gender AggregateFunction(max, Int64),
          platform AggregateFunction(max, Int64),
          age AggregateFunction(max, Int64),
          device AggregateFunction(max, Tuple(Int64, String))
        ) ENGINE = AggregatingMergeTree() PARTITION BY toYYYYMM(day) ORDER BY (appid, day, openid)`,
        sql`cityHash64(appid, openid)`,
      ),
      ...createTable(
        c,
        'user_first',
        sql`(appid String, openid String, first_day AggregateFunction(min, Date))
            ENGINE = AggregatingMergeTree() ORDER BY (appid, openid)`,
        sql`cityHash64(appid, openid)`,
      ),
      ...createTable(
        c,
        'event_ids',
        sql`(appid String, event_id String) ENGINE = ReplacingMergeTree() ORDER BY (appid, event_id)`,
        sql`cityHash64(appid, event_id)`,
      ),
      createView(
        c,
        'user_days_mv',
        'user_days',
        sql`SELECT appid, day, openid,
              maxState(${packed('province')}) AS province,
              maxState(${packed('city')}) AS city,
              maxState(${packed('gender')}) AS gender,
              maxState(${packed('platform_id')}) AS platform,
              maxState(${packed('age_bucket')}) AS age,
              maxState(tuple(if(isNull(device), toInt64(0), toInt64(time + ${TIME_OFFSET_MS + 1})), ifNull(device, ''))) AS device
            FROM ${c.local('events')}
            GROUP BY appid, day, openid`,
      ),
      createView(
        c,
        'user_first_mv',
        'user_first',
        sql`SELECT appid, openid, minState(day) AS first_day FROM ${c.local('events')} GROUP BY appid, openid`,
      ),
      createView(
        c,
        'event_ids_mv',
        'event_ids',
        sql`SELECT appid, assumeNotNull(event_id) AS event_id FROM ${c.local('events')} WHERE isNotNull(event_id)`,
      ),
      ...(c.cluster ? [sql`CREATE TABLE IF NOT EXISTS ${c.table('shards')}${c.onCluster} (dummy UInt8) ENGINE = Distributed(${c.cluster}, system, one)`] : []),
    ],
  },
  {
    version: 2,
    name: 'apps, tokens and usage counters',
    statements: (c) => [
      ...createTable(
        c,
        'apps',
        sql`(
          appid String,
          name String,
          secret_hash String,
          secret_sealed String,
          env String,
          daily_quota Int64,
          created_at Int64,
          version UInt64
        ) ENGINE = ReplacingMergeTree(version) ORDER BY appid`,
        sql`cityHash64(appid)`,
      ),
      ...createTable(
        c,
        'tokens',
        sql`(
          hash String,
          appid String,
          kind String,
          issued_at Int64,
          expires_at Int64,
          sealed String,
          sealed_null UInt8,
          version UInt64
        ) ENGINE = ReplacingMergeTree(version) ORDER BY hash`,
        sql`cityHash64(hash)`,
      ),
      ...createTable(
        c,
        'usage',
        sql`(appid String, api String, day Date, calls Int64) ENGINE = SummingMergeTree(calls) ORDER BY (appid, api, day)`,
        sql`cityHash64(appid, api, day)`,
      ),
    ],
  },
  {
    // Numbered after its issue (10), as 11 and 15 are.
    version: 10,
    name: 'per-app device names (for the cap) and stable_token forced refreshes',
    statements: (c) => [
      // The device names each app has used, for the per-app cap (DATACUBE_MAX_DEVICE_NAMES, see devices.ts).
      ...createTable(c, 'app_devices', sql`(appid String, name String) ENGINE = ReplacingMergeTree() ORDER BY (appid, name)`, sql`cityHash64(appid)`),
      // When each app's stable_token was force-refreshed (limits: 20 a day, 30 s apart).
      ...createTable(c, 'force_refreshes', sql`(appid String, refreshed_at Int64) ENGINE = MergeTree() ORDER BY (appid, refreshed_at)`, sql`cityHash64(appid)`),
    ],
  },
  {
    // Numbered after its issue (11), as migration 15 is: never colliding with migrations added in parallel.
    version: 11,
    name: 'User-Agent of events; collect flag of apps',
    statements: (c) => [...addColumn(c, 'events', sql`ua Nullable(String)`), ...addColumn(c, 'apps', sql`collect UInt8 DEFAULT 1`)],
  },
  {
    // Numbered after its issue (15) so that migrations added in parallel (3, 4, …) never collide with it; the
    // order among them does not matter: they touch different tables.
    version: 15,
    name: 'per-user chain (portraits without per-user grouping); the old per-user-day tables go',
    statements: (c) => [
      ...createTable(
        c,
        'user_chain',
        sql`(
          appid String,
          kind UInt8,
          next_day Date,
          day Date,
          openid String,
          first_day Date,
          last_day Date,
          gender Int64,
          age Int64,
          platform Int64,
          province Int64,
          city Int64,
          device_t Int64,
          device String,
          events UInt64,
          sign Int8
        ) ENGINE = CollapsingMergeTree(sign) ORDER BY (appid, kind, next_day, day, openid)`,
        sql`cityHash64(appid, openid)`,
      ),
      sql`DROP TABLE IF EXISTS ${c.local('user_days_mv')}${c.onCluster}`,
      sql`DROP TABLE IF EXISTS ${c.local('user_first_mv')}${c.onCluster}`,
      sql`DROP TABLE IF EXISTS ${c.table('user_days')}${c.onCluster}`,
      sql`DROP TABLE IF EXISTS ${c.local('user_days')}${c.onCluster}`,
      sql`DROP TABLE IF EXISTS ${c.table('user_first')}${c.onCluster}`,
      sql`DROP TABLE IF EXISTS ${c.local('user_first')}${c.onCluster}`,
    ],
    // Existing data keeps answering: every app's chain is built from its stored events (the truth). A rebuild
    // starts by cancelling whatever an interrupted attempt left, so running it again is safe.
    run: async (c, keepAlive) => {
      for (const appid of await appsWithEvents(c)) await rebuildChain(c, appid, keepAlive, { keptFirstDays: false });
    },
  },
  // The analysis family's tables (see analysisSchema.ts), numbered after its issue (14) like 11 and 15.
  ANALYSIS_MIGRATION,
  {
    // Issue 17: personal data over its life.
    version: 17,
    name: 'retention per app, first days kept by retention, mutations of every shard',
    statements: (c) => [
      // First days of users whose first events retention dropped (personal.ts): rebuilding a chain from events
      // reads them, so "new user" stays right. Sharded like `user_chain`, so a user's rows meet on one shard.
      ...createTable(
        c,
        'kept_first_days',
        sql`(appid String, openid String, first_day Date) ENGINE = ReplacingMergeTree() ORDER BY (appid, openid)`,
        sql`cityHash64(appid, openid)`,
      ),
      // Every shard's `system.mutations`, to wait until deletions have finished everywhere.
      ...(c.cluster
        ? [sql`CREATE TABLE IF NOT EXISTS ${c.table('cluster_mutations')}${c.onCluster} AS system.mutations ENGINE = Distributed(${c.cluster}, system, mutations)`]
        : []),
      // Days of events an app keeps; 0 keeps everything.
      ...addColumn(c, 'apps', sql`retain_days UInt32 DEFAULT 0`),
    ],
  },
  {
    // Issue 15's second migration: 15 is taken, and versions are integers sorted in order, so 1501 ("15, part 1").
    version: 1501,
    name: 'signed per-day portrait counts of user_chain (one-day portraits without reading a row per user)',
    statements: (c) => [
      ...createTable(
        c,
        'chain_day_counts',
        sql`(
          appid String,
          day Date,
          dim UInt8,
          num UInt32,
          str String,
          known UInt8,
          active Int64,
          fresh Int64
        ) ENGINE = SummingMergeTree((active, fresh)) ORDER BY (appid, day, dim, num, str, known)`,
        sql`cityHash64(appid, day)`,
      ),
      createView(c, 'chain_day_counts_mv', 'chain_day_counts', chainDayCounts(c.local('user_chain'))),
    ],
    // Existing chains: counted afresh from `user_chain` (emptied first, so running it again is safe).
    run: async (c) => {
      await c.exec(sql`TRUNCATE TABLE ${c.local('chain_day_counts')}${c.onCluster}`);
      await c.exec(sql`INSERT INTO ${c.table('chain_day_counts')} ${chainDayCounts(c.table('user_chain'))}`);
    },
  },
  // The analysis tables folded from `events` in steps instead of by views (analysisSchema.ts, analysisFold.ts).
  ANALYSIS_FOLD_MIGRATION,
  // Sessions of visit, open and share events only: apps that stored events of other types rebuild their analysis.
  ANALYSIS_SESSION_TYPES_MIGRATION,
  ANALYSIS_TYPE_CASE_MIGRATION,
];
