import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../domain/clock.ts';
import { keyOf, SIGNIN_WINDOW_MS, SignInLimiter } from './SignInLimiter.ts';

describe('SignInLimiter', () => {
  it('allows maxFailures failures in the window, then refuses until the oldest leaves it', () => {
    const clock = new ManualClock(1_000_000);
    const limiter = new SignInLimiter(clock, { maxFailures: 3 });
    for (let i = 0; i < 3; i++) {
      expect(limiter.retryAfter('203.0.113.7')).toBe(0);
      limiter.fail('203.0.113.7');
      clock.advance(60_000);
    }
    // Failures at t0, t0+1 min, t0+2 min; now t0+3 min: blocked until t0+15 min.
    expect(limiter.retryAfter('203.0.113.7')).toBe(12 * 60);
    expect(limiter.retryAfter('203.0.113.8')).toBe(0);
    clock.advance(12 * 60_000 - 1);
    expect(limiter.retryAfter('203.0.113.7')).toBe(1);
    clock.advance(1);
    expect(limiter.retryAfter('203.0.113.7')).toBe(0);
    // One more failure blocks again until the next-oldest leaves the window.
    limiter.fail('203.0.113.7');
    expect(limiter.retryAfter('203.0.113.7')).toBe(60);
  });

  it('counts an IPv6 client by its /64 and an IPv4-mapped address as the IPv4 one', () => {
    expect(keyOf('2001:db8:1:2:aaaa::1')).toBe(keyOf('2001:0db8:0001:0002:ffff:1:2:3'));
    expect(keyOf('2001:db8:1:2::1')).not.toBe(keyOf('2001:db8:1:3::1'));
    expect(keyOf('::ffff:192.0.2.1')).toBe('192.0.2.1');
    const clock = new ManualClock(0);
    const limiter = new SignInLimiter(clock, { maxFailures: 2 });
    limiter.fail('2001:db8:1:2::1');
    limiter.fail('2001:db8:1:2::ffff');
    expect(limiter.retryAfter('2001:db8:1:2:3:4:5:6')).toBe(SIGNIN_WINDOW_MS / 1000);
    expect(limiter.retryAfter('2001:db8:1:9::1')).toBe(0);
  });

  it('forgets the oldest addresses past maxKeys', () => {
    const limiter = new SignInLimiter(new ManualClock(0), { maxFailures: 1, maxKeys: 2 });
    limiter.fail('192.0.2.1');
    limiter.fail('192.0.2.2');
    limiter.fail('192.0.2.3');
    expect(limiter.retryAfter('192.0.2.1')).toBe(0);
    expect(limiter.retryAfter('192.0.2.3')).toBeGreaterThan(0);
  });
});
