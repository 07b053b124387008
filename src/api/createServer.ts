import type { Socket } from 'node:net';
import { STATUS_CODES } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { ERRORS } from '../domain/errors.ts';
import type { Services } from '../services.ts';
import { BodyBudget, reserveBody, SMALL_BODY_BYTES } from './bodyBudget.ts';
import { requestSerializer } from './logging.ts';
import { errorBody, sendError } from './reply.ts';
import { newRid } from './rid.ts';
import { dashboardRoutes } from './dashboard/index.ts';
import { adminRoutes } from './routes/admin.ts';
import { collectRoutes } from './routes/collect.ts';
import { datacubeRoutes } from './routes/datacube.ts';
import { eventRoutes, InflightLimit } from './routes/events.ts';
import { healthRoutes } from './routes/health.ts';
import { tokenRoutes } from './routes/token.ts';
import { tcbRoutes } from './routes/tcb.ts';

export interface ServerOptions {
  /** Key for /admin/* (the CLI reads it from the data directory). Without it, no admin routes. */
  adminKey?: string;
  /**
   * A pino logger options object (for example `{ level: 'info', stream }`), or false for none. Request URLs are
   * always logged with secrets and tokens redacted.
   */
  logger?: boolean | Record<string, unknown>;
  /**
   * Request-body bytes held in memory at once across all large-body requests (ingest); past it they are
   * answered 45011 with Retry-After. Default: 4 × the body limit.
   */
  maxInflightBodyBytes?: number;
  /** The same for small-body requests (tokens, portraits). Default: 256 × 64 KiB. */
  maxInflightSmallBodyBytes?: number;
  /** Most time a client may take to send one whole request, ms (slow senders hold memory). Default 120 s. */
  requestTimeoutMs?: number;
}

/** The answer to a request that cannot be read at the HTTP level (written on the raw socket, which then closes). */
function clientErrorHandler(s: Services) {
  return function (this: FastifyInstance, err: NodeJS.ErrnoException, socket: Socket): void {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    const rid = newRid(s.clock.now());
    const e = status === 431 ? ERRORS.CONTENT_TOO_LARGE : ERRORS.DATA_FORMAT;
    const hint =
      status === 408 ? 'the request took too long to arrive' : status === 431 ? 'the request headers are too large' : 'the request is not valid HTTP';
    const body = JSON.stringify(errorBody(e.errcode, e.errmsg, rid, hint));
    this.log.info({ reqId: rid, code: err.code }, `client error: ${hint}`);
    if (socket.writable) {
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy();
  };
}

/** Marks a request refused because the server holds as much as it may; answered 45011 with Retry-After. */
class BusyError extends Error {
  readonly code = 'DATACUBE_BUSY';
}

function sendBusy(req: FastifyRequest, reply: FastifyReply, detail: string): FastifyReply {
  const e = ERRORS.MINUTE_QUOTA;
  return reply.code(429).header('retry-after', '1').type('application/json; charset=utf-8').send(errorBody(e.errcode, e.errmsg, req.id, detail));
}

/**
 * The HTTP face of datacube: WeChat's token and datacube routes, event ingest, the wx-server-sdk adapter,
 * health, admin, and the dashboard at `/`. Every answer is JSON; every failure is a WeChat errcode with a rid, never a stack trace.
 */
export async function createServer(s: Services, opts: ServerOptions = {}): Promise<FastifyInstance> {
  const loggerOptions = opts.logger === false ? false : { level: s.config.logLevel, ...(typeof opts.logger === 'object' ? opts.logger : {}) };
  const logger =
    loggerOptions === false
      ? false
      : { ...loggerOptions, serializers: { req: requestSerializer, ...((loggerOptions as { serializers?: Record<string, unknown> }).serializers ?? {}) } };
  const app = Fastify({
    logger,
    bodyLimit: s.config.maxBodyBytes,
    genReqId: () => newRid(s.clock.now()),
    // While closing, requests on open connections get our own 503 (see the onRequest hook), as JSON with an errcode.
    return503OnClosing: false,
    requestTimeout: opts.requestTimeoutMs ?? 120_000,
    // X-Forwarded-For / X-Forwarded-Proto are believed only from the configured reverse proxies (req.ip, req.protocol).
    trustProxy: s.config.trustedProxies.length > 0 ? s.config.trustedProxies : false,
    // Answer requests without a Host header ourselves (as JSON) rather than with Node's bare 400.
    http: { requireHostHeader: false },
    clientErrorHandler: clientErrorHandler(s),
    frameworkErrors: (err, req, reply) => {
      const e = ERRORS.DATA_FORMAT;
      const why = err.code === 'FST_ERR_BAD_URL' ? 'the URL is not valid' : 'the request could not be read';
      return (reply as FastifyReply).code(200).type('application/json; charset=utf-8').send(errorBody(e.errcode, e.errmsg, req.id, why));
    },
  });

  // Bodies are read as bytes; each route decides how to parse them (WeChat takes JSON whatever the content type).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  // Bodies in memory are bounded in bytes, before they are read (see BodyBudget).
  const largeBodies = new BodyBudget(opts.maxInflightBodyBytes ?? 4 * s.config.maxBodyBytes);
  const smallBodies = new BodyBudget(opts.maxInflightSmallBodyBytes ?? 256 * SMALL_BODY_BYTES);
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async (req, reply) => {
    if (closing) {
      const e = ERRORS.SYSTEM_ERROR;
      return reply
        .code(503)
        .header('retry-after', '1')
        .header('connection', 'close')
        .type('application/json; charset=utf-8')
        .send(errorBody(e.errcode, e.errmsg, req.id, 'the server is shutting down; retry'));
    }
  });
  // After every onRequest hook, so a route's own checks (the /v1/collect Referer) refuse before any body is budgeted.
  app.addHook('preParsing', async (req, reply, payload) => {
    const limit = req.routeOptions.bodyLimit ?? s.config.maxBodyBytes;
    const budget = limit <= SMALL_BODY_BYTES ? smallBodies : largeBodies;
    if (!reserveBody(req, reply, budget, limit)) throw new BusyError('the server is receiving as much as it can hold');
    return payload;
  });

  app.setErrorHandler((err, req, reply) => {
    if (err instanceof BusyError) return sendBusy(req, reply, 'the server is busy; retry this request');
    const code = (err as { code?: string }).code;
    if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      const e = ERRORS.CONTENT_TOO_LARGE;
      const limit = req.routeOptions.bodyLimit ?? s.config.maxBodyBytes;
      return reply.code(200).send(errorBody(e.errcode, e.errmsg, req.id, `the body exceeds ${limit} bytes; nothing was stored`));
    }
    if (code?.startsWith('FST_ERR_CTP') || code === 'FST_ERR_BAD_URL' || (err as { statusCode?: number }).statusCode === 400) {
      const e = ERRORS.DATA_FORMAT;
      return reply.code(200).send(errorBody(e.errcode, e.errmsg, req.id, 'the request could not be read'));
    }
    return sendError(req, reply, err);
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send(errorBody(40066, 'invalid url', req.id, `${req.method} ${req.url.split('?')[0]} is not served here`)));

  await healthRoutes(app, s);
  await tokenRoutes(app, s);
  await datacubeRoutes(app, s);
  const inflight = new InflightLimit(s.config.maxInflightEvents);
  const busyBatch = (req: FastifyRequest, reply: FastifyReply) => sendBusy(req, reply, 'the server is busy; retry this batch');
  await eventRoutes(app, s, inflight, busyBatch);
  await collectRoutes(app, s, inflight, busyBatch);
  await tcbRoutes(app, s);
  if (s.config.dashboard) await dashboardRoutes(app, s);
  if (opts.adminKey) {
    const key = opts.adminKey;
    await app.register(async (scope) => adminRoutes(scope, s, key));
  }
  return app;
}
