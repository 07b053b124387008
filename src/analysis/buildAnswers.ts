import {
  DISTRIBUTION_INDEXES,
  type DailySummaryRaw,
  type DistributionCount,
  type KeyValue,
  type PageCounts,
  type RetainRaw,
  type RetentionCounts,
  type SummaryCounts,
  type TrendCounts,
  type VisitDistributionRaw,
  type VisitPageRaw,
  type VisitTrendRaw,
} from '../domain/analysis.ts';
import { type Period, periodRefDate } from '../domain/period.ts';

/** Turns a store's counts into WeChat's answers (reference: wechat-analysis-family.md, "Shapes"). */

/**
 * An average as sent: 0 when the divisor is 0; rounded to 6 decimals, and to fewer when needed for its JSON text
 * to stay within 15 characters. wx-server-sdk parses answers with json-bigint, which turns any number written with
 * more than 15 characters into a BigNumber object: a cloud function would get `{s, e, c}` instead of 2.285714.
 */
export function average(a: number, b: number): number {
  if (b === 0) return 0;
  const x = a / b;
  for (let digits = 6; digits > 0; digits--) {
    const f = 10 ** digits;
    const r = Math.round(x * f) / f;
    if (JSON.stringify(r).length <= 15) return r;
  }
  return Math.round(x);
}

const ratio = average;

export function dailySummaryAnswer(p: Period, c: SummaryCounts): DailySummaryRaw {
  return { list: [{ ref_date: periodRefDate(p), visit_total: c.visitTotal, share_pv: c.sharePv, share_uv: c.shareUv }] };
}

export function visitTrendAnswer(p: Period, c: TrendCounts): VisitTrendRaw {
  return {
    list: [
      {
        ref_date: periodRefDate(p),
        session_cnt: c.sessions,
        visit_pv: c.visitPv,
        visit_uv: c.visitUv,
        visit_uv_new: c.visitUvNew,
        stay_time_uv: ratio(c.stay, c.visitUv),
        stay_time_session: ratio(c.stay, c.sessions),
        visit_depth: ratio(c.depth, c.sessions),
      },
    ],
  };
}

/** All four indexes, always; within each, the non-zero items by key. */
export function visitDistributionAnswer(p: Period, counts: readonly DistributionCount[]): VisitDistributionRaw {
  return {
    ref_date: periodRefDate(p),
    list: DISTRIBUTION_INDEXES.map((index) => ({
      index,
      item_list: counts
        .filter((c) => c.index === index && c.value > 0)
        .map((c) => ({ key: c.key, value: c.value }))
        .sort((a, b) => a.key - b.key),
    })),
  };
}

export function visitPageAnswer(p: Period, pages: readonly PageCounts[]): VisitPageRaw {
  return {
    ref_date: periodRefDate(p),
    list: pages.map((x) => ({
      page_path: x.path,
      page_visit_pv: x.visitPv,
      page_visit_uv: x.visitUv,
      page_staytime_pv: ratio(x.stay, x.visitPv),
      entrypage_pv: x.entry,
      exitpage_pv: x.exit,
      page_share_pv: x.sharePv,
      page_share_uv: x.shareUv,
    })),
  };
}

/** `keys[i]` is the key of counts index i + 1 (index 0 is key 0, the cohort). */
export function retainAnswer(p: Period, keys: readonly number[], c: RetentionCounts): RetainRaw {
  const items = (values: readonly number[]): KeyValue[] => [0, ...keys].map((key, i) => ({ key, value: values[i] ?? 0 }));
  return { ref_date: periodRefDate(p), visit_uv_new: items(c.new), visit_uv: items(c.active) };
}
