import { listValue, type DuckDBAppender, type DuckDBConnection } from '@duckdb/node-api';
import type { VisitEvent } from '../../domain/event.ts';
import type { AppendResult } from '../store.ts';
import { EventIdFilter, eventIdHash } from './eventIdFilter.ts';

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

/**
 * Stores a batch for one app in one transaction, skipping events whose `event_id` is already stored for the app
 * or repeated earlier in the batch. Resolves after COMMIT, i.e. once DuckDB's write-ahead log holds the batch.
 *
 * Stored ids are looked up in `events` (a scan of the table) only for the ids `filter` cannot rule out; the ids
 * of the batch are added to `filter` once committed.
 */
export async function appendEvents(
  conn: DuckDBConnection,
  appid: string,
  events: readonly VisitEvent[],
  firstSeq: number,
  filter: EventIdFilter,
): Promise<AppendResult> {
  const duplicates: number[] = [];
  const seen = new Set<string>();
  const hashes = new Uint32Array(2 * events.length);
  const maybeStored: string[] = [];
  events.forEach((e, i) => {
    if (e.eventId === null) return;
    if (seen.has(e.eventId)) {
      duplicates.push(i);
      return;
    }
    seen.add(e.eventId);
    eventIdHash(appid, e.eventId, hashes, 2 * i);
    if (filter.mightContain(hashes[2 * i] ?? 0, hashes[2 * i + 1] ?? 0)) maybeStored.push(e.eventId);
  });
  const stored = new Set<string>();
  if (maybeStored.length > 0) {
    const r = await conn.runAndReadAll(
      'SELECT event_id FROM events WHERE appid = $1 AND event_id IN (SELECT unnest($2::VARCHAR[]))',
      [appid, listValue(maybeStored)],
    );
    for (const row of r.getRows()) stored.add(String(row[0]));
  }
  const dupSet = new Set(duplicates);
  if (stored.size > 0) {
    events.forEach((e, i) => {
      if (e.eventId !== null && stored.has(e.eventId) && !dupSet.has(i)) {
        duplicates.push(i);
        dupSet.add(i);
      }
    });
    duplicates.sort((a, b) => a - b);
  }

  let seq = firstSeq;
  const receivedAt = Date.now();
  await conn.run('BEGIN TRANSACTION');
  try {
    const a = await conn.createAppender('events');
    events.forEach((e, i) => {
      if (dupSet.has(i)) return;
      appendRow(a, seq++, appid, e, receivedAt, hashes, i);
    });
    a.flushSync();
    a.closeSync();
    await conn.run('COMMIT');
  } catch (err) {
    await conn.run('ROLLBACK').catch(() => undefined);
    throw err;
  }
  events.forEach((e, i) => {
    if (e.eventId !== null && !dupSet.has(i)) filter.add(hashes[2 * i] ?? 0, hashes[2 * i + 1] ?? 0);
  });
  return { accepted: seq - firstSeq, duplicates };
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
