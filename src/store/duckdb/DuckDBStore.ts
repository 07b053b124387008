import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DuckDBConnection, DuckDBInstance, type DuckDBValue } from '@duckdb/node-api';
import type { VisitEvent } from '../../domain/event.ts';
import type { PortraitCount } from '../../domain/portrait.ts';
import type { Window } from '../../domain/window.ts';
import type { AppPatch, AppRecord, TokenKind, TokenRecord } from '../records.ts';
import { Serial } from '../serial.ts';
import type { AppendResult, Store } from '../store.ts';
import { appendEvents, type AppendRequest, loadEventIdFilter } from './appendEvents.ts';
import type { EventIdFilter } from './eventIdFilter.ts';
import { derivePending } from './derive.ts';
import { portraitCounts } from './portraitQuery.ts';
import { MIGRATIONS } from './schema.ts';

type Row = Record<string, DuckDBValue>;

/** An append waiting for its group commit. */
interface WaitingAppend extends AppendRequest {
  resolve(r: AppendResult): void;
  reject(e: unknown): void;
}

/** Most events one group commit takes (a bound on the transaction's size; the rest goes in the next). */
const GROUP_EVENTS = 50_000;

function num(v: DuckDBValue | undefined): number {
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number') return v;
  return 0;
}

function str(v: DuckDBValue | undefined): string {
  return v === null || v === undefined ? '' : String(v);
}

function appFromRow(r: Row): AppRecord {
  return {
    appid: str(r.appid),
    name: str(r.name),
    secretHash: str(r.secret_hash),
    secretSealed: str(r.secret_sealed),
    env: str(r.env),
    dailyQuota: num(r.daily_quota),
    createdAt: num(r.created_at),
    collect: r.collect !== false,
  };
}

function tokenFromRow(r: Row): TokenRecord {
  return {
    hash: str(r.hash),
    appid: str(r.appid),
    kind: str(r.kind) as TokenKind,
    issuedAt: num(r.issued_at),
    expiresAt: num(r.expires_at),
    sealed: r.sealed === null || r.sealed === undefined ? null : String(r.sealed),
  };
}

/**
 * The embedded store: one DuckDB file. One process owns the file; inside it, one writer connection does all
 * writes one at a time (appends, apps, tokens, usage), one deriving connection folds stored events into the derived
 * tables beside it (see `derive`), and a few reader connections answer queries concurrently.
 */
export class DuckDBStore implements Store {
  readonly backend = 'duckdb' as const;
  private readonly writes = new Serial();
  private readonly derives = new Serial();
  private nextSeq = 1;
  private lastDerived = 0;
  private closed = false;
  private deriveTimer: NodeJS.Timeout | undefined;
  private readerTurn = 0;
  /** appid → its number in the derived tables; numbers are never reassigned. */
  private readonly appNumbers = new Map<string, number>();
  /** Every stored (appid, event_id), approximately: see EventIdFilter. Filled by the first append. */
  private eventIds: EventIdFilter | undefined;
  /** Device id → name, as read so far; ids are never renamed. */
  private readonly deviceNames = new Map<number, string>();
  /** Batches waiting for the next group commit, oldest first. */
  private readonly waitingAppends: WaitingAppend[] = [];
  /** Appended batches and the commits that stored them (batches ÷ commits = batches per shared commit). */
  private readonly stats = { batches: 0, commits: 0 };
  /** Whether a group commit is queued on the writer (it will take every batch waiting by then). */
  private commitScheduled = false;

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly writer: DuckDBConnection,
    private readonly deriver: DuckDBConnection,
    private readonly readers: { conn: DuckDBConnection; serial: Serial }[],
    readonly path: string,
  ) {}

  /**
   * Opens (creating if needed) the DuckDB file at `path` and brings its schema up to date.
   *
   * DuckDB settings: `memory_limit` (default here 512 MB, DuckDB's own is 80 % of RAM) bounds DuckDB's buffer pool,
   * so a bulk import or a long-running server does not keep the whole file cached; portraits need little memory.
   * `checkpoint_threshold` 64 MB (DuckDB's is 16 MB): fewer, larger checkpoints make appends about a third
   * cheaper; the write-ahead log replayed after a crash is at most that large.
   */
  static async create(path: string, opts: { readers?: number; memoryLimit?: string } = {}): Promise<DuckDBStore> {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    const instance = await DuckDBInstance.create(path, { checkpoint_threshold: '64MB', memory_limit: opts.memoryLimit ?? '512MB' });
    const writer = await instance.connect();
    const deriver = await instance.connect();
    const readers = [];
    for (let i = 0; i < (opts.readers ?? 3); i++) readers.push({ conn: await instance.connect(), serial: new Serial() });
    const store = new DuckDBStore(instance, writer, deriver, readers, path);
    await store.migrate();
    await store.loadCounters();
    return store;
  }

  private async migrate(): Promise<void> {
    await this.writer.run('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)');
    const done = await this.writer.runAndReadAll('SELECT coalesce(max(version), 0) AS v FROM schema_migrations');
    const current = num(done.getRowObjects()[0]?.v);
    for (let v = current + 1; v <= MIGRATIONS.length; v++) {
      await this.writer.run('BEGIN TRANSACTION');
      try {
        await this.writer.run(MIGRATIONS[v - 1] ?? '');
        await this.writer.run('INSERT INTO schema_migrations VALUES ($1, $2)', [v, BigInt(Date.now())]);
        await this.writer.run('COMMIT');
      } catch (e) {
        await this.writer.run('ROLLBACK');
        throw e;
      }
    }
  }

  private async loadCounters(): Promise<void> {
    const r = await this.writer.runAndReadAll(
      'SELECT (SELECT coalesce(max(seq), 0) FROM events) AS s, (SELECT last_seq FROM derive_state WHERE id = 1) AS d',
    );
    const row = r.getRowObjects()[0];
    this.nextSeq = num(row?.s) + 1;
    this.lastDerived = num(row?.d);
  }

  /**
   * Another connection to the same database, for maintenance tools and benchmarks that fill or inspect tables
   * directly. It bypasses the store's write queue and derived-state counters: use it on a store that is otherwise
   * idle, never to write `events` (the store keeps track of stored event ids, see EventIdFilter), and close it
   * (`closeSync`) before closing the store.
   */
  async connect(): Promise<DuckDBConnection> {
    if (this.closed) throw new Error('the store is closed');
    return this.instance.connect();
  }

  private read<T>(fn: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
    const r = this.readers[this.readerTurn++ % this.readers.length];
    if (!r) throw new Error('no reader connection');
    return r.serial.run(() => fn(r.conn));
  }

  private async rows(sql: string, values: DuckDBValue[] = []): Promise<Row[]> {
    return this.read(async (c) => (await c.runAndReadAll(sql, values)).getRowObjects());
  }

  private write<T>(fn: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('the store is closed'));
    return this.writes.run(() => fn(this.writer));
  }

  // ---- events

  /**
   * Stores a batch; resolves once it is durable. Batches that arrive while the writer is busy wait together and are
   * committed together (see `commitWaiting`), so concurrent requests share one COMMIT instead of queueing one each.
   */
  append(appid: string, events: readonly VisitEvent[]): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new Error('the store is closed'));
    return new Promise<AppendResult>((resolve, reject) => {
      this.waitingAppends.push({ appid, events, resolve, reject });
      if (!this.commitScheduled) {
        this.commitScheduled = true;
        this.write(() => this.commitWaiting()).catch((e: unknown) => this.failWaiting(e));
      }
    });
  }

  /**
   * The group commit: takes the waiting batches (up to GROUP_EVENTS events, at least one batch) and stores them in
   * one transaction, then answers each. If that transaction fails, each batch is tried alone, so one batch that
   * cannot be stored fails only its own caller.
   */
  private async commitWaiting(): Promise<void> {
    const group: WaitingAppend[] = [];
    let n = 0;
    while (this.waitingAppends.length > 0) {
      const next = this.waitingAppends[0];
      if (!next || (group.length > 0 && n + next.events.length > GROUP_EVENTS)) break;
      this.waitingAppends.shift();
      group.push(next);
      n += next.events.length;
    }
    this.commitScheduled = false;
    if (this.waitingAppends.length > 0) {
      // More than one group's worth waited: the rest goes next, still behind anything queued meanwhile.
      this.commitScheduled = true;
      this.write(() => this.commitWaiting()).catch((e: unknown) => this.failWaiting(e));
    }
    if (group.length === 0) return;
    this.eventIds ??= await loadEventIdFilter(this.writer);
    let accepted = 0;
    try {
      const results = await appendEvents(this.writer, group, this.nextSeq, this.eventIds);
      this.stats.commits++;
      this.stats.batches += group.length;
      group.forEach((g, i) => {
        const r = results[i] ?? { accepted: 0, duplicates: [] };
        this.nextSeq += r.accepted;
        accepted += r.accepted;
        g.resolve(r);
      });
    } catch (e) {
      if (group.length === 1) {
        group[0]?.reject(e);
      } else {
        for (const g of group) {
          try {
            const [r = { accepted: 0, duplicates: [] }] = await appendEvents(this.writer, [g], this.nextSeq, this.eventIds);
            this.stats.commits++;
            this.stats.batches++;
            this.nextSeq += r.accepted;
            accepted += r.accepted;
            g.resolve(r);
          } catch (alone) {
            g.reject(alone);
          }
        }
      }
    }
    if (accepted > 0) this.scheduleDerive();
  }

  /** How many batches `append` stored, in how many commits, since the store was opened. */
  appendStats(): { batches: number; commits: number } {
    return { ...this.stats };
  }

  /** The writer refused the work (the store closed): every waiting batch fails. */
  private failWaiting(e: unknown): void {
    const waiting = this.waitingAppends.splice(0);
    this.commitScheduled = false;
    for (const w of waiting) w.reject(e);
  }

  /** Folds new events into the derived tables soon, so a later portrait has little left to do. */
  private scheduleDerive(): void {
    if (this.deriveTimer || this.closed) return;
    this.deriveTimer = setTimeout(() => {
      this.deriveTimer = undefined;
      this.derive().catch(() => undefined);
    }, 250);
    this.deriveTimer.unref();
  }

  /**
   * Brings the derived tables up to date with every event stored so far. Runs on its own connection, one derive at a
   * time, beside the writer: it writes only derived tables and reads only committed events, so appends do not wait
   * for it (nor it for them).
   */
  async derive(): Promise<void> {
    if (this.lastDerived >= this.nextSeq - 1) return;
    if (this.closed) throw new Error('the store is closed');
    await this.derives.run(async () => {
      const upto = this.nextSeq - 1;
      if (this.lastDerived >= upto) return;
      await derivePending(this.deriver, this.lastDerived, upto);
      this.lastDerived = upto;
    });
  }

  async portrait(appid: string, window: Window): Promise<PortraitCount[]> {
    await this.derive();
    return this.read((conn) => portraitCounts(conn, appid, window, this.appNumbers, this.deviceNames));
  }

  async countEvents(appid: string): Promise<number> {
    const r = await this.rows('SELECT count(*) AS n FROM events WHERE appid = $1', [appid]);
    return num(r[0]?.n);
  }

  async exportEvents(appid: string, onBatch: (events: VisitEvent[]) => Promise<void>, batchSize = 10_000): Promise<number> {
    let after = 0;
    let total = 0;
    for (;;) {
      const rows = await this.rows(
        `SELECT * FROM events WHERE appid = $1 AND seq > $2 ORDER BY seq LIMIT ${Math.max(1, Math.floor(batchSize))}`,
        [appid, BigInt(after)],
      );
      if (rows.length === 0) return total;
      const batch = rows.map(eventFromRow);
      after = num(rows[rows.length - 1]?.seq);
      total += batch.length;
      await onBatch(batch);
    }
  }

  // ---- apps

  async createApp(app: AppRecord): Promise<void> {
    await this.write((c) =>
      c.run('INSERT INTO apps VALUES ($1, $2, $3, $4, $5, $6, $7, $8)', [
        app.appid,
        app.name,
        app.secretHash,
        app.secretSealed,
        app.env,
        BigInt(app.dailyQuota),
        BigInt(app.createdAt),
        app.collect,
      ]),
    );
  }

  async getApp(appid: string): Promise<AppRecord | undefined> {
    const r = await this.rows('SELECT * FROM apps WHERE appid = $1', [appid]);
    return r[0] ? appFromRow(r[0]) : undefined;
  }

  async getAppByEnv(env: string): Promise<AppRecord | undefined> {
    const r = await this.rows('SELECT * FROM apps WHERE env = $1 ORDER BY created_at LIMIT 1', [env]);
    return r[0] ? appFromRow(r[0]) : undefined;
  }

  async listApps(): Promise<AppRecord[]> {
    return (await this.rows('SELECT * FROM apps ORDER BY created_at, appid')).map(appFromRow);
  }

  async updateApp(appid: string, patch: AppPatch): Promise<AppRecord | undefined> {
    const cols: [string, DuckDBValue][] = [];
    if (patch.name !== undefined) cols.push(['name', patch.name]);
    if (patch.env !== undefined) cols.push(['env', patch.env]);
    if (patch.dailyQuota !== undefined) cols.push(['daily_quota', BigInt(patch.dailyQuota)]);
    if (patch.secretHash !== undefined) cols.push(['secret_hash', patch.secretHash]);
    if (patch.secretSealed !== undefined) cols.push(['secret_sealed', patch.secretSealed]);
    if (patch.collect !== undefined) cols.push(['collect', patch.collect]);
    if (cols.length > 0) {
      const set = cols.map(([k], i) => `${k} = $${i + 2}`).join(', ');
      await this.write((c) => c.run(`UPDATE apps SET ${set} WHERE appid = $1`, [appid, ...cols.map(([, v]) => v)]));
    }
    return this.getApp(appid);
  }

  // ---- tokens

  async putToken(t: TokenRecord): Promise<void> {
    await this.write((c) =>
      c.run('INSERT INTO tokens VALUES ($1, $2, $3, $4, $5, $6)', [
        t.hash,
        t.appid,
        t.kind,
        BigInt(t.issuedAt),
        BigInt(t.expiresAt),
        t.sealed,
      ]),
    );
  }

  async getToken(hash: string): Promise<TokenRecord | undefined> {
    const r = await this.rows('SELECT * FROM tokens WHERE hash = $1', [hash]);
    return r[0] ? tokenFromRow(r[0]) : undefined;
  }

  async retireTokens(appid: string, kind: TokenKind, expiresAt: number, keepHash?: string): Promise<void> {
    await this.write((c) =>
      c.run('UPDATE tokens SET expires_at = $3 WHERE appid = $1 AND kind = $2 AND expires_at > $3 AND hash <> $4', [
        appid,
        kind,
        BigInt(expiresAt),
        keepHash ?? '',
      ]),
    );
  }

  async latestToken(appid: string, kind: TokenKind, now: number): Promise<TokenRecord | undefined> {
    const r = await this.rows(
      'SELECT * FROM tokens WHERE appid = $1 AND kind = $2 AND expires_at > $3 ORDER BY issued_at DESC, expires_at DESC LIMIT 1',
      [appid, kind, BigInt(now)],
    );
    return r[0] ? tokenFromRow(r[0]) : undefined;
  }

  // ---- usage

  async addUsage(appid: string, api: string, day: number, calls: number): Promise<number> {
    return this.write(async (c) => {
      const r = await c.runAndReadAll(
        `INSERT INTO usage VALUES ($1, $2, $3, $4)
         ON CONFLICT (appid, api, day) DO UPDATE SET calls = usage.calls + excluded.calls
         RETURNING calls`,
        [appid, api, day, BigInt(calls)],
      );
      return num(r.getRowObjects()[0]?.calls);
    });
  }

  async getUsage(appid: string, api: string, day: number): Promise<number> {
    const r = await this.rows('SELECT calls FROM usage WHERE appid = $1 AND api = $2 AND day = $3', [appid, api, day]);
    return num(r[0]?.calls);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.deriveTimer) clearTimeout(this.deriveTimer);
    this.deriveTimer = undefined;
    // Let queued writes finish, then fold what is pending so the next start has nothing to catch up on.
    await this.writes.run(async () => undefined);
    await this.derive().catch(() => undefined);
    await this.writes.run(async () => {
      this.closed = true;
    });
    await this.derives.run(async () => undefined);
    await this.writer.run('CHECKPOINT').catch(() => undefined);
    for (const r of this.readers) await r.serial.run(async () => r.conn.closeSync());
    this.deriver.closeSync();
    this.writer.closeSync();
    this.instance.closeSync();
  }
}

function nullableStr(v: DuckDBValue | undefined): string | null {
  return v === null || v === undefined ? null : String(v);
}
function nullableNum(v: DuckDBValue | undefined): number | null {
  return v === null || v === undefined ? null : num(v);
}

function eventFromRow(r: Row): VisitEvent {
  return {
    eventId: nullableStr(r.event_id),
    openid: str(r.openid),
    time: num(r.time),
    day: num(r.day),
    gender: num(r.gender),
    age: nullableNum(r.age),
    ageBucket: num(r.age_bucket),
    platform: nullableStr(r.platform),
    platformId: num(r.platform_id),
    brand: nullableStr(r.brand),
    model: nullableStr(r.model),
    device: nullableStr(r.device),
    province: num(r.province),
    city: num(r.city),
    ip: nullableStr(r.ip),
    ua: nullableStr(r.ua),
    type: str(r.type),
    page: nullableStr(r.page),
    scene: nullableNum(r.scene),
    session: nullableStr(r.session),
    stay: nullableNum(r.stay),
    props: nullableStr(r.props),
  };
}

