import { describe, expect, it } from 'vitest';
import { parseDay } from '../domain/day.ts';
import { average, visitTrendAnswer } from './buildAnswers.ts';

describe('answers', () => {
  it('rounds averages so that wx-server-sdk reads them as plain numbers (at most 15 characters)', () => {
    expect(average(16, 7)).toBe(2.285714);
    expect(average(64, 3)).toBe(21.333333);
    expect(average(1, 0)).toBe(0);
    expect(average(6, 3)).toBe(2);
    expect(average(1e12 / 3, 1)).toBe(333333333333.33);
    for (const x of [1 / 3, 1e7 / 7, 123456789.123456789, 1e14 / 3, 2 / 3e5]) expect(JSON.stringify(average(x, 1)).length).toBeLessThanOrEqual(15);
  });
  it('writes a trend row with averages per visitor and per session', () => {
    expect(visitTrendAnswer({ granularity: 'week', begin: parseDay('20251117') ?? 0, end: parseDay('20251123') ?? 0 }, { sessions: 4, visitPv: 9, visitUv: 3, visitUvNew: 1, stay: 100, depth: 7 })).toEqual({
      list: [{ ref_date: '20251117-20251123', session_cnt: 4, visit_pv: 9, visit_uv: 3, visit_uv_new: 1, stay_time_uv: 33.333333, stay_time_session: 25, visit_depth: 1.75 }],
    });
  });
});
