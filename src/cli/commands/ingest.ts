import { constants, accessSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { localTimeToEpoch, checkTimeZone } from '../../ingest/localTime.ts';
import { byteProgress, formatOf, InputEncodingError, isRecordError, readRecords, textDecoder } from '../../ingest/readers/index.ts';
import type { Backend, BatchAnswer } from '../backend.ts';
import { type CliCommand, type Io, storeOptions } from '../command.ts';
import { CliError, EXIT } from '../errors.ts';
import { withBackend } from '../openBackend.ts';

export interface IngestError {
  line: number;
  reason: string;
  file?: string;
}

export interface IngestSummary {
  accepted: number;
  duplicates: number;
  rejected: number;
  /** The first {@link MAX_LISTED_ERRORS} rejected lines, in file order and by line. */
  errors: IngestError[];
  /** Rejected lines beyond those listed (present only when some were left out). */
  errors_not_listed?: number;
}

/** Rejected lines listed in the summary; the count of the others is given. */
export const MAX_LISTED_ERRORS = 100;
/**
 * Batches handed to a local store before the oldest is awaited: reading and validating the next batches (JavaScript)
 * overlaps with the store committing and deriving the earlier ones (DuckDB's threads). The store still takes them
 * one at a time, in order, each durable when answered. Through a server, one at a time.
 */
const LOCAL_PIPELINE_DEPTH = 3;

export interface IngestOptions {
  progress: boolean;
  /** IANA zone for times without an offset (`2026-11-29 10:00:00`); without it such times are rejected. */
  timeZone?: string;
  /** Text encoding of the inputs (default UTF-8). */
  encoding?: string;
  /** Where progress bars go (default standard error). */
  stream?: NodeJS.WritableStream;
}

/** An input that stopped being readable part-way (or could not be opened): what was stored before it is in `summary`. */
export class IngestReadError extends Error {
  constructor(
    message: string,
    readonly summary: IngestSummary,
  ) {
    super(message);
  }
}

/** Checks, before anything is stored, that every named file exists, is readable and has a known format. */
export function checkInputs(files: readonly string[]): void {
  for (const file of files) {
    if (file === '-') continue;
    if (!formatOf(file)) throw new CliError(`${file}: unknown format; use .ndjson, .jsonl, .json or .csv`, EXIT.UNREADABLE);
    try {
      accessSync(file, constants.R_OK);
      if (statSync(file).isDirectory()) throw new Error('is a directory');
    } catch (e) {
      const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : e instanceof Error ? e.message : String(e);
      throw new CliError(`${file}: cannot be read (${why}); nothing was stored`, EXIT.UNREADABLE);
    }
  }
}

/** With `--tz`: a record whose `time` is a wall-clock time without an offset gets it as epoch milliseconds. */
function withZone(record: unknown, zone: string | undefined): unknown {
  if (!zone || typeof record !== 'object' || record === null || Array.isArray(record)) return record;
  const t = (record as { time?: unknown }).time;
  if (typeof t !== 'string') return record;
  const ms = localTimeToEpoch(t, zone);
  return ms === undefined ? record : { ...(record as Record<string, unknown>), time: ms };
}

/**
 * Streams files (or standard input) into an app, batch by batch, so memory does not grow with the input.
 * Unreadable lines and rejected events are counted and the first {@link MAX_LISTED_ERRORS} are reported with their
 * line numbers. An input that cannot be read throws {@link IngestReadError} carrying what was stored before it.
 */
export async function ingestFiles(backend: Backend, appid: string, files: string[], opts: IngestOptions): Promise<IngestSummary> {
  const sum: IngestSummary = { accepted: 0, duplicates: 0, rejected: 0, errors: [] };
  const note = (errors: { line: number; reason: string }[], file: string) => {
    errors.sort((a, b) => a.line - b.line);
    for (const e of errors) {
      sum.rejected++;
      if (sum.errors.length < MAX_LISTED_ERRORS) sum.errors.push(files.length > 1 ? { file, line: e.line, reason: e.reason } : { line: e.line, reason: e.reason });
      else sum.errors_not_listed = (sum.errors_not_listed ?? 0) + 1;
    }
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
    const errors = [...b.unreadable];
    if (b.answer) {
      const r = await b.answer;
      sum.accepted += r.accepted;
      sum.duplicates += r.duplicates;
      for (const x of r.rejected) errors.push({ line: b.lines[x.index] ?? 0, reason: x.errmsg });
    }
    note(errors, b.file);
  };
  const decoder = opts.encoding ? textDecoder(opts.encoding) : undefined;
  const { SingleBar, Presets } = opts.progress ? await import('cli-progress') : { SingleBar: undefined, Presets: undefined };
  try {
    for (const file of files) await ingestFile(file);
    while (inflight.length > 0) await countOldest();
  } catch (e) {
    // Count what the batches already handed over did, then report the failure with that summary.
    await Promise.allSettled(inflight.map((b) => b.answer));
    while (inflight.length > 0) await countOldest().catch(() => undefined);
    if (e instanceof InputEncodingError) throw new IngestReadError(e.message, sum);
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) throw new IngestReadError(`cannot read input: ${(e as Error).message}`, sum);
    throw e;
  }
  return sum;

  async function ingestFile(file: string): Promise<void> {
    const source = file === '-' ? { stdin: process.stdin } : { path: file };
    if (file !== '-' && !formatOf(file)) throw new CliError(`${file}: unknown format; use .ndjson, .jsonl, .json or .csv`, EXIT.UNREADABLE);
    const progress = byteProgress(source);
    const bar =
      SingleBar && Presets && progress.total
        ? new SingleBar({ format: `${file} [{bar}] {percentage}% | {value}/{total} bytes`, stream: opts.stream ?? process.stderr }, Presets.shades_classic)
        : undefined;
    bar?.start(progress.total ?? 0, 0);
    try {
      for await (const items of readRecords(source, { progress, ...(decoder ? { encoding: decoder.encoding } : {}) })) {
        const records: unknown[] = [];
        const batch: Pending = { file, unreadable: [], lines: [], answer: undefined };
        for (const it of items) {
          if (isRecordError(it)) batch.unreadable.push({ line: it.line, reason: it.reason });
          else {
            records.push(withZone(it.record, opts.timeZone));
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

const events = (n: number) => `${n} event${n === 1 ? '' : 's'}`;

export const ingestCommand: CliCommand = {
  register(program: Command, io: Io): void {
    program
      .command('ingest')
      .description('store events from NDJSON (.ndjson/.jsonl), JSON array (.json) or CSV (.csv) files; "-" reads NDJSON from stdin')
      .requiredOption('--appid <appid>', 'the app the events belong to')
      .option('--tz <zone>', 'IANA time zone for times without an offset, e.g. "2026-11-29 10:00:00" from MySQL or Excel (Asia/Shanghai, UTC, …)')
      .option('--encoding <label>', 'text encoding of the files (default utf-8; e.g. gbk, gb18030, utf-16le)')
      .option('--allow-rejects', 'exit 0 even when some lines were rejected (they are still listed)')
      .argument('<files...>')
      .addHelpText(
        'after',
        `\nPrints {"accepted","duplicates","rejected","errors":[{"line","reason"}]} (the first ${MAX_LISTED_ERRORS} rejected lines, by line;\n"errors_not_listed" counts the rest). Exit code: 0 all stored, 1 some lines rejected (unless --allow-rejects),\n2 a file could not be read (what was stored before it is printed).`,
      )
      .action(async (files: string[], o: { appid: string; tz?: string; encoding?: string; allowRejects?: boolean }, cmd: Command) => {
        const timeZone = o.tz === undefined ? undefined : checkTimeZone(o.tz);
        if (o.encoding !== undefined) textDecoder(o.encoding);
        checkInputs(files);
        await withBackend(storeOptions(cmd), {}, async (b) => {
          if (!(await b.hasApp(o.appid))) throw new CliError(`no app ${o.appid} (see: datacube app list)`);
          let sum: IngestSummary;
          try {
            sum = await ingestFiles(b, o.appid, files, { progress: io.interactive, timeZone, encoding: o.encoding });
          } catch (e) {
            if (!(e instanceof IngestReadError)) throw e;
            io.out(JSON.stringify(e.summary));
            throw new CliError(`${e.message} (stored before it: ${events(e.summary.accepted)})`, EXIT.UNREADABLE);
          }
          io.out(JSON.stringify(sum));
          if (sum.rejected > 0) {
            const listed = sum.errors_not_listed ? ` (the first ${MAX_LISTED_ERRORS} are listed)` : '';
            io.err(`${sum.rejected} line${sum.rejected === 1 ? ' was' : 's were'} rejected${listed}; ${events(sum.accepted)} stored`);
            if (!o.allowRejects) throw new CliError('some lines were rejected (pass --allow-rejects to exit 0 anyway)', EXIT.FAILED);
          }
        });
      });
  },
};
