export { AnalysisService } from './AnalysisService.ts';
export { ANALYSIS_APIS, ANALYSIS_API_BY_NAME, analysisApi, type AnalysisApi, type AnalysisKind } from './analysisApis.ts';
export { dailySummaryAnswer, retainAnswer, visitDistributionAnswer, visitPageAnswer, visitTrendAnswer } from './buildAnswers.ts';
