import type { Clock } from '../domain/clock.ts';
import type { Store } from '../store/store.ts';
import { prepareBatch } from './pipeline.ts';

export interface IngestReport {
  accepted: number;
  duplicates: number;
  /** Indexes into the input with the reason; `field` names the offending field. */
  rejected: { index: number; field: string; reason: string }[];
  /** Input indexes that were duplicates (already stored, or repeated in the batch). */
  duplicateIndexes: number[];
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
  ) {}

  onStored(listener: (appid: string) => void): void {
    this.listeners.push(listener);
  }

  async ingest(appid: string, records: readonly unknown[]): Promise<IngestReport> {
    const batch = prepareBatch(records, { now: this.clock.now() });
    let accepted = 0;
    let duplicateIndexes: number[] = [];
    if (batch.events.length > 0) {
      const r = await this.store.append(appid, batch.events);
      accepted = r.accepted;
      duplicateIndexes = r.duplicates.map((i) => batch.positions[i] ?? i);
      if (accepted > 0) for (const l of this.listeners) l(appid);
    }
    return { accepted, duplicates: duplicateIndexes.length, rejected: batch.rejected, duplicateIndexes };
  }
}
