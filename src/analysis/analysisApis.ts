import type { Granularity } from '../domain/period.ts';

/**
 * The nine analysis APIs besides getUserPortrait (reference: wechat-datacube.md §7 and wechat-analysis-family.md):
 * the cloud-call name (`analysis.<name>`), the HTTPS path (`POST /datacube/<path>`), the date rule and what they
 * compute. One table, read by the open-API table (src/api/openApis.ts), the service and the CLI.
 */
export type AnalysisKind = 'summary' | 'trend' | 'distribution' | 'pages' | 'retain';

export interface AnalysisApi {
  /** The name after `analysis.` in a cloud call; also the quota counter's name. */
  name: string;
  /** The path after `/datacube/`. */
  path: string;
  granularity: Granularity;
  kind: AnalysisKind;
}

export const ANALYSIS_APIS: readonly AnalysisApi[] = [
  { name: 'getDailySummary', path: 'getweanalysisappiddailysummarytrend', granularity: 'day', kind: 'summary' },
  { name: 'getDailyVisitTrend', path: 'getweanalysisappiddailyvisittrend', granularity: 'day', kind: 'trend' },
  { name: 'getWeeklyVisitTrend', path: 'getweanalysisappidweeklyvisittrend', granularity: 'week', kind: 'trend' },
  { name: 'getMonthlyVisitTrend', path: 'getweanalysisappidmonthlyvisittrend', granularity: 'month', kind: 'trend' },
  { name: 'getVisitDistribution', path: 'getweanalysisappidvisitdistribution', granularity: 'day', kind: 'distribution' },
  { name: 'getVisitPage', path: 'getweanalysisappidvisitpage', granularity: 'day', kind: 'pages' },
  { name: 'getDailyRetain', path: 'getweanalysisappiddailyretaininfo', granularity: 'day', kind: 'retain' },
  { name: 'getWeeklyRetain', path: 'getweanalysisappidweeklyretaininfo', granularity: 'week', kind: 'retain' },
  { name: 'getMonthlyRetain', path: 'getweanalysisappidmonthlyretaininfo', granularity: 'month', kind: 'retain' },
];

export const ANALYSIS_API_BY_NAME: ReadonlyMap<string, AnalysisApi> = new Map(ANALYSIS_APIS.map((a) => [a.name, a]));

/** The API of a kind and granularity (e.g. the weekly visit trend), if WeChat has one. */
export function analysisApi(kind: AnalysisKind, granularity: Granularity): AnalysisApi | undefined {
  return ANALYSIS_APIS.find((a) => a.kind === kind && a.granularity === granularity);
}
