import { Socket } from 'node:net';
import { type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { ERRORS } from '../domain/errors.ts';
import type { Services } from '../services.ts';
import type { TestMode } from '../testmode/index.ts';
import { SMALL_BODY_BYTES } from './bodyBudget.ts';
import { BusyError, installBodyGate, UnknownRouteError } from './bodyGate.ts';
import { redactUrl, requestSerializer } from './logging.ts';
import { OPEN_APIS } from './openApis.ts';
import { parseQuery } from './queryString.ts';
import { logErrcodes, RequestLogController } from './requestLog.ts';
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
import { testModeRoutes } from './routes/testMode.ts';
import { UploadWatch } from './uploadWatch.ts';
import { userRoutes } from './routes/users.ts';

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
  /**
   * Most time a client may take to send one whole request, ms. Default: none; bodies are held to a minimum upload
   * rate instead (DATACUBE_MIN_UPLOAD_BYTES_PER_S, see UploadWatch), so an idle sender is cut off in seconds and a
   * large body on a steady link is not.
   */
  requestTimeoutMs?: number;
  /**
   * `serve --test-mode`: adds /__datacube/clock and /__datacube/faults and lets fault rules answer the WeChat routes
   * and /tcb. `s.clock` must be `testMode.clock`. Without it, none of this exists (/__datacube/* is 404).
   */
  testMode?: TestMode;
}

/** A request's headers must all arrive within this time (Node checks every CONNECTIONS_CHECK_MS). */
const HEADERS_TIMEOUT_MS = 20_000;
const CONNECTIONS_CHECK_MS = 2_000;

/**
 * Requests on each connection whose answers are not finished yet. A client may send bytes after a complete
 * request that are no request at all (garbage after `Connection: close`, a broken pipeline): the answer to the
 * complete request still goes out, then the connection closes — the garbage gets no answer of its own. The same
 * holds for a request answered before its body was read (an unknown route, a bad token) whose body then turns out
 * to be unreadable (broken chunked encoding): its answer is already on the wire, so no second one is written.
 */
class Answering {
  /** Each connection's latest request and its response. */
  private readonly latest = new WeakMap<Socket, { req: IncomingMessage; res: ServerResponse }>();

  /**
   * Called for every request (two assignments: no listener, no per-request entry). A connection's parser reads one
   * request at a time, so every earlier request on it is complete, and Node answers in order: the latest request's
   * response is the last of the connection's answers to finish.
   */
  track(req: IncomingMessage, res: ServerResponse): void {
    const socket = req.socket;
    const last = this.latest.get(socket);
    if (last) {
      last.req = req;
      last.res = res;
    } else this.latest.set(socket, { req, res });
  }

  /**
   * True (and `then` runs once they are done) when every request in flight on the connection is complete or already
   * being answered.
   */
  deferred(socket: Socket, then: () => void): boolean {
    const last = this.latest.get(socket);
    // Answered and closed: nothing is in flight on the connection any more.
    if (!last || last.res.closed) return false;
    if (!last.req.complete && !last.res.headersSent) return false;
    last.res.once('close', then);
    return true;
  }
}

/** The answer to a request that cannot be read at the HTTP level (written on the raw socket, which then closes). */
function clientErrorHandler(s: Services, answering: Answering) {
  return function (this: FastifyInstance, err: NodeJS.ErrnoException, socket: Socket): void {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    const rid = newRid(s.clock.now());
    if (status !== 408 && answering.deferred(socket, () => socket.destroySoon())) {
      this.log.info({ reqId: rid, code: err.code }, 'client error after a complete request: its answer goes out, then the connection closes');
      return;
    }
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

function sendBusy(req: FastifyRequest, reply: FastifyReply, detail: string): FastifyReply {
  const e = ERRORS.MINUTE_QUOTA;
  return reply.code(429).header('retry-after', '1').type('application/json; charset=utf-8').send(errorBody(e.errcode, e.errmsg, req.id, detail));
}

function notFound(req: FastifyRequest): { errcode: number; errmsg: string } {
  return errorBody(40066, 'invalid url', req.id, `${req.method} ${req.url.split('?')[0]} is not served here`);
}

/**
 * A body that arrives below the minimum rate: answered 408 (with the same JSON as Node's own request timeout) if
 * nothing was answered yet, and the connection closed either way.
 */
function cutSlowUpload(app: FastifyInstance, s: Services, req: FastifyRequest, reply: FastifyReply, socket: Socket, received: number, ms: number): void {
  const hint = 'the request body arrived too slowly';
  app.log.info(
    { reqId: req.id, received, ms: Math.round(ms), answered: reply.raw.headersSent, minBytesPerSecond: s.config.minUploadBytesPerSecond },
    `client error: ${hint}`,
  );
  if (!reply.raw.headersSent && socket.writable) {
    const e = ERRORS.DATA_FORMAT;
    const body = JSON.stringify(errorBody(e.errcode, e.errmsg, req.id, hint));
    socket.write(
      `HTTP/1.1 408 ${STATUS_CODES[408] ?? ''}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/**
 * The HTTP face of datacube: WeChat's token and datacube routes, event ingest, the wx-server-sdk adapter,
 * health, admin, and the dashboard at `/`. Every answer is JSON; every failure is a WeChat errcode with a rid, never a stack trace.
 */
export async function createServer(s: Services, opts: ServerOptions = {}): Promise<FastifyInstance> {
  const loggerOptions = opts.logger === false ? false : { level: s.config.logLevel, ...(typeof opts.logger === 'object' ? opts.logger : {}) };
  // The path segments of every route (filled by the onRoute hook below) and of every open API: the only ones the
  // log shows as they are.
  const knownSegments = new Set<string>(OPEN_APIS.map((a) => a.path));
  const logger =
    loggerOptions === false
      ? false
      : {
          ...loggerOptions,
          serializers: { req: requestSerializer(knownSegments), ...((loggerOptions as { serializers?: Record<string, unknown> }).serializers ?? {}) },
        };
  const answering = new Answering();
  const app = Fastify({
    logger,
    bodyLimit: s.config.maxBodyBytes,
    genReqId: () => newRid(s.clock.now()),
    // One line per answered request instead of Fastify's two (see requestLog.ts).
    logController: new RequestLogController(knownSegments, logger !== false),
    // WxJava with a base URL ending in "/" asks for //datacube/…; some clients add a trailing slash.
    // A parameter repeated with the same value counts once (see queryString.ts).
    routerOptions: { ignoreDuplicateSlashes: true, ignoreTrailingSlash: true, querystringParser: parseQuery },
    // While closing, requests on open connections get our own 503 (see the onRequest hook), as JSON with an errcode.
    return503OnClosing: false,
    requestTimeout: opts.requestTimeoutMs ?? 0,
    // X-Forwarded-For / X-Forwarded-Proto are believed only from the configured reverse proxies (req.ip, req.protocol).
    trustProxy: s.config.trustedProxies.length > 0 ? s.config.trustedProxies : false,
    // Answer requests without a Host header ourselves (as JSON) rather than with Node's bare 400.
    http: { requireHostHeader: false, headersTimeout: HEADERS_TIMEOUT_MS, connectionsCheckingInterval: CONNECTIONS_CHECK_MS },
    clientErrorHandler: clientErrorHandler(s, answering),
    frameworkErrors: (err, req, reply) => {
      const e = ERRORS.DATA_FORMAT;
      const why = err.code === 'FST_ERR_BAD_URL' ? 'the URL is not valid' : 'the request could not be read';
      // Answered before routing: Fastify logs no line for it (see requestLog.ts), so log it here.
      req.log.info({ req: { method: req.method, url: redactUrl(req.url, knownSegments) }, res: { statusCode: 200 }, errcode: e.errcode }, 'request answered');
      return (reply as FastifyReply).code(200).type('application/json; charset=utf-8').send(errorBody(e.errcode, e.errmsg, req.id, why));
    },
  });

  app.addHook('onRoute', (route) => {
    for (const seg of route.url.split('/')) if (seg !== '' && !seg.startsWith(':') && !seg.includes('*')) knownSegments.add(seg);
  });
  if (logger !== false) logErrcodes(app);
  // A client may half-close its side once its request is sent (`printf 'GET /healthz …' | nc host 8080` does): finish
  // the answer, then close. Node's default ends the connection at the client's FIN, dropping any answer not yet
  // written, so an async route (one that asks the store) answered such a client with nothing at all.
  // (`httpAllowHalfOpen` is a property of Node's http.Server that its type declarations leave out.)
  (app.server as typeof app.server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  // After Fastify's own listener, in the same turn as the parser reads the request (so before any bytes after it).
  app.server.on('request', (req: IncomingMessage, res: ServerResponse) => answering.track(req, res));

  // Bodies are read as bytes; each route decides how to parse them (WeChat takes JSON whatever the content type).
  app.removeAllContentTypeParsers();
  // Registered for JSON by name as well: Fastify remembers the parser of a named type per Content-Type header, while a
  // request that only the catch-all takes parses its Content-Type again every time.
  const asBytes = (_req: FastifyRequest, body: Buffer, done: (err: Error | null, body?: Buffer) => void) => done(null, body);
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, asBytes);
  app.addContentTypeParser('*', { parseAs: 'buffer' }, asBytes);

  // Bodies in memory are bounded in bytes, in all and per client, before they are read; on routes that can tell who
  // is asking from the URL, only after that check (see bodyGate.ts).
  installBodyGate(app, {
    largeBytes: opts.maxInflightBodyBytes ?? 4 * s.config.maxBodyBytes,
    largeClientBytes: s.config.maxClientBodyBytes ?? s.config.maxBodyBytes,
    smallBytes: opts.maxInflightSmallBodyBytes ?? 256 * SMALL_BODY_BYTES,
    smallClientBytes: 64 * SMALL_BODY_BYTES,
    bodyLimit: s.config.maxBodyBytes,
  });
  // Bodies must keep arriving at a minimum rate (see UploadWatch).
  const uploads = new UploadWatch(s.config.minUploadBytesPerSecond);
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onClose', async () => uploads.close());
  // A callback hook (it runs on every request; an async one costs a promise each time). Answering from it: send, and
  // do not call `done`.
  app.addHook('onRequest', (req, reply, done) => {
    if (closing) {
      const e = ERRORS.SYSTEM_ERROR;
      reply
        .code(503)
        .header('retry-after', '1')
        .header('connection', 'close')
        .type('application/json; charset=utf-8')
        .send(errorBody(e.errcode, e.errmsg, req.id, 'the server is shutting down; retry'));
      return;
    }
    // An asterisk-form target (`GET * HTTP/1.1`, meant for OPTIONS to a proxy) names nothing served here; the router
    // would take it for `/` and answer the dashboard's page.
    const target = req.raw.url ?? '';
    if (!target.startsWith('/') && !/^https?:\/\//i.test(target)) {
      reply.code(404).type('application/json; charset=utf-8').send(notFound(req));
      return;
    }
    // Requests made in-process (app.inject, as the dashboard forwards its calls) have no network to be slow on.
    const socket = req.raw.socket;
    if (socket instanceof Socket && (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined)) {
      uploads.watch(req.raw, (received, ms) => cutSlowUpload(app, s, req, reply, socket, received, ms));
    }
    done();
  });

  app.setErrorHandler((err, req, reply) => {
    if (err instanceof BusyError) return sendBusy(req, reply, 'the server is busy; retry this request');
    if (err instanceof UnknownRouteError) return reply.code(404).send(notFound(req));
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
  app.setNotFoundHandler((req, reply) => reply.code(404).send(notFound(req)));

  // Test mode first: its fault hook must be in place before the routes it answers for.
  if (opts.testMode) await testModeRoutes(app, s, opts.testMode);
  await healthRoutes(app, s);
  await tokenRoutes(app, s);
  await datacubeRoutes(app, s);
  const inflight = new InflightLimit(s.config.maxInflightEvents);
  const busyBatch = (req: FastifyRequest, reply: FastifyReply) => sendBusy(req, reply, 'the server is busy; retry this batch');
  await eventRoutes(app, s, inflight, busyBatch);
  await collectRoutes(app, s, inflight, busyBatch);
  await tcbRoutes(app, s, opts.testMode);
  if (s.config.dashboard) await dashboardRoutes(app, s);
  await userRoutes(app, s);
  // Deletions, prunes, backups and restores are logged (counts only) with the server's logger.
  s.lifecycle.useLog((fields, message) => app.log.info({ lifecycle: fields }, message));
  if (opts.adminKey) {
    const key = opts.adminKey;
    await app.register(async (scope) => adminRoutes(scope, s, key));
  }
  return app;
}
