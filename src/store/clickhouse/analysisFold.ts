/**
 * Folding an app's events into the analysis tables (analysisSchema.ts) in steps, by `seq`, instead of by
 * materialized views on every insert: an ingest commit writes `events` (and the chain) only, and the analysis
 * tables get one part each per fold of many commits.
 *
 * `an_folds` holds, per app, the latest record (highest `version`): every event with `seq <= hi` is in the tables,
 * `events` of them were counted when they were folded, and `done` = 0 says a fold (or a rebuild) is under way or was
 * cut short, so its rows may be partly in. Folds run only under the app's writer lease (lease.ts), one writer across
 * every datacube server: record the intent (done = 0), insert into each table the aggregates of the events in
 * (lo, hi], record done. Anything else found — an intent left behind, or a count of stored events up to `hi` that is
 * not the recorded one (an insert that landed after the fold read past it, a deletion) — is repaired by rebuilding
 * the app's analysis tables from its events.
 *
 * Reads need no lease: they read the tables and, beside them, the aggregates of the events past `hi` (the tail),
 * which the same SELECT computes from `events` — unless the app's progress rows (chain.ts) show no acknowledged event
 * past `hi`, as after a fold of an app that went quiet: then the tables alone, without scanning `events`. A read takes the app's record before and after its queries; if a
 * fold started in between (the version moved), the tables may hold part of the tail twice, and the read runs again.
 * A fold records its intent before it inserts anything, so an unchanged version after the queries means none of
 * their snapshots saw a row of a newer fold.
 */
import { EVENT_TYPES } from '../../domain/analysis.ts';
import type { Connection } from './connection.ts';
import type { Migration } from './schema.ts';
import { ANALYSIS_TABLE_NAMES, type AnalysisTableName, analysisTables } from './analysisSchema.ts';
import { progressSeq } from './derive.ts';
import { Mutations } from './personal.ts';
import { type Sql, sql } from './sql.ts';

/** The latest `an_folds` record of an app. */
export interface FoldState {
  hi: number;
  events: number;
  done: boolean;
  version: number;
}

/** What a read of one shard takes as an analysis table: its rows and the tail's aggregates. */
export interface AnalysisSources {
  /**
   * A subquery with the table's columns: the app's rows matching `where` (over the table's columns), and the tail's.
   * `events`: a condition on `events` that every event whose aggregate can match `where` meets (a day range, which
   * the primary key of `events` serves), so the tail's scan reads only those days.
   */
  from(table: AnalysisTableName, where?: Sql, events?: Sql): Sql;
}

export async function foldState(c: Connection, appid: string): Promise<FoldState | undefined> {
  // Aliases other than the column names: `ORDER BY version` must sort the UInt64, not its text ("9" > "10").
  const rows = await c.rows<{ h: string; n: string; d: number; v: string }>(
    sql`SELECT toString(hi) AS h, toString(events) AS n, done AS d, toString(version) AS v
        FROM ${c.table('an_folds')} WHERE appid = ${appid} ORDER BY version DESC LIMIT 1`,
  );
  const r = rows[0];
  return r ? { hi: Number(r.h), events: Number(r.n), done: Number(r.d) === 1, version: Number(r.v) } : undefined;
}

async function record(c: Connection, appid: string, s: FoldState): Promise<void> {
  await c.insert('an_folds', [{ appid, hi: s.hi, events: s.events, done: s.done ? 1 : 0, version: s.version }]);
}

/** The largest `seq` of the app's events after `lo` (`lo` if none) and how many there are. */
async function eventsAfter(c: Connection, appid: string, lo: number): Promise<{ top: number; n: number }> {
  const rows = await c.rows<{ top: string; n: string }>(
    sql`SELECT toString(max(seq)) AS top, count() AS n FROM ${c.table('events')} WHERE appid = ${appid} AND seq > ${lo}`,
  );
  const n = Number(rows[0]?.n ?? 0);
  return { top: n > 0 ? Number(rows[0]?.top ?? lo) : lo, n };
}

async function countUpTo(c: Connection, appid: string, hi: number): Promise<number> {
  const rows = await c.rows<{ n: string }>(sql`SELECT count() AS n FROM ${c.table('events')} WHERE appid = ${appid} AND seq <= ${hi}`);
  return Number(rows[0]?.n ?? 0);
}

/** Inserts into every analysis table the aggregates of the app's events matching `where`. */
async function insertAggregates(c: Connection, appid: string, where: Sql, keepAlive: () => Promise<void>): Promise<void> {
  for (const t of analysisTables(c.table('events'), sql`appid = ${appid} AND ${where}`)) {
    await c.exec(sql`INSERT INTO ${c.table(t.name)} ${t.select}`);
    await keepAlive();
  }
}

/**
 * Rebuilds the app's analysis tables from its events (and the first days retention kept): records the intent,
 * deletes the app's rows (mutations, waited for on every shard), inserts the aggregates of every stored event.
 * Cut short, it leaves an intent, and the next writer rebuilds again. Sessions that a retention cut kept whole
 * (personal.ts) start at the cut after a rebuild: their earlier events are gone.
 */
export async function rebuildAnalysis(c: Connection, appid: string, keepAlive: () => Promise<void>): Promise<FoldState> {
  const last = await foldState(c, appid);
  const version = (last?.version ?? 0) + 1;
  const { top, n } = await eventsAfter(c, appid, 0);
  await record(c, appid, { hi: top, events: n, done: false, version });
  const m = new Mutations(c, keepAlive);
  for (const t of ANALYSIS_TABLE_NAMES) await m.delete(t, sql`appid = ${appid}`);
  await m.wait();
  await insertAggregates(c, appid, sql`seq <= ${top}`, keepAlive);
  await c.exec(
    sql`INSERT INTO ${c.table('an_user_first')} SELECT appid, openid, minState(first_day) FROM ${c.table('kept_first_days')}
        WHERE appid = ${appid} GROUP BY appid, openid`,
  );
  const done = { hi: top, events: n, done: true, version: version + 1 };
  await record(c, appid, done);
  return done;
}

/**
 * Folds the app's events past its record into the analysis tables (rebuilding first if the record says a fold was
 * cut short). The caller holds the app's writer lease. Returns the record after it.
 */
export async function foldAnalysis(c: Connection, appid: string, keepAlive: () => Promise<void>): Promise<FoldState | undefined> {
  const last = await foldState(c, appid);
  if (last && !last.done) return rebuildAnalysis(c, appid, keepAlive);
  const lo = last?.hi ?? 0;
  const { top, n } = await eventsAfter(c, appid, lo);
  if (n === 0) return last;
  const version = (last?.version ?? 0) + 1;
  const state = { hi: top, events: (last?.events ?? 0) + n, done: false, version };
  await record(c, appid, state);
  await insertAggregates(c, appid, sql`seq > ${lo} AND seq <= ${top}`, keepAlive);
  const done = { ...state, done: true, version: version + 1 };
  await record(c, appid, done);
  return done;
}

/**
 * Whether the app's record holds: no fold cut short, and as many events stored up to `hi` as were folded (an events
 * insert that landed after a fold read past its `seq`, or one deleted outside `noteDeleted`, makes them differ).
 */
export async function foldsAgree(c: Connection, appid: string): Promise<boolean> {
  const s = await foldState(c, appid);
  if (!s) return true;
  if (!s.done) return false;
  return (await countUpTo(c, appid, s.hi)) === s.events;
}

/**
 * After events were deleted (users, retention) under the lease: records the count of events left up to `hi`, so the
 * record holds again. The deletion removed their rows from the tables too (personal.ts).
 */
export async function noteDeleted(c: Connection, appid: string): Promise<void> {
  const s = await foldState(c, appid);
  if (!s || !s.done) return;
  const n = await countUpTo(c, appid, s.hi);
  if (n !== s.events) await record(c, appid, { ...s, events: n, version: s.version + 1 });
}

/**
 * What a read of one shard takes as each analysis table: its rows, and the aggregates of that shard's events past
 * `hi` (read with PREWHERE on `seq`: the app's `seq` column is scanned, its other columns only for the tail).
 */
export function analysisSources(c: Connection, appid: string, hi: number, tail = true): AnalysisSources {
  return {
    from(table, where = sql`1`, events = sql`1`) {
      const rows = sql`SELECT * FROM ${c.local(table)} WHERE appid = ${appid} AND ${where}`;
      if (!tail) return sql`(${rows})`;
      const t = analysisTables(sql`${c.local('events')} PREWHERE seq > ${hi}`, sql`appid = ${appid} AND ${events}`).find((x) => x.name === table);
      if (!t) throw new Error(`no analysis table ${table}`);
      return sql`(${rows} UNION ALL SELECT * FROM (${t.select}) WHERE ${where})`;
    },
  };
}

/**
 * Runs `read` over the tables and the tail without the lease (see the file comment): up to `attempts` times, while
 * the record moves under it or says a fold is under way. `undefined` when it did not settle (the caller then reads
 * under the lease).
 */
export async function readFolded<T>(c: Connection, appid: string, read: (src: AnalysisSources) => Promise<T>, attempts = 5): Promise<{ value: T } | undefined> {
  for (let i = 0; i < attempts; i++) {
    const before = await foldState(c, appid);
    if (before && !before.done) {
      // A fold under way (usually well under a second), or one cut short that a writer will repair.
      await new Promise((r) => setTimeout(r, 50 * 2 ** i));
      continue;
    }
    // No acknowledged event past the record (the progress rows say so, chain.ts): the tables alone, no scan of `events`.
    const hi = before?.hi ?? 0;
    const value = await read(analysisSources(c, appid, hi, (await progressSeq(c, appid)) > hi));
    const after = await foldState(c, appid);
    if ((after?.version ?? 0) === (before?.version ?? 0)) return { value };
  }
  return undefined;
}

/**
 * Events of a type other than visit, open and share take no part in sessions (reference: they count for visitors
 * only); until this migration they were folded into `an_id_sessions` and `an_gap_slots`. Every app that stored such
 * an event gets a fold intent recorded (done = 0, as a fold cut short leaves): the next writer of the app rebuilds its
 * analysis tables from its events (`foldAnalysis` → `rebuildAnalysis`), and reads wait for it or read under the lease.
 * Apps without such events (one scan of `events.type`) and apps with nothing folded yet are left alone.
 */
export const ANALYSIS_SESSION_TYPES_MIGRATION: Migration = {
  // Numbered after 1502 (it writes `an_folds`; versions run in numeric order), "15xx" with its issue's 14.
  version: 1514,
  name: 'analysis sessions of visit, open and share events only (apps with other types rebuilt)',
  statements: () => [],
  // Safe to run again: a second intent only makes the rebuild happen (once).
  run: (c) => rebuildAppsWith(c, sql`type NOT IN (${EVENT_TYPES.VISIT}, ${EVENT_TYPES.OPEN}, ${EVENT_TYPES.SHARE})`),
};

/**
 * Versions before the analysis family stored an event's type as sent (`Visit`, `SHARE`); the analysis tables read it
 * in lower case (analysisSchema.ts), as ingest stores it since. Apps with such events folded by an earlier version
 * (as other types: no views, shares or sessions) get a fold intent, as for migration 1514.
 */
export const ANALYSIS_TYPE_CASE_MIGRATION: Migration = {
  version: 1515,
  name: 'analysis tables read event types in lower case (apps with types stored as sent rebuilt)',
  statements: () => [],
  run: (c) => rebuildAppsWith(c, sql`type != lower(type)`),
};

/** Records a fold intent for every app, with something folded, that has an event matching `where`. */
async function rebuildAppsWith(c: Connection, where: Sql): Promise<void> {
  const apps = await c.rows<{ appid: string }>(sql`SELECT DISTINCT appid FROM ${c.table('events')} WHERE ${where}`);
  for (const { appid } of apps) {
    const s = await foldState(c, appid);
    if (s?.done) await record(c, appid, { ...s, done: false, version: s.version + 1 });
  }
}
