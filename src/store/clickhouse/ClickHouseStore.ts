import type { DistributionCount, PageCounts, RetentionCounts, SummaryCounts, TrendCounts } from '../../domain/analysis.ts';
import type { VisitEvent } from '../../domain/event.ts';
import type { PortraitCount } from '../../domain/portrait.ts';
import type { Window } from '../../domain/window.ts';
import type { FirstSeen, PruneCut, Pruned, SnapshotCounts, SnapshotSink, StoreContents, UsersDeleted } from '../lifecycle.ts';
import type { AppPatch, AppRecord, TokenKind, TokenRecord } from '../records.ts';
import { Serial } from '../serial.ts';
import type { AppendResult, EventStats, Store, StoreOptions } from '../store.ts';
import { type Connection, type ConnectionOptions, HttpConnection } from './connection.ts';
import { deleteApp } from './deleteApp.ts';
import { dayCountsAgree, reconcileDayCounts } from './dayCounts.ts';
import { appsWithEvents, derivedCounts, rebuildChain } from './derive.ts';
import { DeviceCap } from './devices.ts';
import { AppendFailure, appendGroup, checkEvent, countEvents, eventStats, type EventsOptions, exportEvents, maxSeq, MonotonicMicros } from './events.ts';
import { type AnalysisSources, analysisSources, type FoldState, foldAnalysis, foldsAgree, noteDeleted, readFolded, rebuildAnalysis } from './analysisFold.ts';
import { distributionCounts, pageCounts, retentionCounts, summaryCounts, trendCounts } from './analysisQuery.ts';
import * as meta from './meta.ts';
import * as personal from './personal.ts';
import { sql } from './sql.ts';
import { Leases, type LeaseOptions } from './lease.ts';
import { migrate } from './migrate.ts';
import { portraitCounts } from './portrait.ts';
import { parseClickHouseUrl } from './url.ts';

/** Distinct device names an app may have unless configured (DATACUBE_MAX_DEVICE_NAMES). */
const DEFAULT_MAX_DEVICE_NAMES = 20_000;

export interface ClickHouseStoreOptions extends ConnectionOptions, EventsOptions, StoreOptions {
  /** Create the database and apply pending migrations on open (default true). */
  migrate?: boolean;
  /** Writer leases (lease.ts): TTL, linger, how long to wait for another server. */
  lease?: LeaseOptions;
  /**
   * How long after an app's group commit its next one may wait for the batches the app's clients are about to send
   * (default GROUP_LINGER_MS; 0: never waits). See ClickHouseStore.gatherFirst.
   */
  groupLingerMs?: number;
  /**
   * Events of an app stored by this process since its last fold into the analysis tables (analysisFold.ts) after
   * which the next fold runs right after a commit (default FOLD_EVENTS).
   */
  foldEvents?: number;
  /** An app's events not folded yet are folded this long after its last commit (default FOLD_IDLE_MS). */
  foldIdleMs?: number;
  /** …and right after a commit once the oldest of them was stored this long ago (default FOLD_MAX_AGE_MS). */
  foldMaxAgeMs?: number;
}

/** An append waiting for its app's group commit. */
interface WaitingAppend {
  events: readonly VisitEvent[];
  resolve: (r: AppendResult) => void;
  reject: (e: unknown) => void;
}

/** Most events one group commit takes (the rest goes in the next). */
const GROUP_EVENTS = 50_000;

/** Default of ClickHouseStoreOptions.groupLingerMs. */
export const GROUP_LINGER_MS = 100;

/** Default of ClickHouseStoreOptions.foldEvents. */
export const FOLD_EVENTS = 100_000;

/** Default of ClickHouseStoreOptions.foldIdleMs. */
export const FOLD_IDLE_MS = 5_000;

/** Default of ClickHouseStoreOptions.foldMaxAgeMs: a steady trickle of batches is folded about once a minute. */
export const FOLD_MAX_AGE_MS = 60_000;

/** How many lanes of one-at-a-time work a store has. */
const LANES = 16;

/** The lane of a key (exported for the tests: keys that share a lane). */
export function laneOf(key: string): number {
  let h = 0;
  for (let i = 0; i < key.length; i++) h = (h * 31 + key.charCodeAt(i)) | 0;
  return (h >>> 0) % LANES;
}

/** A few lanes of one-at-a-time work, chosen by key: same key → same lane → never interleaved. */
class Lanes {
  private readonly lanes = Array.from({ length: LANES }, () => new Serial());
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const lane = this.lanes[laneOf(key)];
    if (!lane) throw new Error('no lane');
    return lane.run(task);
  }
}

/**
 * The ClickHouse backend: everything lives in ClickHouse (events, derived tables, apps, tokens, counters), so
 * several datacube servers can share one server or cluster. See schema.ts for the tables, chain.ts and derive.ts
 * for the per-user chain and portrait.ts for the query. Within this process, appends of one app, and
 * read-modify-writes of one key, run one at a time (lanes); across processes, appends of one app run under the
 * app's writer lease (lease.ts), so a batch sent to two servers at once is stored and counted once.
 *
 * Each time this process takes an app's lease, and after any of its own appends failed part-way, it compares the
 * app's stored events with those its chain has folded in and rebuilds the chain from the events if they differ (a
 * writer killed between the two inserts of an append leaves exactly that), and the one-day counts with the chain
 * (dayCounts.ts); after its own failed append it also makes the counts equal to the chain's in every detail.
 */
export class ClickHouseStore implements Store {
  readonly backend = 'clickhouse' as const;
  private readonly clock = new MonotonicMicros();
  private readonly lanes = new Lanes();
  /** Deletions, retention and snapshots, one at a time (taken before an app's lane, never after). */
  private readonly maintenance = new Serial();
  private closed = false;
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly leases: Leases;
  /** Apps whose last append from this process failed part-way: checked before their next append. */
  private readonly dirty = new Set<string>();
  private readonly devices: DeviceCap;
  /** Per app, the batches waiting for its next group commit, oldest first. */
  private readonly waiting = new Map<string, WaitingAppend[]>();
  /** Apps whose group commit is queued in their lane (it takes every batch waiting by the time it runs). */
  private readonly commitQueued = new Set<string>();
  /** Per app, how its last group commit ended: batches it answered, batches still waiting then, when. */
  private readonly lastCommit = new Map<string, { answered: number; waiting: number; at: number }>();
  /** Per app, a group commit waiting for more batches to arrive (woken by `append`). */
  private readonly gathering = new Map<string, () => void>();
  /** Per app, events this process stored since its last fold into the analysis tables, and when the first was. */
  private readonly unfolded = new Map<string, { events: number; since: number }>();
  /** Per app, the timer of the fold that follows its last commit (foldIdleMs). */
  private readonly idleFolds = new Map<string, NodeJS.Timeout>();

  private constructor(
    readonly connection: Connection,
    private readonly opts: ClickHouseStoreOptions,
  ) {
    this.leases = new Leases(connection, { ttlMs: connection.target.leaseTtlMs, ...opts.lease }, (appid, keepAlive) => this.repair(appid, keepAlive));
    this.devices = new DeviceCap(Math.max(1, opts.maxDeviceNames ?? DEFAULT_MAX_DEVICE_NAMES));
  }

  static async open(url: string, opts: ClickHouseStoreOptions = {}): Promise<ClickHouseStore> {
    return ClickHouseStore.over(HttpConnection.open(parseClickHouseUrl(url), opts), opts);
  }

  /** The store over any connection (HTTP, or chdb in the tests); migrates it unless told not to. */
  static async over(c: Connection, opts: ClickHouseStoreOptions = {}): Promise<ClickHouseStore> {
    try {
      await c.ping();
      await c.version();
      if (opts.migrate ?? true) await migrate(c);
    } catch (e) {
      await c.close().catch(() => undefined);
      throw e;
    }
    return new ClickHouseStore(c, opts);
  }

  /**
   * Rebuilds the app's chain from its events if the two disagree (see the class comment). Also makes this
   * process's `seq` values larger than any another server gave the app, so an app's events are numbered in the order
   * they were stored (a snapshot cuts each app at a `seq`).
   */
  private async repair(appid: string, keepAlive: () => Promise<void>): Promise<void> {
    const c = this.connection;
    const [top, { stored, derived }, agree, folded] = await Promise.all([
      maxSeq(c, appid),
      derivedCounts(c, appid),
      dayCountsAgree(c, appid),
      foldsAgree(c, appid),
    ]);
    this.clock.atLeast(top);
    if (stored !== derived) await rebuildChain(c, appid, keepAlive);
    // The analysis tables: a fold cut short, or events that appeared below its `seq` (analysisFold.ts).
    if (!folded) await rebuildAnalysis(c, appid, keepAlive);
    // The one-day counts are a view's rows: a ClickHouse killed between an insert's two parts (after our failed
    // write, or between the counts) leaves them apart from the chain; the difference is inserted.
    if (stored !== derived || !agree || this.dirty.has(appid)) await reconcileDayCounts(c, appid);
    this.dirty.delete(appid);
  }

  /** Runs `fn` unless the store is closed, and keeps track of it so `close` can wait for it. */
  private op<T>(fn: (c: Connection) => Promise<T>, lane?: string): Promise<T> {
    if (this.closed) return Promise.reject(new Error('the store is closed'));
    const c = this.connection;
    const p = lane === undefined ? fn(c) : this.lanes.run(lane, () => fn(c));
    this.inflight.add(p);
    const done = (): void => void this.inflight.delete(p);
    p.then(done, done);
    return p;
  }

  // ---- events and portraits

  /**
   * Group commit: a batch joins its app's queue; when the app's lane is free (and, right after a commit, once the
   * batches its clients are about to send have arrived or `groupLingerMs` has passed: gatherFirst), every batch
   * waiting by then (up to GROUP_EVENTS events) is stored by one appendGroup under the writer lease — one duplicate lookup, one state
   * lookup, one events insert, one chain insert for all of them — and each is answered only after that succeeded.
   * If the group fails before any of its events was sent, each batch is tried alone, so one batch that cannot be
   * stored fails only its own caller; once an events insert was sent, some rows may be stored, so every batch of the
   * group gets the error (a retryable answer; resent events with ids are recognised as duplicates).
   */
  append(appid: string, events: readonly VisitEvent[]): Promise<AppendResult> {
    try {
      // A batch ClickHouse could not take is refused on its own, before it joins a group.
      events.forEach(checkEvent);
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<AppendResult>((resolve, reject) => {
      let q = this.waiting.get(appid);
      if (!q) this.waiting.set(appid, (q = []));
      q.push({ events, resolve, reject });
      this.gathering.get(appid)?.();
      this.scheduleCommit(appid);
    });
  }

  /** Queues a group commit of the app's waiting batches in its lane, unless one is queued (or gathering) already. */
  private scheduleCommit(appid: string): void {
    if (this.commitQueued.has(appid)) return;
    this.commitQueued.add(appid);
    this.queueCommit(appid);
  }

  /** Puts the app's group commit, marked queued by the caller, in its lane. */
  private queueCommit(appid: string): void {
    let started = false;
    this.op(
      (c) =>
        this.leases.run(appid, (keepAlive) => {
          started = true;
          return this.commitWaiting(c, appid, keepAlive);
        }),
      `events\u0000${appid}`,
    ).catch((e: unknown) => {
      // The store is closed, or the lease (or the check that runs when it is taken) failed before the group was
      // taken: answer everyone waiting.
      if (started) return;
      this.commitQueued.delete(appid);
      const q = this.waiting.get(appid) ?? [];
      this.waiting.delete(appid);
      for (const w of q) w.reject(e);
    });
  }

  /** Whether at least `target` batches, or a full group, wait for the app's next commit. */
  private enough(appid: string, target: number): boolean {
    const q = this.waiting.get(appid) ?? [];
    return q.length >= target || q.reduce((n, w) => n + w.events.length, 0) >= GROUP_EVENTS;
  }

  /**
   * Gathering: the clients answered by an app's last group commit tend to send their next batch at once, so a commit
   * that started right away would take only the batches that waited through the last one, and the others would form
   * the next: two half groups cost ClickHouse about twice the work of one (every insert writes a part per table and
   * view it fills, and those parts are merged later), which is what bounds ingest on ClickHouse. So a commit waits
   * until as many batches wait as the last commit answered plus those that waited through it, but no longer than
   * `groupLingerMs` after the last commit ended. The wait happens outside the lane (other apps of the lane go on);
   * arriving batches end it early. A lone client waits at most once: its commit then answered one batch.
   * Returns whether the commit was put off.
   */
  private gatherFirst(appid: string): boolean {
    const last = this.lastCommit.get(appid);
    const linger = this.opts.groupLingerMs ?? GROUP_LINGER_MS;
    this.lastCommit.delete(appid);
    if (!last || linger <= 0) return false;
    const target = last.answered + last.waiting;
    const ms = last.at + linger - performance.now();
    if (ms <= 0 || this.enough(appid, target)) return false;
    let release = (): void => undefined;
    const held = new Promise<void>((r) => (release = r));
    // close() waits for it (and the commit it queues then finds the store closed and answers the batches).
    this.inflight.add(held);
    const wake = (): void => {
      clearTimeout(timer);
      this.gathering.delete(appid);
      this.inflight.delete(held);
      release();
      this.queueCommit(appid);
    };
    const timer = setTimeout(wake, ms);
    this.gathering.set(appid, () => {
      if (this.enough(appid, target)) wake();
    });
    return true;
  }

  /** Notes how the app's commit ended, for gatherFirst (entries past the linger are dropped when there are many). */
  private rememberCommit(appid: string, answered: number): void {
    const now = performance.now();
    if (this.lastCommit.size >= 1024) {
      const linger = this.opts.groupLingerMs ?? GROUP_LINGER_MS;
      for (const [k, v] of this.lastCommit) if (now - v.at > linger) this.lastCommit.delete(k);
    }
    this.lastCommit.set(appid, { answered, waiting: this.waiting.get(appid)?.length ?? 0, at: now });
  }

  private async commitWaiting(c: Connection, appid: string, keepAlive: () => Promise<void>): Promise<void> {
    // Still marked queued while it gathers: arriving batches only wake it.
    if (this.gatherFirst(appid)) return;
    const q = this.waiting.get(appid) ?? [];
    const group: WaitingAppend[] = [];
    let n = 0;
    while (q.length > 0) {
      const next = q[0];
      if (!next || (group.length > 0 && n + next.events.length > GROUP_EVENTS)) break;
      q.shift();
      group.push(next);
      n += next.events.length;
    }
    if (q.length === 0) this.waiting.delete(appid);
    this.commitQueued.delete(appid);
    // More than one group's worth waited: the rest goes next, behind this one in the lane.
    if (q.length > 0) this.scheduleCommit(appid);
    if (group.length === 0) return;
    const store = async (batches: readonly WaitingAppend[]): Promise<AppendResult[]> => {
      if (this.dirty.has(appid)) await this.repair(appid, keepAlive);
      try {
        return await appendGroup(c, this.clock, appid, batches.map((b) => b.events), this.opts, (events, skipped) =>
          this.devices.apply(c, appid, events, skipped),
        );
      } catch (e) {
        this.dirty.add(appid);
        throw e;
      }
    };
    try {
      const results = await store(group);
      this.rememberCommit(appid, group.length);
      group.forEach((g, i) => {
        const r = results[i];
        if (r) g.resolve(r);
        else g.reject(new Error('no result for the batch'));
      });
      const stored = results.reduce((sum, r) => sum + r.accepted, 0);
      const u = this.unfolded.get(appid) ?? { events: 0, since: performance.now() };
      u.events += stored;
      this.unfolded.set(appid, u);
      const due = u.events >= (this.opts.foldEvents ?? FOLD_EVENTS) || performance.now() - u.since >= (this.opts.foldMaxAgeMs ?? FOLD_MAX_AGE_MS);
      // Answered already: the fold only holds up the app's next commit (and is retried by a later one if it fails).
      if (u.events > 0 && due) await this.fold(c, appid, keepAlive).catch(() => undefined);
      else if (u.events > 0) this.foldWhenIdle(appid);
    } catch (e) {
      this.lastCommit.delete(appid);
      const cause = e instanceof AppendFailure ? e.cause : e;
      if (group.length === 1 || !(e instanceof AppendFailure) || e.insertSent) {
        for (const g of group) g.reject(cause);
        return;
      }
      for (const g of group) {
        try {
          const [r] = await store([g]);
          if (r) g.resolve(r);
          else g.reject(new Error('no result for the batch'));
        } catch (alone) {
          g.reject(alone instanceof AppendFailure ? alone.cause : alone);
        }
      }
    }
  }
  /** Folds the app's events into the analysis tables (under its lease, in its lane). */
  private async fold(c: Connection, appid: string, keepAlive: () => Promise<void>): Promise<FoldState | undefined> {
    const timer = this.idleFolds.get(appid);
    if (timer) clearTimeout(timer);
    this.idleFolds.delete(appid);
    this.unfolded.delete(appid);
    try {
      return await foldAnalysis(c, appid, keepAlive);
    } catch (e) {
      // The record says a fold was cut short (or the events past it are still there): the next one repairs it.
      this.dirty.add(appid);
      throw e;
    }
  }

  /** Folds the app's events `foldIdleMs` after its last commit, unless another commit or fold comes first. */
  private foldWhenIdle(appid: string): void {
    const old = this.idleFolds.get(appid);
    if (old) clearTimeout(old);
    const timer = setTimeout(() => {
      if (this.idleFolds.get(appid) !== timer) return;
      this.idleFolds.delete(appid);
      if (this.closed || (this.waiting.get(appid)?.length ?? 0) > 0) return;
      this.op((c) => this.leases.run(appid, (keepAlive) => this.fold(c, appid, keepAlive)), `events\u0000${appid}`).catch(() => undefined);
    }, this.opts.foldIdleMs ?? FOLD_IDLE_MS);
    timer.unref();
    this.idleFolds.set(appid, timer);
  }

  /**
   * An analysis read: over the tables and the events not folded yet, without the lease (analysisFold.ts); if folds
   * keep moving under it, under the lease after folding.
   */
  private analysisRead<T>(appid: string, read: (c: Connection, src: AnalysisSources) => Promise<T>): Promise<T> {
    return this.op(async (c) => {
      const r = await readFolded(c, appid, (src) => read(c, src));
      if (r) return r.value;
      return this.lanes.run(`events\u0000${appid}`, () =>
        this.leases.run(appid, async (keepAlive) => {
          // Under the lease no other writer stores events: after the fold, the tables hold every one.
          const folded = await this.fold(c, appid, keepAlive);
          return read(c, analysisSources(c, appid, folded?.hi ?? 0, false));
        }),
      );
    });
  }

  portrait(appid: string, window: Window): Promise<PortraitCount[]> {
    return this.op((c) => portraitCounts(c, appid, window));
  }
  countEvents(appid: string): Promise<number> {
    return this.op((c) => countEvents(c, appid));
  }
  eventStats(): Promise<EventStats[]> {
    return this.op((c) => eventStats(c));
  }

  // ---- the rest of the analysis family (analysisQuery.ts)

  visitTrend(appid: string, window: Window): Promise<TrendCounts> {
    return this.analysisRead(appid, (c, src) => trendCounts(c, src, appid, window));
  }
  dailySummary(appid: string, day: number): Promise<SummaryCounts> {
    return this.analysisRead(appid, (c, src) => summaryCounts(c, src, appid, day));
  }
  visitDistribution(appid: string, day: number): Promise<DistributionCount[]> {
    return this.analysisRead(appid, (c, src) => distributionCounts(c, src, appid, day));
  }
  visitPages(appid: string, day: number, limit: number): Promise<PageCounts[]> {
    return this.analysisRead(appid, (c, src) => pageCounts(c, src, appid, day, limit));
  }
  retention(appid: string, cohort: Window, later: readonly Window[]): Promise<RetentionCounts> {
    return this.analysisRead(appid, (c, src) => retentionCounts(c, src, appid, cohort, later));
  }
  exportEvents(appid: string, onBatch: (events: VisitEvent[]) => Promise<void>, batchSize?: number): Promise<number> {
    return this.op((c) => exportEvents(c, appid, onBatch, batchSize));
  }

  // ---- apps

  createApp(app: AppRecord): Promise<void> {
    return this.op((c) => meta.createApp(c, this.clock, app), `app\u0000${app.appid}`);
  }
  getApp(appid: string): Promise<AppRecord | undefined> {
    return this.op((c) => meta.getApp(c, appid));
  }
  getAppByEnv(env: string): Promise<AppRecord | undefined> {
    return this.op((c) => meta.getAppByEnv(c, env));
  }
  listApps(): Promise<AppRecord[]> {
    return this.op((c) => meta.listApps(c));
  }
  updateApp(appid: string, patch: AppPatch): Promise<AppRecord | undefined> {
    return this.op((c) => meta.updateApp(c, this.clock, appid, patch), `app\u0000${appid}`);
  }

  deleteApp(appid: string): Promise<boolean> {
    // In the app's events lane and under its writer lease, so no append (of this process or another server)
    // interleaves with the removal.
    return this.op(
      (c) =>
        this.leases.run(appid, async () => {
          const existed = await deleteApp(c, appid);
          this.dirty.delete(appid);
          this.unfolded.delete(appid);
          const timer = this.idleFolds.get(appid);
          if (timer) clearTimeout(timer);
          this.idleFolds.delete(appid);
          return existed;
        }),
      `events\u0000${appid}`,
    );
  }

  // ---- tokens

  putToken(token: TokenRecord): Promise<void> {
    return this.op((c) => meta.putToken(c, this.clock, token), `tokens\u0000${token.appid}\u0000${token.kind}`);
  }
  getToken(hash: string): Promise<TokenRecord | undefined> {
    return this.op((c) => meta.getToken(c, hash));
  }
  retireTokens(appid: string, kind: TokenKind, expiresAt: number, keepHash?: string): Promise<void> {
    return this.op((c) => meta.retireTokens(c, this.clock, appid, kind, expiresAt, keepHash), `tokens\u0000${appid}\u0000${kind}`);
  }
  latestToken(appid: string, kind: TokenKind, now: number): Promise<TokenRecord | undefined> {
    return this.op((c) => meta.latestToken(c, appid, kind, now));
  }

  // ---- stable_token forced refreshes

  addForceRefresh(appid: string, at: number): Promise<void> {
    return this.op((c) => meta.addForceRefresh(c, appid, at));
  }
  forceRefreshTimes(appid: string, since: number): Promise<number[]> {
    return this.op((c) => meta.forceRefreshTimes(c, appid, since));
  }

  // ---- usage

  addUsage(appid: string, api: string, day: number, calls: number): Promise<number> {
    return this.op((c) => meta.addUsage(c, appid, api, day, calls), `usage\u0000${appid}\u0000${api}\u0000${day}`);
  }
  getUsage(appid: string, api: string, day: number): Promise<number> {
    return this.op((c) => meta.getUsage(c, appid, api, day));
  }

  // ---- personal data over its life (personal.ts)

  /** Runs `fn` after the maintenance line, in the app's lane, under its writer lease. */
  private underLease<T>(appid: string, fn: (c: Connection, keepAlive: () => Promise<void>) => Promise<T>): Promise<T> {
    return this.op((c) =>
      this.maintenance.run(() => this.lanes.run(`events\u0000${appid}`, () => this.leases.run(appid, (keepAlive) => fn(c, keepAlive)))),
    );
  }

  /**
   * Deletions of events (users, retention) run with the analysis tables folded up to every stored event first (so
   * they act on the tables alone), and record the count of events left afterwards (analysisFold.ts).
   */
  private deleting<T>(appid: string, fn: (c: Connection, keepAlive: () => Promise<void>) => Promise<T>): Promise<T> {
    return this.underLease(appid, async (c, keepAlive) => {
      await this.fold(c, appid, keepAlive);
      const out = await fn(c, keepAlive);
      await noteDeleted(c, appid);
      return out;
    });
  }

  deleteUsers(appid: string, openids: readonly string[]): Promise<UsersDeleted> {
    if (openids.length === 0) return Promise.resolve({ users: 0, events: 0 });
    return this.deleting(appid, (c, keepAlive) => personal.deleteUsers(c, appid, openids, keepAlive));
  }

  async prune(cuts: readonly PruneCut[]): Promise<Pruned[]> {
    const out: Pruned[] = [];
    for (const cut of cuts) {
      const r = await this.deleting(cut.appid, (c, keepAlive) => personal.pruneApp(c, cut.appid, cut.beforeDay, keepAlive));
      out.push({ appid: cut.appid, beforeDay: cut.beforeDay, ...r });
    }
    return out;
  }

  /**
   * Each app is cut at one moment: under its writer lease (so no batch of it is half stored) the largest `seq` is
   * read, and its events up to that `seq` are sent. Apps are cut one after the other.
   */
  snapshot(sink: SnapshotSink, now: number): Promise<SnapshotCounts> {
    return this.op((c) =>
      this.maintenance.run(async () => {
        const counts: SnapshotCounts = { apps: 0, tokens: 0, usage: 0, firstSeen: 0, events: 0 };
        const apps = await meta.listApps(c);
        for (const a of apps) await sink.app(a);
        counts.apps = apps.length;
        for (const t of await meta.liveTokens(c, now)) {
          await sink.token(t);
          counts.tokens++;
        }
        for (const u of await meta.allUsage(c)) {
          await sink.usage(u);
          counts.usage++;
        }
        const appids = [...new Set([...apps.map((a) => a.appid), ...(await appsWithEvents(c))])].sort();
        for (const appid of appids) {
          const top = await this.lanes.run(`events\u0000${appid}`, () => this.leases.run(appid, () => maxSeq(c, appid)));
          const kept = await personal.keptFirstSeen(c, appid);
          if (kept.length > 0) await sink.firstSeen(appid, kept);
          counts.firstSeen += kept.length;
          if (top > 0) counts.events += await exportEvents(c, appid, (batch) => sink.events(appid, batch), 10_000, top);
        }
        return counts;
      }),
    );
  }

  keptFirstSeen(appid: string): Promise<FirstSeen[]> {
    return this.op((c) => personal.keptFirstSeen(c, appid));
  }

  async restoreFirstSeen(appid: string, rows: readonly FirstSeen[]): Promise<void> {
    if (rows.length === 0) return;
    await this.underLease(appid, async (c, keepAlive) => {
      if (await personal.restoreFirstSeen(c, appid, rows)) await rebuildChain(c, appid, keepAlive);
    });
  }

  contents(): Promise<StoreContents> {
    return this.op(async (c) => {
      const r = await c.rows<{ a: string; t: string; e: string }>(
        sql`SELECT (SELECT uniqExact(appid) FROM ${c.table('apps')}) AS a, (SELECT uniqExact(hash) FROM ${c.table('tokens')}) AS t,
            (SELECT count() FROM ${c.table('events')}) AS e`,
      );
      return { apps: Number(r[0]?.a ?? 0), tokens: Number(r[0]?.t ?? 0), events: Number(r[0]?.e ?? 0) };
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Events not folded yet stay in `events`: reads count them, and the app's next writer folds them.
    for (const t of this.idleFolds.values()) clearTimeout(t);
    this.idleFolds.clear();
    // Writes resolve only after ClickHouse acknowledged them and nothing is buffered here: wait for the
    // operations under way, then let the sockets go.
    await Promise.allSettled([...this.inflight]);
    await this.leases.close();
    await this.connection.close();
  }
}
