/**
 * The answers of WeChat's analysis APIs, in both forms: `…Raw` is WeChat's HTTPS JSON exactly (snake_case, as
 * `client.datacube.*Raw` returns it); the plain name is what the cloud call (`wx-server-sdk`) returns and
 * `client.analysis.*` returns too: the same data with camelCase keys, plus `errMsg` and `errCode`.
 * Shapes: reference §1 (portrait) and the analysis-family reference. The analysis family's `…Raw` shapes are declared
 * once, in `src/domain/analysis.ts`, and re-exported here as types only (nothing of it loads at run time).
 */

import type {
  DailySummaryRaw,
  DistributionIndex as VisitDistributionIndex,
  KeyValue,
  RetainRaw,
  VisitDistributionRaw,
  VisitPageRaw,
  VisitTrendRaw,
} from '../domain/analysis.ts';

export type {
  DailySummaryRaw,
  DailySummaryRowRaw,
  DistributionIndex as VisitDistributionIndex,
  KeyValue,
  RetainRaw,
  VisitDistributionEntryRaw,
  VisitDistributionRaw,
  VisitPageRaw,
  VisitPageRowRaw,
  VisitTrendRaw,
  VisitTrendRowRaw,
} from '../domain/analysis.ts';

/** What a successful cloud call adds: `errMsg: "openapi.analysis.<name>:ok"`, `errCode: 0`. */
export interface CloudCallOk<Name extends string> {
  errMsg: `openapi.analysis.${Name}:ok`;
  errCode: 0;
}

// ---- getUserPortrait

/** One item of a portrait dimension: the dimension's id, its name, the number of users. */
export interface PortraitItem {
  id: number;
  name: string;
  value: number;
}

/** A device model has no id: `{ name: "Apple iPhone 13", value }`. */
export interface DeviceItem {
  name: string;
  value: number;
}

/** The six dimensions of one audience (new users or active users); always all six, possibly empty. */
export interface PortraitGroup {
  province: PortraitItem[];
  city: PortraitItem[];
  genders: PortraitItem[];
  platforms: PortraitItem[];
  devices: DeviceItem[];
  ages: PortraitItem[];
}

export interface UserPortraitRaw {
  /** `yyyymmdd` for a 1-day window, `yyyymmdd-yyyymmdd` for 7 and 30 days. */
  ref_date: string;
  /** New users of the window. */
  visit_uv_new: PortraitGroup;
  /** Active users of the window. */
  visit_uv: PortraitGroup;
}

export interface UserPortrait extends CloudCallOk<'getUserPortrait'> {
  refDate: string;
  visitUvNew: PortraitGroup;
  visitUv: PortraitGroup;
}

// ---- getDailySummary

export interface DailySummaryRow {
  refDate: string;
  visitTotal: number;
  sharePv: number;
  shareUv: number;
}

export interface DailySummary extends CloudCallOk<'getDailySummary'> {
  list: DailySummaryRow[];
}

// ---- get{Daily,Weekly,Monthly}VisitTrend

export interface VisitTrendRow {
  refDate: string;
  sessionCnt: number;
  visitPv: number;
  visitUv: number;
  visitUvNew: number;
  stayTimeUv: number;
  stayTimeSession: number;
  visitDepth: number;
}

export interface DailyVisitTrend extends CloudCallOk<'getDailyVisitTrend'> {
  list: VisitTrendRow[];
}
export interface WeeklyVisitTrend extends CloudCallOk<'getWeeklyVisitTrend'> {
  list: VisitTrendRow[];
}
export interface MonthlyVisitTrend extends CloudCallOk<'getMonthlyVisitTrend'> {
  list: VisitTrendRow[];
}

// ---- getVisitDistribution

export interface VisitDistributionEntry {
  index: VisitDistributionIndex;
  itemList: KeyValue[];
}

export interface VisitDistribution extends CloudCallOk<'getVisitDistribution'> {
  refDate: string;
  list: VisitDistributionEntry[];
}

// ---- getVisitPage

export interface VisitPageRow {
  pagePath: string;
  pageVisitPv: number;
  pageVisitUv: number;
  pageStaytimePv: number;
  entrypagePv: number;
  exitpagePv: number;
  pageSharePv: number;
  pageShareUv: number;
}

export interface VisitPage extends CloudCallOk<'getVisitPage'> {
  refDate: string;
  list: VisitPageRow[];
}

// ---- get{Daily,Weekly,Monthly}Retain

export interface RetainBody {
  refDate: string;
  visitUvNew: KeyValue[];
  visitUv: KeyValue[];
}

export interface DailyRetain extends RetainBody, CloudCallOk<'getDailyRetain'> {}
export interface WeeklyRetain extends RetainBody, CloudCallOk<'getWeeklyRetain'> {}
export interface MonthlyRetain extends RetainBody, CloudCallOk<'getMonthlyRetain'> {}

// ---- the family, by cloud-call name

/** Each analysis API's two answers, by the name the cloud call uses (`analysis.<name>`). */
export interface AnalysisShapes {
  getUserPortrait: { raw: UserPortraitRaw; camel: UserPortrait };
  getDailySummary: { raw: DailySummaryRaw; camel: DailySummary };
  getDailyVisitTrend: { raw: VisitTrendRaw; camel: DailyVisitTrend };
  getWeeklyVisitTrend: { raw: VisitTrendRaw; camel: WeeklyVisitTrend };
  getMonthlyVisitTrend: { raw: VisitTrendRaw; camel: MonthlyVisitTrend };
  getVisitDistribution: { raw: VisitDistributionRaw; camel: VisitDistribution };
  getVisitPage: { raw: VisitPageRaw; camel: VisitPage };
  getDailyRetain: { raw: RetainRaw; camel: DailyRetain };
  getWeeklyRetain: { raw: RetainRaw; camel: WeeklyRetain };
  getMonthlyRetain: { raw: RetainRaw; camel: MonthlyRetain };
}

export type AnalysisApiName = keyof AnalysisShapes;

/** Per-call options. */
export interface CallOptions {
  /** Cancels the call (and its retries). */
  signal?: AbortSignal;
  /** Overrides the client's per-attempt timeout for this call, ms. */
  timeoutMs?: number;
}
