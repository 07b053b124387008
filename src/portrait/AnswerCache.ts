interface Entry<T> {
  /** The app's invalidation count when the answer was computed. */
  version: number;
  /** With a shared store: the app's event count when the answer was computed. */
  marker: number;
  value: T;
}

/**
 * Answers per app, dropped for an app as soon as that app receives events (`invalidate`), so late events change the
 * next answer. At most `maxEntries` answers are kept (the oldest goes first; 0 keeps none).
 *
 * `marker`: for a store several servers write to (ClickHouse), whose ingest on another server never reaches
 * `invalidate`: an answer is used only while the marker it returns (the app's event count) is unchanged (one light
 * query per call).
 */
export class AnswerCache<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private readonly versions = new Map<string, number>();

  constructor(
    private readonly maxEntries: number,
    private readonly marker?: (appid: string) => Promise<number>,
  ) {}

  /** Must be called whenever events were stored for `appid`. */
  invalidate(appid: string): void {
    this.versions.set(appid, this.version(appid) + 1);
  }

  /**
   * The answer for `key` of `appid`: the cached one if still valid, else `compute()`'s, kept only if no ingest
   * happened meanwhile (otherwise the next call recomputes).
   */
  async get(appid: string, key: string, compute: () => Promise<T>): Promise<T> {
    const fullKey = `${appid}:${key}`;
    const version = this.version(appid);
    const marker = this.marker ? await this.marker(appid) : 0;
    const hit = this.entries.get(fullKey);
    if (hit && hit.version === version && hit.marker === marker) return hit.value;
    const value = await compute();
    if (this.version(appid) === version && this.maxEntries > 0) {
      if (this.entries.size >= this.maxEntries) {
        const oldest = this.entries.keys().next().value;
        if (oldest !== undefined) this.entries.delete(oldest);
      }
      this.entries.delete(fullKey);
      this.entries.set(fullKey, { version, marker, value });
    }
    return value;
  }

  /**
   * The valid cached answer for `key` of `appid`, when that can be known without asking anyone (no marker to
   * check), else undefined. Synchronous, for the routes' fast path; `get` is the general way.
   */
  peek(appid: string, key: string): T | undefined {
    if (this.marker) return undefined;
    const hit = this.entries.get(`${appid}:${key}`);
    return hit && hit.version === this.version(appid) ? hit.value : undefined;
  }

  private version(appid: string): number {
    return this.versions.get(appid) ?? 0;
  }
}
