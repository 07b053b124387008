import { type Day, formatDay, parseDay } from './day.ts';
import { quoted, WeChatError } from './errors.ts';

/** The number of days a portrait window may span: yesterday, the last 7 days, the last 30 days. */
export const WINDOW_LENGTHS = [1, 7, 30] as const;
export type WindowLength = (typeof WINDOW_LENGTHS)[number];

/** Consecutive Shanghai days `[begin, end]`, both included. */
export interface Window {
  readonly begin: Day;
  readonly end: Day;
}

export function windowLength(w: Window): number {
  return w.end - w.begin + 1;
}

/**
 * Applies WeChat's rules to `begin_date`/`end_date` strings:
 * 61500 for a date that is not `yyyymmdd` or not a real day; 61501 for a span other than 0, 6 or 29 days,
 * a begin after the end, or an end after `latestEnd` (yesterday in Shanghai).
 */
export function parseWindow(beginDate: string, endDate: string, latestEnd: Day): Window {
  const begin = parseDay(beginDate);
  const end = parseDay(endDate);
  if (begin === undefined) throw new WeChatError('DATE_FORMAT', `begin_date ${quoted(beginDate)} is not a yyyymmdd day`);
  if (end === undefined) throw new WeChatError('DATE_FORMAT', `end_date ${quoted(endDate)} is not a yyyymmdd day`);
  if (begin > end) throw new WeChatError('DATE_RANGE', 'begin_date is after end_date');
  const length = end - begin + 1;
  if (!(WINDOW_LENGTHS as readonly number[]).includes(length)) {
    throw new WeChatError('DATE_RANGE', `the window spans ${length} days; it must span 1, 7 or 30 days`);
  }
  if (end > latestEnd) throw new WeChatError('DATE_RANGE', `end_date may be at most ${formatDay(latestEnd)} (yesterday, China time)`);
  return { begin, end };
}

/** The window of `length` days ending on `end`. */
export function windowEnding(end: Day, length: WindowLength): Window {
  return { begin: end - length + 1, end };
}

/** `ref_date` as WeChat writes it: `yyyymmdd` for one day, `yyyymmdd-yyyymmdd` otherwise. */
export function refDate(w: Window): string {
  return w.begin === w.end ? formatDay(w.begin) : `${formatDay(w.begin)}-${formatDay(w.end)}`;
}
