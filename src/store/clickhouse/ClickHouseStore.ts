import type { VisitEvent } from '../../domain/event.ts';
import type { PortraitCount } from '../../domain/portrait.ts';
import type { Window } from '../../domain/window.ts';
import type { AppPatch, AppRecord, TokenKind, TokenRecord } from '../records.ts';
import { Serial } from '../serial.ts';
import type { AppendResult, Store } from '../store.ts';
import { Connection, type ConnectionOptions } from './connection.ts';
import { appendEvents, countEvents, type EventsOptions, exportEvents, MonotonicMicros } from './events.ts';
import * as meta from './meta.ts';
import { migrate } from './migrate.ts';
import { portraitCounts } from './portrait.ts';
import { parseClickHouseUrl } from './url.ts';

export interface ClickHouseStoreOptions extends ConnectionOptions, EventsOptions {
  /** Create the database and apply pending migrations on open (default true). */
  migrate?: boolean;
}

/** A few lanes of one-at-a-time work, chosen by key: same key → same lane → never interleaved. */
class Lanes {
  private readonly lanes = Array.from({ length: 16 }, () => new Serial());
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    let h = 0;
    for (let i = 0; i < key.length; i++) h = (h * 31 + key.charCodeAt(i)) | 0;
    const lane = this.lanes[(h >>> 0) % this.lanes.length];
    if (!lane) throw new Error('no lane');
    return lane.run(task);
  }
}

/**
 * The ClickHouse backend: everything lives in ClickHouse (events, derived tables, apps, tokens, counters), so
 * several datacube servers can share one server or cluster. See schema.ts for the tables and portrait.ts for
 * the query. Within this process, appends of one app, and read-modify-writes of one key, run one at a time;
 * between processes, a duplicate `event_id` sent to two servers at the same instant can slip through (the
 * portrait is unaffected: it counts users, and a repeated event changes no user's latest value).
 */
export class ClickHouseStore implements Store {
  readonly backend = 'clickhouse' as const;
  private readonly clock = new MonotonicMicros();
  private readonly lanes = new Lanes();
  private closed = false;
  private readonly inflight = new Set<Promise<unknown>>();

  private constructor(
    readonly connection: Connection,
    private readonly opts: ClickHouseStoreOptions,
  ) {}

  static async open(url: string, opts: ClickHouseStoreOptions = {}): Promise<ClickHouseStore> {
    const c = Connection.open(parseClickHouseUrl(url), opts);
    try {
      await c.ping();
      if (opts.migrate ?? true) await migrate(c);
    } catch (e) {
      await c.close().catch(() => undefined);
      throw e;
    }
    return new ClickHouseStore(c, opts);
  }

  /** Runs `fn` unless the store is closed, and keeps track of it so `close` can wait for it. */
  private op<T>(fn: (c: Connection) => Promise<T>, lane?: string): Promise<T> {
    if (this.closed) return Promise.reject(new Error('the store is closed'));
    const c = this.connection;
    const p = lane === undefined ? fn(c) : this.lanes.run(lane, () => fn(c));
    this.inflight.add(p);
    const done = (): void => void this.inflight.delete(p);
    p.then(done, done);
    return p;
  }

  // ---- events and portraits

  append(appid: string, events: readonly VisitEvent[]): Promise<AppendResult> {
    return this.op((c) => appendEvents(c, this.clock, appid, events, this.opts), `events\u0000${appid}`);
  }
  portrait(appid: string, window: Window): Promise<PortraitCount[]> {
    return this.op((c) => portraitCounts(c, appid, window));
  }
  countEvents(appid: string): Promise<number> {
    return this.op((c) => countEvents(c, appid));
  }
  exportEvents(appid: string, onBatch: (events: VisitEvent[]) => Promise<void>, batchSize?: number): Promise<number> {
    return this.op((c) => exportEvents(c, appid, onBatch, batchSize));
  }

  // ---- apps

  createApp(app: AppRecord): Promise<void> {
    return this.op((c) => meta.createApp(c, this.clock, app), `app\u0000${app.appid}`);
  }
  getApp(appid: string): Promise<AppRecord | undefined> {
    return this.op((c) => meta.getApp(c, appid));
  }
  getAppByEnv(env: string): Promise<AppRecord | undefined> {
    return this.op((c) => meta.getAppByEnv(c, env));
  }
  listApps(): Promise<AppRecord[]> {
    return this.op((c) => meta.listApps(c));
  }
  updateApp(appid: string, patch: AppPatch): Promise<AppRecord | undefined> {
    return this.op((c) => meta.updateApp(c, this.clock, appid, patch), `app\u0000${appid}`);
  }

  // ---- tokens

  putToken(token: TokenRecord): Promise<void> {
    return this.op((c) => meta.putToken(c, this.clock, token), `tokens\u0000${token.appid}\u0000${token.kind}`);
  }
  getToken(hash: string): Promise<TokenRecord | undefined> {
    return this.op((c) => meta.getToken(c, hash));
  }
  retireTokens(appid: string, kind: TokenKind, expiresAt: number, keepHash?: string): Promise<void> {
    return this.op((c) => meta.retireTokens(c, this.clock, appid, kind, expiresAt, keepHash), `tokens\u0000${appid}\u0000${kind}`);
  }
  latestToken(appid: string, kind: TokenKind, now: number): Promise<TokenRecord | undefined> {
    return this.op((c) => meta.latestToken(c, appid, kind, now));
  }

  // ---- usage

  addUsage(appid: string, api: string, day: number, calls: number): Promise<number> {
    return this.op((c) => meta.addUsage(c, appid, api, day, calls), `usage\u0000${appid}\u0000${api}\u0000${day}`);
  }
  getUsage(appid: string, api: string, day: number): Promise<number> {
    return this.op((c) => meta.getUsage(c, appid, api, day));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Writes resolve only after ClickHouse acknowledged them and nothing is buffered here: wait for the
    // operations under way, then let the sockets go.
    await Promise.allSettled([...this.inflight]);
    await this.connection.close();
  }
}
