/**
 * The rest of WeChat's analysis family (reference: wechat-analysis-family.md): the meaning datacube gives to the
 * event fields `type`, `session`, `scene`, `page` and `stay`, the buckets, and the answers' shapes.
 */

/**
 * Event kinds (`type`). Any other type is stored and counts for visitors (uv) only: it is never part of a session
 * (neither one with a `session` value nor one grouped by 30-minute gaps).
 */
export const EVENT_TYPES = {
  /** A page view: the default, so events sent before these APIs existed count as views. */
  VISIT: 'visit',
  /** The mini-program launched or came back to the foreground. */
  OPEN: 'open',
  /** The user shared a page. */
  SHARE: 'share',
} as const;

/** Events without a `session` are grouped per user: a gap of more than this starts a new session. */
export const SESSION_GAP_MS = 30 * 60_000;

/** `access_staytime_info` bucket of a session's total stay in seconds: 1 = 0–2 s … 7 = 51–100 s, 8 = over 100 s. */
export function stayBucket(seconds: number): number {
  if (seconds <= 2) return 1;
  if (seconds <= 5) return 2;
  if (seconds <= 10) return 3;
  if (seconds <= 20) return 4;
  if (seconds <= 30) return 5;
  if (seconds <= 50) return 6;
  if (seconds <= 100) return 7;
  return 8;
}

/** Upper bounds (inclusive) of stay buckets 1–7, in seconds; shared with the SQL of every backend. */
export const STAY_BUCKET_BOUNDS = [2, 5, 10, 20, 30, 50, 100] as const;

/**
 * `access_depth_info` bucket of a session's distinct pages: 1–5 = that many, 6 = 6–10, 7 = more than 10. A session
 * that viewed no page (only an `open` or a `share`, say) counts under 1 (datacube's decision: every session is in
 * exactly one bucket, as for stay times, where bucket 1 includes 0 s).
 */
export function depthBucket(pages: number): number {
  if (pages <= 1) return 1;
  if (pages <= 5) return pages;
  if (pages <= 10) return 6;
  return 7;
}

/** The daily retention keys after key 0, weekly, monthly. */
export const RETAIN_KEYS = { day: [1, 2, 3, 4, 5, 6, 7, 14, 30], week: [1, 2, 3, 4], month: [1] } as const;

/**
 * Strings in the order the stores sort them: by their UTF-8 bytes, which is the order of their code points (JavaScript's
 * `<` compares UTF-16 code units, which differs for characters beyond U+FFFF).
 */
export function compareText(a: string, b: string): number {
  if (a === b) return 0;
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return x.done && y.done ? 0 : x.done ? -1 : 1;
    const d = (x.value.codePointAt(0) ?? 0) - (y.value.codePointAt(0) ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
}

/** The most pages getVisitPage lists. */
export const VISIT_PAGE_LIMIT = 200;

// ---- what a store computes ---------------------------------------------------------------------------------------

/** The counts behind one visit-trend row, for one period. */
export interface TrendCounts {
  /** Sessions whose first event is in the period. */
  sessions: number;
  /** `visit` events in the period. */
  visitPv: number;
  /** Distinct users with any event in the period. */
  visitUv: number;
  /** Of those, the users whose first event ever is in the period. */
  visitUvNew: number;
  /** Seconds of stay of the period's `visit` events. */
  stay: number;
  /** Distinct pages viewed, summed over the period's sessions. */
  depth: number;
}

export interface SummaryCounts {
  /** Distinct users with any event up to and including the day. */
  visitTotal: number;
  sharePv: number;
  shareUv: number;
}

export const DISTRIBUTION_INDEXES = ['access_source_session_cnt', 'access_source_visit_uv', 'access_staytime_info', 'access_depth_info'] as const;
/** Which distribution a getVisitDistribution list entry holds (the SDK's `VisitDistributionIndex`). */
export type DistributionIndex = (typeof DISTRIBUTION_INDEXES)[number];

/** One non-zero item of getVisitDistribution. */
export interface DistributionCount {
  index: DistributionIndex;
  key: number;
  value: number;
}

/** One page of getVisitPage, with the stay total (the answer has the average). */
export interface PageCounts {
  path: string;
  visitPv: number;
  visitUv: number;
  stay: number;
  entry: number;
  exit: number;
  sharePv: number;
  shareUv: number;
}

/** Retention: index 0 the cohort's size, index i the cohort's users active in the i-th later period asked for. */
export interface RetentionCounts {
  new: number[];
  active: number[];
}

// ---- WeChat's answers (snake_case, as sent) ----------------------------------------------------------------------
// Also the SDK's `…Raw` types (`src/sdk/types.ts` re-exports them with `import type`: nothing here loads at run time).

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

/** A sparse count: a key (an access source, a stay or depth bucket, a retention period) and its value. */
export interface KeyValue {
  key: number;
  value: number;
}

export interface VisitDistributionEntryRaw {
  index: DistributionIndex;
  /** Sparse: a missing key is 0. Unknown access-source keys may appear. */
  item_list: KeyValue[];
}

export interface VisitDistributionRaw {
  ref_date: string;
  list: VisitDistributionEntryRaw[];
}

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

export interface RetainRaw {
  ref_date: string;
  /** Key 0: users new in the period; key k: how many of them came back k periods later. */
  visit_uv_new: KeyValue[];
  /** Key 0: users active in the period; key k: how many of them came back k periods later. */
  visit_uv: KeyValue[];
}
