import type { UserPortrait } from '../domain/portrait.ts';
import { request, type TransportOptions } from '../sdk/http.ts';
import { WeChatApiError } from '../sdk/index.ts';
import type { Backend, BatchAnswer, PortraitAnswer, PublicApp } from './backend.ts';
import type { ServerFile } from './serverFile.ts';

/**
 * Reads through the server go through the SDK's transport: a timeout per attempt, and retries with backoff and
 * jitter when the server is busy (45011, honouring Retry-After), failed (-1) or briefly unreachable.
 */
const READS: TransportOptions = { fetch, timeoutMs: 60_000, retries: 3, backoff: { baseMs: 200, maxMs: 5_000 } };

/** Goes through the admin routes of the server that owns the data directory. */
export class RemoteBackend implements Backend {
  readonly kind = 'remote' as const;
  constructor(private readonly server: ServerFile) {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; json: T }> {
    const r = await fetch(`${this.server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.server.adminKey}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await r.json()) as T;
    return { status: r.status, json };
  }

  private async ok<T>(method: string, path: string, body?: unknown): Promise<T> {
    const { status, json } = await this.call<T & { error?: string }>(method, path, body);
    if (status !== 200) throw new Error(json.error ?? `the server answered HTTP ${status}`);
    return json;
  }

  createApp(input: { name?: string; env?: string }): Promise<PublicApp & { secret: string }> {
    return this.ok('POST', '/admin/apps', input);
  }
  listApps(): Promise<PublicApp[]> {
    return this.ok('GET', '/admin/apps');
  }
  updateApp(appid: string, patch: { name?: string; env?: string; dailyQuota?: number; collect?: boolean }): Promise<PublicApp> {
    return this.ok('PATCH', `/admin/apps/${encodeURIComponent(appid)}`, patch);
  }
  async hasApp(appid: string): Promise<boolean> {
    return (await this.listApps()).some((a) => a.appid === appid);
  }
  ingest(appid: string, records: unknown[]): Promise<BatchAnswer> {
    return this.ok('POST', `/admin/events?appid=${encodeURIComponent(appid)}`, records);
  }
  async portrait(appid: string, beginDate: string, endDate: string): Promise<PortraitAnswer> {
    try {
      const { status, json } = await request(READS, {
        api: 'getUserPortrait',
        method: 'POST',
        url: `${this.server.url}/admin/portrait`,
        headers: { authorization: `Bearer ${this.server.adminKey}` },
        body: JSON.stringify({ appid, begin_date: beginDate, end_date: endDate }),
      });
      if (status === 200) return { ok: true, portrait: json as unknown as UserPortrait };
      throw new Error(typeof json.error === 'string' ? json.error : `the server answered HTTP ${status}`);
    } catch (e) {
      // The server's verdict (61500, 61501, …) is an answer; no answer at all is an error.
      if (e instanceof WeChatApiError && e.status !== undefined && e.errcode !== -1) return { ok: false, errcode: e.errcode, errmsg: e.errmsg };
      throw e;
    }
  }
  async close(): Promise<void> {}
}
