import type { Day } from './day.ts';

/**
 * Retention: how long an app keeps its events. An app with `retain_days` N keeps the events of the last N Shanghai
 * days before today (and today's): the daily prune drops events of days before `today - N`. N is at least 31, so the
 * longest window WeChat allows (30 days ending yesterday, the earliest beginning `today - 30`) is always whole.
 */
export const MIN_RETAIN_DAYS = 31;
/** A hundred years: anything longer is a typing error. */
export const MAX_RETAIN_DAYS = 36_500;

/** Why `n` is not a retention period, or undefined if it is one. */
export function retainDaysProblem(n: unknown): string | undefined {
  if (typeof n !== 'number' || !Number.isInteger(n)) return `retain days must be a whole number of days, got ${JSON.stringify(n)}`;
  if (n < MIN_RETAIN_DAYS) return `retain days must be at least ${MIN_RETAIN_DAYS} (so that every 30-day window stays whole), got ${n}`;
  if (n > MAX_RETAIN_DAYS) return `retain days must be at most ${MAX_RETAIN_DAYS}, got ${n}`;
  return undefined;
}

/** The first day an app keeping `retainDays` days still keeps on `today`; events of earlier days are dropped. */
export function firstKeptDay(today: Day, retainDays: number): Day {
  return today - retainDays;
}
