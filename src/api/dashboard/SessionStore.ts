import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../../domain/clock.ts';

/** What the server keeps for one signed-in dashboard: the app, the access token it holds, its lifetimes. */
export interface Session {
  readonly appid: string;
  /** The access token the session reads the API with (a stable token). */
  token: string;
  /** When that token stops working, epoch ms. */
  tokenExpiresAt: number;
  /** The app secret, sealed with a key that lives only in this process, to fetch a new token when this one ends. */
  readonly sealedSecret: string;
  readonly createdAt: number;
  lastSeenAt: number;
}

export interface SessionOptions {
  /** Longest a session lives, ms. */
  ttlMs: number;
  /** A session not used for this long ends, ms. */
  idleMs: number;
  /** Most sessions kept; past it the one used longest ago is dropped. */
  maxSessions?: number;
}

/**
 * Server-side dashboard sessions, in memory. The browser holds only a random id (256 bits) in an HttpOnly cookie;
 * the store keeps its SHA-256, so the ids themselves are nowhere on the server. Sessions end when signed out,
 * after `idleMs` without use, or `ttlMs` after sign-in. A restart ends them all (people sign in again).
 */
export class SessionStore {
  private readonly byHash = new Map<string, Session>();
  private readonly max: number;

  constructor(
    private readonly clock: Clock,
    private readonly opts: SessionOptions,
  ) {
    this.max = opts.maxSessions ?? 10_000;
  }

  get size(): number {
    return this.byHash.size;
  }

  /** Starts a session; returns the id to give the browser. */
  create(data: Omit<Session, 'createdAt' | 'lastSeenAt'>): string {
    const id = randomBytes(32).toString('base64url');
    const now = this.clock.now();
    this.sweep(now);
    while (this.byHash.size >= this.max) {
      const oldest = this.byHash.keys().next().value;
      if (oldest === undefined) break;
      this.byHash.delete(oldest);
    }
    this.byHash.set(hashOf(id), { ...data, createdAt: now, lastSeenAt: now });
    return id;
  }

  /** The live session for `id` (and marks it used), or undefined. */
  get(id: string | undefined): Session | undefined {
    if (id === undefined || id.length === 0 || id.length > 128) return undefined;
    const h = hashOf(id);
    const s = this.byHash.get(h);
    if (!s) return undefined;
    const now = this.clock.now();
    if (this.expired(s, now)) {
      this.byHash.delete(h);
      return undefined;
    }
    s.lastSeenAt = now;
    // Keep the map in order of last use, so the first entry is the one to drop when full.
    this.byHash.delete(h);
    this.byHash.set(h, s);
    return s;
  }

  /** When the session ends if it is not used again, epoch ms. */
  endsAt(s: Session): number {
    return Math.min(s.createdAt + this.opts.ttlMs, s.lastSeenAt + this.opts.idleMs);
  }

  delete(id: string | undefined): void {
    if (id !== undefined) this.byHash.delete(hashOf(id));
  }

  private expired(s: Session, now: number): boolean {
    return now >= this.endsAt(s);
  }

  private sweep(now: number): void {
    for (const [h, s] of this.byHash) if (this.expired(s, now)) this.byHash.delete(h);
  }
}

function hashOf(id: string): string {
  return createHash('sha256').update(id).digest('hex');
}
