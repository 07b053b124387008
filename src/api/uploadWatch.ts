import type { IncomingMessage } from 'node:http';

/** Time every body may take before the minimum rate applies (a slow start, a first packet lost). */
export const UPLOAD_GRACE_MS = 5_000;
const TICK_MS = 500;

interface Upload {
  req: IncomingMessage;
  /** Body bytes parsed off the connection since the count started (undefined: not counted yet). */
  received: number | undefined;
  /** When the clock started for this body (moved on while the server, not the client, was the slow side). */
  start: number;
  lastCheck: number;
  cut: (received: number, ms: number) => void;
}

/**
 * A minimum upload rate for request bodies, instead of a flat time limit: a body must arrive at least as fast as
 * `bytesPerSecond` after a grace of UPLOAD_GRACE_MS, i.e. by `start + grace + received / rate`. A client that
 * stops sending (or trickles) is cut off within seconds, while a large body on a slow but steady link still gets
 * through. Bytes are counted as Node's HTTP parser hands them to the request (its `push`), so the count holds
 * whether the body is read by a route, streamed to a handler, or discarded after an early answer. Time during which
 * the server is the slow side does not count against the client: when the event loop was held up past a tick, or
 * while bytes already received wait to be read. One timer checks every upload in progress; a body still arriving at
 * the first check is counted from then on (most bodies have arrived by then, and cost nothing more). A request leaves
 * the watch when it closes (IncomingMessage's `close`: body read or discarded, or connection gone).
 */
export class UploadWatch {
  private readonly uploads = new Set<Upload>();
  private timer: NodeJS.Timeout | undefined;
  private lastTick = 0;

  constructor(
    private readonly bytesPerSecond: number,
    private readonly now: () => number = Date.now,
  ) {}

  get watching(): number {
    return this.uploads.size;
  }

  /** Watches one request's body until it has arrived or the request is destroyed, or it is cut (`cut` is then called once). */
  watch(req: IncomingMessage, cut: (received: number, ms: number) => void): void {
    const now = this.now();
    const upload: Upload = { req, received: undefined, start: now, lastCheck: now, cut };
    this.uploads.add(upload);
    // Forgotten as soon as the request is over (its body read or discarded, or the connection gone), not at the next
    // tick: a watch that held every request for half a second kept thousands of requests alive at a time, which the
    // garbage collector then had to promote and sweep (it tripled GC time under load).
    req.once('close', () => this.uploads.delete(upload));
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
    for (const u of this.uploads) {
      if (u.req.complete || u.req.destroyed) {
        this.uploads.delete(u);
        continue;
      }
      if (u.received === undefined) {
        // Still arriving: count its bytes from now on.
        u.received = 0;
        u.start = now;
        u.lastCheck = now;
        const push = u.req.push.bind(u.req);
        u.req.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
          if (chunk !== null && chunk !== undefined) u.received = (u.received ?? 0) + ((chunk as { length?: number }).length ?? 0);
          return push(chunk, encoding);
        };
        continue;
      }
      // The server was not running, or has received bytes it has not read yet: the wait is not the client's.
      if (stalled > 0 || u.req.readableLength > 0) u.start += stalled > 0 ? stalled : now - u.lastCheck;
      u.lastCheck = now;
      if (now > u.start + UPLOAD_GRACE_MS + (u.received / this.bytesPerSecond) * 1000) {
        this.uploads.delete(u);
        u.cut(u.received, now - u.start);
      }
    }
    if (this.uploads.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.uploads.clear();
  }
}
