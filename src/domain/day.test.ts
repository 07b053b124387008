import { describe, expect, it } from 'vitest';
import { ManualClock, today, yesterday } from './clock.ts';
import { dayOf, formatDay, parseDay, startOfDay } from './day.ts';

describe('Shanghai days', () => {
  it('puts 23:59:59.999 and 00:00 Shanghai time on either side of midnight, whatever the host zone', () => {
    // 2026-11-27 00:00 in Shanghai is 2026-11-26 16:00 UTC.
    const midnight = Date.UTC(2026, 10, 26, 16, 0, 0);
    expect(formatDay(dayOf(midnight))).toBe('20261127');
    expect(formatDay(dayOf(midnight - 1))).toBe('20261126');
    expect(formatDay(dayOf(Date.parse('2026-11-27T00:00:00+08:00')))).toBe('20261127');
    expect(formatDay(dayOf(Date.parse('2026-11-26T23:59:59.999+08:00')))).toBe('20261126');
    // 20:00 UTC on the 26th is already the 27th in Shanghai.
    expect(formatDay(dayOf(Date.parse('2026-11-26T20:00:00Z')))).toBe('20261127');
    expect(startOfDay(dayOf(midnight))).toBe(midnight);
  });

  it('parses only real yyyymmdd days', () => {
    expect(parseDay('20240229')).toBeDefined();
    for (const bad of ['20230229', '20261131', '20261301', '20260001', '2026112', '202611270', '2026-11-27', ' 20261127', '', 'abcdefgh', '19691231']) {
      expect(parseDay(bad), bad).toBeUndefined();
    }
    expect(formatDay(parseDay('20261127') ?? 0)).toBe('20261127');
    // Leap years by the Gregorian rule; non-ASCII digits and signs are not digits.
    expect(parseDay('20000229')).toBeDefined();
    for (const bad of ['19000229', '21000229', '20260431', '20260230', '2026110\u0661', '+2026112', '2026112.', '20261100', '2026\uff11127']) {
      expect(parseDay(bad), bad).toBeUndefined();
    }
  });

  it('parses every day of 1970–2105 to the day formatDay writes back', () => {
    for (let day = 0; day < 49_674; day++) expect(parseDay(formatDay(day))).toBe(day);
  });

  it('gives today and yesterday from an injected clock', () => {
    const clock = new ManualClock(Date.parse('2026-11-28T00:30:00+08:00'));
    expect(formatDay(today(clock))).toBe('20261128');
    expect(formatDay(yesterday(clock))).toBe('20261127');
    clock.set(Date.parse('2026-11-27T23:59:00+08:00'));
    expect(formatDay(yesterday(clock))).toBe('20261126');
  });
});
