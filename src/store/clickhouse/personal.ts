/**
 * Deletion and retention on the ClickHouse store (see ../lifecycle.ts). ClickHouse deletes with mutations
 * (`ALTER TABLE … DELETE`), which rewrite the parts holding the rows in the background; 18.16 has no
 * `mutations_sync`, so `Mutations.wait` polls `system.mutations` (every shard's, in cluster mode) until none is
 * left. Raw `events` and `event_ids` are handled here; every family of derived tables has one hook in
 * DERIVED_FAMILIES. A new family joins deletion and retention by adding its hook there.
 *
 * Everything here runs under the app's writer lease (lease.ts), so no batch of the app is stored or derived
 * meanwhile, from this datacube server or another, and the lease is kept alive while mutations run.
 */
import { SESSION_GAP_MS } from '../../domain/analysis.ts';
import { type Day, startOfDay } from '../../domain/day.ts';
import type { FirstSeen } from '../lifecycle.ts';
import { unknownValues, type UserState } from './chain.ts';
import type { Connection, JsonRow } from './connection.ts';
import { CHAIN_COLUMNS, loadStates, stateRow } from './derive.ts';
import { SLOT_MS } from './analysisSchema.ts';
import { date, isoDay, join, list, type Sql, sql } from './sql.ts';

/** Long IN lists are literal text: let them through the parser. */
const LONG_QUERY = { max_query_size: '67108864' };
/** Event ids per mutation: bounds the size of one ALTER statement. */
const IDS_PER_MUTATION = 100_000;
/** How long `Mutations.wait` waits before giving up (the mutations go on regardless). */
export const MUTATION_TIMEOUT_MS = 600_000;

/** Issues deletions on local tables (every shard) and waits until every one has finished. */
export class Mutations {
  private readonly tables = new Set<string>();

  constructor(
    private readonly c: Connection,
    private readonly keepAlive: () => Promise<void>,
    private readonly timeoutMs = MUTATION_TIMEOUT_MS,
  ) {}

  /** `ALTER TABLE <table, local> DELETE WHERE …` (ON CLUSTER in cluster mode). */
  async delete(table: string, where: Sql): Promise<void> {
    await this.c.exec(sql`ALTER TABLE ${this.c.local(table)}${this.c.onCluster} DELETE WHERE ${where}`, LONG_QUERY);
    this.tables.add(this.c.localName(table));
  }

  /** Waits until no mutation of the tables deleted from is left unfinished, on any shard. */
  async wait(): Promise<void> {
    if (this.tables.size === 0) return;
    const source = this.c.cluster ? this.c.table('cluster_mutations') : sql`system.mutations`;
    const tables = [...this.tables];
    const started = Date.now();
    for (let pause = 10; ; pause = Math.min(500, pause * 2)) {
      const rows = await this.c.rows<{ n: string }>(
        sql`SELECT count() AS n FROM ${source} WHERE database = ${this.c.target.database} AND table IN ${list(tables)} AND is_done = 0`,
      );
      if (Number(rows[0]?.n ?? 0) === 0) return;
      if (Date.now() - started > this.timeoutMs) {
        throw new Error(`ClickHouse has not finished deleting from ${tables.join(', ')} after ${Math.round(this.timeoutMs / 1000)} s (it goes on in the background)`);
      }
      await this.keepAlive();
      await new Promise((r) => setTimeout(r, pause));
    }
  }
}

export interface DeleteContext {
  c: Connection;
  appid: string;
  openids: readonly string[];
  mutations: Mutations;
}

export interface PruneContext {
  c: Connection;
  appid: string;
  beforeDay: Day;
  /** Users with events before the cut: how many events each loses, and the earliest day of them. */
  affected: Map<string, { events: number; firstDay: Day }>;
  mutations: Mutations;
}

export interface DerivedFamily {
  readonly name: string;
  /** Issues the mutations that remove the family's rows of these users (the caller waits for them). */
  deleteUsers(ctx: DeleteContext): Promise<void>;
  /**
   * Issues the mutations that remove the family's rows depending only on the app's events before the cut (whose
   * own mutation is issued too), keeping what "new user" needs. May return work to do once every mutation has
   * finished.
   */
  prune(ctx: PruneContext): Promise<(() => Promise<void>) | void>;
  /**
   * Restore: records first days kept by a snapshot for the family's own "first day" table, once the portrait's
   * `kept_first_days` holds them (families that read `kept_first_days` themselves need nothing).
   */
  restoreFirstSeen?(c: Connection, appid: string, openids: readonly string[]): Promise<void>;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * The portrait's `user_chain` (chain.ts) and `kept_first_days`. A deleted user's rows go entirely (both signs, so
 * the sums stay exact). Pruning records each affected user's first day in `kept_first_days`, removes chain rows of
 * days before the cut (a window from the cut on reads only rows of its own days; values carried forward from older
 * days count as unknown there), then rewrites each affected user's state row with the events it has left; a user
 * with none left keeps a dormant state row (UserState.events = 0) holding the first day.
 */
export const PORTRAIT_FAMILY: DerivedFamily = {
  name: 'portrait',
  async deleteUsers({ c, appid, openids, mutations }) {
    // Cancels first (exact copies, opposite sign): `chain_day_counts` is kept by a materialized view, which sees
    // inserts and not mutations. The users' rows then sum to nothing, before the mutation removes them all.
    await c.exec(
      sql`INSERT INTO ${c.table('user_chain')} (${CHAIN_COLUMNS}, sign) SELECT ${CHAIN_COLUMNS}, -sign FROM ${c.table('user_chain')}
          WHERE appid = ${appid} AND kind = 1 AND openid IN ${list(openids)}`,
      LONG_QUERY,
    );
    await mutations.delete('user_chain', sql`appid = ${appid} AND openid IN ${list(openids)}`);
    await mutations.delete('kept_first_days', sql`appid = ${appid} AND openid IN ${list(openids)}`);
  },
  async prune({ c, appid, beforeDay, affected, mutations }) {
    const openids = [...affected.keys()];
    const states = await loadStates(c, appid, openids);
    const kept: JsonRow[] = [];
    for (const [openid, a] of affected) {
      const first = Math.min(states.get(openid)?.firstDay ?? a.firstDay, a.firstDay);
      kept.push({ appid, openid, first_day: isoDay(first) });
    }
    for (const part of chunks(kept, 100_000)) await c.insert('kept_first_days', part);
    await mutations.delete('user_chain', sql`appid = ${appid} AND kind = 1 AND day < ${date(beforeDay)}`);
    // The one-day counts of those days go with them (a materialized view does not see mutations).
    await mutations.delete('chain_day_counts', sql`appid = ${appid} AND day < ${date(beforeDay)}`);
    return async () => {
      const rows: JsonRow[] = [];
      for (const [openid, a] of affected) {
        const s = states.get(openid);
        if (!s) continue; // no state: the chain disagrees with the events; the next writer's check rebuilds it
        const left: UserState = { ...s, events: Math.max(0, s.events - a.events) };
        rows.push(stateRow(appid, s, -1), stateRow(appid, left, 1));
      }
      for (const part of chunks(rows, 100_000)) await c.insert('user_chain', part);
    };
  },
};

/** The analysis tables (analysisSchema.ts) that hold rows per user; `an_user_first` keeps first days through retention. */
const ANALYSIS_USER_TABLES = ['an_user_days', 'an_user_first', 'an_page_days', 'an_id_sessions', 'an_gap_slots'];

/**
 * Sessions without a session value that began before the cut and go on after it: per user, the first 30-minute slot
 * of that run (analysisQuery.ts: slots chain when each follows the previous one and its first event comes at most 30
 * minutes after that slot's last).
 */
async function runsAcrossCut(c: Connection, appid: string, cutSlot: number): Promise<Map<string, number>> {
  const slotsOf = (where: Sql) =>
    c.rows<{ openid: string; slot: string; f: string; l: string }>(
      sql`SELECT openid, slot, minMerge(first_time) AS f, maxMerge(last_time) AS l FROM ${c.table('an_gap_slots')}
          WHERE appid = ${appid} AND ${where} GROUP BY openid, slot`,
      LONG_QUERY,
    );
  const bySlot = (rows: { openid: string; slot: string; f: string; l: string }[]) => {
    const m = new Map<string, Map<number, { f: number; l: number }>>();
    for (const r of rows) {
      const u = m.get(String(r.openid)) ?? new Map<number, { f: number; l: number }>();
      u.set(Number(r.slot), { f: Number(r.f), l: Number(r.l) });
      m.set(String(r.openid), u);
    }
    return m;
  };
  const chains = (slots: Map<number, { f: number; l: number }>, s: number) => {
    const a = slots.get(s - 1);
    const b = slots.get(s);
    return a !== undefined && b !== undefined && b.f - a.l <= SESSION_GAP_MS;
  };
  const edge = bySlot(await slotsOf(sql`slot >= ${cutSlot - 1} AND slot <= ${cutSlot}`));
  const crossing = [...edge].filter(([, slots]) => chains(slots, cutSlot)).map(([openid]) => openid);
  const starts = new Map<string, number>();
  if (crossing.length === 0) return starts;
  const before = bySlot(await slotsOf(sql`slot < ${cutSlot} AND openid IN ${list(crossing)}`));
  for (const openid of crossing) {
    const slots = before.get(openid) ?? new Map<number, { f: number; l: number }>();
    let start = cutSlot - 1;
    while (chains(slots, start)) start--;
    starts.set(openid, start);
  }
  return starts;
}

/**
 * The analysis family's tables (analysisSchema.ts, filled by materialized views from `events`). A deleted user's rows
 * go from every one of them. Pruning drops user-days and page-days of days before the cut and the sessions that lie
 * wholly before it (a session belongs to the day of its first event; one that began before the cut and goes on after
 * it stays whole, so the cut day does not gain a session); `an_user_first` keeps every first day, so "new" and
 * "users ever" stay right.
 */
export const ANALYSIS_FAMILY: DerivedFamily = {
  name: 'analysis',
  async deleteUsers({ appid, openids, mutations }) {
    for (const t of ANALYSIS_USER_TABLES) await mutations.delete(t, sql`appid = ${appid} AND openid IN ${list(openids)}`);
  },
  async prune({ c, appid, beforeDay, mutations }) {
    const cut = startOfDay(beforeDay);
    const cutSlot = Math.floor(cut / SLOT_MS);
    await mutations.delete('an_user_days', sql`appid = ${appid} AND day < ${date(beforeDay)}`);
    await mutations.delete('an_page_days', sql`appid = ${appid} AND day < ${date(beforeDay)}`);
    const spanning = await c.rows<{ openid: string; sid: string }>(
      sql`SELECT openid, assumeNotNull(session) AS sid FROM ${c.table('events')} WHERE appid = ${appid} AND isNotNull(session)
          GROUP BY openid, sid HAVING min(time) < ${cut} AND max(time) >= ${cut}`,
    );
    const keep = spanning.length === 0 ? sql`` : sql` AND (openid, sid) NOT IN (${join(spanning.map((r) => sql`(${String(r.openid)}, ${String(r.sid)})`))})`;
    await mutations.delete('an_id_sessions', sql`appid = ${appid} AND finalizeAggregation(first_time) < ${cut}${keep}`);
    const runs = await runsAcrossCut(c, appid, cutSlot);
    const limit = runs.size === 0 ? sql`${cutSlot}` : sql`transform(openid, ${[...runs.keys()]}, ${[...runs.values()]}, toInt64(${cutSlot}))`;
    await mutations.delete('an_gap_slots', sql`appid = ${appid} AND slot < ${limit}`);
  },
  async restoreFirstSeen(c, appid, openids) {
    await c.exec(
      sql`INSERT INTO ${c.table('an_user_first')} SELECT appid, openid, minState(first_day) FROM ${c.table('kept_first_days')}
          WHERE appid = ${appid} AND openid IN ${list(openids)} GROUP BY appid, openid`,
      LONG_QUERY,
    );
  },
};

export const DERIVED_FAMILIES: readonly DerivedFamily[] = [PORTRAIT_FAMILY, ANALYSIS_FAMILY];

/** Event ids of the app's events matching `where`. */
async function eventIds(c: Connection, appid: string, where: Sql): Promise<string[]> {
  const rows = await c.rows<{ id: string }>(
    sql`SELECT DISTINCT assumeNotNull(event_id) AS id FROM ${c.table('events')} WHERE appid = ${appid} AND isNotNull(event_id) AND ${where}`,
    LONG_QUERY,
  );
  return rows.map((r) => String(r.id));
}

async function deleteEventIds(m: Mutations, appid: string, ids: readonly string[]): Promise<void> {
  for (const part of chunks(ids, IDS_PER_MUTATION)) await m.delete('event_ids', sql`appid = ${appid} AND event_id IN ${list(part)}`);
}

/** See Store.deleteUsers. The caller holds the app's writer lease. */
export async function deleteUsers(
  c: Connection,
  appid: string,
  openids: readonly string[],
  keepAlive: () => Promise<void>,
): Promise<{ users: number; events: number }> {
  const unique = [...new Set(openids)];
  const inList = sql`openid IN ${list(unique)}`;
  const counted = await c.rows<{ n: string; u: string }>(
    sql`SELECT count() AS n, uniqExact(openid) AS u FROM ${c.table('events')} WHERE appid = ${appid} AND ${inList}`,
    LONG_QUERY,
  );
  const events = Number(counted[0]?.n ?? 0);
  // Users with anything stored: events, or a state row (a dormant user has only that), or a kept first day.
  const known = await c.rows<{ openid: string }>(
    sql`SELECT DISTINCT openid FROM ${c.table('user_chain')} WHERE appid = ${appid} AND kind = 0 AND ${inList}
        UNION ALL SELECT DISTINCT openid FROM ${c.table('events')} WHERE appid = ${appid} AND ${inList}
        UNION ALL SELECT DISTINCT openid FROM ${c.table('kept_first_days')} WHERE appid = ${appid} AND ${inList}`,
    LONG_QUERY,
  );
  const users = new Set(known.map((r) => String(r.openid))).size;
  if (users === 0) return { users: 0, events: 0 };
  const m = new Mutations(c, keepAlive);
  // Event ids first (they live on other shards than the events), so a resent event is not taken for a duplicate.
  await deleteEventIds(m, appid, await eventIds(c, appid, inList));
  await m.delete('events', sql`appid = ${appid} AND ${inList}`);
  for (const f of DERIVED_FAMILIES) await f.deleteUsers({ c, appid, openids: unique, mutations: m });
  await m.wait();
  return { users, events };
}

/** See Store.prune. The caller holds the app's writer lease. */
export async function pruneApp(c: Connection, appid: string, beforeDay: Day, keepAlive: () => Promise<void>): Promise<{ users: number; events: number }> {
  const before = sql`day < ${date(beforeDay)}`;
  const rows = await c.rows<{ openid: string; n: string; d: number }>(
    sql`SELECT openid, count() AS n, toUInt16(min(day)) AS d FROM ${c.table('events')} WHERE appid = ${appid} AND ${before} GROUP BY openid`,
  );
  if (rows.length === 0) return { users: 0, events: 0 };
  const affected = new Map(rows.map((r) => [String(r.openid), { events: Number(r.n), firstDay: Number(r.d) }]));
  const events = rows.reduce((s, r) => s + Number(r.n), 0);
  const m = new Mutations(c, keepAlive);
  const after: (() => Promise<void>)[] = [];
  for (const f of DERIVED_FAMILIES) {
    const then = await f.prune({ c, appid, beforeDay, affected, mutations: m });
    if (then) after.push(then);
  }
  await deleteEventIds(m, appid, await eventIds(c, appid, before));
  await m.delete('events', sql`appid = ${appid} AND ${before}`);
  await m.wait();
  for (const then of after) await then();
  return { users: affected.size, events };
}

/** First days kept by retention for the app (for snapshots). */
export async function keptFirstSeen(c: Connection, appid: string): Promise<FirstSeen[]> {
  const rows = await c.rows<{ openid: string; d: number }>(
    sql`SELECT openid, toUInt16(min(first_day)) AS d FROM ${c.table('kept_first_days')} WHERE appid = ${appid} GROUP BY openid ORDER BY openid`,
  );
  return rows.map((r) => ({ openid: String(r.openid), day: Number(r.d) }));
}

/**
 * Restore: records kept first days and gives users the app does not know yet a dormant state row, so that their
 * events, appended next, do not make them new. Returns whether some user was known already (then the caller
 * rebuilds the app's chain, which reads the kept first days).
 */
export async function restoreFirstSeen(c: Connection, appid: string, rows: readonly FirstSeen[]): Promise<boolean> {
  if (rows.length === 0) return false;
  for (const part of chunks(rows, 100_000)) {
    await c.insert('kept_first_days', part.map((r) => ({ appid, openid: r.openid, first_day: isoDay(r.day) })));
    for (const f of DERIVED_FAMILIES) await f.restoreFirstSeen?.(c, appid, part.map((r) => r.openid));
  }
  const states = await loadStates(c, appid, rows.map((r) => r.openid));
  const fresh: JsonRow[] = [];
  for (const r of rows) {
    if (states.has(r.openid)) continue;
    fresh.push(stateRow(appid, { openid: r.openid, firstDay: r.day, lastDay: r.day, values: unknownValues(), events: 0 }, 1));
  }
  for (const part of chunks(fresh, 100_000)) await c.insert('user_chain', part);
  return states.size > 0;
}
