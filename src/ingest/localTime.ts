/**
 * Times written without a UTC offset (`2026-11-29 10:00:00`, what MySQL and Excel export) read as wall-clock
 * time in an IANA zone (`datacube ingest --tz Asia/Shanghai`).
 */

/** `yyyy-mm-dd hh:mm[:ss[.fff]]` (or `T` between, or `/` in the date) with no offset: a wall-clock time. */
const LOCAL = /^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?$/;

const formats = new Map<string, Intl.DateTimeFormat>();

function format(zone: string): Intl.DateTimeFormat {
  let f = formats.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formats.set(zone, f);
  }
  return f;
}

/** The zone's name as Intl knows it, or an error naming the bad one. */
export function checkTimeZone(zone: string): string {
  try {
    return format(zone).resolvedOptions().timeZone;
  } catch {
    throw new Error(`unknown time zone "${zone}": use an IANA name such as Asia/Shanghai, UTC or Europe/Berlin`);
  }
}

/** Milliseconds to add to UTC to get the zone's wall-clock time at the instant `ms`. */
function offsetAt(ms: number, zone: string): number {
  const parts: Record<string, number> = {};
  for (const p of format(zone).formatToParts(new Date(ms))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  const wall = Date.UTC(parts.year ?? 1970, (parts.month ?? 1) - 1, parts.day ?? 1, parts.hour ?? 0, parts.minute ?? 0, parts.second ?? 0);
  return wall - (ms - (((ms % 1000) + 1000) % 1000));
}

/**
 * Epoch milliseconds of a wall-clock time without an offset in `zone`, or undefined when `text` is not such a
 * time (it has an offset, or is not a date-time at all: left for ingest to judge). A wall time that a
 * daylight-saving change skips is read with the offset in force before the change.
 */
export function localTimeToEpoch(text: string, zone: string): number | undefined {
  const m = LOCAL.exec(text.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac] = m;
  const ms = frac ? Math.floor(Number(`0.${frac}`) * 1000) : 0;
  const wall = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h ?? 0), Number(mi ?? 0), Number(s ?? 0), ms);
  const check = new Date(wall);
  if (check.getUTCMonth() !== Number(mo) - 1 || check.getUTCDate() !== Number(d) || Number(h ?? 0) > 23) return undefined;
  const first = wall - offsetAt(wall, zone);
  const second = wall - offsetAt(first, zone);
  return second;
}
