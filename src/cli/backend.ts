import type { UserPortrait } from '../domain/portrait.ts';

import type { PublicApp } from '../auth/index.ts';

export type { PublicApp };

export interface BatchAnswer {
  accepted: number;
  duplicates: number;
  rejected: { index: number; errmsg: string }[];
}

export type PortraitAnswer = { ok: true; portrait: UserPortrait } | { ok: false; errcode: number; errmsg: string };

/**
 * What CLI commands do with data. `LocalBackend` opens the store itself; `RemoteBackend` goes through the
 * server that owns the data directory (DuckDB lets one process hold the file).
 */
export interface Backend {
  readonly kind: 'local' | 'remote';
  createApp(input: { name?: string; env?: string }): Promise<PublicApp & { secret: string }>;
  listApps(): Promise<PublicApp[]>;
  updateApp(appid: string, patch: { name?: string; env?: string; dailyQuota?: number; collect?: boolean }): Promise<PublicApp>;
  hasApp(appid: string): Promise<boolean>;
  ingest(appid: string, records: unknown[]): Promise<BatchAnswer>;
  portrait(appid: string, beginDate: string, endDate: string): Promise<PortraitAnswer>;
  close(): Promise<void>;
}
