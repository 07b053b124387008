import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { WeChatError } from '../domain/errors.ts';
import type { Services } from '../services.ts';
import { BodyBudget, reserveBody, SMALL_BODY_BYTES } from './bodyBudget.ts';

/**
 * Who may hold request-body bytes, and when (issue 10): a route that can tell who is asking from the URL and
 * headers alone says so in its options, and its body is reserved only once that check passed:
 *
 * ```ts
 * app.post('/v1/events', { config: { authorize: authorizeToken(s) } }, async (req) => { … req.authorizedAppid … })
 * ```
 *
 * `authorize(req)` runs before one byte of the body is read; it throws or rejects (a WeChatError, answered as usual,
 * the body discarded unread) or sets `req.authorizedAppid` — synchronously when it can (a token this process knows),
 * so that the common path costs no promise. Only then are the body's bytes reserved (BodyBudget, in all and
 * per client). Routes without `authorize` reserve at once (stable_token, whose secret is in the body; admin routes
 * check their key in an onRequest hook first). Unknown routes never reserve: they are answered 404 unread.
 */
export type Authorize = (req: FastifyRequest) => void | Promise<void>;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Checks who is asking before the body is read (see bodyGate.ts). */
    authorize?: Authorize;
  }
  interface FastifyRequest {
    /** The app a route's `authorize` found (its access token's app), or '' before that. */
    authorizedAppid: string;
  }
}

/** Marks a request refused because the server holds as much as it may; answered 45011 with Retry-After. */
export class BusyError extends Error {
  readonly code = 'DATACUBE_BUSY';
}

/** A request on an unknown route, refused before its body is read. */
export class UnknownRouteError extends Error {
  readonly code = 'DATACUBE_NOT_FOUND';
}

/** `authorize` for the routes that take `?access_token=`: 41001/40001/42001 before the body, else the app. */
export function authorizeToken(s: Services): Authorize {
  return (req) => {
    const token = (req.query as Record<string, unknown>).access_token;
    const known = s.auth.verifyCached(token);
    if (known !== undefined) {
      req.authorizedAppid = known;
      return;
    }
    return s.auth.verify(token).then((appid) => {
      req.authorizedAppid = appid;
    });
  };
}

/**
 * A body sent compressed (`Content-Encoding: gzip`, `deflate`, `br`, …) is refused (47001) before it is read: bodies
 * are taken as they are, and decompressing would let a few bytes on the wire become many in memory. Without this
 * check a gzip body was answered "the body is not valid UTF-8", which says nothing of the cause.
 */
export function encodedBodyRefusal(req: FastifyRequest): WeChatError | null {
  const encoding = req.headers['content-encoding'];
  if (encoding === undefined) return null;
  // A request without a body (a GET, an empty POST) has nothing compressed, whatever its headers say.
  const length = req.headers['content-length'];
  if (req.headers['transfer-encoding'] === undefined && (length === undefined || length === '0')) return null;
  const codings = encoding
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity');
  if (codings.length === 0) return null;
  const shown = codings.join(', ').slice(0, 64);
  return new WeChatError('DATA_FORMAT', `bodies are taken uncompressed; this one says Content-Encoding: ${shown}. Send it without compression`);
}

export interface BodyGateOptions {
  /** Bytes of large bodies (ingest) held at once, and per client. */
  largeBytes: number;
  largeClientBytes: number;
  /** Bytes of small bodies (tokens, portraits) held at once, and per client. */
  smallBytes: number;
  smallClientBytes: number;
  /** Default body limit of a route (the server's). */
  bodyLimit: number;
}

/** Installs the gate: a preParsing hook that authorizes (when the route can), then reserves. */
export function installBodyGate(app: FastifyInstance, opts: BodyGateOptions): { large: BodyBudget; small: BodyBudget } {
  const large = new BodyBudget(opts.largeBytes, opts.largeClientBytes);
  const small = new BodyBudget(opts.smallBytes, opts.smallClientBytes);
  app.decorateRequest('authorizedAppid', '');
  const reserve = (req: FastifyRequest, reply: FastifyReply, limit: number): Error | null => {
    // After `authorize` (a bad token is answered as such first), before a byte is reserved or read.
    const encoded = encodedBodyRefusal(req);
    if (encoded) return encoded;
    // Routes with the server's own limit (ingest) draw on the large budget; those with a small one, the small.
    const budget = limit <= SMALL_BODY_BYTES && limit < opts.bodyLimit ? small : large;
    return reserveBody(req, reply, budget, limit) ? null : new BusyError('the server is receiving as much as it can hold');
  };
  // A callback hook, not an async one: on every request with a known token it finishes without a promise.
  app.addHook('preParsing', (req, reply, payload, done) => {
    if (req.is404) {
      // Nothing is served there: refuse before reading (or buffering) a body.
      if (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined) return done(new UnknownRouteError());
      return done(null, payload);
    }
    // Fastify builds `routeOptions` afresh on every read: read it once.
    const route = req.routeOptions;
    const limit = route.bodyLimit ?? opts.bodyLimit;
    const authorize = route.config.authorize;
    let pending: void | Promise<void>;
    try {
      pending = authorize?.(req);
    } catch (e) {
      return done(e as Error);
    }
    if (!pending) return done(reserve(req, reply, limit), payload);
    pending.then(
      () => done(reserve(req, reply, limit), payload),
      (e: unknown) => done(e as Error),
    );
  });
  return { large, small };
}
