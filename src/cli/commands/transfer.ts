import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Writable } from 'node:stream';
import type { Command } from 'commander';
import type { VisitEvent } from '../../domain/event.ts';
import type { FirstSeen } from '../../store/lifecycle.ts';
import { ImportIds, exportedApp, exportedFirstSeen } from '../../transfer/exportFile.ts';
import type { Backend } from '../backend.ts';
import { type CliCommand, type Io, storeOptions } from '../command.ts';
import { CliError, EXIT } from '../errors.ts';
import { withBackend } from '../openBackend.ts';

// `datacube export` / `datacube import`: an app and its events to and from an export file (src/transfer), through the
// running server when one owns the data directory, with a progress bar on a terminal.

/** A progress bar on standard error, or nothing when it is not a terminal. */
async function progressBar(io: Io, label: string, total: number, unit: string) {
  if (!io.interactive || total <= 0) return undefined;
  const { SingleBar, Presets } = await import('cli-progress');
  const bar = new SingleBar({ format: `${label} [{bar}] {percentage}% | {value}/{total} ${unit}`, stream: process.stderr }, Presets.shades_classic);
  bar.start(total, 0);
  return bar;
}

async function write(out: Writable, text: string): Promise<void> {
  if (!out.write(text)) await new Promise((r) => out.once('drain', r));
}

export async function exportApp(b: Backend, io: Io, appid: string, path: string | undefined): Promise<number> {
  if (!(await b.hasApp(appid))) throw new CliError(`no app ${appid} (see: datacube app list)`);
  const toFile = path !== undefined && path !== '-';
  const total = toFile ? await b.countEvents(appid) : 0;
  const bar = await progressBar(io, `export ${appid}`, total, 'events');
  // The file holds the app's sealed secret and the secret's hash: created readable by its owner only (0600).
  const out: Writable = toFile ? createWriteStream(path, { mode: 0o600 }) : process.stdout;
  let lines = 0;
  try {
    const n = await b.exportApp(appid, async (text) => {
      await write(out, text);
      if (bar) {
        for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lines++;
        bar.update(Math.min(total, Math.max(0, lines - 1)));
      }
    });
    bar?.update(n);
    return n;
  } finally {
    bar?.stop();
    if (toFile) await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
  }
}

export interface ImportResult {
  appid: string;
  created: boolean;
  accepted: number;
  duplicates: number;
  /** Lines refused: not JSON, or an event ingest would have refused (see validateStoredEvent); the first 100 are in `errors`. */
  rejected: number;
  errors: { line: number; reason: string }[];
  /** False when the app's sealed secret was made with another master key (cloud calls need the same key). */
  secretReadable: boolean;
  /**
   * Only for a file with kept first days (an app whose retention dropped events): how many were applied. 0 when the
   * app already had events in the store (an import of the same file again), where they are left alone.
   */
  firstSeen?: number;
}

/** Events per request to the store or server, and the most bytes of event JSON in one (under the body limit). */
const IMPORT_BATCH_EVENTS = 10_000;
const IMPORT_BATCH_BYTES = 4 * 1024 * 1024;
/** Rejected lines listed in the answer (the first ones, by line). */
const MAX_ERRORS = 100;

/**
 * Loads an export file: creates the app unless the store has it (with the checks app creation makes), then appends
 * its events unchanged. Every event is checked as ingest checks events (where it is stored: the local store or the
 * server), and a line that is not JSON or not such an event is reported with its line, not stored. Events without
 * an `event_id` get one derived from their content (see ImportIds), so importing the same file again stores nothing
 * new.
 */
export async function importFile(b: Backend, io: Io, path: string): Promise<ImportResult> {
  const size = path === '-' ? 0 : statSync(path).size;
  const input = path === '-' ? process.stdin : createReadStream(path);
  const bar = await progressBar(io, 'import', size, 'bytes');
  let bytes = 0;
  const lines = createInterface({ input, crlfDelay: Infinity });
  const ids = new ImportIds();
  let line = 0;
  let result: ImportResult | undefined;
  let batch: unknown[] = [];
  let batchLines: number[] = [];
  let batchBytes = 0;
  const refuse = (r: ImportResult, at: number, reason: string) => {
    r.rejected++;
    r.errors.push({ line: at, reason });
    // Lines of a batch are reported when it is stored, after later lines that were not JSON: keep the first by line.
    if (r.errors.length > 2 * MAX_ERRORS) r.errors = r.errors.sort((x, y) => x.line - y.line).slice(0, MAX_ERRORS);
  };
  const flush = async () => {
    if (!result || batch.length === 0) return;
    const r = await b.importEvents(result.appid, batch);
    result.accepted += r.accepted;
    result.duplicates += r.duplicates;
    for (const x of r.rejected) refuse(result, batchLines[x.index] ?? 0, x.reason);
    batch = [];
    batchLines = [];
    batchBytes = 0;
    bar?.update(Math.min(size, bytes));
  };
  try {
    for await (const text of lines) {
      line++;
      bytes += Buffer.byteLength(text) + 1;
      if (text.trim() === '') continue;
      let v: unknown;
      try {
        v = JSON.parse(text);
      } catch {
        if (!result) throw new CliError(`${path}: line ${line} is not JSON`);
        refuse(result, line, 'not JSON');
        continue;
      }
      if (!result) {
        const app = exportedApp(v, path === '-' ? 'standard input' : path);
        result = { ...(await b.importApp(app)), accepted: 0, duplicates: 0, rejected: 0, errors: [] };
        continue;
      }
      // Kept first days (after the header, before the events): applied as a restore applies them.
      let kept: FirstSeen[] | undefined;
      try {
        kept = exportedFirstSeen(v);
      } catch (e) {
        refuse(result, line, e instanceof Error ? e.message : String(e));
        continue;
      }
      if (kept) {
        await flush();
        result.firstSeen = (result.firstSeen ?? 0) + (await b.importFirstSeen(result.appid, kept)).firstSeen;
        continue;
      }
      // An event without an id gets one from its content; anything else goes as it is, to be checked where it is stored.
      const isEvent = typeof v === 'object' && v !== null && !Array.isArray(v) && (v as { eventId?: unknown }).eventId === null;
      batch.push(isEvent ? ids.assign(v as VisitEvent) : v);
      batchLines.push(line);
      batchBytes += text.length;
      if (batch.length >= IMPORT_BATCH_EVENTS || batchBytes >= IMPORT_BATCH_BYTES) await flush();
    }
    await flush();
  } finally {
    bar?.stop();
  }
  if (!result) throw new CliError(`${path} is empty`, EXIT.UNREADABLE);
  result.errors = result.errors.sort((x, y) => x.line - y.line).slice(0, MAX_ERRORS);
  return result;
}

export const exportCommand: CliCommand = {
  register(program: Command, io: Io): void {
    program
      .command('export')
      .description('write an app and all its stored events to an export file (NDJSON), e.g. to move a DuckDB store to ClickHouse')
      .requiredOption('--appid <appid>')
      .option('--out <file>', 'the file to write ("-" or none: standard output)')
      .action(async (o: { appid: string; out?: string }, cmd: Command) => {
        await withBackend(storeOptions(cmd), { readOnly: true }, async (b) => {
          const n = await exportApp(b, io, o.appid, o.out);
          io.err(`exported ${n} events of ${o.appid}`);
        });
      });
  },
};

export const importCommand: CliCommand = {
  register(program: Command, io: Io): void {
    program
      .command('import')
      .description('load an export file into the store (creates the app if absent; importing the same file again stores nothing new)')
      .argument('<file>', 'an export file, or "-" for standard input')
      .action(async (file: string, _o: unknown, cmd: Command) => {
        if (file !== '-') {
          try {
            statSync(file);
          } catch {
            throw new CliError(`${file}: no such file`, EXIT.UNREADABLE);
          }
        }
        await withBackend(storeOptions(cmd), {}, async (b) => {
          const r = await importFile(b, io, file);
          io.out(JSON.stringify(r));
          if (!r.secretReadable) {
            io.err(
              "warning: the app secret was sealed with another master key; copy the source data directory's master.key or set DATACUBE_MASTER_KEY, or cloud calls will be refused",
            );
          }
          if (r.rejected > 0) {
            const listed = r.rejected > r.errors.length ? ` (the first ${r.errors.length} are listed)` : '';
            throw new CliError(`${r.rejected} lines were not imported${listed}; the others were`, EXIT.FAILED);
          }
        });
      });
  },
};
