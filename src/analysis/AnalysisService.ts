import { RETAIN_KEYS, VISIT_PAGE_LIMIT } from '../domain/analysis.ts';
import type { Clock } from '../domain/clock.ts';
import { yesterday } from '../domain/clock.ts';
import { type Period, parsePeriod, shiftPeriod } from '../domain/period.ts';
import { AnswerCache } from '../portrait/index.ts';
import type { Store } from '../store/store.ts';
import type { AnalysisApi } from './analysisApis.ts';
import { dailySummaryAnswer, retainAnswer, visitDistributionAnswer, visitPageAnswer, visitTrendAnswer } from './buildAnswers.ts';

/** Retention keys appear as their periods pass, so those answers depend on the day too. */
function cacheKey(api: AnalysisApi, p: Period, last: number): string {
  return `${api.name}:${p.begin}:${p.end}${api.kind === 'retain' ? `:${last}` : ''}`;
}

/**
 * The query side of the analysis family: WeChat's date rules per API, the store's counts, WeChat's JSON, and a cache of
 * answers that is dropped for an app as soon as that app receives events (as PortraitService does).
 */
export class AnalysisService {
  /** Answers as UTF-8 JSON, encoded once (a cached answer is written as these bytes). */
  private readonly cache: AnswerCache<Buffer>;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    maxEntries = 1000,
    /** Several servers write to the store (ClickHouse): a cached answer is used only while the event count is unchanged. */
    sharedStore = false,
  ) {
    this.cache = new AnswerCache(maxEntries, sharedStore ? (appid) => this.store.countEvents(appid) : undefined);
  }

  /** Validates `begin_date`/`end_date` for the API's granularity (throws WeChatError 61500/61501). */
  period(api: AnalysisApi, beginDate: string, endDate: string): Period {
    return parsePeriod(api.granularity, beginDate, endDate, yesterday(this.clock));
  }

  /** Must be called whenever events were stored for `appid`. */
  invalidate(appid: string): void {
    this.cache.invalidate(appid);
  }

  /** WeChat's answer, parsed. */
  async answer(appid: string, api: AnalysisApi, p: Period): Promise<Record<string, unknown>> {
    return JSON.parse((await this.answerJson(appid, api, p)).toString('utf8')) as Record<string, unknown>;
  }

  /** WeChat's answer as UTF-8 JSON. */
  async answerJson(appid: string, api: AnalysisApi, p: Period): Promise<Buffer> {
    const last = yesterday(this.clock);
    return this.cache.get(appid, cacheKey(api, p, last), async () => Buffer.from(JSON.stringify(await this.compute(appid, api, p, last))));
  }

  /** The answer if it is cached and valid and that is known without the store (see AnswerCache.peek). */
  cachedJson(appid: string, api: AnalysisApi, p: Period): Buffer | undefined {
    return this.cache.peek(appid, cacheKey(api, p, yesterday(this.clock)));
  }

  private async compute(appid: string, api: AnalysisApi, p: Period, last: number): Promise<unknown> {
    switch (api.kind) {
      case 'summary':
        return dailySummaryAnswer(p, await this.store.dailySummary(appid, p.begin));
      case 'trend':
        return visitTrendAnswer(p, await this.store.visitTrend(appid, p));
      case 'distribution':
        return visitDistributionAnswer(p, await this.store.visitDistribution(appid, p.begin));
      case 'pages':
        return visitPageAnswer(p, await this.store.visitPages(appid, p.begin, VISIT_PAGE_LIMIT));
      case 'retain': {
        // Key k appears once the period k periods later is over (ended at most yesterday).
        const keys = RETAIN_KEYS[p.granularity].filter((k) => shiftPeriod(p, k).end <= last);
        const counts = await this.store.retention(appid, p, keys.map((k) => shiftPeriod(p, k)));
        return retainAnswer(p, keys, counts);
      }
    }
  }
}
