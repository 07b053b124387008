import { dayOf, formatDay, type Day } from '../domain/day.ts';
import { type ClockLike, nowMs, systemClock } from './clock.ts';

/**
 * A date as the analysis APIs take it: a `yyyymmdd` string (sent as it is, so the service judges it), or a `Date`,
 * which stands for the calendar day in China (Asia/Shanghai) that contains that instant — never the host's zone.
 */
export type DateInput = string | Date;

/** A date range in the cloud-call style (`{ beginDate, endDate }`), as `client.analysis.*` takes it. */
export interface DateRange {
  beginDate: DateInput;
  endDate: DateInput;
}

/** A date range in WeChat's HTTPS style (`{ begin_date, end_date }`), as `client.datacube.*Raw` takes it. */
export interface RawDateRange {
  begin_date: DateInput;
  end_date: DateInput;
}

/** A window the helpers computed: both ends as `yyyymmdd` strings. */
export interface DateWindow {
  beginDate: string;
  endDate: string;
}

/** `yyyymmdd` of the Shanghai day containing `date`, or the string itself. */
export function toYyyymmdd(value: DateInput, field: string): string {
  if (typeof value === 'string') return value;
  if (value instanceof Date) {
    const ms = value.getTime();
    if (!Number.isFinite(ms)) throw new TypeError(`${field} is an invalid Date`);
    return formatDay(dayOf(ms));
  }
  throw new TypeError(`${field} must be a yyyymmdd string or a Date, not ${value === null ? 'null' : typeof value}`);
}

/** Days since 1970-01-01 → weekday with Monday = 0 (1970-01-01 was a Thursday). */
function mondayIndex(day: Day): number {
  return (((day + 3) % 7) + 7) % 7;
}

function range(begin: Day, end: Day): DateWindow {
  return { beginDate: formatDay(begin), endDate: formatDay(end) };
}

/** The valid windows, computed from a clock, as of "today" in China. */
export interface Windows {
  /** The 1-day window: yesterday. */
  yesterday(): DateWindow;
  /** The 7 days ending yesterday. */
  last7Days(): DateWindow;
  /** The 30 days ending yesterday. */
  last30Days(): DateWindow;
  /** The last finished natural week, Monday to Sunday (weekly visit trend and retention). */
  lastWeek(): DateWindow;
  /** The last finished calendar month, first to last day (monthly visit trend and retention). */
  lastMonth(): DateWindow;
}

/** The window helpers read from `clock` (the system clock by default) each time they are called. */
export function windowsAt(clock: ClockLike = systemClock): Windows {
  const today = () => dayOf(nowMs(clock));
  return {
    yesterday: () => range(today() - 1, today() - 1),
    last7Days: () => range(today() - 7, today() - 1),
    last30Days: () => range(today() - 30, today() - 1),
    lastWeek: () => {
      const thisMonday = today() - mondayIndex(today());
      return range(thisMonday - 7, thisMonday - 1);
    },
    lastMonth: () => {
      const d = new Date(today() * 86_400_000);
      const firstOfThisMonth = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1) / 86_400_000;
      const firstOfLastMonth = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - 1, 1) / 86_400_000;
      return range(firstOfLastMonth, firstOfThisMonth - 1);
    },
  };
}

/**
 * The window helpers on the system clock, or on a clock given per call:
 * `windows.last7Days()`, `windows.yesterday(clock)`. A client's own `client.windows` reads the client's clock.
 */
export const windows = {
  yesterday: (clock?: ClockLike): DateWindow => windowsAt(clock).yesterday(),
  last7Days: (clock?: ClockLike): DateWindow => windowsAt(clock).last7Days(),
  last30Days: (clock?: ClockLike): DateWindow => windowsAt(clock).last30Days(),
  lastWeek: (clock?: ClockLike): DateWindow => windowsAt(clock).lastWeek(),
  lastMonth: (clock?: ClockLike): DateWindow => windowsAt(clock).lastMonth(),
};
