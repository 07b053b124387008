/**
 * Token buckets by key (a client address, an app): `rate` tokens a second, at most `burst` saved up. Time is the
 * process's monotonic clock, so limits hold whatever the wall clock (or a test's pinned clock) does. The number of keys
 * is bounded: when full, keys whose bucket has refilled (they hold no state worth keeping) are dropped, then the oldest.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    readonly rate: number,
    readonly burst: number,
    private readonly maxKeys = 100_000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Takes `n` tokens for `key`: 0 if they were there, else the milliseconds until they will be (nothing is taken). */
  take(key: string, n = 1): number {
    const now = this.now();
    let b = this.buckets.get(key);
    if (b) {
      b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.rate);
      b.at = now;
    } else {
      this.makeRoom(now);
      b = { tokens: this.burst, at: now };
      this.buckets.set(key, b);
    }
    // A request larger than the whole burst can still pass, alone, once the bucket is full.
    const need = Math.min(n, this.burst);
    if (b.tokens >= need) {
      b.tokens -= n;
      return 0;
    }
    return Math.ceil(((need - b.tokens) / this.rate) * 1000);
  }

  get size(): number {
    return this.buckets.size;
  }

  private makeRoom(now: number): void {
    if (this.buckets.size < this.maxKeys) return;
    for (const [k, b] of this.buckets) {
      if (b.tokens + ((now - b.at) / 1000) * this.rate >= this.burst) this.buckets.delete(k);
    }
    while (this.buckets.size >= this.maxKeys) {
      const oldest = this.buckets.keys().next();
      if (oldest.done) break;
      this.buckets.delete(oldest.value);
    }
  }
}
