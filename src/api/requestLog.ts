import { type FastifyInstance, type FastifyReply, type FastifyRequest, LogController } from 'fastify';
import { redactUrl } from './logging.ts';

/** Routes whose successful answers (no errcode) are logged at `debug`, not `info`: load balancers ask every few seconds. */
const QUIET_PATHS = new Set(['/healthz']);

/** Logger levels at which no request line is written (they are above info). */
const QUIET_LEVELS = new Set(['fatal', 'error', 'warn', 'silent']);

const ERRCODE = /^\{"errcode":(-?\d+)/;

/** The WeChat errcode of each answer that carries one, seen as it is sent. */
const errcodes = new WeakMap<object, number>();

/**
 * One log line per answered request, instead of Fastify's pair of "incoming request" / "request completed" lines:
 * method, URL with secrets redacted, status, the WeChat errcode when the answer carries one, and the time taken;
 * `reqId` is the rid the client saw. Health checks that succeed are logged at `debug`. The line is written when the
 * answer has gone out (or the connection closed first), from the moment Fastify routes the request — so requests
 * that fail before their route's hooks (an unreadable body on an unknown route) are logged too.
 */
export class RequestLogController extends LogController {
  /** `knownSegments`: the path segments of the server's routes; others are redacted (see redactPath). */
  /** `logging`: false when the server has no logger (then no line is prepared at all). */
  constructor(
    private readonly knownSegments?: ReadonlySet<string>,
    private readonly logging = true,
  ) {
    super();
  }

  override incomingRequest(request: FastifyRequest, reply: FastifyReply): void {
    // Nothing to write (no logger, or a level above info): no listener, no fields, nothing per request.
    if (!this.logging || QUIET_LEVELS.has(request.log.level)) return;
    // `close` follows `finish` on every answer; without `finish` first, the client went away before the answer.
    reply.raw.once('close', () => {
      const status = reply.raw.statusCode;
      const path = request.url.split('?')[0] ?? '';
      const errcode = errcodes.get(request);
      const fields = {
        req: { method: request.method, url: redactUrl(request.url, this.knownSegments), remoteAddress: request.ip },
        res: { statusCode: status },
        ...(errcode === undefined ? {} : { errcode }),
        responseTime: Math.round(reply.elapsedTime * 10) / 10,
      };
      if (!reply.raw.writableFinished) request.log.info({ ...fields, aborted: 'the connection closed before the answer was sent' }, 'request not answered');
      else if (QUIET_PATHS.has(path) && status < 400 && errcode === undefined) request.log.debug(fields, 'request answered');
      else request.log.info(fields, 'request answered');
    });
  }

  override requestCompleted(): void {}
}

/** Notes the errcode of each JSON answer, for its log line. */
export function logErrcodes(app: FastifyInstance): void {
  // A callback hook: it runs on every answer, and an async one costs a promise each time.
  app.addHook('onSend', (req, _reply, payload, done) => {
    if (typeof payload === 'string') {
      const m = ERRCODE.exec(payload);
      if (m?.[1]) errcodes.set(req, Number(m[1]));
    }
    done(null, payload);
  });
}
