/**
 * The words test mode's clock understands: instants (`2026-06-15T10:00:00+08:00`) and durations (`2h`, `1h30m`,
 * `PT2H`). Pure functions, no Node APIs.
 */

const SHANGHAI_OFFSET_MS = 8 * 3_600_000;

/** Thrown for an instant or a duration that cannot be read; the message says what is accepted. */
export class TimeFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TimeFormatError';
  }
}

/**
 * The latest instant the test clock may show: past it, days no longer have 8 digits (YYYYMMDD), and past year
 * 275760 not even a Date can be made (an `{"advance":"99999999d"}` left every later answer a system error).
 */
export const LATEST_INSTANT_MS = Date.UTC(9999, 0, 1);

/** Refuses an instant past LATEST_INSTANT_MS. */
export function checkInstantRange(ms: number, said: string): number {
  if (!(ms <= LATEST_INSTANT_MS)) throw new TimeFormatError(`${said} is past 9999-01-01, the latest time the test clock can show`);
  return ms;
}

const INSTANT = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/;

/**
 * Epoch milliseconds of an ISO 8601 instant: `2026-06-15T10:00:00+08:00`, `2026-06-15T02:00:00Z`,
 * `2026-06-15T10:00` or `2026-06-15` (no offset: China time, where datacube's days are), or epoch milliseconds
 * (a number, or a string of digits).
 */
export function parseInstant(value: unknown): number {
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && value >= 0) return checkInstantRange(value, String(value));
    throw new TimeFormatError(`${value} is not a whole number of epoch milliseconds`);
  }
  if (typeof value !== 'string') throw new TimeFormatError('a time must be an ISO 8601 string such as "2026-06-15T10:00:00+08:00"');
  const text = value.trim();
  if (/^\d{10,15}$/.test(text)) return checkInstantRange(Number(text), text);
  const m = INSTANT.exec(text);
  if (!m) throw new TimeFormatError(`"${value.slice(0, 64)}" is not a time; write it like 2026-06-15T10:00:00+08:00`);
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '0', zone] = m;
  const fields = [Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), Number(frac.padEnd(3, '0'))] as const;
  const local = Date.UTC(...fields);
  const back = new Date(local);
  if (
    back.getUTCFullYear() !== fields[0] ||
    back.getUTCMonth() !== fields[1] ||
    back.getUTCDate() !== fields[2] ||
    back.getUTCHours() !== fields[3] ||
    back.getUTCMinutes() !== fields[4] ||
    back.getUTCSeconds() !== fields[5]
  ) {
    throw new TimeFormatError(`"${value.slice(0, 64)}" is not a real date and time`);
  }
  let offsetMs = SHANGHAI_OFFSET_MS;
  if (zone === 'Z') offsetMs = 0;
  else if (zone !== undefined) {
    const z = /^([+-])(\d{2}):?(\d{2})$/.exec(zone);
    if (!z) throw new TimeFormatError(`bad offset in "${value.slice(0, 64)}"`);
    const [, sign, oh, om] = z;
    // As event times are checked: offsets run from -14:00 to +14:00, minutes below 60.
    if (Number(om) > 59 || Number(oh) * 60 + Number(om) > 14 * 60) throw new TimeFormatError(`bad offset in "${value.slice(0, 64)}": it must be between -14:00 and +14:00`);
    offsetMs = (sign === '-' ? -1 : 1) * (Number(oh) * 3_600_000 + Number(om) * 60_000);
  }
  const ms = local - offsetMs;
  if (ms < 0) throw new TimeFormatError('times before 1970 are not supported');
  return checkInstantRange(ms, `"${value.slice(0, 64)}"`);
}

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 } as const;
type Unit = keyof typeof UNIT_MS;
/** Unit words, longest first (so `ms` is not read as `m`). */
const UNIT_WORDS: readonly (readonly [string, Unit])[] = [
  ['milliseconds', 'ms'], ['millisecond', 'ms'], ['seconds', 's'], ['second', 's'], ['minutes', 'm'], ['minute', 'm'],
  ['hours', 'h'], ['hour', 'h'], ['weeks', 'w'], ['week', 'w'], ['days', 'd'], ['day', 'd'], ['secs', 's'], ['sec', 's'],
  ['mins', 'm'], ['min', 'm'], ['hrs', 'h'], ['hr', 'h'], ['ms', 'ms'], ['s', 's'], ['m', 'm'], ['h', 'h'], ['d', 'd'], ['w', 'w'],
];

/**
 * Milliseconds of a duration: `2h`, `90s`, `1h30m`, `1d`, `500ms`, `1.5h`, `2 hours`, `1 day 2 hours`, ISO 8601
 * `PT2H`/`P1DT2H`, or a number of milliseconds. Never negative.
 */
export function parseDuration(value: unknown): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0 && Number.isSafeInteger(Math.round(value))) return Math.round(value);
    throw new TimeFormatError(`${value} is not a duration in milliseconds (a number ≥ 0)`);
  }
  if (typeof value !== 'string') throw new TimeFormatError('a duration must be a string such as "2h", "30m", "1d" or "PT2H"');
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text);
  const iso = /^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i.exec(text);
  if (iso && text.length > 1 && !/T$/i.test(text)) {
    const [, w = '0', d = '0', h = '0', mi = '0', s = '0'] = iso;
    return Math.round(Number(w) * UNIT_MS.w + Number(d) * UNIT_MS.d + Number(h) * UNIT_MS.h + Number(mi) * UNIT_MS.m + Number(s) * UNIT_MS.s);
  }
  const part = new RegExp(`(\\d+(?:\\.\\d+)?)(${UNIT_WORDS.map(([w]) => w).join('|')})`, 'gy');
  let total = 0;
  let pos = 0;
  let parts = 0;
  const compact = text.toLowerCase().replace(/\s+|,|\band\b/g, '');
  part.lastIndex = 0;
  for (let m = part.exec(compact); m; m = part.exec(compact)) {
    const unit = UNIT_WORDS.find(([w]) => w === m[2])?.[1] ?? 'ms';
    total += Number(m[1]) * UNIT_MS[unit];
    pos = part.lastIndex;
    parts++;
  }
  if (parts === 0 || pos !== compact.length) {
    throw new TimeFormatError(`"${value.slice(0, 64)}" is not a duration; write it like 2h, 30m, 1h30m, 1d, 90s, 500ms or PT2H`);
  }
  if (!Number.isSafeInteger(Math.round(total))) throw new TimeFormatError(`"${value.slice(0, 64)}" is too long a duration`);
  return Math.round(total);
}

/** An instant as ISO 8601 in China time: `2026-06-15T10:00:00+08:00` (`…10:00:00.250+08:00` with milliseconds). */
export function formatInstant(ms: number): string {
  const iso = new Date(ms + SHANGHAI_OFFSET_MS).toISOString();
  return `${ms % 1000 === 0 ? iso.slice(0, 19) : iso.slice(0, 23)}+08:00`;
}
