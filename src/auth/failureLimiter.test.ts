import { describe, expect, it } from 'vitest';
import { RetryLaterError } from '../domain/errors.ts';
import { FailureLimiter } from './failureLimiter.ts';
import { KeyedSerial } from './keyedSerial.ts';
import { WorkPool } from './workPool.ts';

describe('FailureLimiter', () => {
  it('refuses past the limit with the seconds until the oldest failure is a window old, counting checks under way', () => {
    let now = 1_000_000;
    const l = new FailureLimiter(3, 5, () => now);
    const a = l.begin('ip1', 'app');
    const b = l.begin('ip1', 'app');
    const c = l.begin('ip1', 'app');
    // Three checks under way: a fourth would pass the limit if they all fail.
    expect(() => l.begin('ip1', 'app')).toThrow(RetryLaterError);
    a.end(true);
    const d = l.begin('ip1', 'app');
    now += 10_000;
    b.end(false);
    c.end(false);
    d.end(false);
    let err: unknown;
    try {
      l.checkIp('ip1');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RetryLaterError);
    expect((err as RetryLaterError).retryAfterSeconds).toBe(60);
    expect((err as RetryLaterError).errcode).toBe(45011);
    now += 59_999;
    expect(() => l.checkIp('ip1')).toThrow(RetryLaterError);
    now += 1;
    expect(() => l.checkIp('ip1')).not.toThrow();
    // The appid's own limit, from other addresses.
    l.begin('ip2', 'app').end(false);
    l.begin('ip3', 'app').end(false);
    expect(() => l.begin('ip4', 'app')).not.toThrow();
  });

  it('keeps at most maxKeys addresses', () => {
    const now = 0;
    const l = new FailureLimiter(1, 1000, () => now, 60_000, 100);
    for (let i = 0; i < 1000; i++) l.fail(`ip${i}`);
    // The newest is still tracked; memory stayed bounded (old keys were dropped to make room).
    expect(() => l.checkIp('ip999')).toThrow(RetryLaterError);
  });
});

describe('WorkPool', () => {
  it('runs at most `concurrency` tasks at once and refuses past its queue', async () => {
    const pool = new WorkPool(2, 3);
    let running = 0;
    let most = 0;
    const release: (() => void)[] = [];
    const task = () =>
      pool.run(async () => {
        running++;
        most = Math.max(most, running);
        await new Promise<void>((r) => release.push(r));
        running--;
      });
    const all = [task(), task(), task(), task(), task()];
    await expect(task()).rejects.toBeInstanceOf(RetryLaterError);
    expect([pool.active, pool.waiting]).toEqual([2, 3]);
    while (release.length > 0 || pool.active > 0) {
      release.shift()?.();
      await new Promise((r) => setTimeout(r, 1));
    }
    await Promise.all(all);
    expect(most).toBe(2);
  });
});

describe('KeyedSerial', () => {
  it('runs tasks of one key one at a time and forgets idle keys', async () => {
    const s = new KeyedSerial();
    const order: string[] = [];
    const step = (key: string, n: number) =>
      s.run(key, async () => {
        order.push(`${key}${n}+`);
        await new Promise((r) => setTimeout(r, 5));
        order.push(`${key}${n}-`);
        if (n === 2) throw new Error('boom');
      });
    const r = await Promise.allSettled([step('a', 1), step('a', 2), step('a', 3), step('b', 1)]);
    expect(r.map((x) => x.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    const a = order.filter((x) => x.startsWith('a'));
    expect(a).toEqual(['a1+', 'a1-', 'a2+', 'a2-', 'a3+', 'a3-']);
    await new Promise((r) => setTimeout(r, 1));
    expect(s.size).toBe(0);
  });
});
