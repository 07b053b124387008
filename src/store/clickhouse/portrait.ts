import { startOfDay } from '../../domain/day.ts';
import type { Dimension } from '../../domain/dimensions.ts';
import type { PortraitCount } from '../../domain/portrait.ts';
import type { Window } from '../../domain/window.ts';
import { VALUE_BITS, VALUE_MASK } from '../packing.ts';
import { TIME_OFFSET_MS } from './chain.ts';
import type { Connection, ServerVersion } from './connection.ts';
import { date, ident, type Sql, sql } from './sql.ts';

/** Output dimension index → name; devices are index 5 (their key is a string). */
const DIMS: readonly Dimension[] = ['province', 'city', 'genders', 'platforms', 'ages', 'devices'];
const COLUMNS = ['province', 'city', 'gender', 'platform', 'age'] as const;

/** GROUPING SETS exist from ClickHouse 22.6 on; 18.16 gets the same counts through ARRAY JOIN. */
export function hasGroupingSets(v: ServerVersion): boolean {
  return v.major > 22 || (v.major === 22 && v.minor >= 6);
}

/**
 * The portrait of one app for one window, from `user_chain` (see chain.ts): each user active in [b, e] has exactly
 * one chain row with `day` in [b, e] and `next_day > e`, holding the user's latest known values up to that day. So
 * the query is one filtered range scan (the table is sorted by (appid, kind, next_day, day)) and small counts per
 * dimension value, with no per-user grouping. A value counts only if it was seen inside the window (its time is at
 * or after the window's first midnight), else the user counts as unknown; a user is new if the first day is in the
 * window. Rows are counted by `sum(sign)`, which is exact whether or not the collapsing merges have run.
 *
 * In cluster mode the same query reads the Distributed table: every shard counts its own users (a user's rows all
 * live on one shard) and the initiator adds the shards' partial counts.
 */
function query(c: Connection, appid: string, w: Window, v: ServerVersion): Sql {
  const b = date(w.begin);
  const e = date(w.end);
  const since = BigInt(startOfDay(w.begin) + TIME_OFFSET_MS) << BigInt(VALUE_BITS);
  const sinceDevice = startOfDay(w.begin) + TIME_OFFSET_MS + 1;
  const mask = VALUE_MASK;
  const value = (col: (typeof COLUMNS)[number]): Sql => sql`toUInt32(if(${ident(col)} >= ${since}, bitAnd(${ident(col)}, ${mask}), 0))`;
  const from = sql`FROM ${c.table('user_chain')}
    WHERE appid = ${appid} AND kind = 1 AND next_day > ${e} AND day >= ${b} AND day <= ${e}`;
  const device = sql`if(device_t >= ${sinceDevice}, device, '')`;
  const deviceKnown = sql`toUInt8(device_t >= ${sinceDevice})`;
  if (hasGroupingSets(v)) {
    return sql`
      SELECT
        multiIf(NOT grouping(v0), 0, NOT grouping(v1), 1, NOT grouping(v2), 2, NOT grouping(v3), 3, NOT grouping(v4), 4, 5) AS dim,
        multiIf(dim = 0, v0, dim = 1, v1, dim = 2, v2, dim = 3, v3, dim = 4, v4, 0) AS num,
        dv AS str, dk AS known, sum(sign) AS active, sumIf(sign, is_new) AS fresh
      FROM (
        SELECT sign, first_day >= ${b} AS is_new, ${value('province')} AS v0, ${value('city')} AS v1, ${value('gender')} AS v2,
          ${value('platform')} AS v3, ${value('age')} AS v4, ${device} AS dv, ${deviceKnown} AS dk
        ${from}
      )
      GROUP BY GROUPING SETS ((v0), (v1), (v2), (v3), (v4), (dv, dk))
      SETTINGS group_by_use_nulls = 0`;
  }
  return sql`
    SELECT t.1 AS dim, t.2 AS num, t.3 AS str, t.4 AS known, sum(sign) AS active, sumIf(sign, is_new) AS fresh
    FROM (
      SELECT sign, first_day >= ${b} AS is_new, ${value('province')} AS v0, ${value('city')} AS v1, ${value('gender')} AS v2,
        ${value('platform')} AS v3, ${value('age')} AS v4, ${device} AS dv, ${deviceKnown} AS dk
      ${from}
    )
    ARRAY JOIN [
      (toUInt8(0), v0, '', toUInt8(1)),
      (toUInt8(1), v1, '', toUInt8(1)),
      (toUInt8(2), v2, '', toUInt8(1)),
      (toUInt8(3), v3, '', toUInt8(1)),
      (toUInt8(4), v4, '', toUInt8(1)),
      (toUInt8(5), toUInt32(0), dv, dk)
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
  const rows = await c.rows<CountRow>(query(c, appid, w, await c.version()));
  const out = new Map<string, PortraitCount>();
  for (const r of rows) {
    const dimension = DIMS[Number(r.dim)];
    if (!dimension) throw new Error(`unexpected dimension index ${String(r.dim)} from ClickHouse`);
    const key = dimension === 'devices' ? (Number(r.known) ? String(r.str) : null) : Number(r.num);
    const id = `${dimension}\u0000${key === null ? '\u0001' : String(key)}`;
    const c0 = out.get(id);
    if (c0) {
      c0.active += Number(r.active);
      c0.new += Number(r.fresh);
    } else out.set(id, { dimension, key, active: Number(r.active), new: Number(r.fresh) });
  }
  return [...out.values()].filter((x) => x.active > 0 || x.new > 0);
}
