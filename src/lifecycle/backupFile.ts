/**
 * The backup file: gzip-compressed NDJSON, one record per line, the same for every backend (a DuckDB backup restores
 * into ClickHouse and the other way round).
 *
 *     {"datacube_backup":1,"created_at":"2026-11-28T02:00:00.000Z","backend":"duckdb","key":"<fingerprint>"}
 *     {"app":{…AppRecord: hashed and sealed secret, never the secret}}
 *     {"token":{…TokenRecord: hashed, stable ones sealed}}
 *     {"usage":{"appid","api","day","calls"}}
 *     {"first_seen":{"appid","openid","day"}}        a first day kept by retention without its events
 *     {"event":{"appid", …VisitEvent}}                raw events, app by app in storage order
 *     {"end":{"apps","tokens","usage","first_seen","events"}}   the counts: a file cut short is recognised
 *
 * `key` is the master key's fingerprint (Sealer.fingerprint): sealed secrets open only with the same key.
 * Derived tables are not in the file: the store rebuilds them from the events as they are restored.
 */
import { createInterface } from 'node:readline';
import { pipeline } from 'node:stream/promises';
import { PassThrough, Readable, type Writable } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import type { VisitEvent } from '../domain/event.ts';
import type { FirstSeen, SnapshotCounts, SnapshotSink, UsageRecord } from '../store/lifecycle.ts';
import type { AppRecord, TokenRecord } from '../store/records.ts';

export const BACKUP_FORMAT = 1;

/** Content type of a backup sent to a server's POST /admin/restore. */
export const BACKUP_CONTENT_TYPE = 'application/x-datacube-backup';

export interface BackupHeader {
  datacube_backup: number;
  created_at: string;
  backend: string;
  key: string;
}

export interface BackupCounts {
  apps: number;
  tokens: number;
  usage: number;
  first_seen: number;
  events: number;
}

export function countsOf(c: SnapshotCounts): BackupCounts {
  return { apps: c.apps, tokens: c.tokens, usage: c.usage, first_seen: c.firstSeen, events: c.events };
}

/** Writes with back-pressure; rejects (never hangs) if the stream is closed or fails meanwhile. */
async function write(out: Writable, text: string): Promise<void> {
  if (out.destroyed || out.writableEnded) throw new Error('the backup destination was closed');
  if (out.write(text)) return;
  await new Promise<void>((resolve, reject) => {
    const done = (err?: Error) => {
      out.off('drain', onDrain);
      out.off('close', onClose);
      out.off('error', onError);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => done();
    const onClose = () => done(new Error('the backup destination was closed'));
    const onError = (e: Error) => done(e);
    out.on('drain', onDrain);
    out.on('close', onClose);
    out.on('error', onError);
  });
}

/**
 * Writes a backup to `out`: the header, whatever `snapshot` sends to the sink it is given, and the counts. Resolves
 * once `out` has every byte (and is ended); returns the counts and the compressed size.
 */
export async function writeBackup(
  out: Writable,
  header: Omit<BackupHeader, 'datacube_backup'>,
  snapshot: (sink: SnapshotSink) => Promise<SnapshotCounts>,
): Promise<BackupCounts & { bytes: number }> {
  const gz = createGzip({ level: 6 });
  let bytes = 0;
  const counter = new PassThrough();
  counter.on('data', (b: Buffer) => (bytes += b.length));
  const done = pipeline(gz, counter, out);
  // A failing destination must not leave the snapshot writing into a stream nobody reads.
  done.catch((e: unknown) => gz.destroy(e instanceof Error ? e : new Error(String(e))));
  let counts: BackupCounts;
  try {
    const line = (v: unknown) => write(gz, `${JSON.stringify(v)}\n`);
    await line({ datacube_backup: BACKUP_FORMAT, ...header });
    const sink: SnapshotSink = {
      app: (app) => line({ app }),
      token: (token) => line({ token }),
      usage: (usage) => line({ usage }),
      firstSeen: async (appid, rows) => {
        for (const r of rows) await line({ first_seen: { appid, openid: r.openid, day: r.day } });
      },
      events: async (appid, events) => {
        await write(gz, events.map((e) => JSON.stringify({ event: { appid, ...e } })).join('\n') + '\n');
      },
    };
    counts = countsOf(await snapshot(sink));
    await line({ end: counts });
    gz.end();
  } catch (e) {
    gz.destroy(e instanceof Error ? e : new Error(String(e)));
    await done.catch(() => undefined);
    throw e;
  }
  await done;
  return { ...counts, bytes };
}

/** What reading a backup calls, in file order; events come in batches of one app. */
export interface BackupHandler {
  app(app: AppRecord): Promise<void>;
  token(token: TokenRecord): Promise<void>;
  usage(usage: UsageRecord): Promise<void>;
  firstSeen(appid: string, rows: FirstSeen[]): Promise<void>;
  events(appid: string, events: VisitEvent[]): Promise<void>;
}

/** A backup that cannot be read; `line` is 1-based (0: the file as a whole). */
export class BackupError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(line > 0 ? `backup line ${line}: ${message}` : message);
    this.name = 'BackupError';
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function str(o: Obj, k: string, line: number, nullable = false): string | null {
  const v = o[k];
  if (typeof v === 'string') return v;
  if (nullable && v === null) return null;
  throw new BackupError(line, `"${k}" must be ${nullable ? 'a string or null' : 'a string'}`);
}
function int(o: Obj, k: string, line: number, nullable = false): number | null {
  const v = o[k];
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  if (nullable && v === null) return null;
  throw new BackupError(line, `"${k}" must be ${nullable ? 'a whole number or null' : 'a whole number'}`);
}
function bool(o: Obj, k: string, line: number): boolean {
  if (typeof o[k] === 'boolean') return o[k];
  throw new BackupError(line, `"${k}" must be true or false`);
}
const s = (o: Obj, k: string, line: number) => str(o, k, line) as string;
const n = (o: Obj, k: string, line: number) => int(o, k, line) as number;

function asApp(o: Obj, line: number): AppRecord {
  const retain = o.retainDays === undefined ? null : int(o, 'retainDays', line, true);
  return {
    appid: s(o, 'appid', line),
    name: s(o, 'name', line),
    secretHash: s(o, 'secretHash', line),
    secretSealed: s(o, 'secretSealed', line),
    env: s(o, 'env', line),
    dailyQuota: n(o, 'dailyQuota', line),
    createdAt: n(o, 'createdAt', line),
    collect: o.collect === undefined ? true : bool(o, 'collect', line),
    retainDays: retain,
  };
}

function asToken(o: Obj, line: number): TokenRecord {
  const kind = s(o, 'kind', line);
  if (kind !== 'token' && kind !== 'stable') throw new BackupError(line, `"kind" must be "token" or "stable"`);
  return {
    hash: s(o, 'hash', line),
    appid: s(o, 'appid', line),
    kind,
    issuedAt: n(o, 'issuedAt', line),
    expiresAt: n(o, 'expiresAt', line),
    sealed: str(o, 'sealed', line, true),
  };
}

function asEvent(o: Obj, line: number): VisitEvent {
  const stay = (): number | null => {
    const v = o.stay;
    if (v !== null && (typeof v !== 'number' || !Number.isFinite(v))) throw new BackupError(line, '"stay" must be a number or null');
    return v;
  };
  return {
    eventId: str(o, 'eventId', line, true),
    openid: s(o, 'openid', line),
    time: n(o, 'time', line),
    day: n(o, 'day', line),
    gender: n(o, 'gender', line),
    age: int(o, 'age', line, true),
    ageBucket: n(o, 'ageBucket', line),
    platform: str(o, 'platform', line, true),
    platformId: n(o, 'platformId', line),
    brand: str(o, 'brand', line, true),
    model: str(o, 'model', line, true),
    device: str(o, 'device', line, true),
    province: n(o, 'province', line),
    city: n(o, 'city', line),
    ip: str(o, 'ip', line, true),
    type: s(o, 'type', line),
    page: str(o, 'page', line, true),
    scene: int(o, 'scene', line, true),
    session: str(o, 'session', line, true),
    stay: stay(),
    props: str(o, 'props', line, true),
    ua: o.ua === undefined ? null : str(o, 'ua', line, true),
  };
}

/** The bytes of `input`, gunzipped if they are gzip (a backup is; a plain NDJSON file is read as it is). */
function decoded(input: Readable): Readable {
  const out = new PassThrough();
  (async () => {
    const it = input[Symbol.asyncIterator]();
    const first = (await it.next()) as IteratorResult<Buffer | string>;
    if (first.done) {
      out.end();
      return;
    }
    const head = Buffer.from(first.value);
    const rest = Readable.from(
      (async function* () {
        yield head;
        for (;;) {
          const next = (await it.next()) as IteratorResult<Buffer | string>;
          if (next.done) return;
          yield Buffer.from(next.value);
        }
      })(),
    );
    if (head[0] === 0x1f && head[1] === 0x8b) await pipeline(rest, createGunzip(), out);
    else await pipeline(rest, out);
  })().catch((e: unknown) => out.destroy(e instanceof Error ? e : new Error(String(e))));
  return out;
}

/**
 * Reads a backup from `input`, checking every record, calling `handler` (if given) in file order, events in
 * batches of up to `batchSize` of one app. Throws BackupError for anything that is not a whole, well-formed backup
 * (including one cut short: its counts line is missing or disagrees).
 */
export async function readBackup(input: Readable, handler?: BackupHandler, batchSize = 5000): Promise<{ header: BackupHeader; counts: BackupCounts }> {
  const lines = createInterface({ input: decoded(input), crlfDelay: Infinity });
  let header: BackupHeader | undefined;
  let end: BackupCounts | undefined;
  const seen: BackupCounts = { apps: 0, tokens: 0, usage: 0, first_seen: 0, events: 0 };
  let batchApp = '';
  let batch: VisitEvent[] = [];
  let keptApp = '';
  let kept: FirstSeen[] = [];
  const flushEvents = async () => {
    if (batch.length > 0) await handler?.events(batchApp, batch);
    batch = [];
  };
  const flushKept = async () => {
    if (kept.length > 0) await handler?.firstSeen(keptApp, kept);
    kept = [];
  };
  let no = 0;
  try {
    for await (const text of lines) {
      no++;
      if (text.trim() === '') continue;
      if (end) throw new BackupError(no, 'a record after the closing counts');
      let v: unknown;
      try {
        v = JSON.parse(text);
      } catch {
        throw new BackupError(no, 'not JSON');
      }
      if (!isObj(v)) throw new BackupError(no, 'not a JSON object');
      if (!header) {
        if (v.datacube_backup !== BACKUP_FORMAT) {
          throw new BackupError(0, `not a datacube backup (its first line must be {"datacube_backup":${BACKUP_FORMAT},…})`);
        }
        header = { datacube_backup: BACKUP_FORMAT, created_at: String(v.created_at ?? ''), backend: String(v.backend ?? ''), key: String(v.key ?? '') };
        continue;
      }
      const [kind, body] = Object.entries(v)[0] ?? [];
      if (Object.keys(v).length !== 1 || !isObj(body)) throw new BackupError(no, 'a record must be {"<kind>":{…}}');
      if (kind !== 'event') await flushEvents();
      if (kind !== 'first_seen') await flushKept();
      switch (kind) {
        case 'app':
          await handler?.app(asApp(body, no));
          seen.apps++;
          break;
        case 'token':
          await handler?.token(asToken(body, no));
          seen.tokens++;
          break;
        case 'usage':
          await handler?.usage({ appid: s(body, 'appid', no), api: s(body, 'api', no), day: n(body, 'day', no), calls: n(body, 'calls', no) });
          seen.usage++;
          break;
        case 'first_seen': {
          const appid = s(body, 'appid', no);
          if (appid !== keptApp) await flushKept();
          keptApp = appid;
          kept.push({ openid: s(body, 'openid', no), day: n(body, 'day', no) });
          if (kept.length >= batchSize) await flushKept();
          seen.first_seen++;
          break;
        }
        case 'event': {
          const appid = s(body, 'appid', no);
          if (appid !== batchApp) await flushEvents();
          batchApp = appid;
          batch.push(asEvent(body, no));
          if (batch.length >= batchSize) await flushEvents();
          seen.events++;
          break;
        }
        case 'end':
          end = { apps: n(body, 'apps', no), tokens: n(body, 'tokens', no), usage: n(body, 'usage', no), first_seen: n(body, 'first_seen', no), events: n(body, 'events', no) };
          break;
        default:
          throw new BackupError(no, `unknown record "${String(kind)}"`);
      }
    }
  } catch (e) {
    if (e instanceof BackupError) throw e;
    const why = e instanceof Error ? e.message : String(e);
    throw new BackupError(0, `the backup could not be read (${why}): is it a whole datacube backup?`);
  }
  await flushEvents();
  await flushKept();
  if (!header) throw new BackupError(0, 'the backup is empty');
  if (!end) throw new BackupError(0, 'the backup is incomplete: it stops before its closing counts (was it cut short?)');
  for (const k of Object.keys(seen) as (keyof BackupCounts)[]) {
    if (seen[k] !== end[k]) throw new BackupError(0, `the backup is damaged: it says ${end[k]} ${k} but holds ${seen[k]}`);
  }
  return { header, counts: end };
}
