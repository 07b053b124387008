import Fastify, { type FastifyInstance } from 'fastify';
import { ERRORS } from '../domain/errors.ts';
import type { Services } from '../services.ts';
import { errorBody, sendError } from './reply.ts';
import { newRid } from './rid.ts';
import { adminRoutes } from './routes/admin.ts';
import { datacubeRoutes } from './routes/datacube.ts';
import { eventRoutes, InflightLimit } from './routes/events.ts';
import { healthRoutes } from './routes/health.ts';
import { tokenRoutes } from './routes/token.ts';
import { tcbRoutes } from './routes/tcb.ts';

export interface ServerOptions {
  /** Key for /admin/* (the CLI reads it from the data directory). Without it, no admin routes. */
  adminKey?: string;
  /** A pino logger options object, or false for none. */
  logger?: boolean | Record<string, unknown>;
}

/**
 * The HTTP face of datacube: WeChat's token and datacube routes, event ingest, the wx-server-sdk adapter,
 * health and admin. Every answer is JSON; every failure is a WeChat errcode with a rid, never a stack trace.
 */
export async function createServer(s: Services, opts: ServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: opts.logger ?? { level: s.config.logLevel },
    bodyLimit: s.config.maxBodyBytes,
    genReqId: () => newRid(s.clock.now()),
    return503OnClosing: true,
  });

  // Bodies are read as bytes; each route decides how to parse them (WeChat takes JSON whatever the content type).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.setErrorHandler((err, req, reply) => {
    const code = (err as { code?: string }).code;
    if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      const e = ERRORS.CONTENT_TOO_LARGE;
      return reply.code(200).send(errorBody(e.errcode, e.errmsg, req.id, `the body exceeds ${s.config.maxBodyBytes} bytes; nothing was stored`));
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
  await eventRoutes(app, s, new InflightLimit(s.config.maxInflightEvents));
  await tcbRoutes(app, s);
  if (opts.adminKey) {
    const key = opts.adminKey;
    await app.register(async (scope) => adminRoutes(scope, s, key));
  }
  return app;
}
