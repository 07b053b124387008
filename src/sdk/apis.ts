import type { AnalysisApiName } from './types.ts';

/**
 * The analysis family: the cloud-call name (`analysis.<name>`) → the HTTPS path under `/datacube/`.
 * The same table the server keeps (src/api/openApis.ts) from the client's side.
 */
export const ANALYSIS_PATHS: Readonly<Record<AnalysisApiName, string>> = {
  getUserPortrait: 'getweanalysisappiduserportrait',
  getDailySummary: 'getweanalysisappiddailysummarytrend',
  getDailyVisitTrend: 'getweanalysisappiddailyvisittrend',
  getWeeklyVisitTrend: 'getweanalysisappidweeklyvisittrend',
  getMonthlyVisitTrend: 'getweanalysisappidmonthlyvisittrend',
  getVisitDistribution: 'getweanalysisappidvisitdistribution',
  getVisitPage: 'getweanalysisappidvisitpage',
  getDailyRetain: 'getweanalysisappiddailyretaininfo',
  getWeeklyRetain: 'getweanalysisappidweeklyretaininfo',
  getMonthlyRetain: 'getweanalysisappidmonthlyretaininfo',
};

export const ANALYSIS_API_NAMES = Object.keys(ANALYSIS_PATHS) as AnalysisApiName[];
