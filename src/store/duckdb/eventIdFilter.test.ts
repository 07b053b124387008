import { describe, expect, it } from 'vitest';
import { EventIdFilter, eventIdHash } from './eventIdFilter.ts';

function keys(prefix: string, n: number): Uint32Array {
  const out = new Uint32Array(2 * n);
  for (let i = 0; i < n; i++) eventIdHash('wx0123456789abcdef', `${prefix}-${i}`, out, 2 * i);
  return out;
}

describe('EventIdFilter', () => {
  it('never forgets a key, also past its first capacity, and rarely claims one it was not given', () => {
    const filter = new EventIdFilter();
    const added = keys('in', 300_000);
    for (let i = 0; i < added.length; i += 2) filter.add(added[i] ?? 0, added[i + 1] ?? 0);
    for (let i = 0; i < added.length; i += 2) expect(filter.mightContain(added[i] ?? 0, added[i + 1] ?? 0)).toBe(true);
    const other = keys('out', 300_000);
    let falsePositives = 0;
    for (let i = 0; i < other.length; i += 2) if (filter.mightContain(other[i] ?? 0, other[i + 1] ?? 0)) falsePositives++;
    // Designed for under 2 in a million; 300k tries make more than 10 vanishingly unlikely.
    expect(falsePositives).toBeLessThanOrEqual(10);
  });

  it('hashes the app and the id apart, deterministically', () => {
    const a = new Uint32Array(2);
    const b = new Uint32Array(2);
    eventIdHash('wxab', 'c', a, 0);
    eventIdHash('wxa', 'bc', b, 0);
    expect([...a]).not.toEqual([...b]);
    eventIdHash('wxab', 'c', b, 0);
    expect([...a]).toEqual([...b]);
    eventIdHash('wxab', '事件-1', b, 0);
    expect([...a]).not.toEqual([...b]);
  });
});
