import type { Day } from '../domain/day.ts';
import type { VisitEvent } from '../domain/event.ts';
import type { AppRecord, TokenRecord } from './records.ts';

/**
 * What the store offers for personal data over its whole life (deletion on request, retention, backup and
 * restore); src/lifecycle/ builds the commands and routes on it. Every backend implements these with one hook per
 * family of derived tables (see `duckdb/personal.ts` and `clickhouse/personal.ts`), so a new family of derived
 * tables joins deletion and retention by adding its hook there.
 */

/** The most openids one deletion takes (`POST /v1/users/delete`, `datacube user delete`). */
export const MAX_DELETE_OPENIDS = 1000;

/** What `Store.deleteUsers` removed. */
export interface UsersDeleted {
  /** Openids of the list the store had anything of (events, derived rows, a kept first day). */
  users: number;
  /** Raw events removed. */
  events: number;
}

/** One app's retention cut: drop its events of Shanghai days before `beforeDay`. */
export interface PruneCut {
  appid: string;
  beforeDay: Day;
}

export interface Pruned {
  appid: string;
  beforeDay: Day;
  /** Raw events removed. */
  events: number;
  /** Users who had any of them. */
  users: number;
}

/** An API call counter (quota) row. */
export interface UsageRecord {
  appid: string;
  api: string;
  day: Day;
  calls: number;
}

/**
 * A user's first day kept without the events it came from (retention dropped them): a backup carries it so that
 * "new user" stays right after a restore.
 */
export interface FirstSeen {
  openid: string;
  day: Day;
}

/**
 * Where `Store.snapshot` sends a consistent copy of what cannot be rebuilt: apps (with their hashed and sealed
 * secrets), live tokens, usage counters, kept first days and raw events. Calls come in this order: every app,
 * every token, every usage row, then app by app its first days and its events (in storage order).
 */
export interface SnapshotSink {
  app(app: AppRecord): Promise<void>;
  token(token: TokenRecord): Promise<void>;
  usage(usage: UsageRecord): Promise<void>;
  firstSeen(appid: string, rows: FirstSeen[]): Promise<void>;
  events(appid: string, events: VisitEvent[]): Promise<void>;
}

export interface SnapshotCounts {
  apps: number;
  tokens: number;
  usage: number;
  firstSeen: number;
  events: number;
}

/** What a store holds, in numbers (restore refuses a store that is not empty). */
export interface StoreContents {
  apps: number;
  tokens: number;
  events: number;
}
