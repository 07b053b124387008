import { createHash } from 'node:crypto';
import { OPENID_PATTERN, type VisitEvent } from '../domain/event.ts';
import type { FirstSeen } from '../store/lifecycle.ts';
import type { AppRecord } from '../store/records.ts';
import type { Store } from '../store/store.ts';

/**
 * The export file, for moving an app between stores (DuckDB → ClickHouse) or keeping a copy: NDJSON whose first
 * line is `{"datacube_export":1,"app":{…}}` (the app with its secret hash and sealed secret, never the secret);
 * then, only for an app whose retention dropped events, lines `{"first_seen":[{"openid":…,"day":…},…]}` (the first
 * days kept for users none of whose stored events is that old, so they stay "not new"); then the app's stored
 * events, field for field. Importing appends those events unchanged (no re-normalisation), so both stores answer
 * identically.
 */
export const EXPORT_VERSION = 1;

export interface ExportHeader {
  datacube_export: number;
  app: AppRecord;
}

/** Writes an app's export file through `write` (header, then its events in storage order); returns the event count. */
export async function writeExport(store: Store, appid: string, write: (text: string) => Promise<void>): Promise<number> {
  const app = await store.getApp(appid);
  if (!app) throw new Error(`no app ${appid}`);
  const header: ExportHeader = { datacube_export: EXPORT_VERSION, app };
  await write(`${JSON.stringify(header)}\n`);
  const kept = await store.keptFirstSeen(appid);
  for (let i = 0; i < kept.length; i += FIRST_SEEN_PER_LINE) {
    const line: FirstSeenLine = { first_seen: kept.slice(i, i + FIRST_SEEN_PER_LINE) };
    await write(`${JSON.stringify(line)}\n`);
  }
  return store.exportEvents(appid, async (batch) => {
    await write(batch.map((e) => JSON.stringify(e)).join('\n') + '\n');
  });
}

/** The last day a store can hold (ClickHouse's `Date`: 2149-06-06). */
const LAST_DAY = 65_535;

/** Kept first days per `first_seen` line of an export file. */
export const FIRST_SEEN_PER_LINE = 10_000;

/** A line of kept first days (see writeExport). */
export interface FirstSeenLine {
  first_seen: FirstSeen[];
}

/** The kept first days of a `first_seen` line, or undefined when `v` is not such a line; throws naming a bad one. */
export function exportedFirstSeen(v: unknown): FirstSeen[] | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || !('first_seen' in v)) return undefined;
  const rows = (v as { first_seen: unknown }).first_seen;
  if (!Array.isArray(rows)) throw new Error('first_seen must be an array');
  return rows.map((r: unknown, i) => {
    const x = (typeof r === 'object' && r !== null ? r : {}) as Partial<FirstSeen>;
    if (typeof x.openid !== 'string' || !OPENID_PATTERN.test(x.openid) || !Number.isInteger(x.day) || (x.day ?? -1) < 0 || (x.day ?? 0) > LAST_DAY) {
      throw new Error(`first_seen[${i}] must be {"openid": a string, "day": a day number}`);
    }
    return { openid: x.openid, day: x.day as number };
  });
}

/** The app an export file's first line describes; throws, naming the file, when it is not an export header. */
export function exportedApp(v: unknown, source: string): AppRecord {
  const h = (typeof v === 'object' && v !== null ? v : {}) as Partial<ExportHeader>;
  const a = h.app as Partial<AppRecord> | undefined;
  if (
    h.datacube_export !== EXPORT_VERSION ||
    !a ||
    typeof a.appid !== 'string' ||
    typeof a.name !== 'string' ||
    typeof a.secretHash !== 'string' ||
    typeof a.secretSealed !== 'string' ||
    typeof a.env !== 'string' ||
    typeof a.dailyQuota !== 'number' ||
    typeof a.createdAt !== 'number'
  ) {
    throw new Error(`${source} is not a datacube export (its first line must be {"datacube_export":${EXPORT_VERSION},"app":{…}})`);
  }
  // Files exported before apps had a collect flag: collection stays on, as for every app made then.
  return { ...(a as AppRecord), collect: a.collect !== false };
}

/** The fields every exported event has (`ua` came later: files exported before it lack it). */
export const EVENT_KEYS: readonly (keyof VisitEvent)[] = [
  'eventId', 'openid', 'time', 'day', 'gender', 'age', 'ageBucket', 'platform', 'platformId', 'brand', 'model', 'device',
  'province', 'city', 'ip', 'type', 'page', 'scene', 'session', 'stay', 'props',
];
/** Every field, for the content an import id is derived from. */
const ALL_KEYS: readonly (keyof VisitEvent)[] = [...EVENT_KEYS, 'ua'];

/** An exported event, checked for the fields a store needs; throws naming the line otherwise. */
export function exportedEvent(v: unknown, line: number): VisitEvent {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`line ${line}: not an event`);
  for (const k of EVENT_KEYS) if (!(k in v)) throw new Error(`line ${line}: not a datacube export event (no "${k}")`);
  const e = { ua: null, ...(v as Omit<VisitEvent, 'ua'> & { ua?: string | null }) } as VisitEvent;
  if (typeof e.openid !== 'string' || typeof e.time !== 'number' || typeof e.day !== 'number') throw new Error(`line ${line}: bad event`);
  if (e.eventId !== null && typeof e.eventId !== 'string') throw new Error(`line ${line}: bad event_id`);
  return e;
}

/** How many lines back an identical event without an id is told apart from an earlier one (see ImportIds). */
export const IMPORT_ID_WINDOW = 100_000;

/**
 * Makes importing the same file twice store its events once, even those stored without an `event_id`: each such
 * event gets an id derived from its content, `import-<hash>` (`import-<hash>-<n>` for the n-th repeat of identical
 * content within {@link IMPORT_ID_WINDOW} lines), so the store's duplicate check recognises it the second time.
 * Deterministic: the same file always gives the same ids. Events that have an id keep it.
 */
export class ImportIds {
  /** Per content hash seen within the window: the next repeat number, and how many of its lines are in the window. */
  private readonly seen = new Map<string, { next: number; live: number }>();
  private readonly recent: string[] = [];
  private head = 0;

  assign(e: VisitEvent): VisitEvent {
    if (e.eventId !== null) return e;
    const content = JSON.stringify(ALL_KEYS.filter((k) => k !== 'eventId').map((k) => e[k]));
    const hash = createHash('sha256').update(content).digest('base64url').slice(0, 32);
    const s = this.seen.get(hash) ?? { next: 0, live: 0 };
    const n = s.next;
    s.next++;
    s.live++;
    this.seen.set(hash, s);
    this.recent.push(hash);
    if (this.recent.length - this.head > IMPORT_ID_WINDOW) this.forgetOldest();
    return { ...e, eventId: n === 0 ? `import-${hash}` : `import-${hash}-${n}` };
  }

  private forgetOldest(): void {
    const old = this.recent[this.head];
    this.head++;
    if (this.head >= IMPORT_ID_WINDOW) {
      this.recent.splice(0, this.head);
      this.head = 0;
    }
    if (old === undefined) return;
    const s = this.seen.get(old);
    if (!s) return;
    s.live--;
    if (s.live <= 0) this.seen.delete(old);
  }
}
