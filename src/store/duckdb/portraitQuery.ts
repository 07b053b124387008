import type { DuckDBConnection } from '@duckdb/node-api';
import { startOfDay } from '../../domain/day.ts';
import { OVERFLOW_DEVICE_NAME, type Dimension } from '../../domain/dimensions.ts';
import type { PortraitCount } from '../../domain/portrait.ts';
import type { Window } from '../../domain/window.ts';
import { VALUE_BITS, VALUE_MASK } from '../packing.ts';
import { OVERFLOW_DEVICE_ID } from './derive.ts';

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

/**
 * Counts per dimension value for both audiences, without grouping by user: each user active in the window has
 * exactly one row there that is their last one inside it (a `user_days` row whose `next_day` is after the window,
 * or their `user_last` row), and that row holds their latest known values so far. A value counts if it was seen
 * inside the window (its packed time is at or after the window's first midnight), else the user counts as unknown;
 * a user is new if their first day is inside the window. Integers are written into the SQL (not bound) so that the
 * scans prune row groups by `app` and `day`.
 */
export async function portraitCounts(conn: DuckDBConnection, app: number, w: Window, deviceNames: DeviceNames = new DeviceNames()): Promise<PortraitCount[]> {
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
  // An app's device ids never change their name, so names once read are kept (by the store, across calls).
  const missing = [...deviceIds].filter((id) => id !== OVERFLOW_DEVICE_ID && deviceNames.get(app, id) === undefined);
  if (missing.length > 0) {
    const r = await conn.runAndReadAll(`SELECT id, name FROM app_devices WHERE app = ${a} AND id IN (${missing.join(',')})`);
    for (const [id, name] of r.getRows()) deviceNames.set(app, Number(id), String(name));
  }
  for (const c of out) {
    if (c.dimension !== 'devices') continue;
    const id = c.key as number;
    c.key = id === 0 ? null : id === OVERFLOW_DEVICE_ID ? OVERFLOW_DEVICE_NAME : (deviceNames.get(app, id) ?? null);
  }
  // A device the app really named like the overflow bucket is the same item.
  const overflow = out.filter((c) => c.dimension === 'devices' && c.key === OVERFLOW_DEVICE_NAME);
  const [first, second] = overflow;
  if (first && second) {
    first.active += second.active;
    first.new += second.new;
    out.splice(out.indexOf(second), 1);
  }
  return out;
}

/** Device names by (app, id), as read so far; bounded (starts over past `max` entries). */
export class DeviceNames {
  private readonly names = new Map<string, string>();
  constructor(private readonly max = 200_000) {}
  get(app: number, id: number): string | undefined {
    return this.names.get(`${app}:${id}`);
  }
  set(app: number, id: number, name: string): void {
    if (this.names.size >= this.max) this.names.clear();
    this.names.set(`${app}:${id}`, name);
  }
  /** Forgets every name (an app was deleted: its ids may name other devices later). */
  clear(): void {
    this.names.clear();
  }
}
