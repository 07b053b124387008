// What the dashboard shows, as data: the API calls it makes (sources) and the panels drawn from their answers.
// A panel names its source, its chart kind and how to pick its rows out of the answer; the page does the rest
// (chart, table view, CSV rows). Two groups: the user portrait (getUserPortrait for the chosen window) and visits
// (WeChat's other analysis APIs, each with its own date rule: the chosen end day, the last week or month finished
// by then, the window's days for the trend).

import { dayNumber, isoOf, monthEndingBy, shiftPeriod, weekEndingBy, ymdOf } from './days.js';
import { t } from './i18n.js';

/**
 * @typedef {import('./days.js').Window} Window
 * @typedef {import('./days.js').Period} Period
 * @typedef {import('./i18n.js').Lang} Lang
 * @typedef {{ id?: number, name: string, value: number }} Item
 * @typedef {'map' | 'hbar' | 'vbar' | 'pie' | 'line' | 'stats'} ChartKind
 * @typedef {'active' | 'new'} Audience
 * @typedef {'portrait' | 'visits'} Group
 * @typedef {{
 *   path: string,
 *   group: Group,
 *   periods: (w: Window) => Period[],
 * }} Source
 *   One API; `periods` are the calls made for a window (one each; several answers' `list`s are joined in order).
 * @typedef {{
 *   id: string,
 *   titleKey: string,
 *   source: SourceName,
 *   dimension: string,
 *   chart: ChartKind,
 *   wide?: boolean,
 *   nameKey?: string,
 *   valueKey?: string,
 *   byAudience?: boolean,
 *   label?: (lang: Lang, item: Item) => string,
 *   total?: (answer: Record<string, unknown>, audience: Audience) => number,
 *   periods?: (w: Window) => Period[],
 *   rows: (answer: Record<string, unknown>, audience: Audience) => Item[],
 * }} Panel
 *   nameKey, valueKey: i18n keys of the table's columns (default "name", "users"); byAudience: its rows follow the
 *   audience picker; label: how an item is named in a language (default: the API's name, translated by itemName);
 *   total: what a value is a share of in tooltips (default: none); periods: the days its numbers are about, when
 *   not all of its source's (the day's visits: the last of the trend's days).
 * @typedef {keyof typeof SOURCES} SourceName
 */

/** @param {string} day @returns {Period} */
const dayPeriod = (day) => ({ begin: day, end: day });

/** @type {Record<string, Source>} */
const SOURCE_TABLE = {
  /** analysis.getUserPortrait: a 1-, 7- or 30-day window ending at most yesterday. */
  portrait: { path: 'getweanalysisappiduserportrait', group: 'portrait', periods: (w) => [{ begin: w.begin, end: w.end }] },
  /** analysis.getDailyVisitTrend for each day of the window (one day per call). */
  dailyTrend: {
    path: 'getweanalysisappiddailyvisittrend',
    group: 'visits',
    periods: (w) => {
      const end = dayNumber(w.end) ?? 0;
      return Array.from({ length: w.days }, (_, i) => dayPeriod(ymdOf(end - w.days + 1 + i)));
    },
  },
  /** analysis.getDailySummary of the end day. */
  summary: { path: 'getweanalysisappiddailysummarytrend', group: 'visits', periods: (w) => [dayPeriod(w.end)] },
  /** analysis.getWeeklyVisitTrend of the last Monday–Sunday week finished by the end day. */
  weeklyTrend: { path: 'getweanalysisappidweeklyvisittrend', group: 'visits', periods: (w) => [weekEndingBy(w.end)] },
  /** analysis.getMonthlyVisitTrend of the last month finished by the end day. */
  monthlyTrend: { path: 'getweanalysisappidmonthlyvisittrend', group: 'visits', periods: (w) => [monthEndingBy(w.end)] },
  /** analysis.getVisitDistribution of the end day. */
  distribution: { path: 'getweanalysisappidvisitdistribution', group: 'visits', periods: (w) => [dayPeriod(w.end)] },
  /** analysis.getVisitPage of the end day. */
  pages: { path: 'getweanalysisappidvisitpage', group: 'visits', periods: (w) => [dayPeriod(w.end)] },
  /** analysis.getDailyRetain of the day a week before the end day (its keys 0–7 are over by the end day). */
  dailyRetain: { path: 'getweanalysisappiddailyretaininfo', group: 'visits', periods: (w) => [shiftPeriod(dayPeriod(w.end), 'day', -7)] },
  /** analysis.getWeeklyRetain of the week two before the last finished one (keys 0–2 over by the end day). */
  weeklyRetain: { path: 'getweanalysisappidweeklyretaininfo', group: 'visits', periods: (w) => [shiftPeriod(weekEndingBy(w.end), 'week', -2)] },
  /** analysis.getMonthlyRetain of the month before the last finished one (keys 0–1 over by the end day). */
  monthlyRetain: { path: 'getweanalysisappidmonthlyretaininfo', group: 'visits', periods: (w) => [shiftPeriod(monthEndingBy(w.end), 'month', -1)] },
};
export const SOURCES = /** @type {Record<'portrait' | 'dailyTrend' | 'summary' | 'weeklyTrend' | 'monthlyTrend' | 'distribution' | 'pages' | 'dailyRetain' | 'weeklyRetain' | 'monthlyRetain', Source>} */ (SOURCE_TABLE);

/** The answer's key for each audience. */
export const AUDIENCE_KEY = /** @type {const} */ ({ active: 'visit_uv', new: 'visit_uv_new' });

/**
 * The items of one of the portrait's arrays for an audience, as the API gives them.
 * @param {Record<string, unknown>} answer
 * @param {Audience} audience
 * @param {string} dimension
 * @returns {Item[]}
 */
export function portraitItems(answer, audience, dimension) {
  const group = answer[AUDIENCE_KEY[audience]];
  if (typeof group !== 'object' || group === null) return [];
  const list = /** @type {Record<string, unknown>} */ (group)[dimension];
  if (!Array.isArray(list)) return [];
  /** @type {Item[]} */
  const items = [];
  for (const raw of list) {
    if (typeof raw !== 'object' || raw === null) continue;
    const r = /** @type {Record<string, unknown>} */ (raw);
    if (typeof r.name !== 'string' || typeof r.value !== 'number') continue;
    items.push(typeof r.id === 'number' ? { id: r.id, name: r.name, value: r.value } : { name: r.name, value: r.value });
  }
  return items;
}

/**
 * The users of an audience: every user is counted once in each dimension, so any dimension's sum is the total.
 * @param {Record<string, unknown>} answer
 * @param {Audience} audience
 */
export function audienceTotal(answer, audience) {
  return portraitItems(answer, audience, 'genders').reduce((s, i) => s + i.value, 0);
}

/**
 * The first `n` items in the API's order (by users, most first).
 * @param {string} dimension
 * @param {number} n
 * @returns {Panel['rows']}
 */
const top = (dimension, n) => (answer, audience) => portraitItems(answer, audience, dimension).slice(0, n);

/**
 * All items, in the API's order.
 * @param {string} dimension
 * @returns {Panel['rows']}
 */
const all = (dimension) => (answer, audience) => portraitItems(answer, audience, dimension);

/**
 * All items in the order of their ids, "unknown" (id 0) last: age brackets read young to old.
 * @param {string} dimension
 * @returns {Panel['rows']}
 */
const byId = (dimension) => (answer, audience) =>
  portraitItems(answer, audience, dimension).sort((a, b) => ((a.id || 1e9) - (b.id || 1e9)));

/** @type {Panel[]} */
export const PANELS = [
  { id: 'province', titleKey: 'panel.province', source: 'portrait', dimension: 'province', chart: 'map', wide: true, byAudience: true, rows: all('province'), total: audienceTotal },
  { id: 'city', titleKey: 'panel.city', source: 'portrait', dimension: 'city', chart: 'hbar', byAudience: true, rows: top('city', 10), total: audienceTotal },
  { id: 'devices', titleKey: 'panel.devices', source: 'portrait', dimension: 'devices', chart: 'hbar', byAudience: true, rows: top('devices', 10), total: audienceTotal },
  { id: 'genders', titleKey: 'panel.genders', source: 'portrait', dimension: 'genders', chart: 'pie', byAudience: true, rows: all('genders'), total: audienceTotal },
  { id: 'platforms', titleKey: 'panel.platforms', source: 'portrait', dimension: 'platforms', chart: 'pie', byAudience: true, rows: all('platforms'), total: audienceTotal },
  { id: 'ages', titleKey: 'panel.ages', source: 'portrait', dimension: 'ages', chart: 'vbar', byAudience: true, rows: byId('ages'), total: audienceTotal },
];

// ---- visits: WeChat's other analysis APIs

/**
 * @param {unknown} v
 * @returns {v is Record<string, unknown>}
 */
const isObject = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);

/** @param {unknown} v */
const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/**
 * The rows of an answer's `list` (trends, summary, pages).
 * @param {Record<string, unknown>} answer
 * @returns {Record<string, unknown>[]}
 */
function listOf(answer) {
  return Array.isArray(answer.list) ? answer.list.filter(isObject) : [];
}

/**
 * `{key, value}` items of a list (retention, distribution) as items with id = key.
 * @param {unknown} list
 * @returns {Item[]}
 */
function keyed(list) {
  if (!Array.isArray(list)) return [];
  return list.filter(isObject).map((r) => ({ id: num(r.key), name: String(num(r.key)), value: num(r.value) }));
}

/** The fields of a visit trend row, in WeChat's order. */
export const TREND_FIELDS = /** @type {const} */ (['session_cnt', 'visit_pv', 'visit_uv', 'visit_uv_new', 'stay_time_uv', 'stay_time_session', 'visit_depth']);
/** The fields of a daily summary row. */
export const SUMMARY_FIELDS = /** @type {const} */ (['visit_total', 'share_pv', 'share_uv']);

/**
 * One item per field of the answer's last `list` row (a day's, week's or month's numbers).
 * @param {readonly string[]} fields
 * @returns {Panel['rows']}
 */
const metrics = (fields) => (answer) => {
  const row = listOf(answer).at(-1);
  return row ? fields.map((f) => ({ name: f, value: num(row[f]) })) : [];
};

/** @type {Panel['label']} */
const metricLabel = (lang, item) => t(lang, `metric.${item.name}`);

/**
 * The items of one index of a visit distribution: access sources by sessions (most first, top `n`), buckets by key.
 * @param {string} index
 * @param {number} [n]
 * @returns {Panel['rows']}
 */
const distribution = (index, n) => (answer) => {
  const entry = (Array.isArray(answer.list) ? answer.list.filter(isObject) : []).find((e) => e.index === index);
  const items = keyed(entry?.item_list);
  return n === undefined ? items.sort((a, b) => (a.id ?? 0) - (b.id ?? 0)) : items.sort((a, b) => b.value - a.value || (a.id ?? 0) - (b.id ?? 0)).slice(0, n);
};

/**
 * Retention of the audience's cohort: key 0 (the cohort), then each later period that is over; none for an empty cohort.
 * @type {Panel['rows']}
 */
const retention = (answer, audience) => {
  const items = keyed(answer[AUDIENCE_KEY[audience]]);
  // An empty cohort retains nobody: the panel says there is no data rather than drawing zeros.
  return items.some((i) => i.id === 0 && i.value > 0) ? items : [];
};

/**
 * The cohort's size (key 0): what a retention is a share of.
 * @type {NonNullable<Panel['total']>}
 */
const cohort = (answer, audience) => retention(answer, audience).find((i) => i.id === 0)?.value ?? 0;

/**
 * All sessions (or visitors) of a distribution index: what a bucket is a share of.
 * @param {string} index
 * @returns {NonNullable<Panel['total']>}
 */
const indexTotal = (index) => (answer) => distribution(index)(answer, 'active').reduce((s, i) => s + i.value, 0);

/**
 * @param {'day' | 'week' | 'month'} unit
 * @returns {Panel['label']}
 */
const retainLabel = (unit) => (lang, item) => (item.id === 0 ? t(lang, `retain.${unit}.0`) : t(lang, `retain.${unit}.k`, { k: item.id ?? 0 }));

/**
 * @param {string} prefix an i18n key prefix: "source", "stay", "depth"
 * @returns {Panel['label']}
 */
const keyLabel = (prefix) => (lang, item) => {
  const key = `${prefix}.${item.id ?? 0}`;
  const text = t(lang, key);
  // A key this page does not know (WeChat may add sources): shown by its number.
  return text === key ? t(lang, 'key.unknown', { k: item.id ?? 0 }) : text;
};

/** @type {Panel[]} */
export const VISIT_PANELS = [
  {
    id: 'visit-trend',
    titleKey: 'panel.visitTrend',
    source: 'dailyTrend',
    dimension: 'visit_trend',
    chart: 'line',
    wide: true,
    nameKey: 'table.date',
    valueKey: 'metric.visit_uv',
    label: (_lang, item) => isoOf(item.name),
    rows: (answer) => listOf(answer).map((r) => ({ name: String(r.ref_date ?? ''), value: num(r.visit_uv) })),
  },
  {
    id: 'day-trend',
    titleKey: 'panel.dayTrend',
    source: 'dailyTrend',
    dimension: 'daily_visit_trend',
    chart: 'stats',
    valueKey: 'table.number',
    label: metricLabel,
    rows: metrics(TREND_FIELDS),
    periods: (w) => [dayPeriod(w.end)],
  },
  { id: 'summary', titleKey: 'panel.summary', source: 'summary', dimension: 'daily_summary', chart: 'stats', valueKey: 'table.number', label: metricLabel, rows: metrics(SUMMARY_FIELDS) },
  { id: 'week-trend', titleKey: 'panel.weekTrend', source: 'weeklyTrend', dimension: 'weekly_visit_trend', chart: 'stats', valueKey: 'table.number', label: metricLabel, rows: metrics(TREND_FIELDS) },
  { id: 'month-trend', titleKey: 'panel.monthTrend', source: 'monthlyTrend', dimension: 'monthly_visit_trend', chart: 'stats', valueKey: 'table.number', label: metricLabel, rows: metrics(TREND_FIELDS) },
  { id: 'retain-day', titleKey: 'panel.retainDay', source: 'dailyRetain', dimension: 'daily_retain', chart: 'vbar', byAudience: true, label: retainLabel('day'), rows: retention, total: cohort },
  { id: 'retain-week', titleKey: 'panel.retainWeek', source: 'weeklyRetain', dimension: 'weekly_retain', chart: 'vbar', byAudience: true, label: retainLabel('week'), rows: retention, total: cohort },
  { id: 'retain-month', titleKey: 'panel.retainMonth', source: 'monthlyRetain', dimension: 'monthly_retain', chart: 'vbar', byAudience: true, label: retainLabel('month'), rows: retention, total: cohort },
  {
    id: 'sources',
    titleKey: 'panel.sources',
    source: 'distribution',
    dimension: 'access_source_session_cnt',
    chart: 'hbar',
    valueKey: 'table.sessions',
    label: keyLabel('source'),
    rows: distribution('access_source_session_cnt', 10),
    total: indexTotal('access_source_session_cnt'),
  },
  {
    id: 'source-users',
    titleKey: 'panel.sourceUsers',
    source: 'distribution',
    dimension: 'access_source_visit_uv',
    chart: 'hbar',
    label: keyLabel('source'),
    rows: distribution('access_source_visit_uv', 10),
    total: indexTotal('access_source_visit_uv'),
  },
  { id: 'staytime', titleKey: 'panel.staytime', source: 'distribution', dimension: 'access_staytime_info', chart: 'vbar', valueKey: 'table.sessions', label: keyLabel('stay'), rows: distribution('access_staytime_info'), total: indexTotal('access_staytime_info') },
  { id: 'depth', titleKey: 'panel.depth', source: 'distribution', dimension: 'access_depth_info', chart: 'vbar', valueKey: 'table.sessions', label: keyLabel('depth'), rows: distribution('access_depth_info'), total: indexTotal('access_depth_info') },
  {
    id: 'pages',
    titleKey: 'panel.pages',
    source: 'pages',
    dimension: 'visit_page',
    chart: 'hbar',
    wide: true,
    nameKey: 'table.page',
    valueKey: 'metric.page_visit_pv',
    rows: (answer) => listOf(answer).slice(0, 10).map((r) => ({ name: String(r.page_path ?? ''), value: num(r.page_visit_pv) })),
  },
];

/** Every panel, portrait first. */
export const ALL_PANELS = [...PANELS, ...VISIT_PANELS];
