import { describe, expect, it } from 'vitest';
import { ACCESS_SOURCE_NAMES, SCENE_SOURCES, accessSource } from './accessSource.ts';
import { depthBucket, stayBucket } from './analysis.ts';
import { formatDay, parseDay } from './day.ts';
import { WeChatError } from './errors.ts';
import { latestPeriod, mondayOf, parsePeriod, periodRefDate, shiftPeriod, weekday } from './period.ts';

const d = (s: string) => parseDay(s) ?? NaN;
// 2026-11-27 is a Friday.
const Y = d('20261127');

function code(f: () => unknown): number | undefined {
  try {
    f();
  } catch (e) {
    return e instanceof WeChatError ? e.errcode : undefined;
  }
  return 0;
}

describe('analysis periods', () => {
  it('knows weekdays, Mondays and months', () => {
    expect(weekday(d('20261123'))).toBe(1);
    expect(weekday(d('20261129'))).toBe(0);
    expect(formatDay(mondayOf(d('20261129')))).toBe('20261123');
    expect(formatDay(mondayOf(d('20261123')))).toBe('20261123');
    expect(formatDay(mondayOf(d('19700101')))).toBe('19691229');
  });

  it('takes one finished day', () => {
    expect(parsePeriod('day', '20261127', '20261127', Y)).toEqual({ granularity: 'day', begin: Y, end: Y });
    expect(code(() => parsePeriod('day', '20261126', '20261127', Y))).toBe(61501); // two days
    expect(code(() => parsePeriod('day', '20261128', '20261128', Y))).toBe(61501); // today
    expect(code(() => parsePeriod('day', '2026-11-27', '20261127', Y))).toBe(61500);
    expect(code(() => parsePeriod('day', '20261127', '20261131', Y))).toBe(61500);
  });

  it('takes Monday to Sunday of one finished week', () => {
    const w = parsePeriod('week', '20261116', '20261122', Y);
    expect(periodRefDate(w)).toBe('20261116-20261122');
    expect(code(() => parsePeriod('week', '20261117', '20261123', Y))).toBe(61501); // Tuesday to Monday
    expect(code(() => parsePeriod('week', '20261116', '20261121', Y))).toBe(61501); // six days
    expect(code(() => parsePeriod('week', '20261116', '20261129', Y))).toBe(61501); // two weeks
    expect(code(() => parsePeriod('week', '20261123', '20261129', Y))).toBe(61501); // not over yet
    expect(code(() => parsePeriod('week', '20261123', '20261129', d('20261129')))).toBe(0); // over on Sunday
    expect(code(() => parsePeriod('week', '20261122', '20261116', Y))).toBe(61501);
  });

  it('takes the first to the last day of one finished month', () => {
    const m = parsePeriod('month', '20261001', '20261031', Y);
    expect(periodRefDate(m)).toBe('202610');
    expect(periodRefDate(parsePeriod('month', '20240201', '20240229', Y))).toBe('202402');
    expect(code(() => parsePeriod('month', '20230201', '20230229', Y))).toBe(61500);
    expect(code(() => parsePeriod('month', '20230201', '20230227', Y))).toBe(61501);
    expect(code(() => parsePeriod('month', '20261002', '20261031', Y))).toBe(61501);
    expect(code(() => parsePeriod('month', '20260901', '20261031', Y))).toBe(61501);
    expect(code(() => parsePeriod('month', '20261101', '20261130', Y))).toBe(61501); // not over yet
  });

  it('shifts periods and finds the latest finished one', () => {
    const m = parsePeriod('month', '20261201', '20261231', d('20270101'));
    expect(periodRefDate(shiftPeriod(m, 1))).toBe('202701');
    expect(formatDay(shiftPeriod(m, 1).end)).toBe('20270131');
    expect(formatDay(shiftPeriod(m, -10).end)).toBe('20260228');
    const w = parsePeriod('week', '20261116', '20261122', Y);
    expect(periodRefDate(shiftPeriod(w, 4))).toBe('20261214-20261220');
    expect(periodRefDate(latestPeriod('week', Y))).toBe('20261116-20261122');
    expect(periodRefDate(latestPeriod('week', d('20261129')))).toBe('20261123-20261129');
    expect(periodRefDate(latestPeriod('month', Y))).toBe('202610');
    expect(periodRefDate(latestPeriod('month', d('20261130')))).toBe('202611');
    expect(periodRefDate(latestPeriod('day', Y))).toBe('20261127');
  });
});

describe('buckets and access sources', () => {
  it('buckets stay times at every edge', () => {
    const cases: [number, number][] = [[0, 1], [2, 1], [2.5, 2], [3, 2], [5, 2], [6, 3], [10, 3], [11, 4], [20, 4], [21, 5], [30, 5], [31, 6], [50, 6], [51, 7], [100, 7], [100.5, 8], [101, 8], [86400, 8]];
    for (const [s, b] of cases) expect(stayBucket(s), String(s)).toBe(b);
  });
  it('buckets depths at every edge', () => {
    const cases: [number, number][] = [[0, 1], [1, 1], [2, 2], [5, 5], [6, 6], [10, 6], [11, 7], [300, 7]];
    for (const [p, b] of cases) expect(depthBucket(p), String(p)).toBe(b);
  });
  it('maps scenes to access sources; unknown and missing scenes are 10 other', () => {
    expect(accessSource(1001)).toBe(1);
    expect(accessSource(1053)).toBe(2);
    expect(accessSource(1007)).toBe(3);
    expect(accessSource(1047)).toBe(4);
    expect(accessSource(1089)).toBe(29);
    expect(accessSource(1104)).toBe(36);
    expect(accessSource(1121)).toBe(47);
    expect(accessSource(1160)).toBe(57);
    expect(accessSource(9999)).toBe(10);
    expect(accessSource(null)).toBe(10);
    expect(Object.keys(ACCESS_SOURCE_NAMES)).toHaveLength(57);
    // Every listed scene belongs to exactly one key (the map would have kept only the last one).
    expect(SCENE_SOURCES.size).toBe(145);
  });
});

describe('text order', () => {
  it('orders strings by code point, as UTF-8 bytes sort', async () => {
    const { compareText } = await import('./analysis.ts');
    const words = ['b', 'a', 'ab', '', 'Z', '详情', '\u{1F600}', '\uFFFD', 'pages/a'];
    const sorted = [...words].sort(compareText);
    const bytes = [...words].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect(sorted).toEqual(bytes);
  });
});
