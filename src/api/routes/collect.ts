import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { APPID_PATTERN } from '../../auth/index.ts';
import { ERRORS, WeChatError } from '../../domain/errors.ts';
import type { Services } from '../../services.ts';
import { eventRecords } from '../body.ts';
import { clientAddress, trustedProxies } from '../clientAddress.ts';
import { RateLimiter } from '../rateLimit.ts';
import { errorBody, sendError } from '../reply.ts';
import { type InflightLimit, ingestAnswer } from './events.ts';

/** Most events in one /v1/collect request. */
export const COLLECT_MAX_EVENTS = 100;
/** Largest /v1/collect body. */
export const COLLECT_MAX_BYTES = 64 * 1024;
/** Client clocks this far off the server's (by the batch's `sent_at`) are corrected; closer ones are left alone. */
const SKEW_TOLERANCE_MS = 60_000;
/** The longest User-Agent kept. */
const MAX_UA = 1024;

/**
 * The Referer WeChat sets on every request a mini-program makes: `https://servicewechat.com/{appid}/{version}/page-frame.html`,
 * `{version}` the published version number (0 for development and trial versions) or `devtools`.
 */
const MINI_PROGRAM_REFERER = /^https:\/\/servicewechat\.com\/([^/]+)\/(\d+|devtools)\/page-frame\.html$/;

/** The appid a Referer names, if it is a mini-program's. */
export function refererAppid(referer: string | undefined): string | undefined {
  const m = referer ? MINI_PROGRAM_REFERER.exec(referer) : null;
  return m?.[1];
}

interface Admitted {
  appid: string;
  ip: string;
}

function refuse(req: FastifyRequest, reply: FastifyReply, e: { errcode: number; errmsg: string }, hint: string): FastifyReply {
  return reply.code(200).type('application/json; charset=utf-8').send(errorBody(e.errcode, e.errmsg, req.id, hint));
}

function tooFast(req: FastifyRequest, reply: FastifyReply, waitMs: number, hint: string): FastifyReply {
  const e = ERRORS.MINUTE_QUOTA;
  return reply
    .code(429)
    .header('retry-after', String(Math.max(1, Math.ceil(waitMs / 1000))))
    .type('application/json; charset=utf-8')
    .send(errorBody(e.errcode, e.errmsg, req.id, hint));
}

/**
 * POST /v1/collect?appid=APPID: the public endpoint a mini-program's pages (the `datacube-tracker` package) send
 * events to, without a secret. Before a byte of the body is read or budgeted, the request must carry the Referer of
 * that app's mini-program, the app must exist and take collected events, and the client address must be within its
 * rate. The body is ≤ 64 KB and ≤ 100 events; every event's `ip` is the client's address (the socket's peer, or
 * `X-Forwarded-For` from a trusted proxy), its `ua` the request's User-Agent unless it has its own. The events go
 * through the same ingest steps as /v1/events, past a rate per app, and get the same answer once durable.
 */
export async function collectRoutes(
  app: FastifyInstance,
  s: Services,
  inflight: InflightLimit,
  busy: (req: FastifyRequest, reply: FastifyReply) => FastifyReply,
): Promise<void> {
  const proxies = trustedProxies(s.config.trustedProxies);
  const perIp = new RateLimiter(s.config.collectIpRate, 2 * s.config.collectIpRate);
  const perApp = new RateLimiter(s.config.collectAppRate, Math.max(2 * s.config.collectAppRate, COLLECT_MAX_EVENTS));
  const admitted = new WeakMap<FastifyRequest, Admitted>();

  app.post(
    '/v1/collect',
    {
      bodyLimit: COLLECT_MAX_BYTES,
      // Runs before the body is budgeted or read (see createServer): refusals cost no body bytes.
      onRequest: async (req, reply) => {
        const appid = (req.query as Record<string, unknown>).appid;
        if (typeof appid !== 'string' || !APPID_PATTERN.test(appid)) {
          return refuse(req, reply, ERRORS.INVALID_APPID, 'give the app as ?appid=wx…');
        }
        const named = refererAppid(req.headers.referer);
        if (named !== appid) {
          return refuse(
            req,
            reply,
            ERRORS.API_UNAUTHORIZED,
            `/v1/collect takes requests from the app's mini-program only (Referer https://servicewechat.com/${appid}/{version}/page-frame.html)`,
          );
        }
        if (!s.config.collect) return refuse(req, reply, ERRORS.API_UNAUTHORIZED, 'collection is turned off on this server (DATACUBE_COLLECT=off)');
        const known = await s.auth.getApp(appid);
        if (!known) return refuse(req, reply, ERRORS.INVALID_APPID, `no app ${appid} here`);
        if (!known.collect) return refuse(req, reply, ERRORS.API_UNAUTHORIZED, `collection is turned off for ${appid}`);
        const ip = clientAddress(req.socket.remoteAddress, req.headers['x-forwarded-for'], proxies);
        const wait = perIp.take(ip);
        if (wait > 0) return tooFast(req, reply, wait, 'too many requests from this address; retry after Retry-After seconds');
        admitted.set(req, { appid, ip });
        return undefined;
      },
    },
    async (req, reply) => {
      const who = admitted.get(req);
      if (!who) return refuse(req, reply, ERRORS.SYSTEM_ERROR, 'request not admitted');
      let taken = 0;
      try {
        const { records, lineErrors, sentAt } = eventRecords(req.body, req.headers['content-type']);
        if (records.length > COLLECT_MAX_EVENTS) {
          throw new WeChatError('CONTENT_TOO_LARGE', `at most ${COLLECT_MAX_EVENTS} events a request; nothing was stored`);
        }
        const wait = perApp.take(who.appid, records.length);
        if (wait > 0) return tooFast(req, reply, wait, 'this app is sending events faster than it may; retry after Retry-After seconds');
        if (!inflight.tryTake(records.length)) return busy(req, reply);
        taken = records.length;
        const now = s.clock.now();
        const skew = sentAt === undefined ? 0 : now - sentAt;
        const ua = req.headers['user-agent'];
        const report = await s.ingest.ingest(who.appid, records, {
          clientIp: who.ip,
          userAgent: typeof ua === 'string' ? ua.slice(0, MAX_UA) : undefined,
          clockSkewMs: Math.abs(skew) > SKEW_TOLERANCE_MS ? skew : undefined,
        });
        return ingestAnswer(report, lineErrors);
      } catch (err) {
        return sendError(req, reply, err);
      } finally {
        if (taken) inflight.give(taken);
      }
    },
  );
}
