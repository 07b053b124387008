import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../domain/clock.ts';
import { SessionStore } from './SessionStore.ts';

const data = { appid: 'wx0123456789abcdef', token: 't', tokenExpiresAt: 0, sealedSecret: 's' };

describe('SessionStore', () => {
  it('gives each session a fresh 256-bit id and finds it by that id only', () => {
    const store = new SessionStore(new ManualClock(0), { ttlMs: 10_000, idleMs: 5_000 });
    const a = store.create(data);
    const b = store.create(data);
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a).not.toBe(b);
    expect(store.get(a)?.appid).toBe(data.appid);
    expect(store.get(`${a}x`)).toBeUndefined();
    expect(store.get(undefined)).toBeUndefined();
    expect(store.get('')).toBeUndefined();
  });

  it('ends a session after the idle time without use, and keeps a used one alive until the TTL', () => {
    const clock = new ManualClock(0);
    const store = new SessionStore(clock, { ttlMs: 10_000, idleMs: 4_000 });
    const idle = store.create(data);
    const busy = store.create(data);
    for (let i = 0; i < 3; i++) {
      clock.advance(3_000);
      expect(store.get(busy), `use ${i}`).toBeDefined();
    }
    expect(store.get(idle)).toBeUndefined(); // 9 s unused
    clock.advance(999);
    expect(store.get(busy)).toBeDefined(); // 9.999 s old
    clock.advance(1);
    expect(store.get(busy)).toBeUndefined(); // 10 s: the TTL, however busy
  });

  it('ends a session on delete', () => {
    const store = new SessionStore(new ManualClock(0), { ttlMs: 10_000, idleMs: 5_000 });
    const id = store.create(data);
    store.delete(id);
    expect(store.get(id)).toBeUndefined();
    expect(store.size).toBe(0);
  });

  it('keeps at most maxSessions, dropping the one used longest ago', () => {
    const clock = new ManualClock(0);
    const store = new SessionStore(clock, { ttlMs: 60_000, idleMs: 60_000, maxSessions: 3 });
    const [a, b, c] = [store.create(data), store.create(data), store.create(data)];
    clock.advance(1);
    store.get(a); // a is now the most recently used
    const d = store.create(data);
    expect(store.size).toBe(3);
    expect(store.get(b)).toBeUndefined();
    for (const id of [a, c, d]) expect(store.get(id)).toBeDefined();
  });
});
