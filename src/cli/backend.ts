import type { Writable } from 'node:stream';
import type { PublicApp } from '../auth/publicApp.ts';
import type { VisitEvent } from '../domain/event.ts';
import type { UserPortrait } from '../domain/portrait.ts';
import type { DeleteAnswer, PruneAnswer, RestoreAnswer } from '../lifecycle/index.ts';
import type { FirstSeen } from '../store/lifecycle.ts';
import type { AppRecord } from '../store/records.ts';
import type { ImportAnswer, ImportedApp } from '../transfer/importInto.ts';

export type { PublicApp };

export interface BatchAnswer {
  accepted: number;
  duplicates: number;
  rejected: { index: number; errmsg: string }[];
}

/** A failed portrait keeps WeChat's code and text and the detail the HTTP API gives in its hint. */
export type PortraitAnswer = { ok: true; portrait: UserPortrait } | { ok: false; errcode: number; errmsg: string; detail?: string };

/** An app as `app list` shows it: never its secret; with its stored events in numbers. */
export interface AppListing extends PublicApp {
  events: number;
  /** ISO 8601 time of its latest event (by event time), or null without events. */
  lastEventTime: string | null;
}

export interface AppInput {
  name?: string;
  env?: string;
  dailyQuota?: number;
  /** Whether the public POST /v1/collect takes events for the app. */
  collect?: boolean;
  /** Days of events the app keeps (at least 31); null: keep every event again (`app update` only). */
  retainDays?: number | null;
}

/** An analysis-family answer (WeChat's JSON), or WeChat's error. */
export type AnalysisAnswer = { ok: true; answer: Record<string, unknown> } | { ok: false; errcode: number; errmsg: string };

/**
 * What CLI commands do with data. `LocalBackend` opens the store itself; `RemoteBackend` goes through the
 * server that owns the data directory (DuckDB lets one process hold the file). A new command adds the method it
 * needs here and in both.
 */
export interface Backend {
  readonly kind: 'local' | 'remote';
  /** A new app; with `credentials`, exactly that appid and secret (the seeded demo app). */
  createApp(input: AppInput & { credentials?: { appid: string; secret: string } }): Promise<PublicApp & { secret: string }>;
  listApps(): Promise<AppListing[]>;
  updateApp(appid: string, patch: AppInput): Promise<PublicApp>;
  /** Removes the app with its events, tokens and counters; the number of events it had. */
  deleteApp(appid: string): Promise<{ appid: string; events: number }>;
  /** A new secret (shown once); every token of the old one stops working. */
  resetSecret(appid: string): Promise<{ appid: string; secret: string }>;
  hasApp(appid: string): Promise<boolean>;
  countEvents(appid: string): Promise<number>;
  ingest(appid: string, records: unknown[]): Promise<BatchAnswer>;
  portrait(appid: string, beginDate: string, endDate: string): Promise<PortraitAnswer>;
  /** Writes the app's export file through `write`; the number of events. */
  exportApp(appid: string, write: (text: string) => Promise<void>): Promise<number>;
  importApp(app: AppRecord): Promise<ImportedApp>;
  /** Exported events (checked as ingest checks them; refused ones are answered by their index). */
  importEvents(appid: string, events: unknown[]): Promise<ImportAnswer>;
  /** An export file's kept first days, applied only while the app has no events in the store (see importFirstSeen). */
  importFirstSeen(appid: string, rows: FirstSeen[]): Promise<{ firstSeen: number }>;
  /** The time of the store's owner: the server's clock (moved by a test, in test mode), else this machine's. */
  now(): Promise<number>;
  /** One of the analysis family by its cloud-call name without `analysis.` (e.g. `getWeeklyVisitTrend`). */
  analysis(appid: string, api: string, beginDate: string, endDate: string): Promise<AnalysisAnswer>;
  // ---- personal data over its life (src/lifecycle)
  /** Deletes up to 1,000 users of an app. */
  deleteUsers(appid: string, openids: string[]): Promise<DeleteAnswer>;
  /** Drops what every app's retention no longer keeps. */
  prune(): Promise<PruneAnswer[]>;
  /** Writes a backup of the whole store to `out` (ended when done). */
  backup(out: Writable): Promise<void>;
  /** Restores a backup file into the (empty) store. */
  restore(file: string): Promise<RestoreAnswer>;
  close(): Promise<void>;
}
