// What the dashboard shows, as data: the API calls it makes (sources) and the panels drawn from their answers.
// A panel names its source, its chart kind and how to pick its rows out of the answer; the page does the rest
// (chart, table view, CSV rows). Panels for WeChat's other analysis APIs (visit trend, retention, access sources,
// top pages) are added here: a source with the API's path and its own date rule, and panels reading its answer.

/**
 * @typedef {import('./days.js').Window} Window
 * @typedef {{ id?: number, name: string, value: number }} Item
 * @typedef {'map' | 'hbar' | 'vbar' | 'pie'} ChartKind
 * @typedef {'active' | 'new'} Audience
 * @typedef {{ path: string, request: (w: Window) => Record<string, unknown> }} Source
 * @typedef {{
 *   id: string,
 *   titleKey: string,
 *   source: keyof typeof SOURCES,
 *   dimension: string,
 *   chart: ChartKind,
 *   wide?: boolean,
 *   rows: (answer: Record<string, unknown>, audience: Audience) => Item[],
 * }} Panel
 */

export const SOURCES = {
  /** analysis.getUserPortrait: a 1-, 7- or 30-day window ending at most yesterday. */
  portrait: {
    path: 'getweanalysisappiduserportrait',
    /** @param {Window} w */
    request: (w) => ({ begin_date: w.begin, end_date: w.end }),
  },
};

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
  { id: 'province', titleKey: 'panel.province', source: 'portrait', dimension: 'province', chart: 'map', wide: true, rows: all('province') },
  { id: 'city', titleKey: 'panel.city', source: 'portrait', dimension: 'city', chart: 'hbar', rows: top('city', 10) },
  { id: 'devices', titleKey: 'panel.devices', source: 'portrait', dimension: 'devices', chart: 'hbar', rows: top('devices', 10) },
  { id: 'genders', titleKey: 'panel.genders', source: 'portrait', dimension: 'genders', chart: 'pie', rows: all('genders') },
  { id: 'platforms', titleKey: 'panel.platforms', source: 'portrait', dimension: 'platforms', chart: 'pie', rows: all('platforms') },
  { id: 'ages', titleKey: 'panel.ages', source: 'portrait', dimension: 'ages', chart: 'vbar', rows: byId('ages') },
];
