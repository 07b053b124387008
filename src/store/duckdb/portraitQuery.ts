import type { DuckDBConnection } from '@duckdb/node-api';
import type { Dimension } from '../../domain/dimensions.ts';
import type { PortraitCount } from '../../domain/portrait.ts';
import type { Window } from '../../domain/window.ts';
import { VALUE_MASK } from '../packing.ts';

const COLUMNS: readonly [string, Dimension][] = [
  ['g', 'genders'],
  ['a', 'ages'],
  ['p', 'platforms'],
  ['pr', 'province'],
  ['c', 'city'],
  ['d', 'devices'],
];

/**
 * One pass over the window's user-day rows: per user, the latest known value of each dimension (a `max` of the
 * packed integers) and whether the user's first day is inside the window; then counts per dimension value for
 * both audiences at once with GROUPING SETS.
 */
export async function portraitCounts(conn: DuckDBConnection, appid: string, w: Window): Promise<PortraitCount[]> {
  const perUser = COLUMNS.map(([c]) => `max(${c}) & ${VALUE_MASK} AS ${c}`).join(', ');
  const cols = COLUMNS.map(([c]) => c).join(', ');
  const sets = COLUMNS.map(([c]) => `(${c})`).join(', ');
  const sql = `
    WITH u AS (
      SELECT bool_or(first) AS n, ${perUser}
      FROM user_days WHERE appid = $1 AND day BETWEEN $2 AND $3
      GROUP BY uid
    )
    SELECT ${cols}, count(*) AS active, count(*) FILTER (WHERE n) AS new
    FROM u GROUP BY GROUPING SETS (${sets})`;
  const reader = await conn.runAndReadAll(sql, [appid, w.begin, w.end]);
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
  const names = new Map<number, string>();
  if (deviceIds.size > 0) {
    const r = await conn.runAndReadAll(`SELECT id, name FROM devices WHERE id IN (${[...deviceIds].join(',')})`);
    for (const [id, name] of r.getRows()) names.set(Number(id), String(name));
  }
  for (const c of out) {
    if (c.dimension !== 'devices') continue;
    c.key = c.key === 0 ? null : (names.get(c.key as number) ?? null);
  }
  return out;
}
