import type { FastifyReply, FastifyRequest } from 'fastify';

/** Body limit of the routes that take a small JSON object (stable_token, portraits, admin other than events). */
export const SMALL_BODY_BYTES = 64 * 1024;

/**
 * Bounds the request-body bytes held in memory at once. Fastify buffers a whole body before a handler runs, so
 * without this, N concurrent connections each sending a body just under the limit hold N × bodyLimit bytes (and
 * their parsed copies) no matter what the handlers do. A request reserves its declared Content-Length (or its
 * route's body limit when the length is not declared, as with chunked uploads) before one byte of its body is
 * read, and gives it back once its answer is sent or its connection closes. Past the budget, the request is
 * answered at once with a retryable error and its body is discarded unread, by Node, as it arrives.
 */
export class BodyBudget {
  private used = 0;
  constructor(readonly maxBytes: number) {}

  get inUse(): number {
    return this.used;
  }

  /** Takes `bytes` if they fit (a lone request always fits, so a body at the limit can always be sent). */
  tryTake(bytes: number): boolean {
    if (this.used > 0 && this.used + bytes > this.maxBytes) return false;
    this.used += bytes;
    return true;
  }

  give(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
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
 * Reserves the request's body bytes from `budget`; false when they do not fit. The reservation ends with the
 * response (sent, failed or abandoned by the client).
 */
export function reserveBody(req: FastifyRequest, reply: FastifyReply, budget: BodyBudget, limit: number): boolean {
  const bytes = declaredBodyBytes(req, limit);
  if (bytes === 0) return true;
  if (!budget.tryTake(bytes)) return false;
  let given = false;
  const give = () => {
    if (given) return;
    given = true;
    budget.give(bytes);
  };
  reply.raw.once('close', give);
  reply.raw.once('finish', give);
  return true;
}
