import { describe, expect, it } from 'vitest';
import { formatDay } from '../domain/day.ts';
import { prepareBatch, processRecord } from './pipeline.ts';
import { parseIsoTime } from './steps.ts';

const NOW = Date.parse('2026-11-28T10:00:00+08:00');
const ctx = { now: NOW };
const base = { openid: 'oABC_123-x', time: '2026-11-27T10:15:00+08:00' };

function fieldOf(rec: unknown): string | undefined {
  const r = processRecord(rec, ctx);
  return r.ok ? undefined : r.field;
}

describe('ingest steps', () => {
  it('builds a full event from a client record', () => {
    const r = processRecord(
      { ...base, event_id: 'e-1', gender: 'female', age: 31, platform: 'iOS', brand: 'iPhone', model: 'iPhone 13<iPhone14,5>',
        province: '广东', city: '深圳市', ip: '203.0.113.9', page: 'pages/index/index', scene: 1001, session: 's1', stay: 12.5,
        custom: { a: 1 }, share_to: 'friend' },
      ctx,
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.event).toMatchObject({
      eventId: 'e-1', openid: 'oABC_123-x', gender: 2, age: 31, ageBucket: 4, platform: 'ios', platformId: 1,
      device: 'Apple iPhone 13', province: 44, city: 4403, ip: '203.0.113.9', page: 'pages/index/index', scene: 1001,
      session: 's1', stay: 12.5, type: 'visit',
    });
    expect(formatDay(r.event.day)).toBe('20261127');
    expect(JSON.parse(r.event.props ?? '{}')).toEqual({ custom: { a: 1 }, share_to: 'friend' });
  });

  it('takes epoch milliseconds and ISO times with Z or an offset, and files them under the Shanghai day', () => {
    const ms = Date.parse('2026-11-26T16:00:00Z'); // 00:00 on the 27th in Shanghai
    const a = processRecord({ ...base, time: ms }, ctx);
    const b = processRecord({ ...base, time: '2026-11-26T15:59:59.999Z' }, ctx);
    expect(a.ok && formatDay(a.event.day)).toBe('20261127');
    expect(b.ok && formatDay(b.event.day)).toBe('20261126');
    expect(processRecord({ ...base, time: String(ms) }, ctx).ok).toBe(true);
  });

  it('checks ISO times field by field: real calendar days, hours, minutes, seconds and offsets up to ±14:00', () => {
    const time = (t: string) => {
      const r = processRecord({ ...base, time: t }, ctx);
      return r.ok ? new Date(r.event.time).toISOString() : r.reason;
    };
    expect(time('2026-02-28T10:00:00Z')).toBe('2026-02-28T10:00:00.000Z');
    expect(time('2024-02-29T10:00:00Z')).toBe('2024-02-29T10:00:00.000Z'); // a leap year
    expect(time('2026-11-27T10:15:00.5+08:00')).toBe('2026-11-27T02:15:00.500Z');
    expect(time('2026-11-27T10:15+0800')).toBe('2026-11-27T02:15:00.000Z');
    expect(time('2026-11-27T10:15:00-12:00')).toBe('2026-11-27T22:15:00.000Z');
    expect(time('2026-11-27T10:15:00+14:00')).toBe('2026-11-26T20:15:00.000Z');
    for (const bad of ['2026-02-30T10:00:00Z', '2025-02-29T10:00:00Z', '2026-04-31T10:00:00Z', '2026-13-01T10:00:00Z', '2026-00-10T10:00:00Z',
      '2026-11-00T10:00:00Z', '2026-11-27T24:00:00Z', '2026-11-27T23:60:00Z', '2026-11-27T23:59:60Z', '2026-11-27T10:00:00+14:59',
      '2026-11-27T10:00:00+15:00', '2026-11-27T10:00:00-14:01', '2026-11-27T10:00:00+08:60']) {
      expect(fieldOf({ ...base, time: bad }), bad).toBe('time');
    }
  });

  it('reads every valid ISO time as Date.parse does (leap days, fractions, offsets, years before 100)', () => {
    expect(parseIsoTime('0050-03-01T00:00:00Z')).toBe(Date.parse('0050-03-01T00:00:00Z'));
    expect(parseIsoTime('2000-02-29T23:59:59.999-01:30')).toBe(Date.parse('2000-02-29T23:59:59.999-01:30'));
    expect(typeof parseIsoTime('1900-02-29T00:00:00Z')).toBe('string'); // not a leap year
    let seed = 7;
    const next = (n: number) => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) % n;
    const two = (n: number) => String(n).padStart(2, '0');
    for (let i = 0; i < 5_000; i++) {
      const ms = Date.UTC(1970, 0, 1) + next(2 ** 31) * 2_000 + next(1000);
      const offset = (next(29) - 14) * 60 + (next(2) === 0 ? 0 : 30 * Math.sign(next(3) - 1));
      const local = new Date(ms + offset * 60_000);
      const sign = offset < 0 ? '-' : '+';
      const text = `${local.toISOString().slice(0, 23)}${sign}${two(Math.floor(Math.abs(offset) / 60))}:${two(Math.abs(offset) % 60)}`;
      if (Math.abs(offset) > 14 * 60) continue;
      expect(parseIsoTime(text), text).toBe(ms);
    }
  });

  it('refuses an event_id with a lone surrogate (it could not be stored as sent) and keeps other text as it will be stored', () => {
    expect(fieldOf({ ...base, event_id: 'x\ud800' })).toBe('event_id');
    expect(fieldOf({ ...base, event_id: '\udc00x' })).toBe('event_id');
    const pair = processRecord({ ...base, event_id: 'x\ud83d\ude00' }, ctx);
    expect(pair.ok && pair.event.eventId).toBe('x😀');
    const page = processRecord({ ...base, page: 'p\ud800', brand: 'B\udfff' }, ctx);
    expect(page.ok && [page.event.page, page.event.device]).toEqual(['p\ufffd', 'B\ufffd']);
  });

  it('lets a city alone imply its province', () => {
    const r = processRecord({ ...base, city: '广州' }, ctx);
    expect(r.ok && [r.event.province, r.event.city]).toEqual([44, 4401]);
  });

  it('rejects each bad field, naming it', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ time: base.time }, 'openid'],
      [{ ...base, openid: 'has space' }, 'openid'],
      [{ ...base, openid: 'x'.repeat(129) }, 'openid'],
      [{ ...base, openid: 42 }, 'openid'],
      [{ openid: 'a' }, 'time'],
      [{ ...base, time: '2026-11-27 10:15:00' }, 'time'], // no offset
      [{ ...base, time: '2026-11-27T10:15:00' }, 'time'],
      [{ ...base, time: NOW + 11 * 60_000 }, 'time'], // > 10 minutes ahead
      [{ ...base, time: 1_700_000_000 }, 'time'], // seconds, not ms
      [{ ...base, time: 1.5e12 + 0.5 }, 'time'],
      [{ ...base, time: true }, 'time'],
      [{ ...base, event_id: 'x'.repeat(65) }, 'event_id'],
      [{ ...base, event_id: { a: 1 } }, 'event_id'],
      [{ ...base, gender: 3 }, 'gender'],
      [{ ...base, gender: 'M' }, 'gender'],
      [{ ...base, age: -1 }, 'age'],
      [{ ...base, age: 121 }, 'age'],
      [{ ...base, age: 30.5 }, 'age'],
      [{ ...base, age: 'thirty' }, 'age'],
      [{ ...base, platform: 7 }, 'platform'],
      [{ ...base, brand: ['x'] }, 'brand'],
      [{ ...base, model: 'm'.repeat(65) }, 'model'],
      [{ ...base, province: '火星' }, 'province'],
      [{ ...base, city: '火星' }, 'city'],
      [{ ...base, province: '北京', city: '广州' }, 'city'],
      [{ ...base, ip: '999.1.1.1' }, 'ip'],
      [{ ...base, scene: 'x' }, 'scene'],
      [{ ...base, stay: -1 }, 'stay'],
      [{ ...base, page: 5 }, 'page'],
      [{ ...base, blob: 'x'.repeat(20_000) }, 'props'],
    ];
    for (const [rec, field] of cases) expect(fieldOf(rec), JSON.stringify(rec).slice(0, 80)).toBe(field);
    expect(fieldOf('not an object')).toBe('record');
    expect(fieldOf(null)).toBe('record');
    expect(fieldOf([base])).toBe('record');
  });

  it('accepts the edges of each field', () => {
    for (const rec of [
      { ...base, time: NOW + 10 * 60_000 },
      { ...base, age: 0 },
      { ...base, age: 120 },
      { ...base, age: '25' },
      { ...base, gender: 0 },
      { ...base, gender: '' },
      { ...base, openid: 'x'.repeat(128) },
      { ...base, event_id: 'x'.repeat(64) },
      { ...base, event_id: 12345 },
      { ...base, ip: '2001:db8::1' },
      { ...base, province: '0', city: '' },
    ]) {
      expect(processRecord(rec, ctx).ok, JSON.stringify(rec).slice(0, 80)).toBe(true);
    }
  });

  it('stores the good records of a batch and reports the bad ones by index', () => {
    const b = prepareBatch([base, { ...base, age: 999 }, base], ctx);
    expect(b.events).toHaveLength(2);
    expect(b.positions).toEqual([0, 2]);
    expect(b.rejected).toEqual([{ index: 1, field: 'age', reason: 'age must be whole years from 0 to 120' }]);
  });
  it('keeps a field named __proto__ as a field and refuses props nested too deeply to serialise', () => {
    const r = processRecord(JSON.parse(`{"openid":"a","time":${NOW},"__proto__":{"polluted":1},"x":2}`), ctx);
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.event.props).toBe('{"__proto__":{"polluted":1},"x":2}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const deep = JSON.parse(`{"openid":"a","time":${NOW},"x":${'['.repeat(200_000)}${']'.repeat(200_000)}}`) as unknown;
    expect(fieldOf(deep)).toBe('props');
  });
});
