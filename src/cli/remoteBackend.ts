import type { UserPortrait } from '../domain/portrait.ts';
import { request, type TransportOptions } from '../sdk/http.ts';
import { WeChatApiError } from '../sdk/index.ts';
import type { Backend, BatchAnswer, PortraitAnswer, PublicApp } from './backend.ts';
import { byteBatches } from './byteBatches.ts';
import type { ServerFile } from './serverFile.ts';

/**
 * Reads through the server go through the SDK's transport: a timeout per attempt, and retries with backoff and
 * jitter when the server is busy (45011, honouring Retry-After), failed (-1) or briefly unreachable.
 */
const READS: TransportOptions = { fetch, timeoutMs: 60_000, retries: 3, backoff: { baseMs: 200, maxMs: 5_000 } };

/** The body limit of servers that do not say theirs in server.json (datacube's default). */
const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;
/** Room left in each body for what the limit counts beyond our JSON (nothing today; a margin all the same). */
const BODY_MARGIN = 1024;
/** How long one batch may keep being answered 45011 before the CLI gives up. */
const MAX_BUSY_WAIT_MS = 5 * 60_000;

export interface RemoteOptions {
  /** Waits between refused attempts (tests pass a faster one); default: the server's Retry-After. */
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Goes through the admin routes of the server that owns the data directory. Ingest is sent in bodies within the
 * server's body limit (split by bytes, whatever the batch), and an answer 45011 (HTTP 429, the server is holding as
 * much as it may) is retried after its Retry-After, for up to MAX_BUSY_WAIT_MS.
 */
export class RemoteBackend implements Backend {
  readonly kind = 'remote' as const;
  private readonly sleep: (ms: number) => Promise<void>;
  constructor(
    private readonly server: ServerFile,
    opts: RemoteOptions = {},
  ) {
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

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
  async ingest(appid: string, records: unknown[]): Promise<BatchAnswer> {
    const limit = Math.max(4096, (this.server.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES) - BODY_MARGIN);
    const total: BatchAnswer = { accepted: 0, duplicates: 0, rejected: [] };
    for (const part of byteBatches(records, limit)) {
      if (Buffer.byteLength(part.body) > limit) {
        total.rejected.push({ index: part.first, errmsg: `record: the event is larger than the server's body limit (${limit} bytes)` });
        continue;
      }
      const a = await this.postEvents(appid, part.body);
      total.accepted += a.accepted;
      total.duplicates += a.duplicates;
      for (const r of a.rejected) total.rejected.push({ index: part.first + r.index, errmsg: r.errmsg });
    }
    return total;
  }

  /** One body of events; 45011 answers are retried after their Retry-After. */
  private async postEvents(appid: string, body: string): Promise<BatchAnswer> {
    let waited = 0;
    for (;;) {
      const r = await fetch(`${this.server.url}/admin/events?appid=${encodeURIComponent(appid)}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.server.adminKey}`, 'content-type': 'application/json' },
        body,
      });
      const json = (await r.json()) as BatchAnswer & { error?: string; errcode?: number; errmsg?: string };
      if (r.status === 200 && (json.errcode === undefined || json.errcode === 0)) return json;
      if (r.status === 429 && json.errcode === 45011 && waited < MAX_BUSY_WAIT_MS) {
        const after = Math.min(60, Math.max(1, Number(r.headers.get('retry-after')) || 1)) * 1000;
        waited += after;
        await this.sleep(after);
        continue;
      }
      throw new Error(json.error ?? json.errmsg ?? `the server answered HTTP ${r.status}`);
    }
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
