import { listValue, type DuckDBAppender, type DuckDBConnection } from '@duckdb/node-api';
import type { VisitEvent } from '../../domain/event.ts';
import type { AppendResult } from '../store.ts';

function text(a: DuckDBAppender, v: string | null): void {
  if (v === null) a.appendNull();
  else a.appendVarchar(v);
}

/** Column order of `events` (see schema.ts); the appender fills columns by position. */
function appendRow(a: DuckDBAppender, seq: number, appid: string, e: VisitEvent, receivedAt: number): void {
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
  a.endRow();
}

/**
 * Stores a batch for one app in one transaction, skipping events whose `event_id` is already stored for the app
 * or repeated earlier in the batch. Resolves after COMMIT, i.e. once DuckDB's write-ahead log holds the batch.
 */
export async function appendEvents(
  conn: DuckDBConnection,
  appid: string,
  events: readonly VisitEvent[],
  firstSeq: number,
): Promise<AppendResult> {
  const duplicates: number[] = [];
  const seen = new Set<string>();
  const ids: string[] = [];
  events.forEach((e, i) => {
    if (e.eventId === null) return;
    if (seen.has(e.eventId)) duplicates.push(i);
    else {
      seen.add(e.eventId);
      ids.push(e.eventId);
    }
  });
  const stored = new Set<string>();
  if (ids.length > 0) {
    const r = await conn.runAndReadAll(
      'SELECT event_id FROM events WHERE appid = $1 AND event_id IN (SELECT unnest($2::VARCHAR[]))',
      [appid, listValue(ids)],
    );
    for (const row of r.getRows()) stored.add(String(row[0]));
  }
  const dupSet = new Set(duplicates);
  events.forEach((e, i) => {
    if (e.eventId !== null && stored.has(e.eventId) && !dupSet.has(i)) {
      duplicates.push(i);
      dupSet.add(i);
    }
  });
  duplicates.sort((a, b) => a - b);

  let seq = firstSeq;
  const receivedAt = Date.now();
  await conn.run('BEGIN TRANSACTION');
  try {
    const a = await conn.createAppender('events');
    events.forEach((e, i) => {
      if (dupSet.has(i)) return;
      appendRow(a, seq++, appid, e, receivedAt);
    });
    a.flushSync();
    a.closeSync();
    await conn.run('COMMIT');
  } catch (err) {
    await conn.run('ROLLBACK').catch(() => undefined);
    throw err;
  }
  return { accepted: seq - firstSeq, duplicates };
}
