// Calendar days as WeChat writes them ("yyyymmdd"), and the windows the API takes: 1, 7 or 30 days ending on a
// day. Only calendar arithmetic happens here (in UTC, so the browser's time zone never matters); which day is
// "yesterday" in China comes from the server.

/** @typedef {{ begin: string, end: string, days: number }} Window */

const DAY_MS = 86_400_000;

/**
 * Whole days since 1970-01-01 for "yyyymmdd", or undefined when it is not a real day.
 * @param {string} ymd
 * @returns {number | undefined}
 */
export function dayNumber(ymd) {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(ymd);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const ms = Date.UTC(y, mo - 1, d);
  const back = new Date(ms);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return undefined;
  return ms / DAY_MS;
}

/**
 * "yyyymmdd" for a day number.
 * @param {number} n
 * @returns {string}
 */
export function ymdOf(n) {
  const d = new Date(n * DAY_MS);
  return `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
}

/**
 * "yyyymmdd" → "yyyy-mm-dd" (the value of an <input type=date>).
 * @param {string} ymd
 */
export function isoOf(ymd) {
  return `${ymd.slice(0, 4)}-${ymd.slice(4, 6)}-${ymd.slice(6, 8)}`;
}

/**
 * "yyyy-mm-dd" → "yyyymmdd", or undefined when it is not a real day.
 * @param {string} iso
 * @returns {string | undefined}
 */
export function ymdFromIso(iso) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso);
  if (!m) return undefined;
  const ymd = `${m[1]}${m[2]}${m[3]}`;
  return dayNumber(ymd) === undefined ? undefined : ymd;
}

/**
 * The window of `days` days (1, 7 or 30) ending on `end`.
 * @param {string} end
 * @param {number} days
 * @returns {Window}
 */
export function windowEnding(end, days) {
  const n = dayNumber(end);
  if (n === undefined) throw new Error(`not a day: ${end}`);
  return { begin: ymdOf(n - days + 1), end, days };
}

/**
 * @typedef {{ begin: string, end: string }} Period  one day, a Monday–Sunday week or a calendar month, as WeChat's
 *   analysis APIs take it
 */

/**
 * The last Monday–Sunday week that ends on or before `end`.
 * @param {string} end
 * @returns {Period}
 */
export function weekEndingBy(end) {
  const n = dayNumber(end);
  if (n === undefined) throw new Error(`not a day: ${end}`);
  // Day 0 (1970-01-01) was a Thursday: (n + 3) % 7 is 0 on Mondays, 6 on Sundays.
  const sunday = n - (((n + 3) % 7) + 1) % 7;
  return { begin: ymdOf(sunday - 6), end: ymdOf(sunday) };
}

/**
 * The last calendar month that ends on or before `end`.
 * @param {string} end
 * @returns {Period}
 */
export function monthEndingBy(end) {
  const n = dayNumber(end);
  if (n === undefined) throw new Error(`not a day: ${end}`);
  const last = ymdOf(n + 1).endsWith('01') ? n : (dayNumber(`${end.slice(0, 6)}01`) ?? n) - 1;
  const lastYmd = ymdOf(last);
  return { begin: `${lastYmd.slice(0, 6)}01`, end: lastYmd };
}

/**
 * The same kind of period `k` periods later (negative: earlier).
 * @param {Period} p
 * @param {'day' | 'week' | 'month'} granularity
 * @param {number} k
 * @returns {Period}
 */
export function shiftPeriod(p, granularity, k) {
  const b = dayNumber(p.begin) ?? 0;
  if (granularity === 'day') return { begin: ymdOf(b + k), end: ymdOf(b + k) };
  if (granularity === 'week') return { begin: ymdOf(b + 7 * k), end: ymdOf(b + 7 * k + 6) };
  const y = Number(p.begin.slice(0, 4));
  const m = Number(p.begin.slice(4, 6)) - 1 + k;
  const first = Date.UTC(y, m, 1) / DAY_MS;
  const next = Date.UTC(y, m + 1, 1) / DAY_MS;
  return { begin: ymdOf(first), end: ymdOf(next - 1) };
}
