import type { DuckDBAppender, DuckDBConnection } from '@duckdb/node-api';
import { duckdb } from './nodeApi.ts';
import type { VisitEvent } from '../../domain/event.ts';
import type { AppendResult } from '../store.ts';
import { EventIdFilter, eventIdHash } from './eventIdFilter.ts';

/** Rows appended between two turns of the event loop. */
const ROWS_PER_TURN = 512;

function text(a: DuckDBAppender, v: string | null): void {
  if (v === null) a.appendNull();
  else a.appendVarchar(v);
}

/**
 * The columns of `events` that hold the event itself, in table order (see schema.ts); the appender fills columns by
 * position. The caller appends any later columns and ends the row.
 */
export function appendEventColumns(a: DuckDBAppender, seq: number, appid: string, e: VisitEvent, receivedAt: number): void {
  a.appendBigInt(BigInt(seq));
  a.appendVarchar(appid);
  text(a, e.eventId);
  a.appendVarchar(e.openid);
  a.appendBigInt(BigInt(e.time));
  a.appendInteger(e.day);
  a.appendUTinyInt(e.gender);
  if (e.age === null) a.appendNull();
  else a.appendUTinyInt(e.age);
  a.appendUTinyInt(e.ageBucket);
  text(a, e.platform);
  a.appendUTinyInt(e.platformId);
  text(a, e.brand);
  text(a, e.model);
  text(a, e.device);
  a.appendUInteger(e.province);
  a.appendUInteger(e.city);
  text(a, e.ip);
  a.appendVarchar(e.type);
  text(a, e.page);
  if (e.scene === null) a.appendNull();
  else a.appendInteger(e.scene);
  text(a, e.session);
  if (e.stay === null) a.appendNull();
  else a.appendDouble(e.stay);
  text(a, e.props);
  a.appendBigInt(BigInt(receivedAt));
}

/** One full row of `events`: the event's columns, the event id's hash (for the duplicate filter), the User-Agent. */
function appendRow(a: DuckDBAppender, seq: number, appid: string, e: VisitEvent, receivedAt: number, hashes: Uint32Array, i: number): void {
  appendEventColumns(a, seq, appid, e, receivedAt);
  if (e.eventId === null) {
    a.appendNull();
    a.appendNull();
  } else {
    a.appendUInteger(hashes[2 * i] ?? 0);
    a.appendUInteger(hashes[2 * i + 1] ?? 0);
  }
  text(a, e.ua);
  a.endRow();
}

/** One `Store.append` call waiting for its group's commit. */
export interface AppendRequest {
  appid: string;
  events: readonly VisitEvent[];
}

/**
 * Stores the batches of several append calls (any apps) in one transaction — a group commit: one COMMIT, so one
 * write-ahead-log flush, for all of them. Skips events whose `event_id` is already stored for their app, or repeated
 * earlier in the group (in the same batch or an earlier batch of the same app). Resolves after COMMIT, i.e. once
 * DuckDB's write-ahead log holds every batch of the group; the results are in the order of `requests`.
 *
 * Stored ids are looked up in `events` (a scan of the table, once per app of the group) only for the ids `filter`
 * cannot rule out; the ids of the group are added to `filter` once committed.
 */
export async function appendEvents(
  conn: DuckDBConnection,
  requests: readonly AppendRequest[],
  firstSeq: number,
  filter: EventIdFilter,
  /**
   * More writes for the same transaction, after the events; told, per request, which input indexes were skipped as
   * duplicates (the store records app numbers and device names admitted with the batch, see DuckDBStore).
   */
  beforeCommit?: (conn: DuckDBConnection, skipped: readonly ReadonlySet<number>[]) => Promise<void>,
): Promise<AppendResult[]> {
  const seenByApp = new Map<string, Set<string>>();
  const maybeByApp = new Map<string, string[]>();
  const prepared = requests.map(({ appid, events }) => {
    let seen = seenByApp.get(appid);
    if (!seen) seenByApp.set(appid, (seen = new Set()));
    const duplicates = new Set<number>();
    const hashes = new Uint32Array(2 * events.length);
    events.forEach((e, i) => {
      if (e.eventId === null) return;
      if (seen.has(e.eventId)) {
        duplicates.add(i);
        return;
      }
      seen.add(e.eventId);
      eventIdHash(appid, e.eventId, hashes, 2 * i);
      if (filter.mightContain(hashes[2 * i] ?? 0, hashes[2 * i + 1] ?? 0)) {
        let maybe = maybeByApp.get(appid);
        if (!maybe) maybeByApp.set(appid, (maybe = []));
        maybe.push(e.eventId);
      }
    });
    return { appid, events, duplicates, hashes };
  });

  const storedByApp = new Map<string, Set<string>>();
  for (const [appid, maybe] of maybeByApp) {
    const r = await conn.runAndReadAll('SELECT event_id FROM events WHERE appid = $1 AND event_id IN (SELECT unnest($2::VARCHAR[]))', [
      appid,
      duckdb.listValue(maybe),
    ]);
    if (r.currentRowCount > 0) storedByApp.set(appid, new Set(r.getRows().map((row) => String(row[0]))));
  }
  for (const p of prepared) {
    const stored = storedByApp.get(p.appid);
    if (!stored) continue;
    p.events.forEach((e, i) => {
      if (e.eventId !== null && stored.has(e.eventId)) p.duplicates.add(i);
    });
  }

  let seq = firstSeq;
  const accepted: number[] = [];
  const receivedAt = Date.now();
  await conn.run('BEGIN TRANSACTION');
  try {
    const a = await conn.createAppender('events');
    let rows = 0;
    for (const p of prepared) {
      const before = seq;
      for (let i = 0; i < p.events.length; i++) {
        // A turn of the event loop now and then: other apps' requests need not wait for a whole large group.
        if (++rows % ROWS_PER_TURN === 0) await new Promise<void>((r) => setImmediate(r));
        const e = p.events[i];
        if (e && !p.duplicates.has(i)) appendRow(a, seq++, p.appid, e, receivedAt, p.hashes, i);
      }
      accepted.push(seq - before);
    }
    a.flushSync();
    a.closeSync();
    if (beforeCommit) await beforeCommit(conn, prepared.map((p) => p.duplicates));
    await conn.run('COMMIT');
  } catch (err) {
    await conn.run('ROLLBACK').catch(() => undefined);
    throw err;
  }
  for (const p of prepared) {
    p.events.forEach((e, i) => {
      if (e.eventId !== null && !p.duplicates.has(i)) filter.add(p.hashes[2 * i] ?? 0, p.hashes[2 * i + 1] ?? 0);
    });
  }
  return prepared.map((p, k) => ({ accepted: accepted[k] ?? 0, duplicates: [...p.duplicates].sort((x, y) => x - y) }));
}

/**
 * A filter holding every stored `(appid, event_id)`, from the hashes stored with the events. Events stored before
 * migration 3 have none: their hashes are computed and stored first (once).
 */
export async function loadEventIdFilter(conn: DuckDBConnection): Promise<EventIdFilter> {
  await fillMissingIdHashes(conn);
  const n = Number((await conn.runAndReadAll('SELECT count(event_id) FROM events')).getRows()[0]?.[0] ?? 0);
  const filter = new EventIdFilter(n);
  if (n === 0) return filter;
  const result = await conn.stream('SELECT id_lo, id_hi FROM events WHERE event_id IS NOT NULL');
  for (;;) {
    const chunk = await result.fetchChunk();
    if (!chunk || chunk.rowCount === 0) break;
    const lo = chunk.getColumnValues(0);
    const hi = chunk.getColumnValues(1);
    for (let i = 0; i < lo.length; i++) filter.add(Number(lo[i]), Number(hi[i]));
  }
  return filter;
}

async function fillMissingIdHashes(conn: DuckDBConnection): Promise<void> {
  const missing = await conn.runAndReadAll('SELECT count(*) FROM events WHERE event_id IS NOT NULL AND id_lo IS NULL');
  if (Number(missing.getRows()[0]?.[0] ?? 0) === 0) return;
  await conn.run('BEGIN TRANSACTION');
  try {
    await conn.run('CREATE OR REPLACE TEMP TABLE id_hashes (seq BIGINT, lo UINTEGER, hi UINTEGER)');
    const a = await conn.createAppender('id_hashes', 'main', 'temp');
    const out = new Uint32Array(2);
    const result = await conn.stream('SELECT seq, appid, event_id FROM events WHERE event_id IS NOT NULL AND id_lo IS NULL');
    for (;;) {
      const chunk = await result.fetchChunk();
      if (!chunk || chunk.rowCount === 0) break;
      for (const [seq, app, id] of chunk.getRows()) {
        eventIdHash(String(app), String(id), out, 0);
        a.appendBigInt(typeof seq === 'bigint' ? seq : BigInt(String(seq)));
        a.appendUInteger(out[0] ?? 0);
        a.appendUInteger(out[1] ?? 0);
        a.endRow();
      }
    }
    a.flushSync();
    a.closeSync();
    await conn.run('UPDATE events SET id_lo = h.lo, id_hi = h.hi FROM id_hashes h WHERE events.seq = h.seq');
    await conn.run('DROP TABLE id_hashes');
    await conn.run('COMMIT');
  } catch (err) {
    await conn.run('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
