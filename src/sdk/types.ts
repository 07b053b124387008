/**
 * The answers of WeChat's analysis APIs, in both forms: `…Raw` is WeChat's HTTPS JSON exactly (snake_case, as
 * `client.datacube.*Raw` returns it); the plain name is what the cloud call (`wx-server-sdk`) returns and
 * `client.analysis.*` returns too: the same data with camelCase keys, plus `errMsg` and `errCode`.
 * Shapes: reference §1 (portrait) and the analysis-family reference.
 */

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

export interface DailySummaryRowRaw {
  ref_date: string;
  /** Distinct users ever, up to and including that day. */
  visit_total: number;
  /** Shares that day. */
  share_pv: number;
  /** Distinct sharers that day. */
  share_uv: number;
}

export interface DailySummaryRaw {
  list: DailySummaryRowRaw[];
}

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

export interface VisitTrendRowRaw {
  /** `yyyymmdd` (day), `yyyymmdd-yyyymmdd` (week), `yyyymm` (month). */
  ref_date: string;
  /** Opens (sessions). */
  session_cnt: number;
  /** Page views. */
  visit_pv: number;
  /** Distinct visitors of the period. */
  visit_uv: number;
  /** Distinct new visitors of the period. */
  visit_uv_new: number;
  /** Stay seconds per visitor. */
  stay_time_uv: number;
  /** Stay seconds per open. */
  stay_time_session: number;
  /** Average distinct pages per open. */
  visit_depth: number;
}

export interface VisitTrendRaw {
  list: VisitTrendRowRaw[];
}

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

/** A sparse count: a key (an access source, a stay or depth bucket, a retention period) and its value. */
export interface KeyValue {
  key: number;
  value: number;
}

/** Which distribution a list entry holds. */
export type VisitDistributionIndex = 'access_source_session_cnt' | 'access_source_visit_uv' | 'access_staytime_info' | 'access_depth_info';

export interface VisitDistributionEntryRaw {
  index: VisitDistributionIndex;
  /** Sparse: a missing key is 0. Unknown access-source keys may appear. */
  item_list: KeyValue[];
}

export interface VisitDistributionRaw {
  ref_date: string;
  list: VisitDistributionEntryRaw[];
}

export interface VisitDistributionEntry {
  index: VisitDistributionIndex;
  itemList: KeyValue[];
}

export interface VisitDistribution extends CloudCallOk<'getVisitDistribution'> {
  refDate: string;
  list: VisitDistributionEntry[];
}

// ---- getVisitPage

export interface VisitPageRowRaw {
  page_path: string;
  page_visit_pv: number;
  page_visit_uv: number;
  /** Average stay seconds per view. */
  page_staytime_pv: number;
  /** Opens whose first page this is. */
  entrypage_pv: number;
  /** Opens whose last page this is. */
  exitpage_pv: number;
  page_share_pv: number;
  page_share_uv: number;
}

export interface VisitPageRaw {
  ref_date: string;
  /** The top 200 pages by views. */
  list: VisitPageRowRaw[];
}

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

export interface RetainRaw {
  ref_date: string;
  /** Key 0: users new in the period; key k: how many of them came back k periods later. */
  visit_uv_new: KeyValue[];
  /** Key 0: users active in the period; key k: how many of them came back k periods later. */
  visit_uv: KeyValue[];
}

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
