import { ANALYSIS_API_BY_NAME } from '../analysis/index.ts';
import { createReadStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { publicApp } from '../auth/index.ts';
import type { VisitEvent } from '../domain/event.ts';
import { isWeChatError } from '../domain/errors.ts';
import type { DeleteAnswer, PruneAnswer, RestoreAnswer } from '../lifecycle/index.ts';
import type { Services } from '../services.ts';
import type { FirstSeen } from '../store/lifecycle.ts';
import type { AppRecord } from '../store/records.ts';
import { importApp, importEvents, importFirstSeen, writeExport, type ImportAnswer, type ImportedApp } from '../transfer/index.ts';
import type { AnalysisAnswer, AppInput, AppListing, Backend, BatchAnswer, PortraitAnswer, PublicApp } from './backend.ts';

/** Lists apps with their event counts and latest event time. */
export async function appListings(s: Services): Promise<AppListing[]> {
  const stats = new Map((await s.store.eventStats()).map((x) => [x.appid, x]));
  return (await s.store.listApps()).map((a) => {
    const st = stats.get(a.appid);
    return { ...publicApp(a), events: st?.events ?? 0, lastEventTime: st ? new Date(st.lastTime).toISOString() : null };
  });
}

export class LocalBackend implements Backend {
  readonly kind = 'local' as const;
  /** `log`: where deletions, prunes, backups and restores are reported (counts only). */
  constructor(
    readonly services: Services,
    log?: (line: string) => void,
  ) {
    if (log) services.lifecycle.useLog((fields, message) => log(`${message} ${JSON.stringify(fields)}`));
  }

  async createApp(input: AppInput & { credentials?: { appid: string; secret: string } }): Promise<PublicApp & { secret: string }> {
    const { app, secret } = await this.services.auth.createApp(input);
    return { ...publicApp(app), secret };
  }
  listApps(): Promise<AppListing[]> {
    return appListings(this.services);
  }
  async updateApp(appid: string, patch: AppInput): Promise<PublicApp> {
    return publicApp(await this.services.auth.updateApp(appid, patch));
  }
  async deleteApp(appid: string): Promise<{ appid: string; events: number }> {
    const events = await this.services.store.countEvents(appid);
    if (!(await this.services.auth.deleteApp(appid))) throw new Error(`no app ${appid}`);
    this.services.portrait.invalidate(appid);
    this.services.analysis.invalidate(appid);
    return { appid, events };
  }
  async resetSecret(appid: string): Promise<{ appid: string; secret: string }> {
    const { secret } = await this.services.auth.resetSecret(appid);
    return { appid, secret };
  }
  async hasApp(appid: string): Promise<boolean> {
    return (await this.services.store.getApp(appid)) !== undefined;
  }
  countEvents(appid: string): Promise<number> {
    return this.services.store.countEvents(appid);
  }
  async ingest(appid: string, records: unknown[]): Promise<BatchAnswer> {
    const r = await this.services.ingest.ingest(appid, records);
    return {
      accepted: r.accepted,
      duplicates: r.duplicates,
      rejected: r.rejected.map((x) => ({ index: x.index, errmsg: `${x.field}: ${x.reason}` })),
    };
  }
  async portrait(appid: string, beginDate: string, endDate: string): Promise<PortraitAnswer> {
    try {
      const w = this.services.portrait.window(beginDate, endDate);
      return { ok: true, portrait: await this.services.portrait.portrait(appid, w) };
    } catch (e) {
      if (isWeChatError(e)) return { ok: false, errcode: e.errcode, errmsg: e.errmsg, ...(e.detail ? { detail: e.detail } : {}) };
      throw e;
    }
  }
  exportApp(appid: string, write: (text: string) => Promise<void>): Promise<number> {
    return writeExport(this.services.store, appid, write);
  }
  importApp(app: AppRecord): Promise<ImportedApp> {
    return importApp(this.services, app);
  }
  importFirstSeen(appid: string, rows: FirstSeen[]): Promise<{ firstSeen: number }> {
    return importFirstSeen(this.services, appid, rows);
  }
  importEvents(appid: string, events: unknown[]): Promise<ImportAnswer> {
    return importEvents(this.services, appid, events);
  }
  async now(): Promise<number> {
    return this.services.clock.now();
  }
  async analysis(appid: string, apiName: string, beginDate: string, endDate: string): Promise<AnalysisAnswer> {
    const api = ANALYSIS_API_BY_NAME.get(apiName);
    if (!api) throw new Error(`no analysis API ${apiName}`);
    try {
      const p = this.services.analysis.period(api, beginDate, endDate);
      return { ok: true, answer: await this.services.analysis.answer(appid, api, p) };
    } catch (e) {
      if (isWeChatError(e)) return { ok: false, errcode: e.errcode, errmsg: e.errmsg };
      throw e;
    }
  }
  deleteUsers(appid: string, openids: string[]): Promise<DeleteAnswer> {
    return this.services.lifecycle.deleteUsers(appid, openids);
  }
  prune(): Promise<PruneAnswer[]> {
    return this.services.lifecycle.prune();
  }
  async backup(out: Writable): Promise<void> {
    await this.services.lifecycle.backup(out);
  }
  restore(file: string): Promise<RestoreAnswer> {
    return this.services.lifecycle.restore(() => createReadStream(file));
  }
  async close(): Promise<void> {
    await this.services.close();
  }
}
