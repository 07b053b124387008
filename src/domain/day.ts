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
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(text);
  if (!m) return undefined;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31) return undefined;
  const ms = Date.UTC(y, mo - 1, d);
  const back = new Date(ms);
  if (back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return undefined;
  return ms / MS_PER_DAY;
}
