/**
 * Which app's events to fold into the derived tables next, and who is waiting for it.
 *
 * Every append is a contiguous run of `seq` numbers of ONE app, so each app's backlog is a list of runs. The store
 * derives one app at a time, at most `chunkEvents` events per step (whole runs), so a step of one app never takes
 * long, and between steps it picks:
 *   1. an app someone waits for (a portrait, or an append held back by the app's backlog limit), oldest wait first;
 *   2. otherwise the apps with pending events in turn (round robin).
 * A portrait of an app with nothing pending waits for nothing at all; a portrait of an app with pending events waits
 * for that app's own backlog (bounded by the store's backlog limit) plus at most one step of one other app.
 *
 * Pure bookkeeping: no I/O, no timers (the store runs the steps).
 */
export interface AppProgress {
  appid: string;
  app: number;
  /** Every event of the app with seq ≤ derived is folded in. */
  derived: number;
  /** Runs of appended, not yet derived events, oldest first. */
  runs: { end: number; count: number }[];
  pending: number;
  /** Whether the app has its row in `app_derive`. */
  hasProgressRow: boolean;
  /** After a failed step: not picked again before this time (ms since the epoch), unless someone waits. */
  retryAt: number;
}

interface Waiter {
  appid: string;
  /** Resolve once `derived` ≥ target, or once `pending` ≤ backlog. */
  target?: number;
  backlog?: number;
  since: number;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export interface DeriveStep {
  progress: AppProgress;
  after: number;
  upto: number;
  /** Number of events in the step. */
  count: number;
}

export class DeriveQueue {
  private readonly apps = new Map<string, AppProgress>();
  private readonly waiters: Waiter[] = [];
  private turn: string[] = [];
  private waitSeq = 0;

  constructor(private readonly chunkEvents: number) {}

  /** Registers an app (from the store's tables on open, or at its first append). */
  add(p: Omit<AppProgress, 'runs' | 'pending' | 'retryAt'>, pending?: { end: number; count: number }): AppProgress {
    const progress: AppProgress = { ...p, runs: [], pending: 0, retryAt: 0 };
    this.apps.set(p.appid, progress);
    if (pending && pending.count > 0) this.appended(p.appid, pending.end, pending.count);
    return progress;
  }

  get(appid: string): AppProgress | undefined {
    return this.apps.get(appid);
  }

  /** Records a committed append of `count` events of the app, the last with seq `end`. */
  appended(appid: string, end: number, count: number): void {
    const p = this.apps.get(appid);
    if (!p || count <= 0) return;
    p.runs.push({ end, count });
    p.pending += count;
  }

  /** The last seq appended for the app (what a portrait asked now has to include). */
  appendedUpto(appid: string): number {
    const p = this.apps.get(appid);
    if (!p) return 0;
    return p.runs[p.runs.length - 1]?.end ?? p.derived;
  }

  hasPending(): boolean {
    for (const p of this.apps.values()) if (p.pending > 0) return true;
    return false;
  }

  /** Resolves once every event of the app with seq ≤ target is derived. */
  until(appid: string, target: number): Promise<void> {
    const p = this.apps.get(appid);
    if (!p || p.derived >= target) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ appid, target, since: this.waitSeq++, resolve, reject }));
  }

  /** Resolves once the app has at most `backlog` events pending. */
  untilBacklog(appid: string, backlog: number): Promise<void> {
    const p = this.apps.get(appid);
    if (!p || p.pending <= backlog) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ appid, backlog, since: this.waitSeq++, resolve, reject }));
  }

  /** The next step to run, or undefined when nothing is pending (or only apps waiting out a failure). */
  next(now: number): DeriveStep | undefined {
    let pick: AppProgress | undefined;
    let oldest = Infinity;
    for (const w of this.waiters) {
      const p = this.apps.get(w.appid);
      if (p && p.pending > 0 && w.since < oldest) {
        oldest = w.since;
        pick = p;
      }
    }
    if (!pick) {
      if (this.turn.length === 0) this.turn = [...this.apps.values()].filter((p) => p.pending > 0).map((p) => p.appid);
      while (this.turn.length > 0 && !pick) {
        const p = this.apps.get(this.turn.shift() ?? '');
        if (p && p.pending > 0 && p.retryAt <= now) pick = p;
      }
    }
    if (!pick) return undefined;
    let count = 0;
    let upto = pick.derived;
    for (const r of pick.runs) {
      if (count > 0 && count + r.count > this.chunkEvents) break;
      count += r.count;
      upto = r.end;
    }
    return { progress: pick, after: pick.derived, upto, count };
  }

  /** A step succeeded: its events are derived; wakes whoever it satisfies. */
  done(step: DeriveStep): void {
    const p = step.progress;
    p.derived = step.upto;
    p.hasProgressRow = true;
    p.retryAt = 0;
    while (p.runs.length > 0 && (p.runs[0]?.end ?? Infinity) <= step.upto) p.pending -= p.runs.shift()?.count ?? 0;
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i];
      if (!w || w.appid !== p.appid) continue;
      if ((w.target !== undefined && p.derived >= w.target) || (w.backlog !== undefined && p.pending <= w.backlog)) {
        this.waiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  /** A step failed: whoever waits for the app gets the error; the app is retried after `retryAt`. */
  failed(step: DeriveStep, err: unknown, retryAt: number): void {
    step.progress.retryAt = retryAt;
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i];
      if (w && w.appid === step.progress.appid) {
        this.waiters.splice(i, 1);
        w.reject(err);
      }
    }
  }

  /**
   * The store's file was replaced by a copy whose derived tables are older (a compaction, see compact.ts): the app is
   * derived again from `derived`, with `pending` the events after it (whoever waits keeps waiting for their target).
   */
  rewind(appid: string, derived: number, hasProgressRow: boolean, pending: { end: number; count: number } | undefined): void {
    const p = this.apps.get(appid);
    if (!p || derived >= p.derived) return;
    p.derived = derived;
    p.hasProgressRow = hasProgressRow;
    p.runs = pending && pending.count > 0 ? [pending] : [];
    p.pending = pending?.count ?? 0;
    p.retryAt = 0;
  }

  /** Rejects every waiter (the store is closing). */
  rejectAll(err: unknown): void {
    for (const w of this.waiters.splice(0)) w.reject(err);
  }

  /** The earliest time an app that failed may be tried again, if any has pending events. */
  nextRetry(): number | undefined {
    let t: number | undefined;
    for (const p of this.apps.values()) if (p.pending > 0 && p.retryAt > 0) t = t === undefined ? p.retryAt : Math.min(t, p.retryAt);
    return t;
  }
}
