import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Sealer } from '../../auth/index.ts';
import { yesterday } from '../../domain/clock.ts';
import { formatDay } from '../../domain/day.ts';
import { ERRORS, type ErrorName } from '../../domain/errors.ts';
import type { Services } from '../../services.ts';
import { jsonObjectBody } from '../body.ts';
import { SMALL_BODY_BYTES } from '../bodyBudget.ts';
import { errorBody, sendError } from '../reply.ts';
import { Assets, type LoadedAsset } from './assets.ts';
import { readCookie, SESSION_COOKIE, sessionCookie } from './cookies.ts';
import { type Session, SessionStore } from './SessionStore.ts';
import { SignInLimiter } from './SignInLimiter.ts';

/**
 * Content-Security-Policy of the page: everything from datacube itself, nothing inline but styles (ECharts writes
 * style attributes into its tooltips), no frames, no plugins.
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** A token with less life left than this is replaced before it is used. */
const TOKEN_MARGIN_MS = 60_000;

/** The app's own API paths a session may call through /dashboard/datacube/ (WeChat's are all lower-case letters). */
const API_PATH = /^[a-z]{1,64}$/;

/** Answers from the public routes that mean the token must be replaced. */
const STALE_TOKEN = new Set<number>([ERRORS.INVALID_CREDENTIAL.errcode, ERRORS.ACCESS_TOKEN_EXPIRED.errcode]);
/** Answers from the token route that mean the appid or secret is wrong. */
const BAD_CREDENTIALS = new Set<number>([ERRORS.INVALID_APPID.errcode, ERRORS.INVALID_APPSECRET.errcode]);

interface PublicAnswer {
  status: number;
  body: string;
  json: Record<string, unknown>;
}

/**
 * The dashboard: the page at `GET /`, its files under `/dashboard/assets/`, and sign-in, sign-out and data for the
 * page under `/dashboard/`. A session holds an access token got from the public `POST /cgi-bin/stable_token` with
 * the appid and secret typed at sign-in; the page's data requests (`POST /dashboard/datacube/<api path>`) are
 * passed to the public `POST /datacube/<api path>?access_token=…` route with that token, unchanged, and its answer
 * is passed back unchanged. So the page sees exactly what any client of the API sees (same checks, quotas,
 * errcodes), and the token never reaches the browser.
 */
export async function dashboardRoutes(app: FastifyInstance, s: Services): Promise<void> {
  const assets = new Assets();
  const sessions = new SessionStore(s.clock, { ttlMs: s.config.sessionTtlSeconds * 1000, idleMs: s.config.sessionIdleSeconds * 1000 });
  const limiter = new SignInLimiter(s.clock, { maxFailures: s.config.signInFailures });
  // Secrets a session needs to renew its token are sealed with a key that never leaves this process.
  const sealer = new Sealer(randomBytes(32).toString('hex'));

  /** A request to one of the public routes, made in-process and carrying the browser's address. */
  const callPublic = async (req: FastifyRequest, method: 'GET' | 'POST', url: string, body?: string | Buffer): Promise<PublicAnswer> => {
    const res = await app.inject({
      method,
      url,
      remoteAddress: req.ip,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { payload: body }),
    });
    let json: Record<string, unknown> = {};
    try {
      const v: unknown = JSON.parse(res.body);
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) json = v as Record<string, unknown>;
    } catch {
      // not JSON: passed on as it is
    }
    return { status: res.statusCode, body: res.body, json };
  };

  const stableToken = (req: FastifyRequest, appid: string, secret: string) =>
    callPublic(req, 'POST', '/cgi-bin/stable_token', JSON.stringify({ grant_type: 'client_credential', appid, secret }));

  const fail = (req: FastifyRequest, reply: FastifyReply, status: number, name: ErrorName, hint: string) => {
    const e = ERRORS[name];
    return reply.code(status).header('cache-control', 'no-store').type('application/json; charset=utf-8').send(errorBody(e.errcode, e.errmsg, req.id, hint));
  };

  const sessionOf = (req: FastifyRequest): { id: string; session: Session } | undefined => {
    const id = readCookie(req.headers.cookie, SESSION_COOKIE);
    const session = sessions.get(id);
    return id !== undefined && session ? { id, session } : undefined;
  };

  /** Gets the session a new token (false when its secret no longer works: the session is over). */
  const renewToken = async (req: FastifyRequest, id: string, session: Session): Promise<boolean> => {
    const secret = sealer.open(session.sealedSecret, `session:${session.appid}`);
    if (secret === undefined) return false;
    const r = await stableToken(req, session.appid, secret);
    const token = r.json.access_token;
    const expiresIn = r.json.expires_in;
    if (typeof token !== 'string' || typeof expiresIn !== 'number') {
      if (BAD_CREDENTIALS.has(Number(r.json.errcode))) sessions.delete(id);
      return false;
    }
    session.token = token;
    session.tokenExpiresAt = s.clock.now() + expiresIn * 1000;
    return true;
  };

  const sendAsset = async (req: FastifyRequest, reply: FastifyReply, name: string) => {
    const pending = assets.get(name);
    if (!pending) return reply.callNotFound();
    let a: LoadedAsset;
    try {
      a = await pending;
    } catch (err) {
      return sendError(req, reply, err);
    }
    securityHeaders(reply);
    reply.header('content-type', a.type).header('etag', a.etag).header('cache-control', 'no-cache').header('vary', 'accept-encoding');
    if (req.headers['if-none-match'] === a.etag) return reply.code(304).send();
    const acceptsGzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    if (a.gzip && acceptsGzip) return reply.header('content-encoding', 'gzip').send(a.gzip);
    return reply.send(a.body);
  };

  app.get('/', (req, reply) => sendAsset(req, reply, 'index.html'));
  app.get('/dashboard', (_req, reply) => reply.redirect('/', 302));
  app.get('/dashboard/assets/*', (req, reply) => {
    const name = (req.params as { '*': string })['*'];
    if (name === 'index.html') return reply.callNotFound();
    return sendAsset(req, reply, name);
  });

  /** Who is signed in, if anyone (and the server's "yesterday", which the page's window picker starts from). */
  app.get('/dashboard/session', async (req, reply) => {
    const found = sessionOf(req);
    const day = formatDay(yesterday(s.clock));
    reply.header('cache-control', 'no-store');
    if (!found) return reply.send({ signed_in: false, yesterday: day });
    return reply.send({ signed_in: true, appid: found.session.appid, yesterday: day, expires_at: new Date(sessions.endsAt(found.session)).toISOString() });
  });

  /** Sign-in: `{appid, secret}`, checked by the public stable_token route. */
  app.post('/dashboard/session', { bodyLimit: SMALL_BODY_BYTES }, async (req, reply) => {
    if (!sameOrigin(req)) return fail(req, reply, 403, 'API_UNAUTHORIZED', 'a sign-in must come from the dashboard page itself');
    const wait = limiter.retryAfter(req.ip);
    if (wait > 0) {
      reply.header('retry-after', String(wait));
      return fail(req, reply, 429, 'MINUTE_QUOTA', `too many failed sign-ins from this address; try again in ${wait} s`);
    }
    let appid: unknown;
    let secret: unknown;
    try {
      ({ appid, secret } = jsonObjectBody(req.body));
    } catch (err) {
      return sendError(req, reply, err);
    }
    if (typeof appid !== 'string' || typeof secret !== 'string') {
      // HTTP 200 like the body that is not JSON at all just above, and like the token route's own refusals.
      return fail(req, reply, 200, 'DATA_FORMAT', 'send {"appid": "…", "secret": "…"}');
    }
    const r = await stableToken(req, appid.trim(), secret.trim());
    const token = r.json.access_token;
    const expiresIn = r.json.expires_in;
    if (typeof token !== 'string' || typeof expiresIn !== 'number') {
      // The token route's own answer (40013 unknown appid, 40125 wrong secret, …), HTTP 200 as WeChat answers.
      if (BAD_CREDENTIALS.has(Number(r.json.errcode))) limiter.fail(req.ip);
      return reply.code(r.status).header('cache-control', 'no-store').type('application/json; charset=utf-8').send(r.body);
    }
    const id = sessions.create({
      appid: appid.trim(),
      token,
      tokenExpiresAt: s.clock.now() + expiresIn * 1000,
      sealedSecret: sealer.seal(secret.trim(), `session:${appid.trim()}`),
    });
    reply.header('set-cookie', sessionCookie(id, { maxAgeSeconds: s.config.sessionTtlSeconds, secure: req.protocol === 'https' }));
    return reply.header('cache-control', 'no-store').send({ errcode: 0, errmsg: 'ok', appid: appid.trim(), yesterday: formatDay(yesterday(s.clock)) });
  });

  /** Sign-out: ends the session (the token itself stays valid for the app's other clients). */
  app.delete('/dashboard/session', async (req, reply) => {
    if (!sameOrigin(req)) return fail(req, reply, 403, 'API_UNAUTHORIZED', 'a sign-out must come from the dashboard page itself');
    sessions.delete(readCookie(req.headers.cookie, SESSION_COOKIE));
    reply.header('set-cookie', sessionCookie('', { maxAgeSeconds: 0, secure: req.protocol === 'https' }));
    return reply.header('cache-control', 'no-store').send({ errcode: 0, errmsg: 'ok' });
  });

  /**
   * Refuses (answers) a data request not from a signed-in dashboard page. Run as the route's onRequest hook, before
   * the body is reserved or read (as the public routes check their token first, see bodyGate.ts), and again by the
   * handler (the session may have ended while the body arrived).
   */
  const refuseData = (req: FastifyRequest, reply: FastifyReply): FastifyReply | undefined => {
    if (!sameOrigin(req)) return fail(req, reply, 403, 'API_UNAUTHORIZED', 'dashboard data is for the dashboard page itself');
    if (!sessionOf(req)) return fail(req, reply, 401, 'ACCESS_TOKEN_MISSING', 'not signed in to the dashboard');
    return undefined;
  };
  const dataOptions = { bodyLimit: SMALL_BODY_BYTES, onRequest: (req: FastifyRequest, reply: FastifyReply, done: () => void) => void (refuseData(req, reply) ?? done()) };

  /** The page's data: passed to the public POST /datacube/<path>?access_token=<the session's token>. */
  app.post('/dashboard/datacube/:path', dataOptions, async (req, reply) => {
    if (!sameOrigin(req)) return fail(req, reply, 403, 'API_UNAUTHORIZED', 'dashboard data is for the dashboard page itself');
    const found = sessionOf(req);
    if (!found) return fail(req, reply, 401, 'ACCESS_TOKEN_MISSING', 'not signed in to the dashboard');
    const { id, session } = found;
    const path = (req.params as { path: string }).path;
    if (!API_PATH.test(path)) return fail(req, reply, 200, 'API_UNAUTHORIZED', 'datacube does not serve this API');
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    if (session.tokenExpiresAt - s.clock.now() < TOKEN_MARGIN_MS && !(await renewToken(req, id, session))) {
      return fail(req, reply, 401, 'ACCESS_TOKEN_EXPIRED', 'the session could not renew its access token; sign in again');
    }
    const call = () => callPublic(req, 'POST', `/datacube/${path}?access_token=${encodeURIComponent(session.token)}`, body);
    let r = await call();
    if (STALE_TOKEN.has(Number(r.json.errcode))) {
      // The token was replaced (a forced refresh elsewhere) or ran out: get the current one and try once more.
      if (!(await renewToken(req, id, session))) return fail(req, reply, 401, 'ACCESS_TOKEN_EXPIRED', 'the session could not renew its access token; sign in again');
      r = await call();
    }
    return reply.code(r.status).header('cache-control', 'no-store').type('application/json; charset=utf-8').send(r.body);
  });
}

/** Headers every dashboard file is sent with. */
function securityHeaders(reply: FastifyReply): void {
  reply
    .header('content-security-policy', CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
    .header('cross-origin-opener-policy', 'same-origin')
    .header('cross-origin-resource-policy', 'same-origin');
}

/**
 * Whether a request that changes something came from the dashboard's own pages. The cookie is SameSite=Strict
 * already; this also refuses cross-site requests that carry no cookie (sign-in floods from other sites) and any
 * browser request from another origin. Clients that are not browsers send neither header and are let through.
 */
function sameOrigin(req: FastifyRequest): boolean {
  const site = req.headers['sec-fetch-site'];
  if (typeof site === 'string' && site !== 'same-origin' && site !== 'none') return false;
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  return origin === `${req.protocol}://${req.host}`;
}
