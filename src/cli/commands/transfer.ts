import { createReadStream, createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Writable } from 'node:stream';
import type { VisitEvent } from '../../domain/event.ts';
import type { Services } from '../../services.ts';
import { validateStoredEvent } from '../../ingest/index.ts';
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
  /** Events refused by the checks ingest makes (see validateStoredEvent); the first 100 are in `errors`. */
  rejected: number;
  errors: { line: number; reason: string }[];
  /** False when the app's sealed secret was made with another master key (cloud calls need the same key). */
  secretReadable: boolean;
}

const MAX_ERRORS = 100;

/**
 * Loads an export file. The app is created if absent (with the checks app creation makes, including that no other
 * app has its cloud env); every event is checked as ingest checks events (validateStoredEvent) and appended
 * unchanged if it passes, else reported with its line, like ingest reports a bad event.
 */
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
      if (!result) throw new Error(`line ${line}: not JSON`);
      result.rejected++;
      if (result.errors.length < MAX_ERRORS) result.errors.push({ line, reason: 'not JSON' });
      continue;
    }
    if (!result) {
      const h = v as Partial<ExportHeader>;
      if (h.datacube_export !== EXPORT_VERSION || !h.app || typeof h.app.appid !== 'string') {
        throw new Error(`${path} is not a datacube export (its first line must be {"datacube_export":${EXPORT_VERSION},"app":…})`);
      }
      const existing = await s.store.getApp(h.app.appid);
      if (!existing) await s.auth.importApp(h.app);
      result = {
        appid: h.app.appid,
        created: !existing,
        accepted: 0,
        duplicates: 0,
        rejected: 0,
        errors: [],
        secretReadable: s.auth.secretOf(existing ?? h.app) !== undefined,
      };
      continue;
    }
    const checked = validateStoredEvent(v, { now: s.clock.now() });
    if (!checked.ok) {
      result.rejected++;
      if (result.errors.length < MAX_ERRORS) result.errors.push({ line, reason: `${checked.field}: ${checked.reason}` });
      continue;
    }
    batch.push(checked.event);
    if (batch.length >= batchSize) await flush();
  }
  await flush();
  if (!result) throw new Error(`${path} is empty`);
  if (result.accepted > 0) s.portrait.invalidate(result.appid);
  return result;
}
