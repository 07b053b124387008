import { type Day, formatDay, parseDay } from './day.ts';
import { quoted, WeChatError } from './errors.ts';
import type { Window } from './window.ts';

/**
 * The periods of WeChat's analysis family (reference: wechat-analysis-family.md, "Date rules"): one day, one
 * Monday–Sunday week, or one calendar month, each finished (ended at most yesterday, China time).
 */
export type Granularity = 'day' | 'week' | 'month';

export interface Period extends Window {
  readonly granularity: Granularity;
}

const MS_PER_DAY = 86_400_000;

/** 0 = Sunday … 6 = Saturday (1970-01-01, day 0, was a Thursday). */
export function weekday(day: Day): number {
  return (((day + 4) % 7) + 7) % 7;
}

/** The Monday of the week that contains `day`. */
export function mondayOf(day: Day): Day {
  return day - ((weekday(day) + 6) % 7);
}

/** Year and month (1–12) of a day. */
export function yearMonth(day: Day): { year: number; month: number } {
  const d = new Date(day * MS_PER_DAY);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1 };
}

/** The first day of the month `year`-`month` (month may run past 12 or below 1; it carries into the year). */
export function firstOfMonth(year: number, month: number): Day {
  return Date.UTC(year, month - 1, 1) / MS_PER_DAY;
}

/** The whole month that contains `day`. */
export function monthOf(day: Day): Window {
  const { year, month } = yearMonth(day);
  return { begin: firstOfMonth(year, month), end: firstOfMonth(year, month + 1) - 1 };
}

/** The period `k` periods after `p` (k may be 0 or negative). */
export function shiftPeriod(p: Period, k: number): Period {
  switch (p.granularity) {
    case 'day':
      return { granularity: 'day', begin: p.begin + k, end: p.end + k };
    case 'week':
      return { granularity: 'week', begin: p.begin + 7 * k, end: p.end + 7 * k };
    case 'month': {
      const { year, month } = yearMonth(p.begin);
      return { granularity: 'month', begin: firstOfMonth(year, month + k), end: firstOfMonth(year, month + k + 1) - 1 };
    }
  }
}

/** `ref_date` as WeChat writes it per granularity: `yyyymmdd`, `yyyymmdd-yyyymmdd`, `yyyymm`. */
export function periodRefDate(p: Period): string {
  switch (p.granularity) {
    case 'day':
      return formatDay(p.begin);
    case 'week':
      return `${formatDay(p.begin)}-${formatDay(p.end)}`;
    case 'month':
      return formatDay(p.begin).slice(0, 6);
  }
}

function day(text: string, key: string): Day {
  const d = parseDay(text);
  if (d === undefined) throw new WeChatError('DATE_FORMAT', `${key} ${quoted(text)} is not a yyyymmdd day`);
  return d;
}

/**
 * Applies WeChat's date rules for one granularity to `begin_date`/`end_date` (reference "Date rules"):
 * - 61500 for a date that is not `yyyymmdd` or not a real day;
 * - 61501 when the range is not one day (day), not Monday to Sunday of one week (week), not the first to the last
 *   day of one month (month), or ends after `latestEnd` (yesterday in Shanghai: a week or month must be finished).
 */
export function parsePeriod(granularity: Granularity, beginDate: string, endDate: string, latestEnd: Day): Period {
  const begin = day(beginDate, 'begin_date');
  const end = day(endDate, 'end_date');
  if (begin > end) throw new WeChatError('DATE_RANGE', 'begin_date is after end_date');
  switch (granularity) {
    case 'day':
      if (begin !== end) throw new WeChatError('DATE_RANGE', 'begin_date and end_date must be the same day');
      break;
    case 'week':
      if (weekday(begin) !== 1) throw new WeChatError('DATE_RANGE', 'begin_date must be a Monday');
      if (end !== begin + 6) throw new WeChatError('DATE_RANGE', 'end_date must be the Sunday of the same week');
      break;
    case 'month': {
      const m = monthOf(begin);
      if (begin !== m.begin) throw new WeChatError('DATE_RANGE', 'begin_date must be the first day of a month');
      if (end !== m.end) throw new WeChatError('DATE_RANGE', 'end_date must be the last day of the same month');
      break;
    }
  }
  if (end > latestEnd) {
    const what = granularity === 'day' ? 'the day' : `the ${granularity}`;
    throw new WeChatError('DATE_RANGE', `${what} must be over: end_date may be at most ${formatDay(latestEnd)} (yesterday, China time)`);
  }
  return { granularity, begin, end };
}

/** The latest finished period of a granularity, given yesterday: yesterday, last week, last month. */
export function latestPeriod(granularity: Granularity, yesterday: Day): Period {
  switch (granularity) {
    case 'day':
      return { granularity, begin: yesterday, end: yesterday };
    case 'week': {
      const monday = mondayOf(yesterday + 1) - 7;
      return { granularity, begin: monday, end: monday + 6 };
    }
    case 'month': {
      const m = monthOf(yesterday + 1);
      const prev = monthOf(m.begin - 1);
      return { granularity, ...prev };
    }
  }
}
