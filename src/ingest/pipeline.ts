import { emptyEvent, type VisitEvent } from '../domain/event.ts';
import { reject, type Rejection } from './rejection.ts';
import { STEPS, type Step, type StepContext } from './steps.ts';

export type IngestOutcome = { ok: true; event: VisitEvent } | ({ ok: false } & Rejection);

/** Runs one raw record through the named steps: a stored-to-be event, or the first step's rejection. */
export function processRecord(record: unknown, ctx: StepContext, steps: readonly Step[] = STEPS): IngestOutcome {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) {
    return { ok: false, ...reject('record', 'each event must be a JSON object') };
  }
  const draft = { input: record as Record<string, unknown>, event: emptyEvent() };
  for (const step of steps) {
    const r = step.apply(draft, ctx);
    if (r) return { ok: false, ...r };
  }
  return { ok: true, event: draft.event };
}

export interface PreparedBatch {
  events: VisitEvent[];
  /** For each entry of `events`, its index in the input. */
  positions: number[];
  rejected: { index: number; field: string; reason: string }[];
}

/** Validates and enriches a batch; good records go on, bad ones are reported by index. */
export function prepareBatch(records: readonly unknown[], ctx: StepContext): PreparedBatch {
  const out: PreparedBatch = { events: [], positions: [], rejected: [] };
  records.forEach((rec, index) => {
    const r = processRecord(rec, ctx);
    if (r.ok) {
      out.events.push(r.event);
      out.positions.push(index);
    } else {
      out.rejected.push({ index, field: r.field, reason: r.reason });
    }
  });
  return out;
}

/** Records validated between two turns of the event loop in `prepareBatchYielding`. */
const RECORDS_PER_TURN = 256;

/**
 * `prepareBatch`, giving the event loop a turn every RECORDS_PER_TURN records: a large batch of one app does not
 * hold up, for its whole validation, the requests of other apps (a portrait waiting for its next step).
 */
export async function prepareBatchYielding(records: readonly unknown[], ctx: StepContext): Promise<PreparedBatch> {
  if (records.length <= RECORDS_PER_TURN) return prepareBatch(records, ctx);
  const out: PreparedBatch = { events: [], positions: [], rejected: [] };
  for (let start = 0; start < records.length; start += RECORDS_PER_TURN) {
    if (start > 0) await new Promise<void>((r) => setImmediate(r));
    const part = prepareBatch(records.slice(start, start + RECORDS_PER_TURN), ctx);
    out.events.push(...part.events);
    for (const p of part.positions) out.positions.push(start + p);
    for (const r of part.rejected) out.rejected.push({ ...r, index: start + r.index });
  }
  return out;
}
