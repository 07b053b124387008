import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

/** Time every body may take before the minimum rate applies (a slow start, a first packet lost). */
export const UPLOAD_GRACE_MS = 5_000;
const TICK_MS = 500;

/** The body being watched on one connection (a connection reads one request body at a time). */
interface Slot {
  /** The connection's latest request while its body may still be arriving; undefined once it is over. */
  req: IncomingMessage | undefined;
  /** Body bytes parsed off the connection since the count started (undefined: not counted yet). */
  received: number | undefined;
  /** When the clock started for this body (moved on while the server, not the client, was the slow side). */
  start: number;
  lastCheck: number;
  cut: ((received: number, ms: number) => void) | undefined;
}

/**
 * A minimum upload rate for request bodies, instead of a flat time limit: a body must arrive at least as fast as
 * `bytesPerSecond` after a grace of UPLOAD_GRACE_MS, i.e. by `start + grace + received / rate`. A client that
 * stops sending (or trickles) is cut off within seconds, while a large body on a slow but steady link still gets
 * through. Bytes are counted as Node's HTTP parser hands them to the request (its `push`), so the count holds
 * whether the body is read by a route, streamed to a handler, or discarded after an early answer. Time during which
 * the server is the slow side does not count against the client: when the event loop was held up past a tick, or
 * while bytes already received wait to be read. One timer checks every upload in progress; a body still arriving at
 * the first check is counted from then on (most bodies have arrived by then, and cost nothing more).
 *
 * Bookkeeping is per connection, not per request: a connection parses one request body at a time, so each keeps one
 * slot, which its next request takes over and which goes with the connection's `close`. Watching a request is then
 * two assignments (no listener, no set entry), and at most one finished request per connection is referenced until
 * the next check — never thousands (holding every request until the next tick tripled GC time under load).
 */
export class UploadWatch {
  private readonly slots = new Map<Socket, Slot>();
  private timer: NodeJS.Timeout | undefined;
  private lastTick = 0;

  constructor(
    private readonly bytesPerSecond: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Requests whose body may still be arriving. */
  get watching(): number {
    let n = 0;
    for (const slot of this.slots.values()) if (slot.req && !slot.req.complete && !slot.req.destroyed) n++;
    return n;
  }

  /** Connections with a slot (at most one request each is referenced). */
  get connections(): number {
    return this.slots.size;
  }

  /** Watches one request's body until it has arrived or the request is destroyed, or it is cut (`cut` is then called once). */
  watch(req: IncomingMessage, cut: (received: number, ms: number) => void): void {
    const now = this.now();
    const socket = req.socket;
    let slot = this.slots.get(socket);
    if (!slot) {
      slot = { req, received: undefined, start: now, lastCheck: now, cut };
      this.slots.set(socket, slot);
      socket.once('close', () => this.slots.delete(socket));
    } else {
      slot.req = req;
      slot.received = undefined;
      slot.start = now;
      slot.lastCheck = now;
      slot.cut = cut;
    }
    if (!this.timer) {
      this.lastTick = now;
      this.timer = setInterval(() => this.check(), TICK_MS);
      this.timer.unref();
    }
  }

  /** Cuts the uploads that are behind; forgets those that are done. */
  check(): void {
    const now = this.now();
    const stalled = Math.max(0, now - this.lastTick - 2 * TICK_MS);
    this.lastTick = now;
    for (const slot of this.slots.values()) {
      const req = slot.req;
      if (!req) continue;
      if (req.complete || req.destroyed) {
        slot.req = undefined;
        slot.cut = undefined;
        continue;
      }
      if (slot.received === undefined) {
        // Still arriving: count its bytes from now on.
        slot.received = 0;
        slot.start = now;
        slot.lastCheck = now;
        const push = req.push.bind(req);
        req.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
          if (slot.req === req && chunk !== null && chunk !== undefined) slot.received = (slot.received ?? 0) + ((chunk as { length?: number }).length ?? 0);
          return push(chunk, encoding);
        };
        continue;
      }
      // The server was not running, or has received bytes it has not read yet: the wait is not the client's.
      if (stalled > 0 || req.readableLength > 0) slot.start += stalled > 0 ? stalled : now - slot.lastCheck;
      slot.lastCheck = now;
      if (now > slot.start + UPLOAD_GRACE_MS + (slot.received / this.bytesPerSecond) * 1000) {
        const cut = slot.cut;
        slot.req = undefined;
        slot.cut = undefined;
        cut?.(slot.received, now - slot.start);
      }
    }
    if (this.slots.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.slots.clear();
  }
}
