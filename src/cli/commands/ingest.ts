import { SingleBar, Presets } from 'cli-progress';
import { byteProgress, formatOf, isRecordError, readRecords } from '../../ingest/readers/index.ts';
import type { Backend, BatchAnswer } from '../backend.ts';

export interface IngestSummary {
  accepted: number;
  duplicates: number;
  rejected: number;
  errors: { line: number; reason: string; file?: string }[];
}

const MAX_ERRORS = 100;
/**
 * Batches handed to a local store before the oldest is awaited: reading and validating the next batches (JavaScript)
 * overlaps with the store committing and deriving the earlier ones (DuckDB's threads). The store still takes them
 * one at a time, in order, each durable when answered. Through a server, one at a time.
 */
const LOCAL_PIPELINE_DEPTH = 3;

/**
 * Streams files (or standard input) into an app, batch by batch, so memory does not grow with the input.
 * Unreadable lines and rejected events are counted and the first 100 are reported with their line numbers.
 */
export async function ingestFiles(backend: Backend, appid: string, files: string[], opts: { progress: boolean }): Promise<IngestSummary> {
  const sum: IngestSummary = { accepted: 0, duplicates: 0, rejected: 0, errors: [] };
  const note = (line: number, reason: string, file: string) => {
    sum.rejected++;
    if (sum.errors.length < MAX_ERRORS) sum.errors.push(files.length > 1 ? { file, line, reason } : { line, reason });
  };
  const depth = backend.kind === 'local' ? LOCAL_PIPELINE_DEPTH : 1;
  // Batches read and not yet counted, oldest first; counted in order, so the report does not depend on timing.
  interface Pending {
    file: string;
    unreadable: { line: number; reason: string }[];
    lines: number[];
    answer: Promise<BatchAnswer> | undefined;
  }
  const inflight: Pending[] = [];
  const countOldest = async () => {
    const b = inflight.shift();
    if (!b) return;
    for (const u of b.unreadable) note(u.line, u.reason, b.file);
    if (!b.answer) return;
    const r = await b.answer;
    sum.accepted += r.accepted;
    sum.duplicates += r.duplicates;
    for (const x of r.rejected) note(b.lines[x.index] ?? 0, x.errmsg, b.file);
  };
  try {
    for (const file of files) await ingestFile(file);
    while (inflight.length > 0) await countOldest();
  } finally {
    // After a failure, let the batches already handed over settle before reporting it.
    await Promise.allSettled(inflight.map((b) => b.answer));
  }
  return sum;

  async function ingestFile(file: string): Promise<void> {
    const source = file === '-' ? { stdin: process.stdin } : { path: file };
    if (file !== '-' && !formatOf(file)) throw new Error(`${file}: unknown format; use .ndjson, .jsonl, .json or .csv`);
    const progress = byteProgress(source);
    const bar = opts.progress && progress.total ? new SingleBar({ format: `${file} [{bar}] {percentage}% | {value}/{total} bytes`, stream: process.stderr }, Presets.shades_classic) : undefined;
    bar?.start(progress.total ?? 0, 0);
    try {
      for await (const items of readRecords(source, { progress })) {
        const records: unknown[] = [];
        const batch: Pending = { file, unreadable: [], lines: [], answer: undefined };
        for (const it of items) {
          if (isRecordError(it)) batch.unreadable.push({ line: it.line, reason: it.reason });
          else {
            records.push(it.record);
            batch.lines.push(it.line);
          }
        }
        if (records.length > 0) {
          batch.answer = backend.ingest(appid, records);
          batch.answer.catch(() => undefined); // awaited in order by countOldest
        }
        inflight.push(batch);
        while (inflight.length >= depth) await countOldest();
        bar?.update(progress.bytesRead);
      }
    } finally {
      bar?.stop();
    }
  }
}
