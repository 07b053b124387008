import { RETAIN_KEYS, VISIT_PAGE_LIMIT } from '../domain/analysis.ts';
import type { Clock } from '../domain/clock.ts';
import { yesterday } from '../domain/clock.ts';
import { type Period, parsePeriod, shiftPeriod } from '../domain/period.ts';
import type { Store } from '../store/store.ts';
import type { AnalysisApi } from './analysisApis.ts';
import { dailySummaryAnswer, retainAnswer, visitDistributionAnswer, visitPageAnswer, visitTrendAnswer } from './buildAnswers.ts';

interface Cached {
  version: number;
  /** With a shared store: the app's event count when the answer was computed. */
  marker: number;
  json: string;
}

/**
 * The query side of the analysis family: WeChat's date rules per API, the store's counts, WeChat's JSON, and a cache of
 * answers that is dropped for an app as soon as that app receives events (as PortraitService does).
 */
export class AnalysisService {
  private readonly cache = new Map<string, Cached>();
  private readonly versions = new Map<string, number>();

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly maxEntries = 1000,
    /** Several servers write to the store (ClickHouse): a cached answer is used only while the event count is unchanged. */
    private readonly sharedStore = false,
  ) {}

  /** Validates `begin_date`/`end_date` for the API's granularity (throws WeChatError 61500/61501). */
  period(api: AnalysisApi, beginDate: string, endDate: string): Period {
    return parsePeriod(api.granularity, beginDate, endDate, yesterday(this.clock));
  }

  /** Must be called whenever events were stored for `appid`. */
  invalidate(appid: string): void {
    this.versions.set(appid, (this.versions.get(appid) ?? 0) + 1);
  }

  /** WeChat's answer, parsed. */
  async answer(appid: string, api: AnalysisApi, p: Period): Promise<Record<string, unknown>> {
    return JSON.parse(await this.answerJson(appid, api, p)) as Record<string, unknown>;
  }

  /** WeChat's answer as JSON text. */
  async answerJson(appid: string, api: AnalysisApi, p: Period): Promise<string> {
    const last = yesterday(this.clock);
    // Retention keys appear as their periods pass, so those answers depend on the day too.
    const key = `${appid}:${api.name}:${p.begin}:${p.end}${api.kind === 'retain' ? `:${last}` : ''}`;
    const version = this.versions.get(appid) ?? 0;
    const marker = this.sharedStore ? await this.store.countEvents(appid) : 0;
    const hit = this.cache.get(key);
    if (hit && hit.version === version && hit.marker === marker) return hit.json;
    const json = JSON.stringify(await this.compute(appid, api, p, last));
    if ((this.versions.get(appid) ?? 0) === version && this.maxEntries > 0) {
      if (this.cache.size >= this.maxEntries) {
        const oldest = this.cache.keys().next().value;
        if (oldest !== undefined) this.cache.delete(oldest);
      }
      this.cache.delete(key);
      this.cache.set(key, { version, marker, json });
    }
    return json;
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
