import { SingleBar, Presets } from 'cli-progress';
import { byteProgress, formatOf, isRecordError, readRecords } from '../../ingest/readers/index.ts';
import type { Backend } from '../backend.ts';

export interface IngestSummary {
  accepted: number;
  duplicates: number;
  rejected: number;
  errors: { line: number; reason: string; file?: string }[];
}

const MAX_ERRORS = 100;

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
  for (const file of files) {
    const source = file === '-' ? { stdin: process.stdin } : { path: file };
    if (file !== '-' && !formatOf(file)) throw new Error(`${file}: unknown format; use .ndjson, .jsonl, .json or .csv`);
    const progress = byteProgress(source);
    const bar = opts.progress && progress.total ? new SingleBar({ format: `${file} [{bar}] {percentage}% | {value}/{total} bytes`, stream: process.stderr }, Presets.shades_classic) : undefined;
    bar?.start(progress.total ?? 0, 0);
    try {
      for await (const items of readRecords(source, { progress })) {
        const records: unknown[] = [];
        const lines: number[] = [];
        for (const it of items) {
          if (isRecordError(it)) note(it.line, it.reason, file);
          else {
            records.push(it.record);
            lines.push(it.line);
          }
        }
        if (records.length > 0) {
          const r = await backend.ingest(appid, records);
          sum.accepted += r.accepted;
          sum.duplicates += r.duplicates;
          for (const x of r.rejected) note(lines[x.index] ?? 0, x.errmsg, file);
        }
        bar?.update(progress.bytesRead);
      }
    } finally {
      bar?.stop();
    }
  }
  return sum;
}
