import type { VisitEvent } from '../domain/event.ts';
import { validateStoredEvent } from '../ingest/index.ts';
import type { Services } from '../services.ts';
import type { AppRecord } from '../store/records.ts';
import { exportedFirstSeen } from './exportFile.ts';

export interface ImportedApp {
  appid: string;
  /** False when the store already had the app (its record is left as it is). */
  created: boolean;
  /** False when the app's sealed secret was made with another master key (cloud calls need the same key). */
  secretReadable: boolean;
}

/** What a batch of exported events came to; `rejected` gives the index in the batch of each event refused. */
export interface ImportAnswer {
  accepted: number;
  duplicates: number;
  rejected: { index: number; reason: string }[];
}

/**
 * Creates the app of an export file unless the store has it already, with the checks app creation makes (including
 * that no other app has its cloud env).
 */
export async function importApp(s: Services, app: AppRecord): Promise<ImportedApp> {
  const existing = await s.store.getApp(app.appid);
  if (!existing) await s.auth.importApp(app);
  return { appid: app.appid, created: !existing, secretReadable: s.auth.secretOf(existing ?? app) !== undefined };
}

/**
 * The first days an export file kept for users whose early events retention dropped (see writeExport), applied as a
 * restore applies them: before the app's events, so those users stay "not new". Only while the app has no events
 * here: then they are applied (the answer counts them); once the app has events here they were applied by the import
 * that brought them (or the app was not moved here), and they are left alone (0).
 */
export async function importFirstSeen(s: Services, appid: string, values: unknown): Promise<{ firstSeen: number }> {
  const rows = exportedFirstSeen({ first_seen: values }) ?? [];
  if (rows.length === 0 || (await s.store.countEvents(appid)) > 0) return { firstSeen: 0 };
  await s.store.restoreFirstSeen(appid, rows);
  s.portrait.invalidate(appid);
  s.analysis.invalidate(appid);
  return { firstSeen: rows.length };
}

/**
 * Appends exported events unchanged (duplicates by event id skipped) and drops the app's cached answers. Every
 * event is first checked as ingest checks events (validateStoredEvent), so an import stores nothing ingest would
 * have refused; those refused are answered by their index in `values`.
 */
export async function importEvents(s: Services, appid: string, values: readonly unknown[]): Promise<ImportAnswer> {
  const now = s.clock.now();
  const events: VisitEvent[] = [];
  const rejected: ImportAnswer['rejected'] = [];
  values.forEach((v, index) => {
    const checked = validateStoredEvent(v, { now });
    if (checked.ok) events.push(checked.event);
    else rejected.push({ index, reason: `${checked.field}: ${checked.reason}` });
  });
  if (events.length === 0) return { accepted: 0, duplicates: 0, rejected };
  const r = await s.store.append(appid, events);
  if (r.accepted > 0) {
    s.portrait.invalidate(appid);
    s.analysis.invalidate(appid);
  }
  return { accepted: r.accepted, duplicates: r.duplicates.length, rejected };
}
