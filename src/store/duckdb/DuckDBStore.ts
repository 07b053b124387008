import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DuckDBConnection, DuckDBInstance, DuckDBValue } from '@duckdb/node-api';
import type { DistributionCount, PageCounts, RetentionCounts, SummaryCounts, TrendCounts } from '../../domain/analysis.ts';
import type { VisitEvent } from '../../domain/event.ts';
import type { PortraitCount } from '../../domain/portrait.ts';
import type { Window } from '../../domain/window.ts';
import type { FirstSeen, PruneCut, Pruned, SnapshotCounts, SnapshotSink, StoreContents, UsersDeleted } from '../lifecycle.ts';
import type { AppPatch, AppRecord, TokenKind, TokenRecord } from '../records.ts';
import { Serial } from '../serial.ts';
import type { AppendResult, EventStats, Store, StoreOptions } from '../store.ts';
import { appendEvents, type AppendRequest, loadEventIdFilter } from './appendEvents.ts';
import { DuckDBAnalysis } from './DuckDBAnalysis.ts';
import { admitDevices, type Admission } from '../deviceCap.ts';
import { abandonCopy, catchUp, copyLive, markReady, recoverCompaction, swapFiles } from './compact.ts';
import { DeviceDictionaries } from './deviceDictionary.ts';
import type { EventIdFilter } from './eventIdFilter.ts';
import { derivePending } from './derive.ts';
import { DeriveQueue, type DeriveStep } from './deriveQueue.ts';
import { deleteUsersIn, keptFirstSeen, pruneIn, restoreFirstSeenIn } from './personal.ts';
import { DeviceNames, portraitCounts } from './portraitQuery.ts';
import { duckdb } from './nodeApi.ts';
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
    collect: r.collect !== false,
    dailyQuota: num(r.daily_quota),
    createdAt: num(r.created_at),
    retainDays: r.retain_days === null || r.retain_days === undefined ? null : num(r.retain_days),
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

/** DuckDB settings of the store's instance (kept to reopen the file after a compaction). */
type InstanceSettings = Record<string, string>;

/** Options of the embedded store (the server passes its configuration; see src/config.ts). */
export interface DuckDBStoreOptions extends StoreOptions {
  /** More DuckDB settings for the instance (tests use `force_compression`). */
  settings?: InstanceSettings;
  /** Reader connections for queries (default 3). */
  readers?: number;
  /** DuckDB's buffer pool (default 512MB). */
  memoryLimit?: string;
  /**
   * Events of one app appended but not yet derived before that app's next append waits for its derive (default
   * 100,000). Bounds how long the app's own portrait can wait for its own backlog.
   */
  maxDeriveBacklog?: number;
  /** Most events one derive step folds in (default 50,000): bounds how long another app's step can delay a portrait. */
  deriveChunkEvents?: number;
}

export const DEFAULT_MAX_DEVICE_NAMES = 20_000;
export const DEFAULT_MAX_DERIVE_BACKLOG = 100_000;
/** Largest cap on device names: ids must stay below the overflow id (OVERFLOW_DEVICE_ID, 2^20 − 1). */
export const MAX_DEVICE_NAMES_LIMIT = 1_000_000;
const DEFAULT_DERIVE_CHUNK = 50_000;
/** After a failed derive step, the app is tried again this much later (sooner if someone asks for its portrait). */
const DERIVE_RETRY_MS = 5_000;
/** Longest a derive step waits for running portrait queries to finish before it starts anyway. */
const PORTRAIT_PRIORITY_MS = 1_000;

/**
 * The embedded store: one DuckDB file. One process owns the file; inside it, one writer connection does all
 * writes one at a time (appends, apps, tokens, usage), one deriving connection folds stored events into the derived
 * tables beside it (see `derive`), and a few reader connections answer queries concurrently.
 *
 * Apps are isolated by construction: everything open-ended in the derived tables (users, device names) is numbered
 * per app, with at most `maxDeviceNames` device names per app, and each app is derived on its own (see
 * DeriveQueue), so no volume of one app's input changes another app's answers or makes its portraits wait.
 *
 * Deletions, retention and snapshots (`maintenance`) run one at a time; deletions and retention end with a
 * compaction (compact.ts) that replaces the file, and so the instance and its connections, under every connection's
 * lock (the derive loop is held between two steps: `holdDerive`).
 */
export class DuckDBStore implements Store {
  readonly backend = 'duckdb' as const;
  private readonly writes = new Serial();
  private readonly maintenance = new Serial();
  /** Holders of the deriving connection (maintenance): while any, the derive loop runs no step. */
  private deriveHeld = 0;
  private nextSeq = 1;
  private closed = false;
  private closing = false;
  private deriveTimer: NodeJS.Timeout | undefined;
  private deriveLoop: Promise<void> | undefined;
  private readerTurn = 0;
  /** appid → its number in the derived tables; numbers are never reassigned. */
  private readonly appNumbers = new Map<string, number>();
  private nextApp = 1;
  /** Each app's largest uid so far (read when the app is first derived). */
  private readonly maxUids = new Map<number, number>();
  private readonly queue: DeriveQueue;
  /** Portrait queries running now; derive steps wait for them (see runDeriveLoop). */
  private portraitsRunning = 0;
  private readonly portraitsDone: (() => void)[] = [];
  private readonly dictionaries = new DeviceDictionaries();
  private readonly maxDeviceNames: number;
  private readonly maxDeriveBacklog: number;
  /** Every stored (appid, event_id), approximately: see EventIdFilter. Filled by the first append. */
  private eventIds: EventIdFilter | undefined;
  /** Batches waiting for the next group commit, oldest first. */
  private readonly waitingAppends: WaitingAppend[] = [];
  /** Appended batches and the commits that stored them (batches ÷ commits = batches per shared commit). */
  private readonly stats = { batches: 0, commits: 0 };
  /** Whether a group commit is queued on the writer (it will take every batch waiting by then). */
  private commitScheduled = false;
  /** Device names by (app, id), as read so far; ids are never renamed. */
  private readonly deviceNames = new DeviceNames();
  /** The analysis family's tables (trends, retention, distributions, pages), folded per app apart from the portrait's. */
  private readonly analysis = new DuckDBAnalysis();
  /** The deriving connection, used by one thing at a time: a derive step or an app's analysis fold. */
  private readonly deriverUse = new Serial();
  private analysisTimer: NodeJS.Timeout | undefined;

  private constructor(
    private instance: DuckDBInstance,
    private writer: DuckDBConnection,
    private deriver: DuckDBConnection,
    private readonly readers: { conn: DuckDBConnection; serial: Serial }[],
    readonly path: string,
    opts: DuckDBStoreOptions,
    private readonly settings: InstanceSettings,
  ) {
    this.maxDeviceNames = Math.min(MAX_DEVICE_NAMES_LIMIT, Math.max(1, opts.maxDeviceNames ?? DEFAULT_MAX_DEVICE_NAMES));
    this.maxDeriveBacklog = Math.max(1, opts.maxDeriveBacklog ?? DEFAULT_MAX_DERIVE_BACKLOG);
    this.queue = new DeriveQueue(Math.max(1, opts.deriveChunkEvents ?? DEFAULT_DERIVE_CHUNK));
  }

  /**
   * Opens (creating if needed) the DuckDB file at `path` and brings its schema up to date.
   *
   * DuckDB settings: `memory_limit` (default here 512 MB, DuckDB's own is 80 % of RAM) bounds DuckDB's buffer pool,
   * so a bulk import or a long-running server does not keep the whole file cached; portraits need little memory.
   * `checkpoint_threshold` 64 MB (DuckDB's is 16 MB): fewer, larger checkpoints make appends about a third
   * cheaper; the write-ahead log replayed after a crash is at most that large. A compaction that a crash interrupted
   * is finished or undone first (compact.ts).
   */
  static async create(path: string, opts: DuckDBStoreOptions = {}): Promise<DuckDBStore> {
    if (path !== ':memory:') {
      mkdirSync(dirname(path), { recursive: true });
      recoverCompaction(path);
    }
    const settings: InstanceSettings = { checkpoint_threshold: '64MB', memory_limit: opts.memoryLimit ?? '512MB', ...opts.settings };
    const instance = await duckdb.DuckDBInstance.create(path, settings);
    const writer = await instance.connect();
    const deriver = await instance.connect();
    const readers = [];
    for (let i = 0; i < (opts.readers ?? 3); i++) readers.push({ conn: await instance.connect(), serial: new Serial() });
    const store = new DuckDBStore(instance, writer, deriver, readers, path, opts, settings);
    await store.migrate();
    await store.loadCounters();
    await store.analysis.load(store.writer);
    if (store.queue.hasPending()) store.kickDerive(0);
    return store;
  }

  private async migrate(): Promise<void> {
    await this.writer.run('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)');
    const done = await this.writer.runAndReadAll('SELECT coalesce(max(version), 0) AS v FROM schema_migrations');
    const current = num(done.getRowObjects()[0]?.v);
    for (let v = current + 1; v <= MIGRATIONS.length; v++) {
      await this.writer.run('BEGIN TRANSACTION');
      try {
        const m = MIGRATIONS[v - 1] ?? '';
        if (typeof m === 'string') await this.writer.run(m);
        else await m(this.writer);
        await this.writer.run('INSERT INTO schema_migrations VALUES ($1, $2)', [v, BigInt(Date.now())]);
        await this.writer.run('COMMIT');
      } catch (e) {
        await this.writer.run('ROLLBACK');
        throw e;
      }
    }
  }

  /** Sequence and app numbers, and each app's derive progress and pending events (from before a restart). */
  private async loadCounters(): Promise<void> {
    this.nextSeq = num((await this.writer.runAndReadAll('SELECT coalesce(max(seq), 0) AS s FROM events')).getRowObjects()[0]?.s) + 1;
    for (const p of await this.readProgress()) {
      this.appNumbers.set(p.appid, p.app);
      this.nextApp = Math.max(this.nextApp, p.app + 1);
      this.queue.add({ appid: p.appid, app: p.app, derived: p.derived, hasProgressRow: p.hasProgressRow }, p.pending);
    }
  }

  /** Each app's number and derive progress as the file has them, with the events not derived yet. */
  private async readProgress(): Promise<
    { appid: string; app: number; derived: number; hasProgressRow: boolean; pending: { end: number; count: number } | undefined }[]
  > {
    const rows = async (sql: string) => (await this.writer.runAndReadAll(sql)).getRowObjects();
    const apps = await rows('SELECT n.appid, n.app, d.last_seq FROM app_numbers n LEFT JOIN app_derive d ON d.app = n.app');
    let lowest = Infinity;
    for (const r of apps) lowest = Math.min(lowest, r.last_seq === null ? 0 : num(r.last_seq));
    const pending = new Map<string, { end: number; count: number }>();
    if (apps.length > 0 && lowest < this.nextSeq - 1) {
      const r = await rows(
        `SELECT e.appid, count(*) AS n, max(e.seq) AS m FROM events e
         JOIN (SELECT n.appid, coalesce(d.last_seq, 0) AS last FROM app_numbers n LEFT JOIN app_derive d ON d.app = n.app) x
           ON x.appid = e.appid
         WHERE e.seq > ${lowest} AND e.seq > x.last GROUP BY e.appid`,
      );
      for (const p of r) pending.set(str(p.appid), { end: num(p.m), count: num(p.n) });
    }
    return apps.map((r) => ({
      appid: str(r.appid),
      app: num(r.app),
      derived: r.last_seq === null ? 0 : num(r.last_seq),
      hasProgressRow: r.last_seq !== null,
      pending: pending.get(str(r.appid)),
    }));
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
   * An app whose derive lags more than `maxDeriveBacklog` events behind waits for it first (outside the write queue,
   * so other apps' appends go on): that bounds how long the app's own portrait can wait for its backlog.
   */
  async append(appid: string, events: readonly VisitEvent[]): Promise<AppendResult> {
    if (this.closed) throw new Error('the store is closed');
    const progress = this.queue.get(appid);
    if (progress && progress.pending > this.maxDeriveBacklog) {
      const caughtUp = this.queue.untilBacklog(appid, this.maxDeriveBacklog);
      this.kickDerive(0);
      await caughtUp;
    }
    if (this.closed) throw new Error('the store is closed');
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
      const results = await this.storeGroup(group);
      group.forEach((g, i) => {
        const r = results[i] ?? { accepted: 0, duplicates: [] };
        accepted += r.accepted;
        g.resolve(r);
      });
    } catch (e) {
      if (group.length === 1) {
        group[0]?.reject(e);
      } else {
        for (const g of group) {
          try {
            const [r = { accepted: 0, duplicates: [] }] = await this.storeGroup([g]);
            accepted += r.accepted;
            g.resolve(r);
          } catch (alone) {
            g.reject(alone);
          }
        }
      }
    }
    if (accepted > 0) this.kickDerive(250);
  }

  /**
   * One transaction for a group of batches (on the writer): the events, the app numbers of apps new here, and the
   * device names each app's dictionary admits (at most `maxDeviceNames` per app, in the group's order). Once
   * committed, the in-memory counters follow and each batch's events are queued for derive.
   */
  private async storeGroup(group: readonly AppendRequest[]): Promise<AppendResult[]> {
    const firstSeq = this.nextSeq;
    const newApps = new Map<string, number>();
    const admissions: (Admission | undefined)[] = [];
    const admitted: { app: number; names: { id: number; name: string }[] }[] = [];
    const eventIds = this.eventIds;
    if (!eventIds) throw new Error('the event id filter is not loaded');
    let results: AppendResult[];
    try {
      results = await appendEvents(this.writer, group, firstSeq, eventIds, async (c, skipped) => {
        // Names admitted by earlier batches of this group, per app (not yet in the dictionaries).
        const fresh = new Map<number, { ids: Map<string, number>; next: number }>();
        for (const [k, g] of group.entries()) {
          let app = this.appNumbers.get(g.appid) ?? newApps.get(g.appid);
          if (app === undefined) {
            app = this.nextApp + newApps.size;
            newApps.set(g.appid, app);
            await c.run('INSERT INTO app_numbers VALUES ($1, $2)', [g.appid, app]);
          }
          const skip = skipped[k] ?? new Set<number>();
          if (!g.events.some((e, i) => e.device !== null && !skip.has(i))) {
            admissions.push(undefined);
            continue;
          }
          const dict = await this.dictionaries.get(c, app);
          let f = fresh.get(app);
          if (!f) fresh.set(app, (f = { ids: new Map(), next: dict.maxId + 1 }));
          const pending = f;
          const a = admitDevices((name) => dict.ids.has(name) || pending.ids.has(name), dict.ids.size + pending.ids.size, g.events, skip, this.maxDeviceNames);
          admissions.push(a);
          if (a.admitted.length === 0) continue;
          const names = a.admitted.map((name) => ({ id: pending.next++, name }));
          for (const x of names) pending.ids.set(x.name, x.id);
          admitted.push({ app, names });
          const ap = await c.createAppender('app_devices');
          for (const d of names) {
            ap.appendInteger(app);
            ap.appendInteger(d.id);
            ap.appendVarchar(d.name);
            ap.endRow();
          }
          ap.flushSync();
          ap.closeSync();
        }
      });
    } catch (e) {
      for (const g of group) {
        const app = this.appNumbers.get(g.appid);
        if (app !== undefined) this.dictionaries.forget(app);
      }
      throw e;
    }
    this.stats.commits++;
    this.stats.batches += group.length;
    for (const [appid, app] of newApps) this.appNumbers.set(appid, app);
    this.nextApp += newApps.size;
    for (const a of admitted) this.dictionaries.apply(a.app, a.names);
    let seq = firstSeq;
    group.forEach((g, k) => {
      const r = results[k] ?? { accepted: 0, duplicates: [] };
      if (newApps.has(g.appid) && !this.queue.get(g.appid)) {
        this.queue.add({ appid: g.appid, app: newApps.get(g.appid) ?? 0, derived: seq - 1, hasProgressRow: false });
      }
      if (r.accepted > 0) this.queue.appended(g.appid, seq + r.accepted - 1, r.accepted);
      seq += r.accepted;
      const a = admissions[k];
      if (a && a.overflow.size > 0) r.deviceOverflow = { events: a.overflow.size, names: a.overflowNames, cap: this.maxDeviceNames };
    });
    this.nextSeq = seq;
    return results;
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

  /**
   * Starts the derive loop, now or after `delayMs` (appends wait a little, so that one step folds several batches
   * in; a portrait or a held-back append asks for it at once).
   */
  private kickDerive(delayMs: number): void {
    if (this.closed || this.deriveLoop || this.deriveHeld > 0) return;
    if (delayMs > 0) {
      if (this.deriveTimer) return;
      this.deriveTimer = setTimeout(() => {
        this.deriveTimer = undefined;
        this.kickDerive(0);
      }, delayMs);
      this.deriveTimer.unref();
      return;
    }
    if (this.deriveTimer) clearTimeout(this.deriveTimer);
    this.deriveTimer = undefined;
    this.deriveLoop = this.runDeriveLoop().finally(() => {
      this.deriveLoop = undefined;
      const retry = this.queue.nextRetry();
      if (retry !== undefined && !this.closed) this.kickDerive(Math.max(1, retry - Date.now()));
    });
  }

  /**
   * Runs derive steps, one at a time on the deriving connection, until nothing is pending. A step does not start
   * while portrait queries run (they are short; it waits at most PORTRAIT_PRIORITY_MS), so that the CPU a portrait
   * needs is not taken by another app's backlog.
   */
  private async runDeriveLoop(): Promise<void> {
    for (;;) {
      const step = this.queue.next(Date.now());
      if (!step || this.closed || this.deriveHeld > 0) return;
      if (this.portraitsRunning > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, PORTRAIT_PRIORITY_MS);
          function done(): void {
            clearTimeout(timer);
            resolve();
          }
          this.portraitsDone.push(done);
        });
      }
      await this.deriverUse.run(() => this.deriveStep(step));
      // The app's analysis tables: folded now when due, else a little later (see DuckDBAnalysis.dueIn); a query
      // of the app folds whatever is still pending first.
      const { app, appid } = step.progress;
      const due = this.analysis.dueIn(app, this.queue.appendedUpto(appid));
      if (due === 0) await this.foldAnalysis(app, appid).catch(() => undefined);
      else if (due !== undefined) this.foldAnalysisLater(due);
    }
  }

  private async deriveStep(step: DeriveStep): Promise<void> {
    const { app, appid, hasProgressRow } = step.progress;
    try {
      let maxUid = this.maxUids.get(app);
      if (maxUid === undefined) {
        const r = await this.deriver.runAndReadAll('SELECT coalesce(max(uid), 0) AS m FROM users WHERE app = $1', [app]);
        maxUid = num(r.getRowObjects()[0]?.m);
      }
      const after = await derivePending(this.deriver, { appid, app, after: step.after, upto: step.upto, maxUid, hasProgressRow });
      this.maxUids.set(app, after);
      this.queue.done(step);
    } catch (e) {
      this.maxUids.delete(app);
      this.queue.failed(step, e, Date.now() + DERIVE_RETRY_MS);
    }
  }

  /**
   * Brings the derived tables up to date with every event stored so far (the store does this by itself in the
   * background; a portrait waits only for its own app). Rejects if an app's events cannot be derived.
   */
  /** Folds the app's events appended so far into the analysis tables (on the deriving connection, between steps). */
  private foldAnalysis(app: number, appid: string): Promise<void> {
    return this.deriverUse.run(() => this.analysis.derive(this.deriver, app, appid, this.queue.appendedUpto(appid)));
  }

  /** Folds, after `ms`, the analysis tables of every app whose fold is due by then (once events stopped coming). */
  private foldAnalysisLater(ms: number): void {
    if (this.analysisTimer || this.closed || this.closing) return;
    this.analysisTimer = setTimeout(() => {
      this.analysisTimer = undefined;
      void (async () => {
        let next: number | undefined;
        for (const [appid, app] of this.appNumbers) {
          if (this.closed || this.closing) return;
          const due = this.analysis.dueIn(app, this.queue.appendedUpto(appid));
          if (due === 0) await this.foldAnalysis(app, appid).catch(() => undefined);
          else if (due !== undefined) next = Math.min(next ?? due, due);
        }
        if (next !== undefined) this.foldAnalysisLater(next);
      })();
    }, Math.max(1, ms));
    this.analysisTimer.unref();
  }

  /** An analysis query's app, its analysis tables folded up to every event appended so far. */
  private async analysisReady(appid: string): Promise<void> {
    if (this.closed) throw new Error('the store is closed');
    const app = this.appNumbers.get(appid);
    if (app !== undefined && !this.analysis.upTo(app, this.queue.appendedUpto(appid))) await this.foldAnalysis(app, appid);
  }

  async derive(): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const appid of this.appNumbers.keys()) waits.push(this.queue.until(appid, this.queue.appendedUpto(appid)));
    this.kickDerive(0);
    await Promise.all(waits);
    for (const [appid, app] of this.appNumbers) {
      if (!this.analysis.upTo(app, this.queue.appendedUpto(appid))) await this.foldAnalysis(app, appid);
    }
  }

  /** Events of the app stored but not yet folded into the derived tables (for stats and tests). */
  pendingEvents(appid: string): number {
    return this.queue.get(appid)?.pending ?? 0;
  }

  async portrait(appid: string, window: Window): Promise<PortraitCount[]> {
    if (this.closed) throw new Error('the store is closed');
    const app = this.appNumbers.get(appid);
    if (app === undefined) return [];
    // Only this app's events appended so far need to be in: other apps' backlogs are not waited for.
    const ready = this.queue.until(appid, this.queue.appendedUpto(appid));
    this.kickDerive(0);
    await ready;
    this.portraitsRunning++;
    try {
      return await this.read((conn) => portraitCounts(conn, app, window, this.deviceNames));
    } finally {
      if (--this.portraitsRunning === 0) for (const done of this.portraitsDone.splice(0)) done();
    }
  }

  // ---- the rest of the analysis family (DuckDBAnalysis)

  async visitTrend(appid: string, window: Window): Promise<TrendCounts> {
    await this.analysisReady(appid);
    return this.read((c) => this.analysis.trend(c, appid, window));
  }

  async dailySummary(appid: string, day: number): Promise<SummaryCounts> {
    await this.analysisReady(appid);
    return this.read((c) => this.analysis.summary(c, appid, day));
  }

  async visitDistribution(appid: string, day: number): Promise<DistributionCount[]> {
    await this.analysisReady(appid);
    return this.read((c) => this.analysis.distribution(c, appid, day));
  }

  async visitPages(appid: string, day: number, limit: number): Promise<PageCounts[]> {
    await this.analysisReady(appid);
    return this.read((c) => this.analysis.pages(c, appid, day, limit));
  }

  async retention(appid: string, cohort: Window, later: readonly Window[]): Promise<RetentionCounts> {
    await this.analysisReady(appid);
    return this.read((c) => this.analysis.retention(c, appid, cohort, later));
  }

  async countEvents(appid: string): Promise<number> {
    const r = await this.rows('SELECT count(*) AS n FROM events WHERE appid = $1', [appid]);
    return num(r[0]?.n);
  }

  async eventStats(): Promise<EventStats[]> {
    const r = await this.rows('SELECT appid, count(*) AS n, max(time) AS t FROM events GROUP BY appid ORDER BY appid');
    return r.map((x) => ({ appid: str(x.appid), events: num(x.n), lastTime: num(x.t) }));
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
      c.run(
        `INSERT INTO apps (appid, name, secret_hash, secret_sealed, env, daily_quota, created_at, collect, retain_days)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [app.appid, app.name, app.secretHash, app.secretSealed, app.env, BigInt(app.dailyQuota), BigInt(app.createdAt), app.collect, app.retainDays ?? null],
      ),
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
    if (patch.retainDays !== undefined) cols.push(['retain_days', patch.retainDays]);
    if (cols.length > 0) {
      const set = cols.map(([k], i) => `${k} = $${i + 2}`).join(', ');
      await this.write((c) => c.run(`UPDATE apps SET ${set} WHERE appid = $1`, [appid, ...cols.map(([, v]) => v)]));
    }
    return this.getApp(appid);
  }

  /**
   * Deletes the app's rows from every table that has an `appid` column, and from every table keyed by its app
   * number (`app`), so tables added by later migrations are covered too. Pending events are folded first and the
   * deriving connection waits meanwhile, so no derive can bring rows of the app back. The app keeps its number.
   * The file is then written afresh (as after a deletion of users), so the app's bytes leave it too.
   */
  async deleteApp(appid: string): Promise<boolean> {
    const existed = await this.deleteAppRows(appid);
    if (existed) await this.maintenance.run(() => this.compactAfter('the app was deleted'));
    return existed;
  }

  private async deleteAppRows(appid: string): Promise<boolean> {
    // The app's pending events are folded in first, so that no derive step of it runs while its rows go.
    const ready = this.queue.until(appid, this.queue.appendedUpto(appid));
    this.kickDerive(0);
    await ready;
    // No analysis fold runs while the app's rows go (its an_* tables have an `app` column and are emptied too).
    return this.deriverUse.run(() => this.write(async (c) => {
      const found = await c.runAndReadAll('SELECT count(*) AS n FROM apps WHERE appid = $1', [appid]);
      const existed = num(found.getRowObjects()[0]?.n) > 0;
      const cols = (
        await c.runAndReadAll(
          `SELECT c.table_name AS t, c.column_name AS k FROM information_schema.columns c
             JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
           WHERE c.table_schema = 'main' AND t.table_type = 'BASE TABLE' AND c.column_name IN ('appid', 'app')
             AND c.table_name <> 'app_numbers' ORDER BY c.table_name`,
        )
      ).getRowObjects();
      const numbered = await c.runAndReadAll('SELECT app FROM app_numbers WHERE appid = $1', [appid]);
      const app = numbered.getRowObjects()[0]?.app;
      await c.run('BEGIN TRANSACTION');
      try {
        for (const col of cols) {
          const table = `"${str(col.t).replace(/"/g, '""')}"`;
          if (col.k === 'appid') await c.run(`DELETE FROM ${table} WHERE appid = $1`, [appid]);
          else if (app !== undefined && app !== null) await c.run(`DELETE FROM ${table} WHERE app = $1`, [app]);
        }
        await c.run('COMMIT');
      } catch (e) {
        await c.run('ROLLBACK');
        throw e;
      }
      // What is cached of the app's derived rows went with them.
      const progress = this.queue.get(appid);
      if (progress) progress.hasProgressRow = false;
      if (app !== undefined && app !== null) {
        this.maxUids.delete(Number(app));
        this.dictionaries.forget(Number(app));
        this.analysis.forget(Number(app));
      }
      this.deviceNames.clear();
      return existed;
    }));
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

  // ---- stable_token forced refreshes

  async addForceRefresh(appid: string, at: number): Promise<void> {
    await this.write((c) => c.run('INSERT INTO force_refreshes VALUES ($1, $2)', [appid, BigInt(at)]));
  }

  async forceRefreshTimes(appid: string, since: number): Promise<number[]> {
    const r = await this.rows('SELECT refreshed_at FROM force_refreshes WHERE appid = $1 AND refreshed_at >= $2 ORDER BY refreshed_at', [appid, BigInt(since)]);
    return r.map((x) => num(x.refreshed_at));
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

  // ---- personal data over its life

  /**
   * Holds the deriving connection for maintenance: the derive loop finishes the step it runs and starts no other,
   * and no analysis fold runs, until released (then they go on with whatever is pending). Steps and folds the holder
   * needs, it runs itself.
   */
  private async holdDerive(): Promise<() => void> {
    this.deriveHeld++;
    if (this.deriveTimer) clearTimeout(this.deriveTimer);
    this.deriveTimer = undefined;
    await this.deriveLoop;
    const releaseUse = await this.deriverUse.hold();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      releaseUse();
      if (--this.deriveHeld === 0 && this.queue.hasPending()) this.kickDerive(0);
    };
  }

  /** Folds every stored event of the app into the derived tables of both families, on the held deriving connection. */
  private async deriveAllOf(appid: string): Promise<void> {
    for (;;) {
      const p = this.queue.get(appid);
      if (!p) return;
      if (p.pending === 0) {
        await this.analysis.derive(this.deriver, p.app, appid, this.queue.appendedUpto(appid));
        return;
      }
      // Someone waiting for the app makes the queue pick it first.
      const waiting = this.queue.until(appid, this.queue.appendedUpto(appid)).catch(() => undefined);
      const step = this.queue.next(Number.MAX_SAFE_INTEGER);
      if (!step) throw new Error(`the events of app ${appid} cannot be folded in`);
      const before = step.progress.derived;
      await this.deriveStep(step);
      if (step.progress.appid === appid && step.progress.derived === before) {
        throw new Error(`the events of app ${appid} cannot be folded into the derived tables; nothing was deleted`);
      }
      void waiting;
    }
  }

  /**
   * Runs `fn` on the writer connection in one transaction, with every stored event of the app folded into the derived
   * tables (so derived rows of what `fn` deletes exist to be deleted) and nothing else writing meanwhile: the deriving
   * connection held, then the writer. The app's backlog is folded before the writer is taken, so appends wait only
   * for what arrived meanwhile.
   */
  private async withAppDerived<T>(appid: string, fn: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
    if (this.closed) throw new Error('the store is closed');
    const releaseDerive = await this.holdDerive();
    try {
      await this.deriveAllOf(appid);
      const releaseWrite = await this.writes.hold();
      try {
        if (this.closed) throw new Error('the store is closed');
        await this.deriveAllOf(appid);
        await this.writer.run('BEGIN TRANSACTION');
        try {
          const out = await fn(this.writer);
          await this.writer.run('COMMIT');
          return out;
        } catch (e) {
          await this.writer.run('ROLLBACK').catch(() => undefined);
          throw e;
        }
      } finally {
        releaseWrite();
      }
    } finally {
      releaseDerive();
    }
  }

  async deleteUsers(appid: string, openids: readonly string[]): Promise<UsersDeleted> {
    if (openids.length === 0) return { users: 0, events: 0 };
    return this.maintenance.run(async () => {
      const r = await this.withAppDerived(appid, (c) => deleteUsersIn(c, appid, openids));
      if (r.users > 0) await this.compactAfter('the users were deleted');
      return r;
    });
  }

  async prune(cuts: readonly PruneCut[]): Promise<Pruned[]> {
    return this.maintenance.run(async () => {
      const out: Pruned[] = [];
      for (const cut of cuts) {
        const r = await this.withAppDerived(cut.appid, (c) => pruneIn(c, cut.appid, cut.beforeDay));
        out.push({ appid: cut.appid, beforeDay: cut.beforeDay, ...r });
      }
      if (out.some((p) => p.events > 0)) await this.compactAfter('the old events were deleted');
      return out;
    });
  }

  /** Compacts after a deletion that is already committed, saying so if the compaction fails. */
  private async compactAfter(what: string): Promise<void> {
    try {
      await this.compact();
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new Error(`${what}, but writing the database file afresh failed (${why}): their bytes stay in ${this.path} until a later deletion or prune succeeds`);
    }
  }

  /**
   * Writes the file afresh (compact.ts) so that deleted rows are gone from it: the copy is made while appends and
   * derives go on; then, holding every connection, the copy catches up, the old instance closes (its write-ahead log
   * checkpointed and gone) and the copy is renamed over the file and opened in its place.
   */
  private async compact(): Promise<void> {
    if (this.path === ':memory:') return;
    const copier = await this.instance.connect();
    try {
      await copyLive(copier, this.path);
    } catch (e) {
      await abandonCopy(copier, this.path);
      copier.closeSync();
      throw e;
    }
    const releases = [await this.holdDerive(), await this.writes.hold()];
    for (const r of this.readers) releases.push(await r.serial.hold());
    try {
      try {
        await catchUp(copier);
      } catch (e) {
        await abandonCopy(copier, this.path);
        throw e;
      } finally {
        copier.closeSync();
      }
      // The copy holds everything now. The old instance closes without a checkpoint (that work would be thrown
      // away); its log stays until the copy has taken the file's place (compact.ts: swapFiles, recoverCompaction).
      markReady(this.path);
      await this.writer.run('PRAGMA disable_checkpoint_on_shutdown');
      for (const r of this.readers) r.conn.closeSync();
      this.deriver.closeSync();
      this.writer.closeSync();
      this.instance.closeSync();
      let failed: unknown;
      try {
        swapFiles(this.path);
      } catch (e) {
        failed = e;
      }
      // The copy, or (if it could not take the file's place) the file as it was: opened either way.
      this.instance = await duckdb.DuckDBInstance.create(this.path, this.settings);
      this.writer = await this.instance.connect();
      this.deriver = await this.instance.connect();
      for (const r of this.readers) r.conn = await this.instance.connect();
      // The copy's derived tables are those of its snapshot (app numbers and device dictionaries, written with the
      // events, were copied whole): each app is derived again from the copy's position.
      for (const p of await this.readProgress()) this.queue.rewind(p.appid, p.derived, p.hasProgressRow, p.pending);
      this.maxUids.clear();
      await this.analysis.reload(this.writer);
      if (failed) throw failed;
    } finally {
      for (const release of releases.reverse()) release();
    }
  }

  async snapshot(sink: SnapshotSink, now: number): Promise<SnapshotCounts> {
    return this.maintenance.run(async () => {
      if (this.closed) throw new Error('the store is closed');
      const conn = await this.instance.connect();
      const counts: SnapshotCounts = { apps: 0, tokens: 0, usage: 0, firstSeen: 0, events: 0 };
      try {
        // One read transaction: everything below is read from the same snapshot while appends go on.
        await conn.run('BEGIN TRANSACTION');
        const all = async (q: string, v: DuckDBValue[] = []) => (await conn.runAndReadAll(q, v)).getRowObjects();
        const apps = (await all('SELECT * FROM apps ORDER BY created_at, appid')).map(appFromRow);
        for (const a of apps) await sink.app(a);
        counts.apps = apps.length;
        for (const t of await all('SELECT * FROM tokens WHERE expires_at > $1 ORDER BY issued_at, hash', [BigInt(now)])) {
          await sink.token(tokenFromRow(t));
          counts.tokens++;
        }
        for (const u of await all('SELECT * FROM usage ORDER BY appid, api, day')) {
          await sink.usage({ appid: str(u.appid), api: str(u.api), day: num(u.day), calls: num(u.calls) });
          counts.usage++;
        }
        const appids = (await all('SELECT DISTINCT appid FROM events UNION SELECT appid FROM apps ORDER BY appid')).map((r) => str(r.appid));
        for (const appid of appids) {
          const kept = await keptFirstSeen(conn, appid);
          if (kept.length > 0) await sink.firstSeen(appid, kept);
          counts.firstSeen += kept.length;
          let after = 0n;
          for (;;) {
            const rows = await all('SELECT * FROM events WHERE appid = $1 AND seq > $2 ORDER BY seq LIMIT 10000', [appid, after]);
            if (rows.length === 0) break;
            after = BigInt(num(rows[rows.length - 1]?.seq));
            counts.events += rows.length;
            await sink.events(appid, rows.map(eventFromRow));
          }
        }
        await conn.run('COMMIT');
        return counts;
      } finally {
        conn.closeSync();
      }
    });
  }

  keptFirstSeen(appid: string): Promise<FirstSeen[]> {
    return this.read((c) => keptFirstSeen(c, appid));
  }

  async restoreFirstSeen(appid: string, rows: readonly FirstSeen[]): Promise<void> {
    if (rows.length === 0) return;
    await this.withAppDerived(appid, async (c) => {
      // An app new here gets its number as at its first append.
      let app = this.appNumbers.get(appid);
      if (app === undefined) {
        app = this.nextApp++;
        await c.run('INSERT INTO app_numbers VALUES ($1, $2)', [appid, app]);
        this.appNumbers.set(appid, app);
        this.queue.add({ appid, app, derived: this.nextSeq - 1, hasProgressRow: false });
      }
      await restoreFirstSeenIn(c, app, rows);
      // Users were numbered here: the next derive step reads the app's largest uid again.
      this.maxUids.delete(app);
    });
  }

  async contents(): Promise<StoreContents> {
    const r = await this.rows('SELECT (SELECT count(*) FROM apps) AS a, (SELECT count(*) FROM tokens) AS t, (SELECT count(*) FROM events) AS e');
    return { apps: num(r[0]?.a), tokens: num(r[0]?.t), events: num(r[0]?.e) };
  }

  async close(): Promise<void> {
    if (this.closed || this.closing) return;
    this.closing = true;
    // A deletion, prune or snapshot under way finishes first (a compaction replaces the connections).
    await this.maintenance.run(async () => undefined);
    // Let queued writes finish, then fold what is pending so the next start has nothing to catch up on.
    await this.writes.run(async () => undefined);
    await this.derive().catch(() => undefined);
    await this.writes.run(async () => {
      this.closed = true;
    });
    if (this.deriveTimer) clearTimeout(this.deriveTimer);
    this.deriveTimer = undefined;
    await this.deriveLoop;
    if (this.analysisTimer) clearTimeout(this.analysisTimer);
    this.analysisTimer = undefined;
    await this.deriverUse.run(async () => undefined);
    this.queue.rejectAll(new Error('the store is closed'));
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
    type: str(r.type),
    page: nullableStr(r.page),
    scene: nullableNum(r.scene),
    session: nullableStr(r.session),
    stay: nullableNum(r.stay),
    props: nullableStr(r.props),
    ua: nullableStr(r.ua),
  };
}

