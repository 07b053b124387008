import { describe, expect, it } from 'vitest';
import { parseDay } from './day.ts';
import { WeChatError } from './errors.ts';
import { parseWindow, refDate } from './window.ts';

const Y = parseDay('20261127') ?? 0;

function code(f: () => unknown): number | undefined {
  try {
    f();
  } catch (e) {
    return e instanceof WeChatError ? e.errcode : undefined;
  }
  return 0;
}

describe('windows', () => {
  it('takes 1, 7 and 30 days ending at most yesterday', () => {
    expect(parseWindow('20261127', '20261127', Y)).toEqual({ begin: Y, end: Y });
    expect(parseWindow('20261121', '20261127', Y)).toEqual({ begin: Y - 6, end: Y });
    expect(parseWindow('20261029', '20261127', Y)).toEqual({ begin: Y - 29, end: Y });
    expect(parseWindow('20200101', '20200107', Y)).toBeDefined(); // old windows are fine here
  });
  it('answers 61500 for bad dates and 61501 for bad ranges', () => {
    expect(code(() => parseWindow('2026112', '20261127', Y))).toBe(61500);
    expect(code(() => parseWindow('20261127', '20261131', Y))).toBe(61500);
    expect(code(() => parseWindow('20261122', '20261127', Y))).toBe(61501); // 6 days
    expect(code(() => parseWindow('20261123', '20261127', Y))).toBe(61501); // 5 days
    expect(code(() => parseWindow('20261128', '20261128', Y))).toBe(61501); // today
    expect(code(() => parseWindow('20261127', '20261121', Y))).toBe(61501); // reversed
    expect(code(() => parseWindow('20261028', '20261127', Y))).toBe(61501); // 31 days
  });
  it('writes ref_date as WeChat does', () => {
    expect(refDate({ begin: Y, end: Y })).toBe('20261127');
    expect(refDate({ begin: Y - 6, end: Y })).toBe('20261121-20261127');
  });
});
