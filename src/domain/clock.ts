import { type Day, dayOf } from './day.ts';

/** The source of "now". Injected wherever "today" or "yesterday" matters, so tests can pin time. */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock that stands still at `ms` until moved; for tests. */
export class ManualClock implements Clock {
  constructor(private ms: number) {}
  now(): number {
    return this.ms;
  }
  set(ms: number): void {
    this.ms = ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

export function today(clock: Clock): Day {
  return dayOf(clock.now());
}

export function yesterday(clock: Clock): Day {
  return today(clock) - 1;
}
