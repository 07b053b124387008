import type { Clock } from '../domain/clock.ts';
import { yesterday } from '../domain/clock.ts';
import type { UserPortrait } from '../domain/portrait.ts';
import { parseWindow, type Window } from '../domain/window.ts';
import type { Store } from '../store/store.ts';
import { AnswerCache } from './AnswerCache.ts';
import { buildPortrait } from './buildPortrait.ts';

interface Answer {
  answer: UserPortrait;
  /** The answer's JSON, UTF-8 encoded once: a cached answer is written as these bytes, with no encoding per call. */
  json: Buffer;
}

/**
 * The query side of getUserPortrait: window rules, the store's counts, WeChat's JSON, and a cache of answers
 * that is dropped for an app as soon as that app receives events (so late events change the next answer).
 */
export class PortraitService {
  private readonly cache: AnswerCache<Answer>;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    maxEntries = 1000,
    /**
     * Several servers write to the store (ClickHouse): another server's ingest does not reach `invalidate`, so a
     * cached answer is used only while the app's event count is unchanged (one light query per call).
     */
    sharedStore = false,
  ) {
    this.cache = new AnswerCache(maxEntries, sharedStore ? (appid) => this.store.countEvents(appid) : undefined);
  }

  /** Validates WeChat's `begin_date`/`end_date` (throws WeChatError 61500/61501). */
  window(beginDate: string, endDate: string): Window {
    return parseWindow(beginDate, endDate, yesterday(this.clock));
  }

  /** Must be called whenever events were stored for `appid`. */
  invalidate(appid: string): void {
    this.cache.invalidate(appid);
  }

  async portrait(appid: string, window: Window): Promise<UserPortrait> {
    return (await this.cached(appid, window)).answer;
  }

  /** The answer already serialised (UTF-8 JSON), for the HTTP route's fast path. */
  async portraitJson(appid: string, window: Window): Promise<Buffer> {
    return (await this.cached(appid, window)).json;
  }

  /** The answer's JSON if it is cached and valid and that is known without the store (see AnswerCache.peek). */
  cachedJson(appid: string, window: Window): Buffer | undefined {
    return this.cache.peek(appid, `${window.begin}:${window.end}`)?.json;
  }

  private cached(appid: string, window: Window): Promise<Answer> {
    return this.cache.get(appid, `${window.begin}:${window.end}`, async () => {
      const answer = buildPortrait(window, await this.store.portrait(appid, window));
      return { answer, json: Buffer.from(JSON.stringify(answer)) };
    });
  }
}
