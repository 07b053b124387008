/**
 * Where the SDK reads "now": a `{ now() }` object (datacube's `Clock`) or a plain function, returning epoch
 * milliseconds or a `Date`. Used for the date windows, for token lifetimes and for an event's default time.
 */
export type ClockLike = { now(): number | Date } | (() => number | Date);

export const systemClock: ClockLike = { now: () => Date.now() };

/** Epoch milliseconds from a clock. */
export function nowMs(clock: ClockLike): number {
  const v = typeof clock === 'function' ? clock() : clock.now();
  const ms = v instanceof Date ? v.getTime() : v;
  if (!Number.isFinite(ms)) throw new TypeError(`the clock returned ${String(v)}, not a time`);
  return ms;
}
