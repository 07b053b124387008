import type { FastifyReply, FastifyRequest } from 'fastify';

/** Body limit of the routes that take a small JSON object (stable_token, portraits, admin other than events). */
export const SMALL_BODY_BYTES = 64 * 1024;

/**
 * Bounds the request-body bytes held in memory at once, in all and per client. Fastify buffers a whole body before
 * a handler runs, so without this, N concurrent connections each sending a body just under the limit hold
 * N × bodyLimit bytes (and their parsed copies) no matter what the handlers do. A request reserves its declared
 * Content-Length (or its route's body limit when the length is not declared, as with chunked uploads) before one
 * byte of its body is read — and, on routes that can check who is asking first, only after that check (see
 * `BodyGate`) — and gives it back once its answer is sent or its connection closes. Past the budget, or past the
 * client's share of it, the request is answered at once with a retryable error and its body is discarded unread, by
 * Node, as it arrives (a client that stops sending is cut off by the minimum upload rate, see UploadWatch).
 */
export class BodyBudget {
  private used = 0;
  private readonly byClient = new Map<string, number>();

  /**
   * @param maxBytes bytes all requests may hold at once
   * @param maxClientBytes bytes one client (IP address) may hold at once
   */
  constructor(
    readonly maxBytes: number,
    readonly maxClientBytes: number = maxBytes,
  ) {}

  get inUse(): number {
    return this.used;
  }

  /** Bytes the client holds now. */
  heldBy(client: string): number {
    return this.byClient.get(client) ?? 0;
  }

  /**
   * Takes `bytes` for `client` if they fit in the budget and in the client's share. A request alone fits: a body at
   * the limit can always be sent when nothing else is held, and a client holding nothing may always send one.
   */
  tryTake(bytes: number, client = ''): boolean {
    if (this.used > 0 && this.used + bytes > this.maxBytes) return false;
    const mine = this.byClient.get(client) ?? 0;
    if (mine > 0 && mine + bytes > this.maxClientBytes) return false;
    this.used += bytes;
    this.byClient.set(client, mine + bytes);
    return true;
  }

  give(bytes: number, client = ''): void {
    this.used = Math.max(0, this.used - bytes);
    const left = (this.byClient.get(client) ?? 0) - bytes;
    if (left > 0) this.byClient.set(client, left);
    else this.byClient.delete(client);
  }
}

/** The bytes a request may bring: 0 without a body, else its Content-Length capped at `limit`, else `limit`. */
export function declaredBodyBytes(req: FastifyRequest, limit: number): number {
  const te = req.headers['transfer-encoding'];
  const cl = req.headers['content-length'];
  if (cl === undefined && te === undefined) return 0;
  const n = cl === undefined ? Number.NaN : Number(cl);
  if (te === undefined && Number.isSafeInteger(n) && n >= 0) return Math.min(n, limit);
  return limit;
}

/**
 * Reserves the request's body bytes from `budget` for its client; false when they do not fit. The reservation ends
 * with the response (sent, failed or abandoned by the client).
 */
export function reserveBody(req: FastifyRequest, reply: FastifyReply, budget: BodyBudget, limit: number, client = req.ip): boolean {
  const bytes = declaredBodyBytes(req, limit);
  if (bytes === 0) return true;
  if (!budget.tryTake(bytes, client)) return false;
  // `close` comes after every answer (after `finish` when it was sent) and when the client goes away first.
  reply.raw.once('close', () => budget.give(bytes, client));
  return true;
}
