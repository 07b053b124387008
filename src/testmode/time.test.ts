import { describe, expect, it } from 'vitest';
import { formatInstant, parseDuration, parseInstant, TimeFormatError } from './time.ts';

const JUNE_15_10H_SHANGHAI = Date.UTC(2026, 5, 15, 2, 0, 0);

describe('parseInstant', () => {
  it('reads ISO 8601 with an offset, Z, or none (China time), and epoch milliseconds', () => {
    expect(parseInstant('2026-06-15T10:00:00+08:00')).toBe(JUNE_15_10H_SHANGHAI);
    expect(parseInstant('2026-06-15T10:00:00+0800')).toBe(JUNE_15_10H_SHANGHAI);
    expect(parseInstant('2026-06-15T02:00:00Z')).toBe(JUNE_15_10H_SHANGHAI);
    expect(parseInstant('2026-06-14T22:00:00-04:00')).toBe(JUNE_15_10H_SHANGHAI);
    expect(parseInstant('2026-06-15T10:00')).toBe(JUNE_15_10H_SHANGHAI);
    expect(parseInstant('2026-06-15 10:00:00.250')).toBe(JUNE_15_10H_SHANGHAI + 250);
    expect(parseInstant('2026-06-15')).toBe(JUNE_15_10H_SHANGHAI - 10 * 3_600_000);
    expect(parseInstant(String(JUNE_15_10H_SHANGHAI))).toBe(JUNE_15_10H_SHANGHAI);
    expect(parseInstant(JUNE_15_10H_SHANGHAI)).toBe(JUNE_15_10H_SHANGHAI);
  });

  it('refuses what is not a real time, naming the expected form', () => {
    for (const bad of ['tomorrow', '2026-02-30T10:00:00+08:00', '2026-06-15T25:00', '2026-13-01', '', '15/06/2026', '1969-12-31T00:00:00Z', null, {}, -5, 1.5, '2026-06-15T10:00:00+14:59', '2026-06-15T10:00:00-15:00', '2026-06-15T10:00:00+08:60', '10000-01-01', '999999999999999', 9e15]) {
      expect(() => parseInstant(bad), JSON.stringify(bad)).toThrow(TimeFormatError);
    }
    expect(() => parseInstant('next week')).toThrow(/2026-06-15T10:00:00\+08:00/);
  });
});

describe('parseDuration', () => {
  it('reads 2h, 30m, 1h30m, 1d, 90s, 500ms, 1.5h, 1w, ISO PT2H / P1DT2H, and plain milliseconds', () => {
    const cases: [unknown, number][] = [
      ['2h', 7_200_000],
      ['30m', 1_800_000],
      ['1h30m', 5_400_000],
      ['1h 30m', 5_400_000],
      ['1d', 86_400_000],
      ['90s', 90_000],
      ['500ms', 500],
      ['1.5h', 5_400_000],
      ['1w', 604_800_000],
      ['PT2H', 7_200_000],
      ['P1DT2H', 93_600_000],
      ['PT0.5S', 500],
      ['1500', 1500],
      [60_000, 60_000],
      ['0s', 0],
      ['2 hours', 7_200_000],
      ['1 day 2 hours', 93_600_000],
      ['30 minutes', 1_800_000],
      ['1 hour and 30 mins', 5_400_000],
      ['2H', 7_200_000],
    ];
    for (const [text, ms] of cases) expect(parseDuration(text), String(text)).toBe(ms);
  });

  it('refuses negative, empty and unknown forms', () => {
    for (const bad of ['-2h', '', 'h', '2 fortnights', '2x', 'P', 'PT', '2h-', '2 month', -1, Number.NaN, null, true]) {
      expect(() => parseDuration(bad), JSON.stringify(bad)).toThrow(TimeFormatError);
    }
  });
});

describe('formatInstant', () => {
  it('writes China time with its offset, and reads back', () => {
    expect(formatInstant(JUNE_15_10H_SHANGHAI)).toBe('2026-06-15T10:00:00+08:00');
    expect(formatInstant(JUNE_15_10H_SHANGHAI + 123)).toBe('2026-06-15T10:00:00.123+08:00');
    expect(parseInstant(formatInstant(JUNE_15_10H_SHANGHAI + 123))).toBe(JUNE_15_10H_SHANGHAI + 123);
  });
});
