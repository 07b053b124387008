import { isIPv6 } from 'node:net';
import type { Clock } from '../../domain/clock.ts';

export interface SignInLimitOptions {
  /** Failed sign-ins allowed per client address within `windowMs`. */
  maxFailures: number;
  windowMs?: number;
  /** Most client addresses remembered; past it the one seen longest ago is forgotten. */
  maxKeys?: number;
}

/** The window in which failed sign-ins are counted: 15 minutes. */
export const SIGNIN_WINDOW_MS = 15 * 60_000;

/**
 * Counts failed dashboard sign-ins per client address (an IPv6 address by its /64, which one client usually
 * holds whole) over a sliding window. Once an address has `maxFailures` failures in the window, it may not try
 * again until the oldest of them leaves the window. A success does not clear the count: guesses at one app must
 * not be hidden behind sign-ins to another.
 */
export class SignInLimiter {
  private readonly failures = new Map<string, number[]>();
  private readonly windowMs: number;
  private readonly maxKeys: number;

  constructor(
    private readonly clock: Clock,
    private readonly opts: SignInLimitOptions,
  ) {
    this.windowMs = opts.windowMs ?? SIGNIN_WINDOW_MS;
    this.maxKeys = opts.maxKeys ?? 100_000;
  }

  /** Whole seconds until `ip` may try again; 0 when it may try now. */
  retryAfter(ip: string): number {
    const list = this.live(keyOf(ip));
    if (list.length < this.opts.maxFailures) return 0;
    const oldest = list[list.length - this.opts.maxFailures] ?? this.clock.now();
    return Math.max(1, Math.ceil((oldest + this.windowMs - this.clock.now()) / 1000));
  }

  /** Records a failed sign-in from `ip`. */
  fail(ip: string): void {
    const key = keyOf(ip);
    const list = this.live(key);
    list.push(this.clock.now());
    // Only the newest maxFailures matter for the answer.
    if (list.length > this.opts.maxFailures) list.splice(0, list.length - this.opts.maxFailures);
    this.failures.delete(key);
    this.failures.set(key, list);
    if (this.failures.size > this.maxKeys) this.prune();
  }

  private live(key: string): number[] {
    const list = this.failures.get(key);
    if (!list) return [];
    const since = this.clock.now() - this.windowMs;
    while (list.length > 0 && (list[0] ?? 0) <= since) list.shift();
    if (list.length === 0) this.failures.delete(key);
    return list;
  }

  private prune(): void {
    for (const key of [...this.failures.keys()]) this.live(key);
    while (this.failures.size > this.maxKeys) {
      const first = this.failures.keys().next().value;
      if (first === undefined) break;
      this.failures.delete(first);
    }
  }
}

/** The address a limit is kept for: IPv4 as it is (also when IPv4-mapped), IPv6 by its /64 prefix. */
export function keyOf(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped?.[1]) return mapped[1];
  if (!isIPv6(ip)) return ip;
  return `${expandV6(ip).slice(0, 4).join(':')}::/64`;
}

function expandV6(ip: string): string[] {
  const [head = '', tail] = ip.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? [] : Array.from({ length: 8 - h.length - t.length }, () => '0');
  return [...h, ...zeros, ...t].map((g) => g.toLowerCase().replace(/^0+(?=.)/, ''));
}
