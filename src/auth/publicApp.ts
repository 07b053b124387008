import type { AppRecord } from '../store/records.ts';

/** What may be shown of an app (CLI, admin routes): never its secret or hashes. */
export interface PublicApp {
  appid: string;
  name: string;
  env: string;
  dailyQuota: number;
  createdAt: string;
  /** Whether /v1/collect takes events for the app. */
  collect: boolean;
  /** Days of events kept (older ones are pruned daily); null: everything is kept. */
  retainDays: number | null;
}

export function publicApp(a: AppRecord): PublicApp {
  return {
    appid: a.appid,
    name: a.name,
    env: a.env,
    dailyQuota: a.dailyQuota,
    createdAt: new Date(a.createdAt).toISOString(),
    collect: a.collect,
    retainDays: a.retainDays ?? null,
  };
}
