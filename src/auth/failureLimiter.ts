import { RetryLaterError } from '../domain/errors.ts';

interface Entry {
  /** Times of the latest failures (at most `limit`), oldest first. */
  failures: number[];
  /** Checks under way (each may still fail, so they count against the limit until they end). */
  inflight: number;
}

/** One check under way; `end` records its outcome. */
export interface Attempt {
  end(ok: boolean): void;
}

/**
 * Limits wrong app secrets per client IP and per appid: at most `perIp` (resp. `perApp`) failures in any
 * `windowMs`. A check is refused before it costs anything once the failures so far plus the checks under way reach
 * the limit, with the seconds until the oldest failure leaves the window (45011, Retry-After). Checks under way
 * count too, so a burst of concurrent wrong secrets cannot all start before the first failure is recorded.
 * Memory is bounded: at most `maxKeys` IPs and appids are tracked (idle ones are dropped first).
 */
export class FailureLimiter {
  private readonly ips = new Map<string, Entry>();
  private readonly apps = new Map<string, Entry>();

  constructor(
    private readonly perIp: number,
    private readonly perApp: number,
    private readonly now: () => number,
    private readonly windowMs = 60_000,
    private readonly maxKeys = 10_000,
  ) {}

  /** Throws 45011 if the client IP may not try now (used before looking anything up). */
  checkIp(ip: string): void {
    this.check(this.ips, ip, this.perIp, 'too many wrong app secrets from this address');
  }

  /** Starts a secret check for `appid` from `ip`, or throws 45011 if either is over its limit. */
  begin(ip: string, appid: string): Attempt {
    this.check(this.ips, ip, this.perIp, 'too many wrong app secrets from this address');
    this.check(this.apps, appid, this.perApp, 'too many wrong secrets for this appid');
    const a = this.entry(this.ips, ip);
    const b = this.entry(this.apps, appid);
    a.inflight++;
    b.inflight++;
    let ended = false;
    return {
      end: (ok: boolean) => {
        if (ended) return;
        ended = true;
        a.inflight--;
        b.inflight--;
        if (!ok) {
          this.record(a, this.perIp);
          this.record(b, this.perApp);
        }
      },
    };
  }

  /** A failure that needed no check (an unknown appid): counts against the IP only. */
  fail(ip: string): void {
    this.record(this.entry(this.ips, ip), this.perIp);
  }

  private check(map: Map<string, Entry>, key: string, limit: number, why: string): void {
    const e = map.get(key);
    if (!e) return;
    const now = this.now();
    while (e.failures.length > 0 && (e.failures[0] ?? 0) <= now - this.windowMs) e.failures.shift();
    if (e.failures.length + e.inflight < limit) return;
    const oldest = e.failures[0];
    const wait = oldest === undefined ? 1 : Math.max(1, Math.ceil((oldest + this.windowMs - now) / 1000));
    throw new RetryLaterError(`${why}; retry in ${wait} s`, wait);
  }

  private record(e: Entry, limit: number): void {
    e.failures.push(this.now());
    while (e.failures.length > limit) e.failures.shift();
  }

  private entry(map: Map<string, Entry>, key: string): Entry {
    let e = map.get(key);
    if (e) return e;
    if (map.size >= this.maxKeys) this.evict(map);
    e = { failures: [], inflight: 0 };
    map.set(key, e);
    return e;
  }

  /** Drops the keys whose failures have all left the window; if none, the oldest idle key. */
  private evict(map: Map<string, Entry>): void {
    const cutoff = this.now() - this.windowMs;
    for (const [k, e] of map) {
      if (e.inflight === 0 && (e.failures[e.failures.length - 1] ?? 0) <= cutoff) map.delete(k);
    }
    if (map.size < this.maxKeys) return;
    for (const [k, e] of map) {
      if (e.inflight === 0) {
        map.delete(k);
        return;
      }
    }
  }
}
