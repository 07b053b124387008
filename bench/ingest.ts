/**
 * P3: ingest over HTTP (4 clients, batches of 1,000 events, POST /v1/events; the server in a child process) and
 * P3b: bulk import with the CLI (`datacube ingest` as a child process). Both against DuckDB's appender writing the
 * same rows into a table of the same shape, committing as often (every 1,000 resp. 5,000 rows), in this process.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type DuckDBAppender, DuckDBInstance } from '@duckdb/node-api';
import { systemClock, yesterday } from '../src/domain/clock.ts';
import type { VisitEvent } from '../src/domain/event.ts';
import { generateDemoEvents } from '../src/demo/index.ts';
import { prepareBatch } from '../src/ingest/pipeline.ts';
import { appendEventColumns } from '../src/store/duckdb/appendEvents.ts';
import { isRecordError, readRecords } from '../src/ingest/readers/index.ts';
import { ROOT, startChildServer } from './child.ts';
import { type Figure, QUICK, RUNS, log, median, percentile, ratioAtLeast, round } from './lib.ts';

const CLIENTS = 4;
const HTTP_BATCH = 1_000;
/** Demo users for P3 (about 18.7 events each over 30 days). */
const HTTP_USERS = QUICK ? 2_000 : 20_000;
/** Events in the P3b file. The brief asks for 10M; 2M keeps `npm run bench` within its time budget (see README). */
const BULK_EVENTS = QUICK ? 50_000 : 2_000_000;
const CLI_CHUNK = 5_000;
const GiB = 2 ** 30;

// ---- DuckDB's appender: the baseline ----------------------------------------------------------------------------

/**
 * The columns of the store's `events` table that hold the event (the rows both sides write): migration 1's, and the
 * User-Agent the store keeps since issue 11 (the demo data's tracker-like users send one). Not the store's own
 * bookkeeping (the event-id hash columns of its duplicate filter).
 */
const EVENTS_TABLE = `CREATE TABLE events (seq BIGINT NOT NULL, appid VARCHAR NOT NULL, event_id VARCHAR, openid VARCHAR NOT NULL,
  time BIGINT NOT NULL, day INTEGER NOT NULL, gender UTINYINT NOT NULL, age UTINYINT, age_bucket UTINYINT NOT NULL,
  platform VARCHAR, platform_id UTINYINT NOT NULL, brand VARCHAR, model VARCHAR, device VARCHAR, province UINTEGER NOT NULL,
  city UINTEGER NOT NULL, ip VARCHAR, type VARCHAR NOT NULL, page VARCHAR, scene INTEGER, session VARCHAR, stay DOUBLE,
  props VARCHAR, received_at BIGINT NOT NULL, ua VARCHAR)`;

/** A row of the `events` table above: the event's columns, nothing else. */
function appendRow(a: DuckDBAppender, seq: number, appid: string, e: VisitEvent, now: number): void {
  appendEventColumns(a, seq, appid, e, now);
  if (e.ua === null) a.appendNull();
  else a.appendVarchar(e.ua);
  a.endRow();
}

/**
 * Rows per second DuckDB's appender stores `batches` into a fresh file, one transaction per batch. Only the
 * appending and committing is timed; `batches` yields already validated events.
 */
async function appenderRate(file: string, batches: AsyncIterable<VisitEvent[]> | Iterable<VisitEvent[]>): Promise<number> {
  rmSync(file, { force: true });
  rmSync(`${file}.wal`, { force: true });
  const inst = await DuckDBInstance.create(file);
  const conn = await inst.connect();
  try {
    await conn.run(EVENTS_TABLE);
    let seq = 1;
    let ms = 0;
    const now = Date.now();
    for await (const batch of batches) {
      const t = performance.now();
      await conn.run('BEGIN TRANSACTION');
      const a = await conn.createAppender('events');
      for (const e of batch) appendRow(a, seq++, 'wxbenchappender000', e, now);
      a.flushSync();
      a.closeSync();
      await conn.run('COMMIT');
      ms += performance.now() - t;
    }
    const t = performance.now();
    await conn.run('CHECKPOINT');
    ms += performance.now() - t;
    return ((seq - 1) / ms) * 1000;
  } finally {
    conn.closeSync();
    inst.closeSync();
    rmSync(file, { force: true });
    rmSync(`${file}.wal`, { force: true });
  }
}

// ---- P3: HTTP -----------------------------------------------------------------------------------------------------

interface HttpRun {
  eventsPerSec: number;
  p99Ms: number;
  retries: number;
}

async function httpRun(dir: string, bodies: readonly string[], perBatch: readonly number[]): Promise<HttpRun> {
  const data = join(dir, 'http-data');
  rmSync(data, { recursive: true, force: true });
  const server = await startChildServer(['real', data, '0']);
  try {
    const url = `${server.url}/v1/events?access_token=${server.token ?? ''}`;
    const latencies: number[] = [];
    let next = 0;
    let retries = 0;
    let accepted = 0;
    const client = async () => {
      for (;;) {
        const i = next++;
        const body = bodies[i];
        if (body === undefined) return;
        for (;;) {
          const t = performance.now();
          const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
          const json = (await r.json()) as { errcode?: number; accepted?: number; rejected?: unknown[] };
          if (r.status === 429) {
            retries++;
            await new Promise((res) => setTimeout(res, 20));
            continue;
          }
          latencies.push(performance.now() - t);
          if (json.errcode !== 0 || json.accepted !== perBatch[i]) throw new Error(`ingest answered ${JSON.stringify(json).slice(0, 300)}`);
          accepted += json.accepted ?? 0;
          break;
        }
      }
    };
    const t = performance.now();
    await Promise.all(Array.from({ length: CLIENTS }, client));
    const ms = performance.now() - t;
    return { eventsPerSec: (accepted / ms) * 1000, p99Ms: percentile(latencies, 99), retries };
  } finally {
    await server.stop();
  }
}

// ---- P3b: the CLI -------------------------------------------------------------------------------------------------

async function run(cmd: string, args: string[], opts: { capture?: boolean } = {}): Promise<{ code: number; stdout: string; stderr: string; ms: number; peakKiB: number }> {
  const t = performance.now();
  const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // Without /usr/bin/time, poll the peak resident set (VmHWM) of the child itself.
  let peakKiB = 0;
  const poll =
    opts.capture && child.pid
      ? setInterval(() => {
          try {
            const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
            if (m) peakKiB = Math.max(peakKiB, Number(m[1]));
          } catch {
            // gone
          }
        }, 100)
      : undefined;
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
  if (poll) clearInterval(poll);
  return { code, stdout, stderr, ms: performance.now() - t, peakKiB };
}

const TIME = '/usr/bin/time';

interface BulkRun {
  eventsPerSec: number;
  peakBytes: number;
}

async function bulkRun(dir: string, file: string, events: number): Promise<BulkRun> {
  const data = join(dir, 'bulk-data');
  rmSync(data, { recursive: true, force: true });
  const cli = join(ROOT, 'bin', 'datacube.js');
  const created = await run(process.execPath, [cli, 'app', 'create', '--data', data]);
  if (created.code !== 0) throw new Error(`app create failed: ${created.stderr}`);
  const { appid } = JSON.parse(created.stdout.trim().split('\n').pop() ?? '{}') as { appid?: string };
  if (!appid) throw new Error(`app create printed ${created.stdout}`);
  const args = [cli, 'ingest', '--data', data, '--appid', appid, file];
  const withTime = existsSync(TIME);
  const r = withTime ? await run(TIME, ['-v', process.execPath, ...args]) : await run(process.execPath, args, { capture: true });
  if (r.code !== 0) throw new Error(`ingest failed (${r.code}): ${r.stderr.slice(-500)}`);
  const summary = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { accepted?: number };
  if (summary.accepted !== events) throw new Error(`ingest accepted ${String(summary.accepted)} of ${events}: ${r.stdout.slice(0, 300)}`);
  const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
  const peakKiB = withTime ? Number(m?.[1] ?? 0) : r.peakKiB;
  rmSync(data, { recursive: true, force: true });
  return { eventsPerSec: (events / r.ms) * 1000, peakBytes: peakKiB * 1024 };
}

async function writeNdjson(file: string, users: number, wanted: number): Promise<number> {
  const out = createWriteStream(file);
  let n = 0;
  for (const batch of generateDemoEvents({ users, days: 30, endDay: yesterday(systemClock), batchSize: 5_000 })) {
    const part = batch.slice(0, wanted - n);
    n += part.length;
    if (!out.write(`${part.map((r) => JSON.stringify(r)).join('\n')}\n`)) await new Promise((res) => out.once('drain', res));
    if (n >= wanted) break;
  }
  await new Promise<void>((res, rej) => out.end((e?: Error | null) => (e ? rej(e) : res())));
  return n;
}

async function* preparedChunks(file: string, size: number): AsyncGenerator<VisitEvent[]> {
  const now = Date.now();
  for await (const items of readRecords({ path: file }, { chunkSize: size })) {
    const records = items.filter((x) => !isRecordError(x)).map((x) => (x as { record: unknown }).record);
    yield prepareBatch(records, { now }).events;
  }
}

// ---- both ---------------------------------------------------------------------------------------------------------

export async function ingestBench(dir: string): Promise<Figure[]> {
  mkdirSync(dir, { recursive: true });
  const figures: Figure[] = [];

  // P3: the same demo records for every run, as request bodies of 1,000 events.
  const end = yesterday(systemClock);
  const records: Record<string, unknown>[] = [];
  for (const b of generateDemoEvents({ users: HTTP_USERS, days: 30, endDay: end })) records.push(...b);
  const bodies: string[] = [];
  const perBatch: number[] = [];
  const prepared: VisitEvent[][] = [];
  const now = Date.now();
  for (let i = 0; i < records.length; i += HTTP_BATCH) {
    const part = records.slice(i, i + HTTP_BATCH);
    bodies.push(JSON.stringify(part));
    perBatch.push(part.length);
    prepared.push(prepareBatch(part, { now }).events);
  }
  log(`P3: ${records.length} events in ${bodies.length} requests, ${CLIENTS} clients`);
  const http: HttpRun[] = [];
  const base3: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    http.push(await httpRun(dir, bodies, perBatch));
    base3.push(await appenderRate(join(dir, 'appender.duckdb'), prepared));
    log(`P3 run ${i + 1}: ${Math.round(http[i]?.eventsPerSec ?? 0)} events/s, p99 ${(http[i]?.p99Ms ?? 0).toFixed(1)} ms; appender ${Math.round(base3[i] ?? 0)} rows/s`);
  }
  figures.push(
    ratioAtLeast(
      {
        id: 'P3',
        what: `ingest over HTTP: ${records.length.toLocaleString('en-US')} events, batches of ${HTTP_BATCH}, ${CLIENTS} clients (vs DuckDB appender, commit per ${HTTP_BATCH} rows)`,
        value: Math.round(median(http.map((h) => h.eventsPerSec))),
        baseline: Math.round(median(base3)),
        unit: 'events/s',
        detail: {
          eventsPerSec: http.map((h) => Math.round(h.eventsPerSec)),
          appenderRowsPerSec: base3.map(Math.round),
          p99AckMs: http.map((h) => round(h.p99Ms, 1)),
          busyRetries: http.map((h) => h.retries),
        },
      },
      0.3,
    ),
  );
  const p99 = median(http.map((h) => h.p99Ms));
  figures.push({
    id: 'P3.p99',
    what: 'ingest over HTTP: p99 latency from request to durable ack',
    value: round(p99, 1),
    baseline: null,
    ratio: null,
    unit: 'ms',
    goal: '(reported)',
    met: null,
  });

  // P3b: one NDJSON file, imported by the CLI into a fresh data directory each run.
  const file = join(dir, 'bulk.ndjson');
  const users = Math.ceil(BULK_EVENTS / 18) + 100;
  const events = await writeNdjson(file, users, BULK_EVENTS);
  log(`P3b: ${events} events in ${file}`);
  const bulk: BulkRun[] = [];
  const base3b: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    bulk.push(await bulkRun(dir, file, events));
    base3b.push(await appenderRate(join(dir, 'appender.duckdb'), preparedChunks(file, CLI_CHUNK)));
    log(`P3b run ${i + 1}: ${Math.round(bulk[i]?.eventsPerSec ?? 0)} events/s, peak RSS ${((bulk[i]?.peakBytes ?? 0) / 2 ** 20).toFixed(0)} MiB; appender ${Math.round(base3b[i] ?? 0)} rows/s`);
  }
  rmSync(file, { force: true });
  figures.push(
    ratioAtLeast(
      {
        id: 'P3b',
        what: `bulk import: \`datacube ingest\` of a ${events.toLocaleString('en-US')}-event NDJSON file, child process (vs DuckDB appender, commit per ${CLI_CHUNK} rows)`,
        value: Math.round(median(bulk.map((b) => b.eventsPerSec))),
        baseline: Math.round(median(base3b)),
        unit: 'events/s',
        detail: { eventsPerSec: bulk.map((b) => Math.round(b.eventsPerSec)), appenderRowsPerSec: base3b.map(Math.round), scaledDownFrom: 10_000_000 },
      },
      0.5,
    ),
  );
  const peak = Math.max(...bulk.map((b) => b.peakBytes));
  figures.push({
    id: 'P3b.rss',
    what: `bulk import: peak resident memory of the CLI process (${existsSync(TIME) ? '/usr/bin/time -v' : '/proc VmHWM'}, worst run)`,
    value: round(peak / 2 ** 20, 0),
    baseline: 1024,
    ratio: round(peak / GiB, 3),
    unit: 'MiB',
    goal: '< 1 GiB',
    met: peak < GiB,
    detail: { peakMiB: bulk.map((b) => round(b.peakBytes / 2 ** 20, 0)) },
  });
  return figures;
}
