import { createReadStream } from 'node:fs';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { VisitEvent } from '../domain/event.ts';
import type { UserPortrait } from '../domain/portrait.ts';
import type { FirstSeen } from '../store/lifecycle.ts';
import type { AppRecord } from '../store/records.ts';
import { request, type TransportOptions } from '../sdk/http.ts';
import { WeChatApiError } from '../sdk/index.ts';
import type { ImportAnswer, ImportedApp } from '../transfer/importInto.ts';
import type { AnalysisAnswer, AppInput, AppListing, Backend, BatchAnswer, PortraitAnswer, PublicApp } from './backend.ts';
import { BACKUP_CONTENT_TYPE, type DeleteAnswer, type PruneAnswer, type RestoreAnswer } from '../lifecycle/index.ts';
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

  private request(method: string, path: string, body?: unknown): Promise<Response> {
    return fetch(`${this.server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.server.adminKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; json: T }> {
    const r = await this.request(method, path, body);
    const text = await r.text();
    let json: T;
    try {
      json = JSON.parse(text) as T;
    } catch {
      throw new Error(`the server at ${this.server.url} answered HTTP ${r.status} with something that is not JSON`);
    }
    return { status: r.status, json };
  }

  private async ok<T>(method: string, path: string, body?: unknown): Promise<T> {
    const { status, json } = await this.call<T & { error?: string }>(method, path, body);
    if (status !== 200) throw new Error(json.error ?? `the server answered HTTP ${status}`);
    return json;
  }

  private app(appid: string): string {
    return `/admin/apps/${encodeURIComponent(appid)}`;
  }

  createApp(input: AppInput & { credentials?: { appid: string; secret: string } }): Promise<PublicApp & { secret: string }> {
    const { credentials, ...rest } = input;
    return this.ok('POST', '/admin/apps', { ...rest, ...credentials });
  }
  listApps(): Promise<AppListing[]> {
    return this.ok('GET', '/admin/apps');
  }
  updateApp(appid: string, patch: AppInput): Promise<PublicApp> {
    return this.ok('PATCH', this.app(appid), patch);
  }
  deleteApp(appid: string): Promise<{ appid: string; events: number }> {
    return this.ok('DELETE', this.app(appid));
  }
  resetSecret(appid: string): Promise<{ appid: string; secret: string }> {
    return this.ok('POST', `${this.app(appid)}/secret`, {});
  }
  async hasApp(appid: string): Promise<boolean> {
    const { status } = await this.call<PublicApp | { error: string }>('GET', this.app(appid));
    if (status !== 200 && status !== 404) throw new Error(`the server answered HTTP ${status}`);
    return status === 200;
  }
  async countEvents(appid: string): Promise<number> {
    return (await this.ok<{ events: number }>('GET', `${this.app(appid)}/events`)).events;
  }
  /** The most bytes one request body may have on this server. */
  private bodyLimit(): number {
    return Math.max(4096, (this.server.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES) - BODY_MARGIN);
  }
  async ingest(appid: string, records: unknown[]): Promise<BatchAnswer> {
    const limit = this.bodyLimit();
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
      // The server's verdict (61500, 61501, …) is an answer, with its detail; no answer at all is an error.
      if (e instanceof WeChatApiError && e.status !== undefined && e.errcode !== -1) {
        const errmsg = e.errmsg.replace(/, hint: \[[^\]]*\]/, '').replace(/ rid: \S+$/, '');
        return { ok: false, errcode: e.errcode, errmsg, ...(e.hint ? { detail: e.hint } : {}) };
      }
      throw e;
    }
  }
  async exportApp(appid: string, write: (text: string) => Promise<void>): Promise<number> {
    const r = await this.request('GET', `/admin/export?appid=${encodeURIComponent(appid)}`);
    if (r.status !== 200 || !r.body) {
      const text = await r.text();
      let why = `the server answered HTTP ${r.status}`;
      try {
        why = (JSON.parse(text) as { error?: string }).error ?? why;
      } catch {
        // not JSON: the status says it
      }
      throw new Error(why);
    }
    // The server counts lines as it writes them and cannot add a trailer to a stream; count them here.
    const decoder = new TextDecoder();
    let lines = 0;
    let last = '';
    for await (const chunk of r.body) {
      const text = decoder.decode(chunk, { stream: true });
      for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lines++;
      if (text.length > 0) last = text;
      await write(text);
    }
    const rest = decoder.decode();
    if (rest) await write(rest);
    if (!last.endsWith('\n') && !rest.endsWith('\n')) throw new Error('the export was cut off (the server stopped before the end)');
    return Math.max(0, lines - 1);
  }
  importApp(app: AppRecord): Promise<ImportedApp> {
    return this.ok('POST', '/admin/import/app', app);
  }
  /** Sent in bodies within the server's body limit, like events. */
  async importFirstSeen(appid: string, rows: FirstSeen[]): Promise<{ firstSeen: number }> {
    // One request while the app has no events there: the server applies them all or none.
    return this.ok('POST', `/admin/import/first-seen?appid=${encodeURIComponent(appid)}`, rows);
  }
  /** Sent in bodies within the server's body limit, like ingest. */
  async importEvents(appid: string, events: unknown[]): Promise<ImportAnswer> {
    const total: ImportAnswer = { accepted: 0, duplicates: 0, rejected: [] };
    for (const part of byteBatches(events, this.bodyLimit())) {
      const a = await this.ok<ImportAnswer>('POST', `/admin/import/events?appid=${encodeURIComponent(appid)}`, events.slice(part.first, part.first + part.count));
      total.accepted += a.accepted;
      total.duplicates += a.duplicates;
      for (const r of a.rejected) total.rejected.push({ index: part.first + r.index, reason: r.reason });
    }
    return total;
  }
  /** The server's clock when it runs in test mode (GET /__datacube/clock), else this machine's (the server is on it). */
  async now(): Promise<number> {
    const r = await fetch(`${this.server.url}/__datacube/clock`);
    if (r.status !== 200) {
      await r.body?.cancel();
      return Date.now();
    }
    const j = (await r.json()) as { nowMs?: unknown };
    return typeof j.nowMs === 'number' ? j.nowMs : Date.now();
  }
  async analysis(appid: string, api: string, beginDate: string, endDate: string): Promise<AnalysisAnswer> {
    try {
      const { status, json } = await request(READS, {
        api,
        method: 'POST',
        url: `${this.server.url}/admin/analysis`,
        headers: { authorization: `Bearer ${this.server.adminKey}` },
        body: JSON.stringify({ appid, api, begin_date: beginDate, end_date: endDate }),
      });
      if (status === 200) return { ok: true, answer: json };
      throw new Error(typeof json.error === 'string' ? json.error : `the server answered HTTP ${status}`);
    } catch (e) {
      // As for the portrait: the server's verdict (61500, 61501, …) is an answer; no answer at all is an error.
      if (e instanceof WeChatApiError && e.status !== undefined && e.errcode !== -1) return { ok: false, errcode: e.errcode, errmsg: e.errmsg };
      throw e;
    }
  }
  deleteUsers(appid: string, openids: string[]): Promise<DeleteAnswer> {
    return this.ok('POST', '/admin/users/delete', { appid, openids });
  }
  async prune(): Promise<PruneAnswer[]> {
    return (await this.ok<{ pruned: PruneAnswer[] }>('POST', '/admin/prune', {})).pruned;
  }
  async backup(out: Writable): Promise<void> {
    const r = await fetch(`${this.server.url}/admin/backup`, { headers: { authorization: `Bearer ${this.server.adminKey}` } });
    if (r.status !== 200 || !r.body) {
      const text = await r.text();
      throw new Error(`the server could not write a backup (HTTP ${r.status}): ${text.slice(0, 300)}`);
    }
    await pipeline(Readable.fromWeb(r.body as WebReadableStream<Uint8Array>), out);
  }
  async restore(file: string): Promise<RestoreAnswer> {
    const r = await fetch(`${this.server.url}/admin/restore`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.server.adminKey}`, 'content-type': BACKUP_CONTENT_TYPE },
      body: Readable.toWeb(createReadStream(file)) as ReadableStream<Uint8Array>,
      duplex: 'half',
    } as RequestInit & { duplex: 'half' });
    const json = (await r.json()) as RestoreAnswer & { error?: string };
    if (r.status !== 200) throw new Error(json.error ?? `the server answered HTTP ${r.status}`);
    return json;
  }
  async close(): Promise<void> {}
}
