import type { VisitEvent } from '../../domain/event.ts';
import type { AppendResult, EventStats } from '../store.ts';
import type { Connection, JsonRow } from './connection.ts';
import { NO_NEXT_DAY, TIME_OFFSET_MS } from './chain.ts';
import { chainChanges, loadStates, progressRow, writeChainChanges } from './derive.ts';
import { isoDay, list, sql } from './sql.ts';

/** Strictly increasing numbers, microseconds since the epoch when calls are sparse; `seq` and row versions. */
export class MonotonicMicros {
  private last = 0;
  /** Reserves `n` consecutive values and returns the first. */
  take(n = 1): number {
    const first = Math.max(this.last + 1, Date.now() * 1000);
    this.last = first + n - 1;
    return first;
  }
  /** Makes every later value larger than `n` (a value another datacube server gave out). */
  atLeast(n: number): void {
    if (n > this.last) this.last = n;
  }
}

const MIN_NORMAL = 2.2250738585072014e-308;

function fail(i: number, field: string, why: string): never {
  throw new TypeError(`event ${i}: ${field} ${why}`);
}
function int(i: number, field: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) fail(i, field, `must be an integer in [${min}, ${max}], got ${String(v)}`);
}
function text(i: number, field: string, v: string | null, nullable: boolean): void {
  if (v === null ? !nullable : typeof v !== 'string') fail(i, field, nullable ? 'must be a string or null' : 'must be a string');
}

/**
 * The checks the column types need (ingest has validated the meaning already). A value ClickHouse would have to
 * truncate or reject must not get half-way into a batch, so the whole batch is refused before anything is sent.
 */
export function checkEvent(e: VisitEvent, i: number): void {
  text(i, 'openid', e.openid, false);
  text(i, 'eventId', e.eventId, true);
  // 2105-12-31 (the last Date 18.16 reads from text) marks "no next visit" in user_chain.
  int(i, 'day', e.day, 0, NO_NEXT_DAY - 1);
  // The packed per-user values need t = time + 8 h >= 0 and t < 2^43 (year 2248).
  int(i, 'time', e.time, -TIME_OFFSET_MS, 2 ** 43 - 1 - TIME_OFFSET_MS);
  int(i, 'gender', e.gender, 0, 255);
  if (e.age !== null) int(i, 'age', e.age, 0, 255);
  int(i, 'ageBucket', e.ageBucket, 0, 255);
  int(i, 'platformId', e.platformId, 0, 255);
  // Dimension values must fit the packed integers' low 20 bits.
  int(i, 'province', e.province, 0, 0xfffff);
  int(i, 'city', e.city, 0, 0xfffff);
  if (e.scene !== null) int(i, 'scene', e.scene, -(2 ** 31), 2 ** 31 - 1);
  if (e.stay !== null && !Number.isFinite(e.stay)) fail(i, 'stay', 'must be a finite number or null');
  // ClickHouse 18.16 reads subnormal doubles (below 2.2e-308) as 0: refuse rather than change the value.
  if (e.stay !== null && e.stay !== 0 && Math.abs(e.stay) < MIN_NORMAL) fail(i, 'stay', 'is too close to 0 to store exactly');
  text(i, 'type', e.type, false);
  for (const f of ['platform', 'brand', 'model', 'device', 'ip', 'ua', 'page', 'session', 'props'] as const) text(i, f, e[f], true);
}

function toRow(appid: string, seq: number, e: VisitEvent): JsonRow {
  return {
    appid,
    seq,
    event_id: e.eventId,
    openid: e.openid,
    time: e.time,
    day: isoDay(e.day),
    gender: e.gender,
    age: e.age,
    age_bucket: e.ageBucket,
    platform: e.platform,
    platform_id: e.platformId,
    brand: e.brand,
    model: e.model,
    device: e.device,
    province: e.province,
    city: e.city,
    ip: e.ip,
    ua: e.ua,
    type: e.type,
    page: e.page,
    scene: e.scene,
    session: e.session,
    stay: e.stay,
    props: e.props,
  };
}

/** Columns as `exportEvents` reads them (64-bit integers arrive as JSON strings). */
const EXPORT_COLUMNS = sql`event_id, openid, time, toUInt16(day) AS day_number, gender, age, age_bucket, platform, platform_id,
  brand, model, device, province, city, ip, ua, type, page, scene, session, stay, props`;

function nullableNumber(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}
function nullableText(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v);
}

function fromRow(r: JsonRow): VisitEvent {
  return {
    eventId: nullableText(r.event_id),
    openid: String(r.openid),
    time: Number(r.time),
    day: Number(r.day_number),
    gender: Number(r.gender),
    age: nullableNumber(r.age),
    ageBucket: Number(r.age_bucket),
    platform: nullableText(r.platform),
    platformId: Number(r.platform_id),
    brand: nullableText(r.brand),
    model: nullableText(r.model),
    device: nullableText(r.device),
    province: Number(r.province),
    city: Number(r.city),
    ip: nullableText(r.ip),
    ua: nullableText(r.ua),
    type: String(r.type),
    page: nullableText(r.page),
    scene: nullableNumber(r.scene),
    session: nullableText(r.session),
    stay: nullableNumber(r.stay),
    props: nullableText(r.props),
  };
}

export interface EventsOptions {
  /** Rows per INSERT statement (default 100 000). */
  insertBatchRows?: number;
  /** Event ids per duplicate lookup query (default 5 000). */
  lookupBatchIds?: number;
}

/** Which of `ids` are already stored for the app (a primary-key lookup in `event_ids`). */
async function storedIds(c: Connection, appid: string, ids: readonly string[], chunk: number): Promise<Set<string>> {
  const found = new Set<string>();
  for (let i = 0; i < ids.length; i += chunk) {
    const part = ids.slice(i, i + chunk);
    const rows = await c.rows<{ event_id: string }>(
      sql`SELECT DISTINCT event_id FROM ${c.table('event_ids')} WHERE appid = ${appid} AND event_id IN ${list(part)}`,
      // The IN list is literal text; let a long one through the parser.
      { max_query_size: '16777216' },
    );
    for (const r of rows) found.add(String(r.event_id));
  }
  return found;
}

/** How far a grouped append got before it failed (see appendGroup). */
export class AppendFailure extends Error {
  constructor(
    override readonly cause: unknown,
    /** Whether an insert of events had been sent: then some of the group's events may be stored. */
    readonly insertSent: boolean,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
    this.name = 'AppendFailure';
  }
}

/** Last changes to a batch before its rows are built (the device cap, see devices.ts), told its duplicates' indexes. */
export type PrepareBatch = (
  events: readonly VisitEvent[],
  skipped: ReadonlySet<number>,
) => Promise<{ events: readonly VisitEvent[]; overflow?: AppendResult['deviceOverflow'] }>;

/**
 * Stores several batches of one app as if appended one after the other, in one round of queries: the events that
 * are not duplicates (an `eventId` already stored for the app, or repeated earlier in the batch or in an earlier
 * batch of the group), then folds them into the app's chain (derive.ts). The duplicate lookup and the chain-state
 * lookup go out together, then one events insert (per `insertBatchRows`) and one chain insert. Callers hold the app's
 * writer lease (lease.ts), so no other batch of the app — from this process or another datacube server — is checked,
 * stored or derived in between. Resolves once both inserts are acknowledged, with one result per batch; fails with
 * an AppendFailure saying whether events may have been stored.
 */
export async function appendGroup(
  c: Connection,
  seqs: MonotonicMicros,
  appid: string,
  batches: readonly (readonly VisitEvent[])[],
  opts: EventsOptions = {},
  prepare?: PrepareBatch,
): Promise<AppendResult[]> {
  batches.forEach((b) => b.forEach(checkEvent));
  let insertSent = false;
  try {
    const duplicates: number[][] = batches.map(() => []);
    const firstIndex = new Map<string, [number, number]>();
    const openids = new Set<string>();
    batches.forEach((events, b) =>
      events.forEach((e, i) => {
        openids.add(e.openid);
        if (e.eventId === null) return;
        if (firstIndex.has(e.eventId)) duplicates[b]?.push(i);
        else firstIndex.set(e.eventId, [b, i]);
      }),
    );
    // The chain states of every user of the group, read while the duplicates are looked up (one round trip less).
    const states = loadStates(c, appid, [...openids]);
    states.catch(() => undefined);
    if (firstIndex.size > 0) {
      const stored = await storedIds(c, appid, [...firstIndex.keys()], opts.lookupBatchIds ?? 5_000);
      for (const id of stored) {
        const at = firstIndex.get(id);
        if (at) duplicates[at[0]]?.push(at[1]);
      }
    }
    const results: AppendResult[] = [];
    const accepted: VisitEvent[] = [];
    for (const [b, events] of batches.entries()) {
      const dups = (duplicates[b] ?? []).sort((x, y) => x - y);
      const skip = new Set(dups);
      const prepared = prepare ? await prepare(events, skip) : { events };
      prepared.events.forEach((e, i) => {
        if (!skip.has(i)) accepted.push(e);
      });
      const n = events.length - skip.size;
      results.push(prepared.overflow ? { accepted: n, duplicates: dups, deviceOverflow: prepared.overflow } : { accepted: n, duplicates: dups });
    }
    let seq = seqs.take(Math.max(1, accepted.length));
    const rows = accepted.map((e) => toRow(appid, seq++, e));
    const size = Math.max(1, opts.insertBatchRows ?? 100_000);
    // The chain's changes are worked out (reading only the chain) while the events go in; they are written only
    // once the events are stored, so a chain never folds events that are not.
    const stored = (async () => {
      for (let i = 0; i < rows.length; i += size) {
        insertSent = true;
        await c.insert('events', rows.slice(i, i + size));
      }
    })();
    const [inserted, changes] = await Promise.allSettled([stored, states.then((known) => chainChanges(c, appid, accepted, known))]);
    if (inserted.status === 'rejected') throw inserted.reason;
    if (changes.status === 'rejected') throw changes.reason;
    // With the app's progress row (chain.ts): acknowledged events are at or below it.
    await writeChainChanges(c, accepted.length > 0 ? [...changes.value, progressRow(appid, seq - 1)] : changes.value);
    return results;
  } catch (e) {
    throw new AppendFailure(e, insertSent);
  }
}

/** `appendGroup` of one batch (its failure as thrown, not wrapped). */
export async function appendEvents(
  c: Connection,
  seqs: MonotonicMicros,
  appid: string,
  events: readonly VisitEvent[],
  opts: EventsOptions = {},
  prepare?: PrepareBatch,
): Promise<AppendResult> {
  try {
    const [r] = await appendGroup(c, seqs, appid, [events], opts, prepare);
    if (!r) throw new Error('no result for the batch');
    return r;
  } catch (e) {
    throw e instanceof AppendFailure ? e.cause : e;
  }
}

/** The largest `seq` stored for the app (0 if none). */
export async function maxSeq(c: Connection, appid: string): Promise<number> {
  const rows = await c.rows<{ s: string }>(sql`SELECT toString(max(seq)) AS s FROM ${c.table('events')} WHERE appid = ${appid}`);
  return Number(rows[0]?.s ?? 0);
}

export async function countEvents(c: Connection, appid: string): Promise<number> {
  const rows = await c.rows<{ n: string }>(sql`SELECT count() AS n FROM ${c.table('events')} WHERE appid = ${appid}`);
  return Number(rows[0]?.n ?? 0);
}

export async function eventStats(c: Connection): Promise<EventStats[]> {
  const rows = await c.rows<{ appid: string; n: string; t: string }>(
    sql`SELECT appid, count() AS n, max(time) AS t FROM ${c.table('events')} GROUP BY appid ORDER BY appid`,
  );
  return rows.map((r) => ({ appid: r.appid, events: Number(r.n), lastTime: Number(r.t) }));
}

/** Streams an app's events in the order they were stored (by `seq`; up to `upToSeq` if given), `batchSize` at a time. */
export async function exportEvents(
  c: Connection,
  appid: string,
  onBatch: (events: VisitEvent[]) => Promise<void>,
  batchSize = 10_000,
  upToSeq?: number,
): Promise<number> {
  const size = Math.max(1, Math.floor(batchSize));
  let batch: VisitEvent[] = [];
  let total = 0;
  await c.stream(
    sql`SELECT ${EXPORT_COLUMNS} FROM ${c.table('events')} WHERE appid = ${appid} ${upToSeq === undefined ? sql`` : sql`AND seq <= ${upToSeq}`}
        ORDER BY seq, openid, time`,
    async (row) => {
      batch.push(fromRow(row));
      total++;
      if (batch.length >= size) {
        const full = batch;
        batch = [];
        await onBatch(full);
      }
    },
    // Sorting a large app spills to disk instead of failing for memory.
    { max_bytes_before_external_sort: '1000000000' },
  );
  if (batch.length > 0) await onBatch(batch);
  return total;
}
