import type { VisitEvent } from '../domain/event.ts';
import type { PortraitCount } from '../domain/portrait.ts';
import type { Window } from '../domain/window.ts';
import type { AnalysisQueries } from './analysisQueries.ts';
import type { FirstSeen, PruneCut, Pruned, SnapshotCounts, SnapshotSink, StoreContents, UsersDeleted } from './lifecycle.ts';
import type { AppRecord, AppPatch, TokenRecord, TokenKind } from './records.ts';

/** What `Store.append` did with a batch: every input index is either accepted or a duplicate. */
export interface AppendResult {
  accepted: number;
  /** Indexes (into the batch) of events whose `(appid, event_id)` was already stored, or repeated in the batch. */
  duplicates: number[];
  /**
   * Present when some accepted events carry a device name new to the app after the app already has as many distinct
   * names as the store admits (DATACUBE_MAX_DEVICE_NAMES): those events count under the overflow bucket
   * (OVERFLOW_DEVICE_NAME). `events`: how many; `names`: how many distinct names; `cap`: the limit.
   */
  deviceOverflow?: { events: number; names: number; cap: number };
}

/** Settings every backend takes (see src/config.ts). */
export interface StoreOptions {
  /** Distinct device names an app may have (DATACUBE_MAX_DEVICE_NAMES); later new names count under the overflow bucket. */
  maxDeviceNames?: number;
}

/** An app's stored events in numbers. */
export interface EventStats {
  appid: string;
  events: number;
  /** Epoch milliseconds of the latest event (by event time). */
  lastTime: number;
}

/**
 * Everything datacube keeps. One interface, several backends (DuckDB embedded, ClickHouse); every backend
 * passes the same contract tests (src/store/contract.test-suite.ts).
 *
 * Events are append-only and are the truth: derived tables (per user and day, first day per user) can be
 * rebuilt from them. `append` resolves only once the batch is durable.
 */
export interface Store extends AnalysisQueries {
  readonly backend: 'duckdb' | 'clickhouse';

  // ---- events and portraits
  append(appid: string, events: readonly VisitEvent[]): Promise<AppendResult>;
  /** Exact distinct-user counts per dimension value for the window (latest-known-value rule, see README). */
  portrait(appid: string, window: Window): Promise<PortraitCount[]>;
  /** Number of stored events of an app (for tests, stats and the CLI). */
  countEvents(appid: string): Promise<number>;
  /** Per app that has events: how many are stored and the time of the latest (epoch ms); for `app list`. */
  eventStats(): Promise<EventStats[]>;
  /** Streams an app's raw events in storage order (export, replay into another backend). */
  exportEvents(appid: string, onBatch: (events: VisitEvent[]) => Promise<void>, batchSize?: number): Promise<number>;

  // ---- apps
  createApp(app: AppRecord): Promise<void>;
  getApp(appid: string): Promise<AppRecord | undefined>;
  getAppByEnv(env: string): Promise<AppRecord | undefined>;
  listApps(): Promise<AppRecord[]>;
  updateApp(appid: string, patch: AppPatch): Promise<AppRecord | undefined>;
  /**
   * Removes an app and everything kept for it: its events, derived rows, tokens and usage counters. Resolves
   * once the removal is durable and no read sees the app any more; false if there was no such app.
   */
  deleteApp(appid: string): Promise<boolean>;

  // ---- access tokens (stored by hash only)
  putToken(token: TokenRecord): Promise<void>;
  getToken(hash: string): Promise<TokenRecord | undefined>;
  /** Cuts the lifetime of an app's live tokens of `kind` (other than `keepHash`) to end at most at `expiresAt`. */
  retireTokens(appid: string, kind: TokenKind, expiresAt: number, keepHash?: string): Promise<void>;
  /** The newest token of `kind` for the app that is still valid at `now`. */
  latestToken(appid: string, kind: TokenKind, now: number): Promise<TokenRecord | undefined>;

  // ---- stable_token forced refreshes (their limits hold across restarts and across servers sharing a store)
  addForceRefresh(appid: string, at: number): Promise<void>;
  /** The times (ms) of the app's forced refreshes at or after `since`, ascending. */
  forceRefreshTimes(appid: string, since: number): Promise<number[]>;

  // ---- API call counters (quota), per app, API and Shanghai day
  addUsage(appid: string, api: string, day: number, calls: number): Promise<number>;
  getUsage(appid: string, api: string, day: number): Promise<number>;

  // ---- personal data over its life (src/store/lifecycle.ts; used by src/lifecycle)
  /**
   * Removes these users of the app: their raw events, every derived row and any kept first day, so that every
   * answer is as if they had never been seen (one who comes back is a new user). Resolves once the removal is
   * complete: on DuckDB the bytes are gone from the database file, on ClickHouse the mutations have finished.
   * Safe against concurrent appends of the same app.
   */
  deleteUsers(appid: string, openids: readonly string[]): Promise<UsersDeleted>;
  /**
   * Retention: for each cut, drops the app's events of days before `beforeDay` and the derived rows that depend
   * only on them. Users' first days are kept (so "new user" stays right); windows from `beforeDay` on answer as
   * before. Resolves once the data is gone (as `deleteUsers`).
   */
  prune(cuts: readonly PruneCut[]): Promise<Pruned[]>;
  /** A consistent copy of everything that cannot be rebuilt, taken while appends go on (see SnapshotSink). */
  snapshot(sink: SnapshotSink, now: number): Promise<SnapshotCounts>;
  /** Restore: the first days a snapshot kept without their events; call before appending the app's events. */
  restoreFirstSeen(appid: string, rows: readonly FirstSeen[]): Promise<void>;
  /** The app's first days kept by retention (or a restore) for users none of whose stored events is that old. */
  keptFirstSeen(appid: string): Promise<FirstSeen[]>;
  /** How many apps, tokens and events the store holds. */
  contents(): Promise<StoreContents>;

  /** Flushes and closes. The store must not be used afterwards. */
  close(): Promise<void>;
}
