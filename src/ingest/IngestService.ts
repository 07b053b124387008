import { type Clock, today } from '../domain/clock.ts';
import { formatDay } from '../domain/day.ts';
import { firstKeptDay } from '../domain/retention.ts';
import type { AppRecord } from '../store/records.ts';
import type { Store } from '../store/store.ts';
import { defaultEnricher, type Enricher } from './enrich/Enricher.ts';
import { type PreparedBatch, prepareBatchYielding } from './pipeline.ts';

/** Where a batch came from, for the steps that fill in what the client did not send. */
export interface IngestSource {
  /** The client's address (/v1/collect): every event's `ip`. */
  clientIp?: string;
  /** The request's User-Agent (/v1/collect): the `ua` of events without their own. */
  userAgent?: string;
  /** How far the client's clock is behind the server's (/v1/collect, from the batch's `sent_at`): added to event times. */
  clockSkewMs?: number;
}

export interface IngestReport {
  accepted: number;
  duplicates: number;
  /** Indexes into the input with the reason; `field` names the offending field. */
  rejected: { index: number; field: string; reason: string }[];
  /** Input indexes that were duplicates (already stored, or repeated in the batch). */
  duplicateIndexes: number[];
  /** Stored events whose device name is past the app's cap and counts under the overflow bucket (see Store.append). */
  deviceOverflow?: { events: number; names: number; cap: number };
}

/**
 * Validates, enriches and stores batches for an app, and tells listeners (the portrait cache) once a batch is
 * durable. Every way in — HTTP, CLI files, the tracker — goes through here.
 */
export class IngestService {
  private readonly listeners: ((appid: string) => void)[] = [];

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly enricher: Enricher = defaultEnricher(),
    /** The app's record (for its retention), if the caller can look it up; without it nothing is refused for age. */
    private readonly appOf?: (appid: string) => Promise<AppRecord | undefined>,
  ) {}

  /**
   * Refuses events older than the app keeps (retention, see src/domain/retention.ts): the daily prune would drop
   * them, so they are not stored at all.
   */
  private async refuseExpired(appid: string, batch: PreparedBatch): Promise<void> {
    const retain = (await this.appOf?.(appid))?.retainDays;
    if (typeof retain !== 'number' || retain <= 0) return;
    const first = firstKeptDay(today(this.clock), retain);
    if (!batch.events.some((e) => e.day < first)) return;
    const events: PreparedBatch['events'] = [];
    const positions: number[] = [];
    batch.events.forEach((e, i) => {
      const index = batch.positions[i] ?? i;
      if (e.day >= first) {
        events.push(e);
        positions.push(index);
      } else {
        batch.rejected.push({ index, field: 'time', reason: `older than the app keeps (retain_days ${retain}: events before ${formatDay(first)} are dropped)` });
      }
    });
    batch.events = events;
    batch.positions = positions;
    batch.rejected.sort((a, b) => a.index - b.index);
  }

  onStored(listener: (appid: string) => void): void {
    this.listeners.push(listener);
  }

  async ingest(appid: string, records: readonly unknown[], source: IngestSource = {}): Promise<IngestReport> {
    const batch = await prepareBatchYielding(records, { now: this.clock.now(), enricher: this.enricher, ...source });
    await this.refuseExpired(appid, batch);
    let accepted = 0;
    let duplicateIndexes: number[] = [];
    let deviceOverflow: IngestReport['deviceOverflow'];
    if (batch.events.length > 0) {
      const r = await this.store.append(appid, batch.events);
      accepted = r.accepted;
      duplicateIndexes = r.duplicates.map((i) => batch.positions[i] ?? i);
      deviceOverflow = r.deviceOverflow;
      if (accepted > 0) for (const l of this.listeners) l(appid);
    }
    const report: IngestReport = { accepted, duplicates: duplicateIndexes.length, rejected: batch.rejected, duplicateIndexes };
    if (deviceOverflow) report.deviceOverflow = deviceOverflow;
    return report;
  }
}
