/**
 * Keeps `user_chain` (see chain.ts) in step with `events`: folds an appended batch in, and checks and rebuilds an
 * app's chain from its events. Runs only under the app's writer lease (lease.ts), so there is one writer per app
 * across every datacube server: the rows it cancels are exactly the live ones.
 */
import type { VisitEvent } from '../../domain/event.ts';
import { VALUE_BITS } from '../packing.ts';
import {
  type ChainRow,
  type DimValues,
  foldUser,
  groupBatch,
  type Latest,
  NO_NEXT_DAY,
  NUMERIC_DIMS,
  TIME_OFFSET_MS,
  type UserBatch,
  type UserState,
  unknownValues,
} from './chain.ts';
import type { Connection, JsonRow } from './connection.ts';
import { date, ident, isoDay, list, type Sql, sql } from './sql.ts';

const SHIFT = BigInt(VALUE_BITS);
const MASK = (1n << SHIFT) - 1n;
const LONG_QUERY = { max_query_size: '16777216' };

function pack(l: Latest<number>): string {
  return ((BigInt(l.t) << SHIFT) | BigInt(l.v)).toString();
}
function unpack(x: unknown): Latest<number> {
  const n = BigInt(String(x));
  return { t: Number(n >> SHIFT), v: Number(n & MASK) };
}

/** Every column of `user_chain` but `sign` (to write a row's cancel: the same values, the opposite sign). */
export const CHAIN_COLUMNS = sql`appid, kind, next_day, day, openid, first_day, last_day, gender, age, platform, province, city, device_t, device, events`;

/** Columns that identify a live row's content, in the order the writer reads them. */
const CONTENT = sql`openid, toUInt16(day) AS d, toUInt16(next_day) AS nd, toUInt16(first_day) AS fd, toUInt16(last_day) AS ld,
  gender, age, platform, province, city, device_t, device, events`;
const GROUP = sql`openid, day, next_day, first_day, last_day, gender, age, platform, province, city, device_t, device, events`;

function valuesFrom(r: JsonRow): DimValues {
  return {
    gender: unpack(r.gender),
    age: unpack(r.age),
    platform: unpack(r.platform),
    province: unpack(r.province),
    city: unpack(r.city),
    device: { t: Number(r.device_t), v: String(r.device) },
  };
}

function valueColumns(v: DimValues): JsonRow {
  const out: JsonRow = {};
  for (const d of NUMERIC_DIMS) out[d] = pack(v[d]);
  out.device_t = v.device.t;
  out.device = v.device.v;
  return out;
}

function chainRow(appid: string, r: ChainRow, sign: 1 | -1): JsonRow {
  return {
    appid,
    kind: 1,
    next_day: isoDay(r.nextDay),
    day: isoDay(r.day),
    openid: r.openid,
    first_day: isoDay(r.firstDay),
    last_day: isoDay(r.day),
    ...valueColumns(r.values),
    events: 0,
    sign,
  };
}

export function stateRow(appid: string, s: UserState, sign: 1 | -1): JsonRow {
  return {
    appid,
    kind: 0,
    next_day: isoDay(0),
    day: isoDay(0),
    openid: s.openid,
    first_day: isoDay(s.firstDay),
    last_day: isoDay(s.lastDay),
    ...valueColumns(s.values),
    events: s.events,
    sign,
  };
}

/** The app's progress row (chain.ts): every event with `seq <= seq` was stored before it was written. */
export function progressRow(appid: string, seq: number): JsonRow {
  return {
    appid,
    kind: 2,
    next_day: isoDay(0),
    day: isoDay(0),
    openid: '',
    first_day: isoDay(0),
    last_day: isoDay(0),
    gender: 0,
    age: 0,
    platform: 0,
    province: 0,
    city: 0,
    device_t: seq,
    device: '',
    events: 0,
    sign: 1,
  };
}

/** The largest `seq` of the app's progress rows (0 if none): every acknowledged event's `seq` is at most this. */
export async function progressSeq(c: Connection, appid: string): Promise<number> {
  const rows = await c.rows<{ s: string }>(sql`SELECT toString(max(device_t)) AS s FROM ${c.table('user_chain')} WHERE appid = ${appid} AND kind = 2`);
  return Number(rows[0]?.s ?? 0);
}

/** The live state rows of these users (collapsed: rows whose signs sum to 1). */
export async function loadStates(c: Connection, appid: string, openids: readonly string[]): Promise<Map<string, UserState>> {
  const out = new Map<string, UserState>();
  for (let i = 0; i < openids.length; i += 5000) {
    const part = openids.slice(i, i + 5000);
    const rows = await c.rows(
      sql`SELECT ${CONTENT}, sum(sign) AS s FROM ${c.table('user_chain')}
          WHERE appid = ${appid} AND kind = 0 AND next_day = ${date(0)} AND day = ${date(0)} AND openid IN ${list(part)}
          GROUP BY ${GROUP} HAVING s != 0`,
      LONG_QUERY,
    );
    for (const r of rows) {
      const openid = String(r.openid);
      if (Number(r.s) !== 1 || out.has(openid)) throw new Error(`user_chain: the state of ${JSON.stringify(openid)} in ${appid} is not a single live row`);
      out.set(openid, { openid, firstDay: Number(r.fd), lastDay: Number(r.ld), values: valuesFrom(r), events: Number(r.events) });
    }
  }
  return out;
}

/** Live chain rows with a finite next day after `after` of these users. */
async function loadSuffixes(c: Connection, appid: string, openids: readonly string[], after: number): Promise<Map<string, ChainRow[]>> {
  const out = new Map<string, ChainRow[]>();
  for (let i = 0; i < openids.length; i += 5000) {
    const part = openids.slice(i, i + 5000);
    const rows = await c.rows(
      sql`SELECT ${CONTENT}, sum(sign) AS s FROM ${c.table('user_chain')}
          WHERE appid = ${appid} AND kind = 1 AND next_day > ${date(after)} AND next_day < ${date(NO_NEXT_DAY)} AND openid IN ${list(part)}
          GROUP BY ${GROUP} HAVING s != 0`,
      LONG_QUERY,
    );
    for (const r of rows) {
      if (Number(r.s) !== 1) throw new Error(`user_chain: a chain row of ${JSON.stringify(r.openid)} in ${appid} is not live exactly once`);
      const row: ChainRow = { openid: String(r.openid), day: Number(r.d), nextDay: Number(r.nd), firstDay: Number(r.fd), values: valuesFrom(r) };
      const l = out.get(row.openid);
      if (l) l.push(row);
      else out.set(row.openid, [row]);
    }
  }
  return out;
}

/** The rows that fold these users' batches into the chain (cancels and new versions, in one list). */
async function changeRows(c: Connection, appid: string, users: Map<string, UserBatch>, known?: Map<string, UserState>): Promise<JsonRow[]> {
  const openids = [...users.keys()];
  const states = known ?? (await loadStates(c, appid, openids));
  // Users whose batch reaches before their latest day need the chain rows from there on.
  let earliest = Infinity;
  const late: string[] = [];
  for (const [openid, b] of users) {
    const s = states.get(openid);
    const m = Math.min(...b.days.keys());
    if (s && m < s.lastDay) {
      late.push(openid);
      earliest = Math.min(earliest, m);
    }
  }
  const suffixes = late.length > 0 ? await loadSuffixes(c, appid, late, earliest) : new Map<string, ChainRow[]>();
  const rows: JsonRow[] = [];
  for (const [openid, b] of users) {
    const ch = foldUser(states.get(openid), suffixes.get(openid) ?? [], b);
    if (ch.cancelState) rows.push(stateRow(appid, ch.cancelState, -1));
    rows.push(stateRow(appid, ch.insertState, 1));
    for (const r of ch.cancelRows) rows.push(chainRow(appid, r, -1));
    for (const r of ch.insertRows) rows.push(chainRow(appid, r, 1));
  }
  return rows;
}

/**
 * The rows that fold these events into the app's chain (cancels and new versions). `states`: the users' state rows
 * when the caller has read them already (loadStates, under the same lease; it may hold more users).
 */
export async function chainChanges(c: Connection, appid: string, events: readonly VisitEvent[], states?: Map<string, UserState>): Promise<JsonRow[]> {
  if (events.length === 0) return [];
  return changeRows(c, appid, groupBatch(events), states);
}

/**
 * Writes chain changes in one insert, so each shard gets one part (all of a user's rows live on the user's shard, so
 * a user is folded entirely or not at all).
 */
export async function writeChainChanges(c: Connection, rows: readonly JsonRow[]): Promise<void> {
  if (rows.length === 0) return;
  await c.insert('user_chain', rows, { max_insert_block_size: String(Math.max(1_048_576, rows.length + 1)) });
}

/** Events stored for the app, and events its chain has folded in. Equal unless a write was cut short. */
export async function derivedCounts(c: Connection, appid: string): Promise<{ stored: number; derived: number }> {
  const [a, b] = await Promise.all([
    c.rows<{ n: string }>(sql`SELECT count() AS n FROM ${c.table('events')} WHERE appid = ${appid}`),
    c.rows<{ n: string }>(sql`SELECT sum(toInt64(events) * sign) AS n FROM ${c.table('user_chain')} WHERE appid = ${appid} AND kind = 0`),
  ]);
  return { stored: Number(a[0]?.n ?? 0), derived: Number(b[0]?.n ?? 0) };
}

/**
 * Per (user, day) of the app's stored events: the day's latest known values and its number of events; with
 * `kept`, also the user's first day kept by retention (`kept_first_days`, 0 if none).
 */
function eventDaysQuery(c: Connection, appid: string, kept: boolean): Sql {
  const packed = (col: string): Sql =>
    sql`max(if(${ident(col)} = 0, toInt64(0), bitOr(bitShiftLeft(toInt64(time + ${TIME_OFFSET_MS}), ${VALUE_BITS}), toInt64(${ident(col)}))))`;
  const join = kept
    ? sql`ANY LEFT JOIN (SELECT openid, toUInt16(min(first_day)) AS kept FROM ${c.table('kept_first_days')} WHERE appid = ${appid} GROUP BY openid) USING openid`
    : sql``;
  return sql`SELECT openid, toUInt16(day) AS d, count() AS n, ${kept ? sql`any(kept)` : sql`toUInt16(0)`} AS kept,
      ${packed('gender')} AS gender, ${packed('age_bucket')} AS age, ${packed('platform_id')} AS platform,
      ${packed('province')} AS province, ${packed('city')} AS city,
      max(tuple(if(isNull(device), toInt64(0), toInt64(time + ${TIME_OFFSET_MS + 1})), ifNull(device, ''))) AS dev
    FROM ${c.table('events')} ${join} WHERE appid = ${appid}
    GROUP BY openid, day ORDER BY openid, day`;
}

/**
 * Reading `kept_first_days` beside `events` or `user_chain`: in cluster mode each shard joins its own rows (the
 * three tables share one sharding key, so a user's rows are on one shard).
 */
export const CO_LOCATED = { distributed_product_mode: 'local' } as const;

/**
 * Rebuilds the app's chain from its events: cancels every row it has (inserting each with the opposite sign, so the
 * table sums to nothing for the app), then folds the events in user by user. If this is cut short, the counts of
 * `derivedCounts` differ and the next writer rebuilds again. `keepAlive` is called between chunks (lease renewal).
 *
 * First days kept by retention (`kept_first_days`, migration 17) are honoured: a user's first day is the earlier of
 * the kept one and the first stored event's, and a user with a kept first day and no events left gets a dormant
 * state row (UserState.events). `keptFirstDays: false` is for migration 15, which runs before that table exists.
 */
export async function rebuildChain(
  c: Connection,
  appid: string,
  keepAlive: () => Promise<void> = async () => undefined,
  opts: { keptFirstDays?: boolean } = {},
): Promise<void> {
  const kept = opts.keptFirstDays ?? true;
  // Progress rows (kind 2) are never cancelled: they only ever grow.
  await c.exec(
    sql`INSERT INTO ${c.table('user_chain')} (${CHAIN_COLUMNS}, sign) SELECT ${CHAIN_COLUMNS}, -sign FROM ${c.table('user_chain')} WHERE appid = ${appid} AND kind != 2`,
  );
  let rows: JsonRow[] = [];
  let user: UserBatch | undefined;
  const flush = async (force: boolean): Promise<void> => {
    if (rows.length === 0 || (!force && rows.length < 50_000)) return;
    await c.insert('user_chain', rows);
    rows = [];
    await keepAlive();
  };
  let keptDay = 0;
  const finish = (u: UserBatch): void => {
    // A kept first day stands for a dormant state: only its first day counts (foldUser).
    const since = keptDay > 0 ? { openid: u.openid, firstDay: keptDay, lastDay: keptDay, values: unknownValues(), events: 0 } : undefined;
    const ch = foldUser(since, [], u);
    rows.push(stateRow(appid, ch.insertState, 1));
    for (const r of ch.insertRows) rows.push(chainRow(appid, r, 1));
  };
  await c.stream(
    eventDaysQuery(c, appid, kept),
    async (r) => {
      const openid = String(r.openid);
      if (user && user.openid !== openid) {
        finish(user);
        user = undefined;
        await flush(false);
      }
      if (!user) keptDay = Number(r.kept);
      user ??= { openid, days: new Map(), events: 0 };
      const dev = r.dev as [string | number, string];
      user.days.set(Number(r.d), {
        gender: unpack(r.gender),
        age: unpack(r.age),
        platform: unpack(r.platform),
        province: unpack(r.province),
        city: unpack(r.city),
        device: { t: Number(dev[0]), v: String(dev[1]) },
      });
      user.events += Number(r.n);
    },
    { max_bytes_before_external_group_by: '1000000000', max_bytes_before_external_sort: '1000000000', ...(kept ? CO_LOCATED : {}) },
  );
  if (user) finish(user);
  if (kept) {
    // Users whose every event retention dropped: a dormant state row each.
    await c.stream(
      sql`SELECT openid, toUInt16(min(first_day)) AS kept FROM ${c.table('kept_first_days')}
          WHERE appid = ${appid} AND openid NOT IN (SELECT openid FROM ${c.table('events')} WHERE appid = ${appid})
          GROUP BY openid`,
      async (r) => {
        const day = Number(r.kept);
        rows.push(stateRow(appid, { openid: String(r.openid), firstDay: day, lastDay: day, values: unknownValues(), events: 0 }, 1));
        await flush(false);
      },
      CO_LOCATED,
    );
  }
  // Every stored event now counts as acknowledged (a writer cut off before its chain insert left some that were not).
  const top = await c.rows<{ s: string }>(sql`SELECT toString(max(seq)) AS s FROM ${c.table('events')} WHERE appid = ${appid}`);
  if (Number(top[0]?.s ?? 0) > 0) rows.push(progressRow(appid, Number(top[0]?.s)));
  await flush(true);
}

/** Every appid with stored events (for the migration that builds the chain). */
export async function appsWithEvents(c: Connection): Promise<string[]> {
  const rows = await c.rows<{ appid: string }>(sql`SELECT DISTINCT appid FROM ${c.table('events')} ORDER BY appid`);
  return rows.map((r) => String(r.appid));
}
