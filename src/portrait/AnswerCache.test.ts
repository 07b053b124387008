import { describe, expect, it } from 'vitest';
import { AnswerCache } from './AnswerCache.ts';

/** A compute function that counts its calls and answers with that count. */
function counter(): { calls: () => number; compute: () => Promise<number> } {
  let n = 0;
  return { calls: () => n, compute: async () => ++n };
}

describe('AnswerCache', () => {
  it('answers from the cache until the app is invalidated, and only for that app', async () => {
    const cache = new AnswerCache<number>(10);
    const a = counter();
    const b = counter();
    expect(await cache.get('a', 'k', a.compute)).toBe(1);
    expect(await cache.get('a', 'k', a.compute)).toBe(1);
    expect(await cache.get('b', 'k', b.compute)).toBe(1);
    cache.invalidate('a');
    expect(await cache.get('a', 'k', a.compute)).toBe(2);
    expect(await cache.get('b', 'k', b.compute)).toBe(1);
    expect([a.calls(), b.calls()]).toEqual([2, 1]);
  });

  it('does not keep an answer computed while the app was invalidated', async () => {
    const cache = new AnswerCache<string>(10);
    const meanwhile = async (): Promise<string> => {
      cache.invalidate('a'); // events stored while the answer was being computed
      return 'stale';
    };
    expect(await cache.get('a', 'k', meanwhile)).toBe('stale');
    expect(await cache.get('a', 'k', async () => 'fresh')).toBe('fresh');
    expect(await cache.get('a', 'k', async () => 'again')).toBe('fresh');
  });

  it('keeps at most maxEntries answers, dropping the oldest, and none with 0', async () => {
    const cache = new AnswerCache<string>(2);
    await cache.get('a', '1', async () => 'one');
    await cache.get('a', '2', async () => 'two');
    await cache.get('a', '3', async () => 'three');
    expect(await cache.get('a', '1', async () => 'one again')).toBe('one again');
    expect(await cache.get('a', '3', async () => 'x')).toBe('three');
    const none = new AnswerCache<string>(0);
    await none.get('a', 'k', async () => 'first');
    expect(await none.get('a', 'k', async () => 'second')).toBe('second');
  });

  it('with a marker, answers from the cache only while the marker is unchanged', async () => {
    let events = 5;
    const asked: string[] = [];
    const cache = new AnswerCache<number>(10, async (appid) => {
      asked.push(appid);
      return events;
    });
    const c = counter();
    expect(await cache.get('a', 'k', c.compute)).toBe(1);
    expect(await cache.get('a', 'k', c.compute)).toBe(1);
    events = 6; // another server stored events for the app
    expect(await cache.get('a', 'k', c.compute)).toBe(2);
    expect(await cache.get('a', 'k', c.compute)).toBe(2);
    expect(asked).toEqual(['a', 'a', 'a', 'a']);
  });
});
