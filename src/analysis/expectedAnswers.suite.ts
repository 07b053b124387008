/**
 * For tests of the analysis family's answers (HTTPS, SDK, dashboard): WeChat's JSON computed by the in-memory
 * reference (src/store/referenceAnalysis.ts) over stored events, and a comparison that allows for the averages'
 * rounding. A `.suite.ts` file: the build leaves it out.
 */
import { expect } from 'vitest';
import { RETAIN_KEYS } from '../domain/analysis.ts';
import { formatDay } from '../domain/day.ts';
import type { VisitEvent } from '../domain/event.ts';
import { type Period, shiftPeriod } from '../domain/period.ts';
import { referenceDistribution, referencePages, referenceRetention, referenceSummary, referenceTrend } from '../store/referenceAnalysis.ts';
import type { AnalysisApi } from './analysisApis.ts';
import { dailySummaryAnswer, retainAnswer, visitDistributionAnswer, visitPageAnswer, visitTrendAnswer } from './buildAnswers.ts';

/** Equal, with numbers equal within 1e-6 (averages are rounded to 6 decimals; their sums may be added in another order). */
export function expectClose(got: unknown, want: unknown, path = '$'): void {
  if (typeof want === 'number' && typeof got === 'number') {
    expect(Math.abs(got - want) <= 1.000001e-6 * Math.max(1, Math.abs(want)), `${path}: ${got} vs ${want}`).toBe(true);
    return;
  }
  if (Array.isArray(want)) {
    expect(Array.isArray(got), path).toBe(true);
    expect((got as unknown[]).length, `${path}.length`).toBe(want.length);
    want.forEach((w, i) => expectClose((got as unknown[])[i], w, `${path}[${i}]`));
    return;
  }
  if (want && typeof want === 'object') {
    expect(got && typeof got === 'object', path).toBeTruthy();
    expect(Object.keys(got as object).sort(), `${path} keys`).toEqual(Object.keys(want).sort());
    for (const [k, v] of Object.entries(want)) expectClose((got as Record<string, unknown>)[k], v, `${path}.${k}`);
    return;
  }
  expect(got, path).toEqual(want);
}

/** What datacube must answer, from the reference over the stored events. */
export function expectedAnswer(events: readonly VisitEvent[], api: AnalysisApi, p: Period, yesterday: number): unknown {
  switch (api.kind) {
    case 'summary':
      return dailySummaryAnswer(p, referenceSummary(events, p.begin));
    case 'trend':
      return visitTrendAnswer(p, referenceTrend(events, p));
    case 'distribution':
      return visitDistributionAnswer(p, referenceDistribution(events, p.begin));
    case 'pages':
      return visitPageAnswer(p, referencePages(events, p.begin, 200));
    case 'retain': {
      const keys = RETAIN_KEYS[p.granularity].filter((k) => shiftPeriod(p, k).end <= yesterday);
      return retainAnswer(p, keys, referenceRetention(events, p, keys.map((k) => shiftPeriod(p, k))));
    }
  }
}

export function bodyFor(p: Period): { begin_date: string; end_date: string } {
  return { begin_date: formatDay(p.begin), end_date: formatDay(p.end) };
}
