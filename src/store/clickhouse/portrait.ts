import type { Dimension } from '../../domain/dimensions.ts';
import type { PortraitCount } from '../../domain/portrait.ts';
import type { Window } from '../../domain/window.ts';
import { VALUE_MASK } from '../packing.ts';
import type { Connection } from './connection.ts';
import { date, type Sql, sql } from './sql.ts';

/** Output dimension index → name; devices are index 5 (their key is a string). */
const DIMS: readonly Dimension[] = ['province', 'city', 'genders', 'platforms', 'ages', 'devices'];

/**
 * Devices: `maxMerge(device)` over the `(t, name)` tuple states is slow on ClickHouse 18.16 (a generic,
 * Field-based max: about a quarter of the portrait's time). The same maximum is the `max` of a String:
 * `t + DEVICE_T_BIAS` in decimal, DEVICE_T_DIGITS digits for every t the store writes (0 ≤ t < 9·10^16: t is 0
 * or ms since Shanghai 1970-01-01 plus one, see schema.ts), followed by the name. Fixed-width decimals compare
 * as their numbers, and after an equal prefix the names compare byte-wise, as the tuple's second element does:
 * the String max is the tuple max, written out. Unknown is t = 0, i.e. the prefix is DEVICE_T_BIAS itself.
 */
const DEVICE_T_BIAS = 10_000_000_000_000_000n;
const DEVICE_T_DIGITS = 17;

/**
 * The portrait of one app for one window, computed where the rows are (each user lives on exactly one shard):
 *
 * 1. per user active in the window: `maxMerge` of each packed dimension over the window's `user_days` rows is
 *    the latest known value (ties: the larger value), devices likewise through a String (DEVICE_T_BIAS); whether
 *    the user's first day ever (`user_first`) is in the window makes the user new;
 * 2. each user becomes six (dimension, key) rows (ARRAY JOIN) and those are counted: active = users, new = new
 *    users. Unknown is key 0 (devices: `known` = 0).
 *
 * On a single server that is the whole query. In cluster mode the same text, naming the local tables, is the
 * right side of a JOIN with `shards` (Distributed over system.one, one row per shard): a non-GLOBAL JOIN runs
 * on every shard against that shard's tables, so every shard returns exact counts for its own users and, as
 * users never span shards, the answer is their sum. Only a few hundred rows per shard cross the network.
 */
function shardQuery(c: Connection, appid: string, w: Window): Sql {
  const begin = date(w.begin);
  const end = date(w.end);
  const mask = VALUE_MASK;
  return sql`
    SELECT toUInt8(0) AS dummy, t.1 AS dim, t.2 AS num, t.3 AS str, t.4 AS known, count() AS active, sum(is_new) AS fresh
    FROM (
      SELECT
        openid IN (
          SELECT openid FROM ${c.local('user_first')} WHERE appid = ${appid}
          GROUP BY openid HAVING minMerge(first_day) >= ${begin} AND minMerge(first_day) <= ${end}
        ) AS is_new,
        maxMerge(province) AS v_province, maxMerge(city) AS v_city, maxMerge(gender) AS v_gender,
        maxMerge(platform) AS v_platform, maxMerge(age) AS v_age,
        max(concat(toString(finalizeAggregation(device).1 + ${DEVICE_T_BIAS}), finalizeAggregation(device).2)) AS v_device
      FROM ${c.local('user_days')}
      WHERE appid = ${appid} AND day >= ${begin} AND day <= ${end}
      GROUP BY openid
    )
    ARRAY JOIN [
      (toUInt8(0), toUInt32(bitAnd(v_province, ${mask})), '', toUInt8(1)),
      (toUInt8(1), toUInt32(bitAnd(v_city, ${mask})), '', toUInt8(1)),
      (toUInt8(2), toUInt32(bitAnd(v_gender, ${mask})), '', toUInt8(1)),
      (toUInt8(3), toUInt32(bitAnd(v_platform, ${mask})), '', toUInt8(1)),
      (toUInt8(4), toUInt32(bitAnd(v_age, ${mask})), '', toUInt8(1)),
      (toUInt8(5), toUInt32(0), substring(v_device, ${DEVICE_T_DIGITS + 1}), toUInt8(substring(v_device, 1, ${DEVICE_T_DIGITS}) != ${String(DEVICE_T_BIAS)}))
    ] AS t
    GROUP BY dim, num, str, known`;
}

type CountRow = {
  dim: number;
  num: number;
  str: string;
  known: number;
  active: string;
  fresh: string;
};

export async function portraitCounts(c: Connection, appid: string, w: Window): Promise<PortraitCount[]> {
  const inner = shardQuery(c, appid, w);
  const query = c.cluster
    ? sql`SELECT dim, num, str, known, active, fresh FROM ${c.table('shards')} ALL INNER JOIN (${inner}) USING dummy`
    : inner;
  const rows = await c.rows<CountRow>(query);
  const out = new Map<string, PortraitCount>();
  for (const r of rows) {
    const dimension = DIMS[Number(r.dim)];
    if (!dimension) throw new Error(`unexpected dimension index ${String(r.dim)} from ClickHouse`);
    const key = dimension === 'devices' ? (Number(r.known) ? String(r.str) : null) : Number(r.num);
    const id = `${dimension}\u0000${key === null ? '\u0001' : String(key)}`;
    const c0 = out.get(id);
    // Shards return disjoint sets of users: their counts add up.
    if (c0) {
      c0.active += Number(r.active);
      c0.new += Number(r.fresh);
    } else out.set(id, { dimension, key, active: Number(r.active), new: Number(r.fresh) });
  }
  return [...out.values()].filter((x) => x.active > 0 || x.new > 0);
}
