import type { Readable, Writable } from 'node:stream';
import { type Clock, today } from '../domain/clock.ts';
import { formatDay } from '../domain/day.ts';
import { WeChatError } from '../domain/errors.ts';
import { OPENID_PATTERN } from '../domain/event.ts';
import { firstKeptDay } from '../domain/retention.ts';
import { MAX_DELETE_OPENIDS, type Pruned } from '../store/lifecycle.ts';
import type { Store } from '../store/store.ts';
import { type BackupCounts, BackupError, readBackup, writeBackup } from './backupFile.ts';

/** Where deletions, prunes, backups and restores are reported: counts only, never an openid. */
export type LifecycleLog = (fields: Record<string, string | number | boolean>, message: string) => void;

export interface DeleteAnswer {
  appid: string;
  /** Openids of the list the app had anything of. */
  users: number;
  /** Raw events removed. */
  events: number;
}

export interface PruneAnswer {
  appid: string;
  retain_days: number;
  /** The first day kept, yyyymmdd: events of earlier days are gone. */
  kept_from: string;
  users: number;
  events: number;
}

export interface BackupAnswer extends BackupCounts {
  created_at: string;
  bytes: number;
}

export interface RestoreAnswer extends BackupCounts {
  /** When the backup was taken. */
  created_at: string;
  /** False when the backup's sealed secrets were made with another master key (cloud calls need that key). */
  secrets_readable: boolean;
}

/** The target of a restore holds data already. */
export class NotEmptyError extends Error {
  constructor(what: string) {
    super(`restore needs an empty store, and this one holds ${what}: restore into an empty data directory or ClickHouse database`);
    this.name = 'NotEmptyError';
  }
}

/** Checks a deletion request's openids: a list of 1 to 1,000 openids (WeChat errcodes otherwise; nothing is deleted). */
export function checkOpenids(openids: unknown): string[] {
  if (!Array.isArray(openids)) throw new WeChatError('DATA_FORMAT', 'send {"openids":[…]}: a list of the openids to delete');
  if (openids.length === 0) throw new WeChatError('DATA_FORMAT', 'openids is empty: name at least one openid');
  if (openids.length > MAX_DELETE_OPENIDS) {
    throw new WeChatError('CONTENT_TOO_LARGE', `at most ${MAX_DELETE_OPENIDS} openids a call, got ${openids.length}; nothing was deleted`);
  }
  openids.forEach((o, i) => {
    if (typeof o !== 'string' || !OPENID_PATTERN.test(o)) {
      throw new WeChatError('DATA_FORMAT', `openids[${i}] is not an openid (1-128 characters of [A-Za-z0-9_-]); nothing was deleted`);
    }
  });
  return openids as string[];
}

/** How often the daily prune looks whether a new Shanghai day has begun. */
const PRUNE_CHECK_MS = 10 * 60_000;

/**
 * Personal data over its whole life: deleting users on request, dropping what retention no longer keeps (by
 * command and once a day in the server), and backups and restores of a whole store. Every action is logged with
 * what it did, in counts. Caches of answers are dropped for every app whose data changed.
 */
export class LifecycleService {
  private log: LifecycleLog = () => undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastPruneDay = -1;
  private running: Promise<unknown> | undefined;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly opts: {
      /** Fingerprint of the master key (Sealer.fingerprint), recorded in backups. */
      keyFingerprint: string;
      /** Drops cached answers of an app (portraits, …). */
      invalidate: (appid: string) => void;
    },
  ) {}

  useLog(log: LifecycleLog): void {
    this.log = log;
  }

  private async requireApp(appid: string): Promise<void> {
    if (!(await this.store.getApp(appid))) throw new WeChatError('INVALID_APPID', `no app ${appid}`);
  }

  /** Deletes users of an app (Store.deleteUsers) after checking the request; see checkOpenids. */
  async deleteUsers(appid: string, openids: unknown): Promise<DeleteAnswer> {
    const list = checkOpenids(openids);
    await this.requireApp(appid);
    const started = Date.now();
    const r = await this.store.deleteUsers(appid, list);
    this.opts.invalidate(appid);
    this.log({ op: 'delete_users', appid, asked: new Set(list).size, users: r.users, events: r.events, ms: Date.now() - started }, 'users deleted');
    return { appid, users: r.users, events: r.events };
  }

  /** Drops, for every app with a retention, the events older than it keeps (and what depends only on them). */
  async prune(): Promise<PruneAnswer[]> {
    const day = today(this.clock);
    const apps = (await this.store.listApps()).filter((a) => typeof a.retainDays === 'number' && a.retainDays > 0);
    if (apps.length === 0) return [];
    const started = Date.now();
    const cuts = apps.map((a) => ({ appid: a.appid, beforeDay: firstKeptDay(day, a.retainDays as number) }));
    const done: Pruned[] = await this.store.prune(cuts);
    const answers: PruneAnswer[] = done.map((p) => {
      if (p.events > 0) this.opts.invalidate(p.appid);
      const retain = apps.find((a) => a.appid === p.appid)?.retainDays ?? 0;
      return { appid: p.appid, retain_days: retain, kept_from: formatDay(p.beforeDay), users: p.users, events: p.events };
    });
    for (const a of answers) this.log({ op: 'prune', appid: a.appid, retain_days: a.retain_days, kept_from: a.kept_from, users: a.users, events: a.events }, 'pruned');
    this.log({ op: 'prune', apps: answers.length, events: answers.reduce((s, a) => s + a.events, 0), ms: Date.now() - started }, 'prune done');
    return answers;
  }

  /** Writes a backup of the whole store to `out` (see backupFile.ts) while the store goes on working. */
  async backup(out: Writable): Promise<BackupAnswer> {
    const started = Date.now();
    const createdAt = new Date(this.clock.now()).toISOString();
    const r = await writeBackup(out, { created_at: createdAt, backend: this.store.backend, key: this.opts.keyFingerprint }, (sink) =>
      this.store.snapshot(sink, this.clock.now()),
    );
    this.log({ op: 'backup', ...r, ms: Date.now() - started }, 'backup written');
    return { created_at: createdAt, ...r };
  }

  /**
   * Restores a backup into this store, which must be empty. `open` gives the backup from its start; it is read
   * twice: once to check it whole (nothing is written if it is damaged or cut short), once to load it. Derived
   * tables are rebuilt as the events are appended.
   */
  async restore(open: () => Readable): Promise<RestoreAnswer> {
    const started = Date.now();
    const have = await this.store.contents();
    if (have.apps + have.tokens + have.events > 0) throw new NotEmptyError(`${have.apps} apps, ${have.tokens} tokens and ${have.events} events`);
    const { header } = await readBackup(open());
    let appended = 0;
    let duplicates = 0;
    const touched = new Set<string>();
    const { counts } = await readBackup(open(), {
      app: (a) => this.store.createApp(a),
      token: (t) => this.store.putToken(t),
      usage: async (u) => void (await this.store.addUsage(u.appid, u.api, u.day, u.calls)),
      firstSeen: (appid, rows) => this.store.restoreFirstSeen(appid, rows),
      events: async (appid, events) => {
        const r = await this.store.append(appid, events);
        appended += r.accepted;
        duplicates += r.duplicates.length;
        touched.add(appid);
      },
    });
    if (duplicates > 0) throw new BackupError(0, `the backup holds ${duplicates} events twice (same event_id); ${appended} were restored`);
    for (const appid of touched) this.opts.invalidate(appid);
    const answer: RestoreAnswer = { created_at: header.created_at, ...counts, secrets_readable: header.key === this.opts.keyFingerprint };
    this.log({ op: 'restore', ...counts, secrets_readable: answer.secrets_readable, ms: Date.now() - started }, 'backup restored');
    return answer;
  }

  /**
   * Starts the daily prune: checks every `everyMs` (and once soon after the start) whether a new Shanghai day has
   * begun since the last prune, and prunes then. Failures are logged and tried again at the next check.
   */
  startDailyPrune(everyMs = PRUNE_CHECK_MS, firstAfterMs = 5_000): void {
    if (this.timer) return;
    const tick = () => void this.pruneIfDue().catch((e: unknown) => this.log({ op: 'prune', failed: true, error: e instanceof Error ? e.message : String(e) }, 'prune failed'));
    const first = setTimeout(() => {
      tick();
      this.timer = setInterval(tick, everyMs);
      this.timer.unref();
    }, firstAfterMs);
    first.unref();
    this.timer = first;
  }

  /** Prunes unless it already did on this Shanghai day (the daily job's step). */
  async pruneIfDue(): Promise<PruneAnswer[] | undefined> {
    const day = today(this.clock);
    if (this.running || day === this.lastPruneDay) return undefined;
    const run = this.prune();
    this.running = run;
    try {
      const r = await run;
      this.lastPruneDay = day;
      return r;
    } finally {
      this.running = undefined;
    }
  }

  /** Stops the daily prune and waits for one under way. */
  async stop(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      clearInterval(this.timer);
    }
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }
}
