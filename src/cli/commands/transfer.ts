import { createReadStream, createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Writable } from 'node:stream';
import type { VisitEvent } from '../../domain/event.ts';
import type { Services } from '../../services.ts';
import type { AppRecord } from '../../store/records.ts';

/**
 * Moving data between stores (DuckDB → ClickHouse, or a backup): an export file is NDJSON whose first line is
 * `{"datacube_export":1,"app":{…}}` (the app with its secret hash and sealed secret, never the secret) and whose
 * other lines are the app's stored events, field for field. Importing appends those events unchanged (no
 * re-normalisation), so both stores answer identically.
 */
export const EXPORT_VERSION = 1;

export interface ExportHeader {
  datacube_export: number;
  app: AppRecord;
}

async function write(out: Writable, text: string): Promise<void> {
  if (!out.write(text)) await new Promise((r) => out.once('drain', r));
}

export async function exportApp(s: Services, appid: string, path: string | undefined): Promise<number> {
  const app = await s.store.getApp(appid);
  if (!app) throw new Error(`no app ${appid}`);
  const out: Writable = path && path !== '-' ? createWriteStream(path) : process.stdout;
  const header: ExportHeader = { datacube_export: EXPORT_VERSION, app };
  await write(out, `${JSON.stringify(header)}\n`);
  const n = await s.store.exportEvents(appid, async (batch) => {
    await write(out, batch.map((e) => JSON.stringify(e)).join('\n') + '\n');
  });
  if (out !== process.stdout) await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
  return n;
}

export interface ImportResult {
  appid: string;
  created: boolean;
  accepted: number;
  duplicates: number;
  /** False when the app's sealed secret was made with another master key (cloud calls need the same key). */
  secretReadable: boolean;
}

const EVENT_KEYS: (keyof VisitEvent)[] = ['eventId', 'openid', 'time', 'day', 'gender', 'age', 'ageBucket', 'platform', 'platformId', 'brand', 'model', 'device', 'province', 'city', 'ip', 'type', 'page', 'scene', 'session', 'stay', 'props'];

function asEvent(v: unknown, line: number): VisitEvent {
  if (typeof v !== 'object' || v === null) throw new Error(`line ${line}: not an event`);
  for (const k of EVENT_KEYS) if (!(k in v)) throw new Error(`line ${line}: not a datacube export event (no "${k}")`);
  // Files exported before events kept their User-Agent have no `ua`.
  const e = { ua: null, ...(v as Omit<VisitEvent, 'ua'> & { ua?: string | null }) } as VisitEvent;
  if (typeof e.openid !== 'string' || typeof e.time !== 'number' || typeof e.day !== 'number') throw new Error(`line ${line}: bad event`);
  return e;
}

export async function importFile(s: Services, path: string, batchSize = 10_000): Promise<ImportResult> {
  const input = path === '-' ? process.stdin : createReadStream(path);
  const lines = createInterface({ input, crlfDelay: Infinity });
  let line = 0;
  let result: ImportResult | undefined;
  let batch: VisitEvent[] = [];
  const flush = async () => {
    if (!result || batch.length === 0) return;
    const r = await s.store.append(result.appid, batch);
    result.accepted += r.accepted;
    result.duplicates += r.duplicates.length;
    batch = [];
  };
  for await (const text of lines) {
    line++;
    if (text.trim() === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      throw new Error(`line ${line}: not JSON`);
    }
    if (!result) {
      const h = v as Partial<ExportHeader>;
      if (h.datacube_export !== EXPORT_VERSION || !h.app || typeof h.app.appid !== 'string') {
        throw new Error(`${path} is not a datacube export (its first line must be {"datacube_export":${EXPORT_VERSION},"app":…})`);
      }
      const existing = await s.store.getApp(h.app.appid);
      // Files exported before apps had a collect flag: collection stays on, as for every app made then.
      if (!existing) await s.store.createApp({ ...h.app, collect: h.app.collect !== false });
      result = {
        appid: h.app.appid,
        created: !existing,
        accepted: 0,
        duplicates: 0,
        secretReadable: s.auth.secretOf(existing ?? h.app) !== undefined,
      };
      continue;
    }
    batch.push(asEvent(v, line));
    if (batch.length >= batchSize) await flush();
  }
  await flush();
  if (!result) throw new Error(`${path} is empty`);
  if (result.accepted > 0) s.portrait.invalidate(result.appid);
  return result;
}
