/**
 * `chain_day_counts` (migration 1501): the one-day portrait's signed counts, kept by a materialized view on `user_chain`
 * (see portrait.ts and docs/clickhouse.md).
 */
import type { Connection } from './connection.ts';
import { VALUE_BITS, VALUE_MASK } from '../packing.ts';
import { ident, type Sql, sql } from './sql.ts';

/**
 * The one-day portrait counts of chain rows (see portrait.ts): per (app, day, dimension, value) the signed number of
 * chain rows of that day, and of those whose user is new that day. A value counts if it was seen on the row's own day
 * (packed time at or after that day's midnight: day × 86 400 000 ms since Shanghai 1970-01-01 00:00), as a one-day
 * window reads it. Dimensions as portrait.ts numbers them: 0 province, 1 city, 2 gender, 3 platform, 4 age, 5 device.
 */
export function chainDayCounts(source: Sql, where?: Sql): Sql {
  const midnight = sql`toInt64(toUInt16(day)) * 86400000`;
  const value = (col: string): Sql => sql`toUInt32(if(${ident(col)} >= bitShiftLeft(${midnight}, ${VALUE_BITS}), bitAnd(${ident(col)}, ${VALUE_MASK}), 0))`;
  return sql`SELECT appid, day, t.1 AS dim, t.2 AS num, t.3 AS str, t.4 AS known,
      sum(sign) AS active, sum(if(first_day = day, sign, 0)) AS fresh
    FROM ${source}
    ARRAY JOIN [
      (toUInt8(0), ${value('province')}, '', toUInt8(1)),
      (toUInt8(1), ${value('city')}, '', toUInt8(1)),
      (toUInt8(2), ${value('gender')}, '', toUInt8(1)),
      (toUInt8(3), ${value('platform')}, '', toUInt8(1)),
      (toUInt8(4), ${value('age')}, '', toUInt8(1)),
      (toUInt8(5), toUInt32(0), if(device_t > ${midnight}, device, ''), toUInt8(device_t > ${midnight}))
    ] AS t
    WHERE kind = 1${where ? sql` AND ${where}` : sql``}
    GROUP BY appid, day, dim, num, str, known`;
}

/**
 * Makes the app's counts equal to what its `user_chain` rows give, by inserting the difference (the table sums). For
 * the repair paths (ClickHouseStore.repair): a ClickHouse server killed between an insert's `user_chain` part and its
 * view's part leaves them apart. Runs under the app's writer lease, so the chain does not change meanwhile.
 */
export async function reconcileDayCounts(c: Connection, appid: string): Promise<void> {
  const key = sql`appid, day, dim, num, str, known`;
  await c.exec(
    sql`INSERT INTO ${c.table('chain_day_counts')} (${key}, active, fresh)
        SELECT ${key}, sum(active) AS a, sum(fresh) AS f FROM (
          ${chainDayCounts(c.table('user_chain'), sql`appid = ${appid}`)}
          UNION ALL
          SELECT ${key}, -active AS active, -fresh AS fresh FROM ${c.table('chain_day_counts')} WHERE appid = ${appid}
        )
        GROUP BY ${key} HAVING a != 0 OR f != 0`,
    { max_bytes_before_external_group_by: '1000000000' },
  );
}

/**
 * Whether the app's counts hold as many chain rows as `user_chain` (the cheap check made each time a writer takes
 * the app's lease; a lost view part whose rows' signs summed to nothing is caught by the repair after the failed
 * insert instead, see ClickHouseStore.repair).
 */
export async function dayCountsAgree(c: Connection, appid: string): Promise<boolean> {
  const [a, b] = await Promise.all([
    c.rows<{ n: string }>(sql`SELECT sum(active) AS n FROM ${c.table('chain_day_counts')} WHERE appid = ${appid} AND dim = 0`),
    c.rows<{ n: string }>(sql`SELECT sum(sign) AS n FROM ${c.table('user_chain')} WHERE appid = ${appid} AND kind = 1`),
  ]);
  return Number(a[0]?.n ?? 0) === Number(b[0]?.n ?? 0);
}
