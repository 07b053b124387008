/**
 * Calendar days in China Standard Time (Asia/Shanghai, UTC+8, no daylight saving since 1991).
 * A `Day` is the number of whole Shanghai days since 1970-01-01, so day arithmetic is integer arithmetic
 * and nothing depends on the host's time zone.
 */
export type Day = number;

const MS_PER_DAY = 86_400_000;
const SHANGHAI_OFFSET_MS = 8 * 3_600_000;

/** The Shanghai calendar day that contains the instant `ms` (epoch milliseconds). */
export function dayOf(ms: number): Day {
  return Math.floor((ms + SHANGHAI_OFFSET_MS) / MS_PER_DAY);
}

/** Epoch milliseconds of Shanghai midnight at the start of `day`. */
export function startOfDay(day: Day): number {
  return day * MS_PER_DAY - SHANGHAI_OFFSET_MS;
}

/** `yyyymmdd` for a day. */
export function formatDay(day: Day): string {
  const d = new Date(day * MS_PER_DAY);
  const y = d.getUTCFullYear().toString().padStart(4, '0');
  const m = (d.getUTCMonth() + 1).toString().padStart(2, '0');
  const dd = d.getUTCDate().toString().padStart(2, '0');
  return `${y}${m}${dd}`;
}

/** Parses `yyyymmdd` naming a real calendar day; `undefined` for anything else. */
export function parseDay(text: string): Day | undefined {
  // Digit by digit, no regex and no Date object: every API call parses two of these.
  if (text.length !== 8) return undefined;
  let n = 0;
  for (let i = 0; i < 8; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return undefined;
    n = n * 10 + digit;
  }
  const y = Math.floor(n / 10_000);
  const mo = Math.floor(n / 100) % 100;
  const d = n % 100;
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo)) return undefined;
  return Date.UTC(y, mo - 1, d) / MS_PER_DAY;
}

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;

/** Days in month `mo` (1–12) of year `y`, by the Gregorian rule. */
export function daysInMonth(y: number, mo: number): number {
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  return mo === 2 && leap ? 29 : (MONTH_DAYS[mo - 1] ?? 0);
}
