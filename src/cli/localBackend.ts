import { publicApp } from '../auth/index.ts';
import { isWeChatError } from '../domain/errors.ts';
import type { Services } from '../services.ts';
import type { Backend, BatchAnswer, PortraitAnswer, PublicApp } from './backend.ts';

export class LocalBackend implements Backend {
  readonly kind = 'local' as const;
  constructor(readonly services: Services) {}

  async createApp(input: { name?: string; env?: string }): Promise<PublicApp & { secret: string }> {
    const { app, secret } = await this.services.auth.createApp(input);
    return { ...publicApp(app), secret };
  }
  async listApps(): Promise<PublicApp[]> {
    return (await this.services.store.listApps()).map(publicApp);
  }
  async updateApp(appid: string, patch: { name?: string; env?: string; dailyQuota?: number; collect?: boolean }): Promise<PublicApp> {
    return publicApp(await this.services.auth.updateApp(appid, patch));
  }
  async hasApp(appid: string): Promise<boolean> {
    return (await this.services.store.getApp(appid)) !== undefined;
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
      if (isWeChatError(e)) return { ok: false, errcode: e.errcode, errmsg: e.errmsg };
      throw e;
    }
  }
  async close(): Promise<void> {
    await this.services.close();
  }
}
