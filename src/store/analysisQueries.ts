import type { DistributionCount, PageCounts, RetentionCounts, SummaryCounts, TrendCounts } from '../domain/analysis.ts';
import type { Day } from '../domain/day.ts';
import type { Window } from '../domain/window.ts';

/**
 * What every store computes for the rest of the analysis family (definitions: wechat-analysis-family.md; the
 * in-memory reference is referenceAnalysis.ts). Periods are whole Shanghai days; the store does not check WeChat's
 * date rules (the analysis service does).
 */
export interface AnalysisQueries {
  /** Sessions, page views, visitors (distinct over the whole window), new visitors, stay and depth sums. */
  visitTrend(appid: string, window: Window): Promise<TrendCounts>;
  /** Users ever up to and including `day`; shares of the day and their distinct users. */
  dailySummary(appid: string, day: Day): Promise<SummaryCounts>;
  /** The day's sessions per access source, stay bucket and depth bucket; distinct visitors per access source. */
  visitDistribution(appid: string, day: Day): Promise<DistributionCount[]>;
  /** The day's pages, most viewed first (then by path), at most `limit`. */
  visitPages(appid: string, day: Day, limit: number): Promise<PageCounts[]>;
  /**
   * The new and the active users of `cohort` (index 0) and how many of each had an event in each of `later`
   * (index i + 1). Later windows follow the cohort and each other without overlapping, and end at most 63 days after
   * the cohort's first day.
   */
  retention(appid: string, cohort: Window, later: readonly Window[]): Promise<RetentionCounts>;
}

/** The longest span retention covers, from the cohort's first day to a later window's last day. */
export const RETENTION_SPAN_DAYS = 64;

export function checkRetentionWindows(cohort: Window, later: readonly Window[]): void {
  if (cohort.end - cohort.begin >= 31) throw new RangeError('a retention cohort spans at most 31 days');
  let previous = cohort.end;
  for (const w of later) {
    if (w.begin <= previous || w.end < w.begin || w.end - cohort.begin >= RETENTION_SPAN_DAYS) {
      throw new RangeError(
        `retention window ${w.begin}–${w.end} must follow the cohort ${cohort.begin}–${cohort.end} and the windows before it, within ${RETENTION_SPAN_DAYS} days`,
      );
    }
    previous = w.end;
  }
}
