/**
 * The per-user chain of the ClickHouse store (schema migration 3, table `user_chain`), computed in memory: the
 * pure part of deriving, with no I/O (derive.ts reads the rows it needs and writes what this returns).
 *
 * For every user the table holds
 * - one **chain row** (kind 1) per day with a visit: `next_day` is the user's next visit day (NO_NEXT_DAY for the
 *   latest), and each dimension holds the latest known value up to and including that day (the running maximum of
 *   the packed (time, value) pairs over all the user's events so far); `first_day` is the user's first day ever;
 * - one **state row** (kind 0): the latest chain row again (its day in `last_day`) plus the number of events
 *   derived, stored under a key the writer can look up by openid.
 * And per app, **progress rows** (kind 2, openid '', days 0, sign +1, never cancelled): each chain insert carries one
 * whose `device_t` is the largest `seq` of the events stored before it, so once a batch is acknowledged the app's
 * largest `seq` can be read by key (`max(device_t)`; merges keep the last, i.e. largest, of them) instead of scanning
 * `events` (analysisFold.ts: reads skip the events past a fold when there are none).
 * Within a window [b, e] a user's values are those of exactly one chain row: the one with `day` in [b, e] and
 * `next_day > e`. So a portrait counts rows, with no per-user grouping (see portrait.ts).
 *
 * The table is a CollapsingMergeTree: a row is changed by writing it again with sign −1 (an exact copy) and its new
 * version with sign +1, in one insert. Every read sums `sign`, so answers are exact before and after merges.
 */

/**
 * `next_day` of a user's latest chain row: 2105-12-31, the last day ClickHouse 18.16 reads from text (current
 * releases go to 2149). Event days stay below it.
 */
export const NO_NEXT_DAY = 49_672;

/** Shanghai midnight 1970-01-01 is −8 h in epoch ms: adding this makes the time of any valid event ≥ 0. */
export const TIME_OFFSET_MS = 8 * 3_600_000;

/** A latest-known value: `t` = event time + TIME_OFFSET_MS (devices: + 1 more), 0 with `v` 0/'' = unknown. */
export interface Latest<V> {
  t: number;
  v: V;
}

export interface DimValues {
  gender: Latest<number>;
  age: Latest<number>;
  platform: Latest<number>;
  province: Latest<number>;
  city: Latest<number>;
  device: Latest<string>;
}

export const NUMERIC_DIMS = ['gender', 'age', 'platform', 'province', 'city'] as const;
export type NumericDim = (typeof NUMERIC_DIMS)[number];

export interface ChainRow {
  openid: string;
  day: number;
  nextDay: number;
  firstDay: number;
  values: DimValues;
}

export interface UserState {
  openid: string;
  firstDay: number;
  lastDay: number;
  values: DimValues;
  /**
   * Events derived into this user's rows. 0: a dormant user, whose events retention dropped: only the state row is
   * left (for the first day), no chain row.
   */
  events: number;
}

/** What a batch brings for one user: per day the day's latest known values, and the number of events. */
export interface UserBatch {
  openid: string;
  days: Map<number, DimValues>;
  events: number;
}

/** The rows to write for a user: `cancel` are exact copies of live rows (sign −1), `insert` their new versions. */
export interface ChainChange {
  cancelRows: ChainRow[];
  insertRows: ChainRow[];
  cancelState: UserState | undefined;
  insertState: UserState;
}

export function unknownValues(): DimValues {
  return {
    gender: { t: 0, v: 0 },
    age: { t: 0, v: 0 },
    platform: { t: 0, v: 0 },
    province: { t: 0, v: 0 },
    city: { t: 0, v: 0 },
    device: { t: 0, v: '' },
  };
}

/** Later time wins; at the same time the larger value (devices: the byte-wise larger name, as ClickHouse compares). */
function later<V extends number | string>(a: Latest<V>, b: Latest<V>): Latest<V> {
  if (a.t !== b.t) return a.t > b.t ? a : b;
  if (typeof a.v === 'string' && typeof b.v === 'string') return Buffer.compare(Buffer.from(a.v), Buffer.from(b.v)) >= 0 ? a : b;
  return a.v >= b.v ? a : b;
}

export function maxValues(a: DimValues, b: DimValues): DimValues {
  return {
    gender: later(a.gender, b.gender),
    age: later(a.age, b.age),
    platform: later(a.platform, b.platform),
    province: later(a.province, b.province),
    city: later(a.city, b.city),
    device: later(a.device, b.device),
  };
}

export function sameValues(a: DimValues, b: DimValues): boolean {
  for (const d of NUMERIC_DIMS) if (a[d].t !== b[d].t || a[d].v !== b[d].v) return false;
  return a.device.t === b.device.t && a.device.v === b.device.v;
}

function sameRow(a: ChainRow, b: ChainRow): boolean {
  return a.day === b.day && a.nextDay === b.nextDay && a.firstDay === b.firstDay && a.openid === b.openid && sameValues(a.values, b.values);
}

/** The values one event contributes (unknown fields contribute nothing). */
export function eventValues(e: {
  time: number;
  gender: number;
  ageBucket: number;
  platformId: number;
  province: number;
  city: number;
  device: string | null;
}): DimValues {
  const t = e.time + TIME_OFFSET_MS;
  const num = (v: number): Latest<number> => (v > 0 ? { t, v } : { t: 0, v: 0 });
  return {
    gender: num(e.gender),
    age: num(e.ageBucket),
    platform: num(e.platformId),
    province: num(e.province),
    city: num(e.city),
    device: e.device === null ? { t: 0, v: '' } : { t: t + 1, v: e.device },
  };
}

/** The ∞ chain row a state stands for. */
export function lastRow(s: UserState): ChainRow {
  return { openid: s.openid, day: s.lastDay, nextDay: NO_NEXT_DAY, firstDay: s.firstDay, values: s.values };
}

/**
 * Folds a batch into one user's chain.
 *
 * `state` is the user's state row (undefined for a new user; for a dormant one, see UserState.events, only its first
 * day counts). `suffix` must hold the user's live chain rows with
 * a finite `next_day` after the batch's earliest day (only needed when that day is before the user's latest day;
 * rows before it cannot change: their next visit is at or before the batch's first day and their running values
 * include only earlier events). Rows that come out identical are neither cancelled nor written again.
 */
export function foldUser(state: UserState | undefined, suffix: readonly ChainRow[], batch: UserBatch): ChainChange {
  const batchDays = [...batch.days.keys()].sort((a, b) => a - b);
  const m = batchDays[0];
  if (m === undefined) throw new Error(`empty batch for ${batch.openid}`);
  const old: ChainRow[] = [];
  if (state && state.events > 0) {
    if (m < state.lastDay) {
      for (const r of suffix) if (r.nextDay > m && r.nextDay !== NO_NEXT_DAY) old.push(r);
    }
    old.push(lastRow(state));
    old.sort((a, b) => a.day - b.day);
  }
  const oldByDay = new Map(old.map((r) => [r.day, r]));
  const days = [...new Set([...old.map((r) => r.day), ...batchDays])].sort((a, b) => a - b);
  const firstDay = Math.min(state?.firstDay ?? m, m);

  const fresh: ChainRow[] = [];
  let batchCum = unknownValues();
  let lastOld: DimValues | undefined;
  for (const [i, day] of days.entries()) {
    const own = batch.days.get(day);
    if (own) batchCum = maxValues(batchCum, own);
    const o = oldByDay.get(day);
    let values: DimValues;
    if (o) {
      values = maxValues(o.values, batchCum);
      lastOld = o.values;
    } else {
      values = maxValues(lastOld ?? unknownValues(), batchCum);
    }
    fresh.push({ openid: batch.openid, day, nextDay: days[i + 1] ?? NO_NEXT_DAY, firstDay, values });
  }

  const freshByDay = new Map(fresh.map((r) => [r.day, r]));
  const cancelRows = old.filter((r) => {
    const n = freshByDay.get(r.day);
    return !n || !sameRow(r, n);
  });
  const insertRows = fresh.filter((r) => {
    const o = oldByDay.get(r.day);
    return !o || !sameRow(o, r);
  });
  const tail = fresh[fresh.length - 1];
  if (!tail) throw new Error('no rows');
  return {
    cancelRows,
    insertRows,
    cancelState: state,
    insertState: { openid: batch.openid, firstDay, lastDay: tail.day, values: tail.values, events: (state?.events ?? 0) + batch.events },
  };
}

/** Groups events by user and day (the day's latest known values) for `foldUser`. */
export function groupBatch(
  events: readonly { openid: string; day: number; time: number; gender: number; ageBucket: number; platformId: number; province: number; city: number; device: string | null }[],
): Map<string, UserBatch> {
  const users = new Map<string, UserBatch>();
  for (const e of events) {
    let u = users.get(e.openid);
    if (!u) users.set(e.openid, (u = { openid: e.openid, days: new Map(), events: 0 }));
    u.events++;
    const v = eventValues(e);
    const cur = u.days.get(e.day);
    u.days.set(e.day, cur ? maxValues(cur, v) : v);
  }
  return users;
}
