import type { Clock } from '../domain/clock.ts';
import { yesterday } from '../domain/clock.ts';
import type { UserPortrait } from '../domain/portrait.ts';
import { parseWindow, type Window } from '../domain/window.ts';
import type { Store } from '../store/store.ts';
import { buildPortrait } from './buildPortrait.ts';

interface Cached {
  version: number;
  /** With a shared store: the app's event count when the answer was computed. */
  marker: number;
  answer: UserPortrait;
  json: string;
}

/**
 * The query side of getUserPortrait: window rules, the store's counts, WeChat's JSON, and a cache of answers
 * that is dropped for an app as soon as that app receives events (so late events change the next answer).
 */
export class PortraitService {
  private readonly cache = new Map<string, Cached>();
  private readonly versions = new Map<string, number>();

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly maxEntries = 1000,
    /**
     * Several servers write to the store (ClickHouse): another server's ingest does not reach `invalidate`, so a
     * cached answer is used only while the app's event count is unchanged (one light query per call).
     */
    private readonly sharedStore = false,
  ) {}

  /** Validates WeChat's `begin_date`/`end_date` (throws WeChatError 61500/61501). */
  window(beginDate: string, endDate: string): Window {
    return parseWindow(beginDate, endDate, yesterday(this.clock));
  }

  /** Must be called whenever events were stored for `appid`. */
  invalidate(appid: string): void {
    this.versions.set(appid, (this.versions.get(appid) ?? 0) + 1);
  }

  async portrait(appid: string, window: Window): Promise<UserPortrait> {
    return (await this.cached(appid, window)).answer;
  }

  /** The answer already serialised, for the HTTP route's fast path. */
  async portraitJson(appid: string, window: Window): Promise<string> {
    return (await this.cached(appid, window)).json;
  }

  private async cached(appid: string, window: Window): Promise<Cached> {
    const key = `${appid}:${window.begin}:${window.end}`;
    const version = this.versions.get(appid) ?? 0;
    const marker = this.sharedStore ? await this.store.countEvents(appid) : 0;
    const hit = this.cache.get(key);
    if (hit && hit.version === version && hit.marker === marker) return hit;
    const answer = buildPortrait(window, await this.store.portrait(appid, window));
    const entry = { version, marker, answer, json: JSON.stringify(answer) };
    // Store only if no ingest happened meanwhile; otherwise the next call recomputes.
    if ((this.versions.get(appid) ?? 0) === version && this.maxEntries > 0) {
      if (this.cache.size >= this.maxEntries) {
        const oldest = this.cache.keys().next().value;
        if (oldest !== undefined) this.cache.delete(oldest);
      }
      this.cache.delete(key);
      this.cache.set(key, entry);
    }
    return entry;
  }
}
