import { describe, expect, it } from 'vitest';
import { ManualClock } from '../domain/clock.ts';
import { toYyyymmdd, windows, windowsAt } from './dates.ts';

/** Epoch ms of a Shanghai wall-clock time. */
const shanghai = (iso: string) => Date.parse(`${iso}+08:00`);

describe('date windows from a clock, in China time', () => {
  it('gives yesterday, the last 7 and 30 days, the last week and month as of the clock', () => {
    const w = windowsAt(new ManualClock(shanghai('2026-11-28T00:30:00')));
    expect(w.yesterday()).toEqual({ beginDate: '20261127', endDate: '20261127' });
    expect(w.last7Days()).toEqual({ beginDate: '20261121', endDate: '20261127' });
    expect(w.last30Days()).toEqual({ beginDate: '20261029', endDate: '20261127' });
    // 2026-11-28 is a Saturday: the last finished week is Monday 16 to Sunday 22.
    expect(w.lastWeek()).toEqual({ beginDate: '20261116', endDate: '20261122' });
    expect(w.lastMonth()).toEqual({ beginDate: '20261001', endDate: '20261031' });
  });

  it('turns over at midnight in Shanghai, not in the host’s zone', () => {
    const clock = new ManualClock(shanghai('2026-11-27T23:59:59.999'));
    const w = windowsAt(clock);
    expect(w.yesterday().endDate).toBe('20261126');
    clock.advance(1);
    expect(w.yesterday().endDate).toBe('20261127');
  });

  it('knows weeks, months and years at their edges', () => {
    // A Monday: last week ended yesterday.
    expect(windowsAt(() => shanghai('2026-11-23T08:00:00')).lastWeek()).toEqual({ beginDate: '20261116', endDate: '20261122' });
    // A Sunday: last week is the one before this one.
    expect(windowsAt(() => shanghai('2026-11-22T08:00:00')).lastWeek()).toEqual({ beginDate: '20261109', endDate: '20261115' });
    // The 1st of January: last month is December, the 30 days cross the year.
    const ny = windowsAt(() => new Date(shanghai('2027-01-01T00:00:00')));
    expect(ny.lastMonth()).toEqual({ beginDate: '20261201', endDate: '20261231' });
    expect(ny.last30Days()).toEqual({ beginDate: '20261202', endDate: '20261231' });
    // March after a leap February.
    expect(windowsAt(() => shanghai('2028-03-15T12:00:00')).lastMonth()).toEqual({ beginDate: '20280201', endDate: '20280229' });
  });

  it('offers the helpers on the system clock, or on a clock per call', () => {
    const clock = () => shanghai('2026-11-28T10:00:00');
    expect(windows.last7Days(clock)).toEqual({ beginDate: '20261121', endDate: '20261127' });
    expect(windows.yesterday().endDate).toMatch(/^\d{8}$/);
  });

  it('turns a Date into its Shanghai day and passes strings through for the service to judge', () => {
    expect(toYyyymmdd(new Date('2026-11-20T15:59:59.999Z'), 'd')).toBe('20261120');
    expect(toYyyymmdd(new Date('2026-11-20T16:00:00Z'), 'd')).toBe('20261121');
    expect(toYyyymmdd('20261121', 'd')).toBe('20261121');
    expect(toYyyymmdd('2026-11-21', 'd')).toBe('2026-11-21');
    expect(() => toYyyymmdd(new Date(Number.NaN), 'beginDate')).toThrow(/beginDate is an invalid Date/);
    expect(() => toYyyymmdd(20261121 as unknown as string, 'endDate')).toThrow(/endDate must be a yyyymmdd string or a Date/);
  });
});
