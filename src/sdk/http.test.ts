import { describe, expect, it } from 'vitest';
import { ERRORS, errorKindOf } from '../domain/errors.ts';
import { toCloudCallShape } from './camelCase.ts';
import { backoffDelay, retryAfterSeconds } from './http.ts';
import { usableSeconds } from './tokens.ts';
import { WeChatApiError } from './WeChatApiError.ts';

describe('the pieces under the clients', () => {
  it('backs off exponentially with jitter, within [ceiling/2, ceiling], and never below Retry-After', () => {
    const b = { baseMs: 100, maxMs: 1000 };
    for (const [attempt, ceiling] of [[0, 100], [1, 200], [2, 400], [3, 800], [4, 1000], [9, 1000]] as const) {
      expect(backoffDelay(attempt, b, () => 0)).toBe(ceiling / 2);
      expect(backoffDelay(attempt, b, () => 0.999999)).toBeCloseTo(ceiling, 0);
    }
    expect(backoffDelay(0, b, () => 0.5, 3)).toBe(3000);
    expect(backoffDelay(0, b, () => 0.5, 3600)).toBe(60_000);
    expect(retryAfterSeconds('2')).toBe(2);
    expect(retryAfterSeconds(null)).toBeUndefined();
    expect(retryAfterSeconds(new Date(Date.UTC(2030, 0, 1, 0, 0, 10)).toUTCString(), Date.UTC(2030, 0, 1))).toBe(10);
  });

  it('classifies every code of the server’s errcode table, and unknown codes as system', () => {
    expect(Object.values(ERRORS).every((e) => ['auth', 'quota', 'invalid-argument', 'rate-limit', 'system'].includes(e.kind))).toBe(true);
    expect([40001, 40013, 40125, 41001, 42001, 48001].map(errorKindOf)).toEqual(Array(6).fill('auth'));
    expect([47001, 61500, 61501, 40002].map(errorKindOf)).toEqual(Array(4).fill('invalid-argument'));
    expect([errorKindOf(45009), errorKindOf(45011), errorKindOf(-1), errorKindOf(61503), errorKindOf(99999)]).toEqual(['quota', 'rate-limit', 'system', 'system', 'system']);
    const e = new WeChatApiError(61501, 'date range error, hint: [end_date may be at most 20261127] rid: 5fbb16b0-1827960a-4cec5692', { api: 'getUserPortrait' });
    expect(e).toMatchObject({ kind: 'invalid-argument', rid: '5fbb16b0-1827960a-4cec5692', hint: 'end_date may be at most 20261127', retryable: false });
    expect(e.message).toBe('getUserPortrait: 61501 date range error, hint: [end_date may be at most 20261127] rid: 5fbb16b0-1827960a-4cec5692');
    expect(new WeChatApiError(45011, 'x').retryable).toBe(true);
    expect(new WeChatApiError(45009, 'x').retryable).toBe(false);
    expect(new WeChatApiError(-1, 'x').retryable).toBe(true);
  });

  it('uses a token until 5 minutes before it expires (half of what is left when less than 10 minutes are)', () => {
    expect(usableSeconds(7200)).toBe(6900);
    expect(usableSeconds(601)).toBe(301);
    expect(usableSeconds(400)).toBe(200);
    expect(usableSeconds(1)).toBe(1);
  });

  it('makes the cloud-call shape as wx-server-sdk does (keys at every depth, values untouched, a __proto__ key cannot touch the prototype)', () => {
    const raw = JSON.parse(
      '{"ref_date":"20261127","list":[{"index":"access_source_visit_uv","item_list":[{"key":1,"value":2}]}],"errcode":0,"errmsg":"ok","__proto__":{"a_b":1}}',
    ) as Record<string, unknown>;
    const shaped = toCloudCallShape('analysis.getVisitDistribution', raw);
    expect(shaped).toEqual({
      refDate: '20261127',
      list: [{ index: 'access_source_visit_uv', itemList: [{ key: 1, value: 2 }] }],
      _Proto__: { aB: 1 },
      errMsg: 'openapi.analysis.getVisitDistribution:ok',
      errCode: 0,
    });
    expect(Object.getPrototypeOf(shaped)).toBe(Object.prototype);
  });
});
