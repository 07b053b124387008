/**
 * Writer leases: at most one datacube process at a time writes an app's events and derived rows, whichever
 * ClickHouse server of a cluster each process talks to. That is what makes a batch sent to two datacube servers at
 * the same moment stored and counted once, and what lets the chain's cancel rows be exact (derive.ts).
 *
 * The atomic step is ClickHouse's own `CREATE VIEW` of a name that may already exist: of several creates of the same
 * name exactly one succeeds (the others fail with "already exists"). On a single server DDL on one name is
 * serialised by the server; in cluster mode the view is created `ON CLUSTER`, and the distributed DDL queue
 * (ZooKeeper/Keeper) runs its entries on every server in one order, so every server lets the same create win.
 * This works on ClickHouse 18.16 and current releases alike, with nothing but the store's own database.
 *
 * Lease `name` (an app) is a chain of generations in the database `<db>_leases`: view `lease_<key>_<n>` (key = a hash of the name) holds the owner's
 * random token and the server time `at` of its creation; view `rel_<key>_<n>` marks generation n released. Taking
 * the lease = creating generation n + 1, allowed when generation n is released, or older than the TTL (its owner
 * died or lost ClickHouse), or there is none. An owner keeps using a generation for at most TTL/2 after taking it
 * (then it takes the next one itself, which nobody else may do while the current one is younger than the TTL), so
 * two owners never overlap as long as no single write outlasts TTL/2 and the servers' clocks agree to within TTL/2.
 * Old generations are dropped by whoever takes the next one.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Connection } from './connection.ts';
import { ident, type Sql, sql } from './sql.ts';

export interface LeaseOptions {
  /** A generation older than this (server clock) may be taken over (default 30 000 ms). */
  ttlMs?: number;
  /** Keep a lease this long after the last use, so a stream of batches pays for one acquisition (default 1000 ms). */
  lingerMs?: number;
  /** Give up waiting for another owner after this long (default 20 000 ms). */
  waitMs?: number;
}

/** The lease could not be had in time: another datacube server holds it. Retryable. */
export class LeaseBusyError extends Error {
  constructor(name: string, waitedMs: number) {
    super(`another datacube server is writing ${name}; waited ${waitedMs} ms (retry)`);
    this.name = 'LeaseBusyError';
  }
}

interface Held {
  key: string;
  gen: number;
  token: string;
  /** performance.now() when the create that took it returned. */
  since: number;
  busy: number;
  timer: NodeJS.Timeout | undefined;
}

/** The database holding the lease views of a store's database `db`: `db_leases`. */
export function leasesDbName(c: Connection): string {
  return `${c.target.database}_leases`;
}
export function leasesDb(c: Connection): Sql {
  return ident(leasesDbName(c));
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function isExists(e: unknown): boolean {
  const m = e instanceof Error ? e.message : String(e);
  return /already exists|Code: 57\b/i.test(m);
}
function isMissing(e: unknown): boolean {
  const m = e instanceof Error ? e.message : String(e);
  return /doesn't exist|does not exist|UNKNOWN_TABLE|Code: 60\b/i.test(m);
}

export class Leases {
  private readonly held = new Map<string, Held>();
  private readonly ttlMs: number;
  private readonly lingerMs: number;
  private readonly waitMs: number;
  private closed = false;

  constructor(
    private readonly c: Connection,
    opts: LeaseOptions = {},
    /** Runs once each time the lease is taken (not when it is renewed), before the first task. */
    private readonly onAcquire: (name: string, keepAlive: () => Promise<void>) => Promise<void> = async () => undefined,
  ) {
    this.ttlMs = opts.ttlMs ?? 30_000;
    this.lingerMs = opts.lingerMs ?? 1000;
    this.waitMs = opts.waitMs ?? 20_000;
  }

  static keyOf(name: string): string {
    return createHash('sha256').update(name).digest('hex').slice(0, 16);
  }

  private view(prefix: 'lease' | 'rel', key: string, gen: number): Sql {
    return sql`${leasesDb(this.c)}.${ident(`${prefix}_${key}_${gen}`)}`;
  }

  /** Runs `fn` holding the lease `name`. Callers run one task per name at a time (the store's lanes). */
  async run<T>(name: string, fn: (keepAlive: () => Promise<void>) => Promise<T>): Promise<T> {
    if (this.closed) throw new Error('the store is closed');
    const key = Leases.keyOf(name);
    let h = this.held.get(key);
    if (h?.timer) {
      clearTimeout(h.timer);
      h.timer = undefined;
    }
    const keepAlive = async (): Promise<void> => {
      const cur = this.held.get(key);
      if (cur && performance.now() - cur.since > this.ttlMs / 3) await this.renew(cur);
    };
    if (h && performance.now() - h.since > this.ttlMs / 2) {
      await this.renew(h).catch(() => this.forget(key));
      h = this.held.get(key);
    }
    if (!h) {
      h = await this.acquire(name, key);
      h.busy++;
      try {
        await this.onAcquire(name, keepAlive);
      } catch (e) {
        h.busy--;
        await this.release(h).catch(() => undefined);
        throw e;
      }
    } else {
      h.busy++;
    }
    const mine = h;
    try {
      return await fn(keepAlive);
    } finally {
      mine.busy--;
      if (mine.busy === 0 && this.held.get(key) === mine) {
        mine.timer = setTimeout(() => void this.release(mine).catch(() => undefined), this.lingerMs);
        mine.timer.unref();
      }
    }
  }

  private forget(key: string): void {
    const h = this.held.get(key);
    if (h?.timer) clearTimeout(h.timer);
    this.held.delete(key);
  }

  /** The newest generation of `key`: its number, whether it is released, its age by the server's clock. */
  private async current(key: string): Promise<{ gen: number; released: boolean; ageS: number; now: number; gens: number[] }> {
    const rows = await this.c.rows<{ name: string; now: number }>(
      sql`SELECT name, toUInt32(now()) AS now FROM system.tables
          WHERE database = ${leasesDbName(this.c)} AND (startsWith(name, ${`lease_${key}_`}) OR startsWith(name, ${`rel_${key}_`}))`,
    );
    let gen = 0;
    const gens: number[] = [];
    const rel = new Set<number>();
    for (const r of rows) {
      const m = /^(lease|rel)_[0-9a-f]+_(\d+)$/.exec(String(r.name));
      if (!m) continue;
      const n = Number(m[2]);
      if (m[1] === 'rel') rel.add(n);
      else {
        gens.push(n);
        gen = Math.max(gen, n);
      }
    }
    let now = Number(rows[0]?.now ?? 0);
    let ageS = 0;
    if (gen > 0 && !rel.has(gen)) {
      const r = await this.c.rows<{ at: number; now: number }>(sql`SELECT at, toUInt32(now()) AS now FROM ${this.view('lease', key, gen)}`);
      now = Number(r[0]?.now ?? 0);
      ageS = now - Number(r[0]?.at ?? 0);
    }
    if (now === 0) now = Number((await this.c.rows<{ now: number }>(sql`SELECT toUInt32(now()) AS now`))[0]?.now ?? 0);
    return { gen, released: rel.has(gen), ageS, now, gens };
  }

  /** Creates generation `gen`; true if this process won it. */
  private async create(key: string, gen: number, token: string, at: number): Promise<boolean> {
    try {
      await this.c.exec(sql`CREATE VIEW ${this.view('lease', key, gen)}${this.c.onCluster} AS SELECT ${token} AS owner, toUInt32(${at}) AS at`);
      return true;
    } catch (e) {
      if (isExists(e)) return false;
      throw e;
    }
  }

  private async acquire(name: string, key: string): Promise<Held> {
    const started = performance.now();
    let delay = 10;
    for (;;) {
      if (this.closed) throw new Error('the store is closed');
      let cur: Awaited<ReturnType<Leases['current']>> | undefined;
      try {
        cur = await this.current(key);
      } catch (e) {
        // A generation dropped between listing and reading it: look again.
        if (!isMissing(e)) throw e;
      }
      if (cur && (cur.gen === 0 || cur.released || cur.ageS * 1000 > this.ttlMs)) {
        const token = randomBytes(12).toString('hex');
        const t0 = performance.now();
        if (await this.create(key, cur.gen + 1, token, cur.now)) {
          const h: Held = { key, gen: cur.gen + 1, token, since: t0, busy: 0, timer: undefined };
          this.held.set(key, h);
          void this.dropOld(key, cur.gens).catch(() => undefined);
          return h;
        }
        delay = 10;
        continue;
      }
      const waited = performance.now() - started;
      if (waited > this.waitMs) throw new LeaseBusyError(name, Math.round(waited));
      await sleep(delay + Math.random() * delay);
      delay = Math.min(delay * 2, 200);
    }
  }

  /** Takes the next generation while holding the current one (nobody else may take it while it is young). */
  private async renew(h: Held): Promise<void> {
    const now = Number((await this.c.rows<{ now: number }>(sql`SELECT toUInt32(now()) AS now`))[0]?.now ?? 0);
    const t0 = performance.now();
    if (!(await this.create(h.key, h.gen + 1, h.token, now))) {
      this.forget(h.key);
      throw new Error('the writer lease was taken over by another datacube server');
    }
    const old = h.gen;
    h.gen += 1;
    h.since = t0;
    void this.dropOld(h.key, [old]).catch(() => undefined);
  }

  private async dropOld(key: string, gens: readonly number[]): Promise<void> {
    for (const g of gens) {
      await this.c.exec(sql`DROP TABLE IF EXISTS ${this.view('rel', key, g)}${this.c.onCluster}`);
      await this.c.exec(sql`DROP TABLE IF EXISTS ${this.view('lease', key, g)}${this.c.onCluster}`);
    }
  }

  /** Marks the held generation released (if it is still ours) so another server may take the next one. */
  private async release(h: Held): Promise<void> {
    if (this.held.get(h.key) !== h || h.busy > 0) return;
    this.forget(h.key);
    try {
      await this.c.exec(sql`CREATE VIEW ${this.view('rel', h.key, h.gen)}${this.c.onCluster} AS SELECT ${h.token} AS owner`);
    } catch (e) {
      if (!isExists(e)) throw e;
    }
  }

  /** Releases every lease held (waits for none: callers finish their tasks first). */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.held.values()].filter((h) => h.busy === 0);
    await Promise.allSettled(all.map((h) => this.release(h)));
  }
}
