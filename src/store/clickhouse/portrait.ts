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
 * The five small integer dimensions of a chain row, as seen from a window starting at `since` (packed time), packed
 * into one UInt64 (grouping by one integer is several times faster than by five): province and city in 20 bits each
 * (checkEvent's limit), gender, platform and age in 8 bits each (ingest's limit is 255).
 */
function combination(since: bigint): Sql {
  const value = (col: (typeof COLUMNS)[number], bits: number): Sql =>
    sql`toUInt64(if(${ident(col)} >= ${since}, bitAnd(${ident(col)}, ${bits === 20 ? VALUE_MASK : 255}), 0))`;
  return sql`bitOr(bitOr(bitShiftLeft(${value('province', 20)}, 44), bitShiftLeft(${value('city', 20)}, 24)),
    bitOr(bitOr(bitShiftLeft(${value('gender', 8)}, 16), bitShiftLeft(${value('platform', 8)}, 8)), ${value('age', 8)}))`;
}

/** The five values back from a packed combination `k`, as v0 … v4 (dimension indexes 0 … 4). */
const UNPACK = sql`toUInt32(bitShiftRight(k, 44)) AS v0, toUInt32(bitAnd(bitShiftRight(k, 24), ${VALUE_MASK})) AS v1,
  toUInt32(bitAnd(bitShiftRight(k, 16), 255)) AS v2, toUInt32(bitAnd(bitShiftRight(k, 8), 255)) AS v3, toUInt32(bitAnd(k, 255)) AS v4`;

/**
 * The portrait of one app for a window of several days, from `user_chain` (see chain.ts): each user active in [b, e]
 * has exactly one chain row with `day` in [b, e] and `next_day > e`, holding the user's latest known values up to that
 * day. So the query is one filtered range scan (the table is sorted by (appid, kind, next_day, day)) with no per-user
 * grouping. A value counts only if it was seen inside the window (its time is at or after the window's first
 * midnight), else the user counts as unknown; a user is new if the first day is in the window. Rows are counted by
 * `sum(sign)`, which is exact whether or not the collapsing merges have run.
 *
 * Two levels, so that the per-row work stays one hash-table update: the rows are first grouped by the five small
 * integer values together, packed into one integer (a few tens of thousands of combinations: a city implies its
 * province) with their signed counts, and only that small result is split per dimension (ARRAY JOIN on 18.16; GROUPING SETS from 22.6, which
 * does the same in one step); devices, whose names would multiply the combinations, are grouped by a second
 * aggregation over the same rows (UNION ALL).
 *
 * In cluster mode the same query reads the Distributed table: every shard counts its own users (a user's rows all
 * live on one shard), grouped by combination (the GROUP BY is in the query that reads the table, so the shards run
 * it), and the initiator adds the shards' partial counts.
 */
function windowQuery(c: Connection, appid: string, w: Window, v: ServerVersion): Sql {
  const b = date(w.begin);
  const e = date(w.end);
  const since = BigInt(startOfDay(w.begin) + TIME_OFFSET_MS) << BigInt(VALUE_BITS);
  const sinceDevice = startOfDay(w.begin) + TIME_OFFSET_MS + 1;
  const from = sql`FROM ${c.table('user_chain')}
    WHERE appid = ${appid} AND kind = 1 AND next_day > ${e} AND day >= ${b} AND day <= ${e}`;
  // GROUP BY in the query that reads the table (see above): an outer one would ship every user's row to the initiator.
  const combos = sql`SELECT ${UNPACK}, a, f FROM (
      SELECT ${combination(since)} AS k, sum(sign) AS a, sumIf(sign, first_day >= ${b}) AS f
      ${from}
      GROUP BY k)`;
  // Unknown devices (not seen in the window) come out under their old names with known = 0; portraitCounts adds
  // them up as one unknown (cheaper than rewriting every name to '' before grouping).
  const devices = sql`SELECT toUInt8(5) AS dim, toUInt32(0) AS num, device AS str,
      toUInt8(device_t >= ${sinceDevice}) AS known, sum(sign) AS active, sumIf(sign, first_day >= ${b}) AS fresh
    ${from}
    GROUP BY str, known`;
  if (hasGroupingSets(v)) {
    return sql`
      SELECT
        toUInt8(multiIf(NOT grouping(v0), 0, NOT grouping(v1), 1, NOT grouping(v2), 2, NOT grouping(v3), 3, 4)) AS dim,
        toUInt32(multiIf(dim = 0, v0, dim = 1, v1, dim = 2, v2, dim = 3, v3, v4)) AS num,
        '' AS str, toUInt8(1) AS known, sum(a) AS active, sum(f) AS fresh
      FROM (${combos})
      GROUP BY GROUPING SETS ((v0), (v1), (v2), (v3), (v4))
      UNION ALL
      ${devices}`;
  }
  return sql`
    SELECT t.1 AS dim, t.2 AS num, '' AS str, toUInt8(1) AS known, sum(a) AS active, sum(f) AS fresh
    FROM (${combos})
    ARRAY JOIN [(toUInt8(0), v0), (toUInt8(1), v1), (toUInt8(2), v2), (toUInt8(3), v3), (toUInt8(4), v4)] AS t
    GROUP BY dim, num
    UNION ALL
    ${devices}`;
}

/**
 * The portrait of one app for a one-day window, from `chain_day_counts` (migration 1501, see schema.ts): signed counts
 * per (day, dimension, value) of the chain rows of that day, which a materialized view keeps from every insert into
 * `user_chain` (new rows and their cancels alike). A user active on day d has exactly one chain row with `day` = d
 * (and its `next_day` is later by construction), so the one-day portrait is the counts of that day: a few thousand
 * rows, whatever the number of users.
 */
function dayQuery(c: Connection, appid: string, day: number): Sql {
  return sql`SELECT dim, num, str, known, sum(active) AS active, sum(fresh) AS fresh FROM ${c.table('chain_day_counts')}
    WHERE appid = ${appid} AND day = ${date(day)}
    GROUP BY dim, num, str, known`;
}

function query(c: Connection, appid: string, w: Window, v: ServerVersion): Sql {
  return w.begin === w.end ? dayQuery(c, appid, w.end) : windowQuery(c, appid, w, v);
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
