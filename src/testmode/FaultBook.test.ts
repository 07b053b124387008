import { describe, expect, it } from 'vitest';
import { FaultBook, FaultRuleError, MAX_FAULT_RULES } from './FaultBook.ts';

const APIS = [
  { name: 'analysis.getUserPortrait', path: 'getweanalysisappiduserportrait' },
  { name: 'analysis.getDailySummary', path: 'getweanalysisappiddailysummarytrend' },
];
const A = 'wxaaaaaaaaaaaaaaaa';
const B = 'wxbbbbbbbbbbbbbbbb';

function book(seed?: number) {
  return new FaultBook({ apis: APIS, seed });
}

describe('FaultBook', () => {
  it('fires a rule exactly `times` times, then lets calls through, and counts what it saw', () => {
    const b = book();
    const [r] = b.add({ route: 'token', errcode: 40013, times: 3 });
    expect(r).toMatchObject({ id: 1, route: 'token', errcode: 40013, times: 3, fired: 0, matched: 0 });
    const fired = Array.from({ length: 5 }, () => b.match({ route: 'token', appid: A }));
    expect(fired.map((f) => f?.errcode)).toEqual([40013, 40013, 40013, undefined, undefined]);
    expect(fired[0]).toEqual({ ruleId: 1, delayMs: 0, errcode: 40013, errmsg: 'invalid appid' });
    expect(b.list()[0]).toMatchObject({ fired: 3, matched: 5 });
  });

  it('without times or ratio, fires until cleared', () => {
    const b = book();
    b.add({ route: 'events', errcode: -1 });
    for (let i = 0; i < 50; i++) expect(b.match({ route: 'events' })?.errcode).toBe(-1);
    expect(b.clear()).toBe(1);
    expect(b.match({ route: 'events' })).toBeUndefined();
    expect(b.active).toBe(false);
  });

  it('names analysis APIs by cloud-call name, short name or HTTPS path; they match the HTTPS call and the cloud call', () => {
    const b = book();
    b.add([
      { route: 'analysis.getUserPortrait', errcode: 45009, times: 1 },
      { route: 'getUserPortrait', errcode: 45009, times: 1 },
      { route: 'getweanalysisappiduserportrait', errcode: 45009, times: 1 },
    ]);
    expect(b.match({ route: 'api', api: 'analysis.getDailySummary' })).toBeUndefined();
    expect(b.match({ route: 'token' })).toBeUndefined();
    expect(b.match({ route: 'api', api: 'analysis.getUserPortrait' })?.ruleId).toBe(1);
    expect(b.match({ route: 'tcb', api: 'analysis.getUserPortrait' })?.ruleId).toBe(2);
    expect(b.match({ route: 'api', api: 'analysis.getUserPortrait' })?.ruleId).toBe(3);
    expect(b.match({ route: 'api', api: 'analysis.getUserPortrait' })).toBeUndefined();
  });

  it('a tcb rule matches every cloud call and no HTTPS call', () => {
    const b = book();
    b.add({ route: 'tcb', errcode: -1, times: 2 });
    expect(b.match({ route: 'api', api: 'analysis.getUserPortrait' })).toBeUndefined();
    expect(b.match({ route: 'tcb', api: 'analysis.getDailySummary' })?.errcode).toBe(-1);
    expect(b.match({ route: 'tcb', api: 'analysis.somethingElse' })?.errcode).toBe(-1);
    expect(b.match({ route: 'tcb', api: 'analysis.getUserPortrait' })).toBeUndefined();
  });

  it('takes the API names from the table it is given, read when a rule is added', () => {
    const apis = [...APIS];
    const b = new FaultBook({ apis, seed: 1 });
    expect(() => b.add({ route: 'getVisitPage', errcode: -1 })).toThrow(/unknown route "getVisitPage"; use one of token, stable_token, events, collect, tcb, analysis\.getUserPortrait/);
    apis.push({ name: 'analysis.getVisitPage', path: 'getweanalysisappidvisitpage' });
    b.add({ route: 'getVisitPage', errcode: -1 });
    expect(b.match({ route: 'api', api: 'analysis.getVisitPage' })?.errcode).toBe(-1);
    expect(b.routeNames()).toContain('analysis.getVisitPage');
  });

  it('an appid narrows a rule to that app; a call of unknown app matches only rules without one', () => {
    const b = book();
    b.add([
      { route: 'stable_token', appid: A, errcode: 40125, times: 1 },
      { route: 'stable_token', errcode: -1, times: 1 },
    ]);
    expect(b.wantsAppid({ route: 'stable_token' })).toBe(true);
    expect(b.wantsAppid({ route: 'token' })).toBe(false);
    expect(b.match({ route: 'stable_token', appid: B })?.errcode).toBe(-1);
    expect(b.match({ route: 'stable_token' })).toBeUndefined();
    expect(b.match({ route: 'stable_token', appid: A })?.errcode).toBe(40125);
    expect(b.wantsAppid({ route: 'stable_token' })).toBe(false);
  });

  it('ratio draws are seeded: the same seed fires on the same calls, about ratio of them', () => {
    const pattern = (seed: number) => {
      const b = book(seed);
      b.add({ route: 'token', errcode: -1, ratio: 0.3 });
      return Array.from({ length: 1000 }, () => (b.match({ route: 'token' }) ? 1 : 0)).join('');
    };
    const p = pattern(7);
    expect(pattern(7)).toBe(p);
    expect(pattern(8)).not.toBe(p);
    const ones = [...p].filter((c) => c === '1').length;
    expect(ones).toBeGreaterThan(230);
    expect(ones).toBeLessThan(370);
  });

  it('ratio with times: draws until it has fired `times` times', () => {
    const b = book(3);
    b.add({ route: 'events', errcode: 45011, ratio: 0.5, times: 4 });
    let fired = 0;
    for (let i = 0; i < 200; i++) if (b.match({ route: 'events' })) fired++;
    expect(fired).toBe(4);
    expect(b.list()[0]?.fired).toBe(4);
  });

  it('the first matching rule with calls left fires; a spent or unlucky rule passes the call on', () => {
    const b = book();
    b.add([
      { route: 'token', errcode: 42001, times: 1 },
      { route: 'token', httpStatus: 503, times: 1 },
      { route: 'token', delayMs: 20, times: 1 },
    ]);
    expect(b.match({ route: 'token' })).toMatchObject({ ruleId: 1, errcode: 42001, errmsg: 'access_token expired' });
    const http = b.match({ route: 'token' });
    expect(http).toEqual({ ruleId: 2, delayMs: 0, httpStatus: 503, errcode: -1, errmsg: 'system error' });
    expect(b.match({ route: 'token' })).toEqual({ ruleId: 3, delayMs: 20 });
    expect(b.match({ route: 'token' })).toBeUndefined();
  });

  it('accepts a rule, a list, or {rules}; adds all or none; removes one rule by id', () => {
    const b = book();
    expect(b.add({ rules: [{ route: 'token', errcode: -1 }, { route: 'events', delayMs: 5 }] }).map((r) => r.id)).toEqual([1, 2]);
    expect(() => b.add([{ route: 'token', errcode: -1 }, { route: 'nope', errcode: -1 }])).toThrow(/^rule 2: unknown route "nope"/);
    expect(b.list()).toHaveLength(2);
    expect(b.clear(1)).toBe(1);
    expect(b.clear(1)).toBe(0);
    expect(b.list().map((r) => r.id)).toEqual([2]);
    expect(b.add({ route: 'token', errcode: -1 })[0]?.id).toBe(3);
  });

  it('refuses rules that say nothing, misspell a field, or use values out of range, saying why', () => {
    const b = book();
    const refusals: [unknown, RegExp][] = [
      [{ route: 'token' }, /needs errcode, httpStatus or delayMs/],
      [{ route: 'token', errcode: 0 }, /errcode 0 is success/],
      [{ route: 'token', errcode: -1, time: 2 }, /time/],
      [{ route: 'token', errcode: 1.5 }, /errcode/],
      [{ route: 'token', httpStatus: 99 }, /httpStatus/],
      [{ route: 'token', httpStatus: 600 }, /httpStatus/],
      [{ route: 'token', delayMs: -1 }, /delayMs/],
      [{ route: 'token', delayMs: 3_600_000 }, /delayMs/],
      [{ route: 'token', errcode: -1, times: 0 }, /times/],
      [{ route: 'token', errcode: -1, ratio: 0 }, /ratio/],
      [{ route: 'token', errcode: -1, ratio: 1.5 }, /ratio/],
      [{ route: 'token', errmsg: 'x', delayMs: 1 }, /errmsg needs an errcode/],
      [{ route: 'token', errcode: 12345 }, /errcode 12345 has no WeChat text .* give its errmsg/],
      [{ errcode: -1 }, /route/],
      ['token', /./],
      [[], /no rules given/],
      [{ rules: 'x' }, /"rules" must be a list/],
    ];
    for (const [input, message] of refusals) {
      expect(() => b.add(input), JSON.stringify(input)).toThrow(FaultRuleError);
      expect(() => b.add(input), JSON.stringify(input)).toThrow(message);
    }
    expect(b.list()).toEqual([]);
    expect(b.add({ route: 'token', errcode: 12345, errmsg: 'custom failure' })[0]).toMatchObject({ errcode: 12345, errmsg: 'custom failure' });
    expect(b.match({ route: 'token' })?.errmsg).toBe('custom failure');
  });

  it(`keeps at most ${MAX_FAULT_RULES} rules`, () => {
    const b = book();
    b.add(Array.from({ length: MAX_FAULT_RULES }, () => ({ route: 'token', errcode: -1 })));
    expect(() => b.add({ route: 'token', errcode: -1 })).toThrow(/at most/);
  });
});
