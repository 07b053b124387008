import type { DuckDBConnection } from '@duckdb/node-api';
import { startOfDay } from '../../domain/day.ts';
import type { Dimension } from '../../domain/dimensions.ts';
import type { PortraitCount } from '../../domain/portrait.ts';
import type { Window } from '../../domain/window.ts';
import { VALUE_BITS, VALUE_MASK } from '../packing.ts';

const COLUMNS: readonly [string, Dimension][] = [
  ['g', 'genders'],
  ['a', 'ages'],
  ['p', 'platforms'],
  ['pr', 'province'],
  ['c', 'city'],
  ['d', 'devices'],
];

function integer(n: number, what: string): string {
  if (!Number.isSafeInteger(n)) throw new Error(`${what} must be an integer, not ${n}`);
  return String(n);
}

/** An app's number in the derived tables (see schema.ts), or undefined if it has none yet. Numbers never change. */
export async function appNumber(conn: DuckDBConnection, appid: string, cache: Map<string, number>): Promise<number | undefined> {
  const hit = cache.get(appid);
  if (hit !== undefined) return hit;
  const r = await conn.runAndReadAll('SELECT app FROM app_numbers WHERE appid = $1', [appid]);
  const v = r.getRows()[0]?.[0];
  if (v === undefined || v === null) return undefined;
  const n = Number(v);
  cache.set(appid, n);
  return n;
}

/**
 * Counts per dimension value for both audiences, without grouping by user: each user active in the window has
 * exactly one row there that is their last one inside it (a `user_days` row whose `next_day` is after the window,
 * or their `user_last` row), and that row holds their latest known values so far. A value counts if it was seen
 * inside the window (its packed time is at or after the window's first midnight), else the user counts as unknown;
 * a user is new if their first day is inside the window. Integers are written into the SQL (not bound) so that the
 * scans prune row groups by `app` and `day`.
 */
export async function portraitCounts(
  conn: DuckDBConnection,
  appid: string,
  w: Window,
  appNumbers: Map<string, number> = new Map(),
  deviceNames: Map<number, string> = new Map(),
): Promise<PortraitCount[]> {
  const app = await appNumber(conn, appid, appNumbers);
  if (app === undefined) return [];
  const a = integer(app, 'app');
  const b = integer(w.begin, 'window begin');
  const e = integer(w.end, 'window end');
  const since = (BigInt(startOfDay(w.begin)) << BigInt(VALUE_BITS)).toString();
  const values = COLUMNS.map(([c]) => `CASE WHEN ${c} >= ${since} THEN ${c} & ${VALUE_MASK} ELSE 0 END AS ${c}`).join(', ');
  const stored = COLUMNS.map(([c]) => c).join(', ');
  const sets = COLUMNS.map(([c]) => `(${c})`).join(', ');
  const sql = `
    WITH last_in_window AS (
      SELECT first_day, ${stored} FROM user_days WHERE app = ${a} AND day BETWEEN ${b} AND ${e} AND next_day > ${e}
      UNION ALL
      SELECT first_day, ${stored} FROM user_last WHERE app = ${a} AND day BETWEEN ${b} AND ${e}
    ), u AS (
      SELECT first_day >= ${b} AS n, ${values} FROM last_in_window
    )
    SELECT ${stored}, count(*) AS active, count(*) FILTER (WHERE n) AS new
    FROM u GROUP BY GROUPING SETS (${sets})`;
  const reader = await conn.runAndReadAll(sql);
  const rows = reader.getRows();
  const deviceIds = new Set<number>();
  const out: PortraitCount[] = [];
  for (const row of rows) {
    const active = Number(row[COLUMNS.length] ?? 0);
    const fresh = Number(row[COLUMNS.length + 1] ?? 0);
    const i = row.findIndex((v, k) => k < COLUMNS.length && v !== null);
    const col = COLUMNS[i];
    if (!col) continue;
    const key = Number(row[i]);
    if (col[1] === 'devices' && key !== 0) deviceIds.add(key);
    out.push({ dimension: col[1], key, active, new: fresh });
  }
  // Device ids never change their name, so names once read are kept (by the store, across calls).
  const missing = [...deviceIds].filter((id) => !deviceNames.has(id));
  if (missing.length > 0) {
    const r = await conn.runAndReadAll(`SELECT id, name FROM devices WHERE id IN (${missing.join(',')})`);
    for (const [id, name] of r.getRows()) deviceNames.set(Number(id), String(name));
  }
  for (const c of out) {
    if (c.dimension !== 'devices') continue;
    c.key = c.key === 0 ? null : (deviceNames.get(c.key as number) ?? null);
  }
  return out;
}
