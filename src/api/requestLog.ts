import type { FastifyInstance } from 'fastify';
import { redactUrl } from './logging.ts';

/** Routes whose successful answers are logged at `debug`, not `info`: load balancers ask them every few seconds. */
const QUIET_PATHS = new Set(['/healthz']);

const ERRCODE = /^\{"errcode":(-?\d+)/;

/**
 * One log line per answered request (Fastify's own pair of "incoming request" / "request completed" lines is turned
 * off): method, URL with secrets redacted, status, the WeChat errcode when the answer carries one, and the time
 * taken; `reqId` is the rid the client saw. Health checks that succeed are logged at `debug`.
 */
export function logRequests(app: FastifyInstance): void {
  const errcodes = new WeakMap<object, number>();
  app.addHook('onSend', async (req, _reply, payload) => {
    if (typeof payload === 'string') {
      const m = ERRCODE.exec(payload);
      if (m?.[1]) errcodes.set(req, Number(m[1]));
    }
    return payload;
  });
  app.addHook('onResponse', async (req, reply) => {
    const status = reply.statusCode;
    const path = req.url.split('?')[0] ?? '';
    const errcode = errcodes.get(req);
    const fields = {
      req: { method: req.method, url: redactUrl(req.url), remoteAddress: req.ip },
      res: { statusCode: status },
      ...(errcode === undefined ? {} : { errcode }),
      responseTime: Math.round(reply.elapsedTime * 10) / 10,
    };
    if (QUIET_PATHS.has(path) && status < 400) req.log.debug(fields, 'request answered');
    else req.log.info(fields, 'request answered');
  });
}
