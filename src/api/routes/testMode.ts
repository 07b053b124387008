import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { formatDay } from '../../domain/day.ts';
import { today, yesterday } from '../../domain/clock.ts';
import { ERRORS } from '../../domain/errors.ts';
import type { Services } from '../../services.ts';
import { checkInstantRange, type Fault, type FaultCall, FaultRuleError, formatInstant, parseDuration, parseInstant, type TestMode, TimeFormatError } from '../../testmode/index.ts';
import { bodyText } from '../body.ts';
import { SMALL_BODY_BYTES } from '../bodyBudget.ts';
import { OPEN_API_BY_PATH } from '../openApis.ts';
import { errorBody } from '../reply.ts';

/** The prefix of test mode's own routes; none of them exists unless the server runs with --test-mode. */
export const TEST_MODE_PREFIX = '/__datacube';

/** The clock as test mode's routes answer it. */
export function clockState(tm: TestMode) {
  const ms = tm.clock.now();
  return { now: formatInstant(ms), nowMs: ms, today: formatDay(today(tm.clock)), yesterday: formatDay(yesterday(tm.clock)) };
}

function refuse(reply: FastifyReply, message: string): FastifyReply {
  return reply.code(400).type('application/json; charset=utf-8').send({ error: message });
}

/** A JSON value from a body (any JSON, not only objects); `undefined` for an empty body. */
function jsonBody(body: unknown): unknown {
  const text = bodyText(body);
  if (text.trim() === '') return undefined;
  return JSON.parse(text) as unknown;
}

/**
 * `GET /__datacube` (what test mode is doing), `GET|POST /__datacube/clock`, `GET|POST|DELETE /__datacube/faults`,
 * `DELETE /__datacube/faults/:id`. Plain JSON; refusals are HTTP 400 with `{ error }` naming what is wrong. Every
 * faults route answers the list of rules as it then stands (an array; each rule with its `id`, `fired`, `matched`).
 */
export async function testModeRoutes(app: FastifyInstance, s: Services, tm: TestMode): Promise<void> {
  const opts = { bodyLimit: SMALL_BODY_BYTES };

  app.get(TEST_MODE_PREFIX, async () => ({
    testMode: true,
    clock: clockState(tm),
    seed: tm.seed ?? null,
    demo: tm.demo ?? null,
    faults: tm.faults.list(),
    routes: tm.faults.routeNames(),
  }));

  app.get(`${TEST_MODE_PREFIX}/clock`, async () => clockState(tm));

  app.post(`${TEST_MODE_PREFIX}/clock`, opts, async (req, reply) => {
    let body: unknown;
    try {
      body = jsonBody(req.body);
    } catch {
      return refuse(reply, 'the body is not JSON; send {"advance":"2h"} or {"set":"2026-06-15T10:00:00+08:00"}');
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      return refuse(reply, 'send {"advance":"2h"} or {"set":"2026-06-15T10:00:00+08:00"}');
    }
    const b = body as Record<string, unknown>;
    const keys = Object.keys(b);
    if (keys.length !== 1 || (keys[0] !== 'advance' && keys[0] !== 'set')) {
      return refuse(reply, 'send exactly one of {"advance":"2h"} or {"set":"2026-06-15T10:00:00+08:00"}');
    }
    try {
      if ('advance' in b) {
        const ms = parseDuration(b.advance);
        checkInstantRange(tm.clock.now() + ms, `advancing by ${ms} ms`);
        tm.clock.advance(ms);
        req.log.info({ advanceMs: ms, now: tm.clock.now() }, 'test mode: clock advanced');
      } else {
        const ms = parseInstant(b.set);
        tm.clock.set(ms);
        req.log.info({ now: ms }, 'test mode: clock set');
      }
    } catch (e) {
      if (e instanceof TimeFormatError) return refuse(reply, e.message);
      throw e;
    }
    return clockState(tm);
  });

  app.get(`${TEST_MODE_PREFIX}/faults`, async () => tm.faults.list());

  app.post(`${TEST_MODE_PREFIX}/faults`, opts, async (req, reply) => {
    let body: unknown;
    try {
      body = jsonBody(req.body);
    } catch {
      return refuse(reply, 'the body is not JSON; send a rule, a list of rules or {"rules":[…]}');
    }
    if (body === undefined) return refuse(reply, 'send a rule, a list of rules or {"rules":[…]}');
    try {
      const added = tm.faults.add(body);
      req.log.info({ rules: added.map((r) => r.id) }, 'test mode: fault rules added');
      return tm.faults.list();
    } catch (e) {
      if (e instanceof FaultRuleError) return refuse(reply, e.message);
      throw e;
    }
  });

  app.delete(`${TEST_MODE_PREFIX}/faults`, async (req) => {
    req.log.info({ cleared: tm.faults.clear() }, 'test mode: fault rules cleared');
    return tm.faults.list();
  });

  app.delete(`${TEST_MODE_PREFIX}/faults/:id`, async (req, reply) => {
    const id = Number((req.params as { id: string }).id);
    if (!Number.isSafeInteger(id) || id < 1) return refuse(reply, 'a rule id is a positive whole number');
    if (tm.faults.clear(id) === 0) return reply.code(404).send({ error: `no rule ${id}` });
    return tm.faults.list();
  });

  await faultHook(app, s, tm);
}

// ---- faults on the WeChat routes ---------------------------------------------------------------------------------

/** The appid a token belongs to, or undefined (the route itself will answer the token's problem). */
async function appidOfToken(s: Services, token: unknown): Promise<string | undefined> {
  try {
    return await s.auth.verify(token);
  } catch {
    return undefined;
  }
}

/** The call a request makes, as fault rules name it; undefined for routes faults do not apply to. */
function callOf(req: FastifyRequest): Omit<FaultCall, 'appid'> | undefined {
  const url = req.routeOptions.url;
  if (req.method === 'GET' && url === '/cgi-bin/token') return { route: 'token' };
  if (req.method === 'POST' && url === '/cgi-bin/stable_token') return { route: 'stable_token' };
  if (req.method === 'POST' && url === '/v1/events') return { route: 'events' };
  if (req.method === 'POST' && url === '/v1/collect') return { route: 'collect' };
  if (req.method === 'POST' && url === '/datacube/:path') {
    const api = OPEN_API_BY_PATH.get((req.params as { path?: string }).path ?? '');
    return api ? { route: 'api', api: api.name } : undefined;
  }
  return undefined;
}

async function appidOf(s: Services, req: FastifyRequest, call: Omit<FaultCall, 'appid'>): Promise<string | undefined> {
  const q = req.query as Record<string, unknown>;
  switch (call.route) {
    case 'token':
    case 'collect':
      return typeof q.appid === 'string' ? q.appid : undefined;
    case 'stable_token':
      try {
        const b = jsonBody(req.body);
        const appid = b !== null && typeof b === 'object' ? (b as { appid?: unknown }).appid : undefined;
        return typeof appid === 'string' ? appid : undefined;
      } catch {
        return undefined;
      }
    default:
      return appidOfToken(s, q.access_token);
  }
}

/** Marks an answer a fault rule gave, for whoever reads the headers while debugging a test. */
export const FAULT_HEADER = 'x-datacube-fault';

/**
 * Sends the fault's answer: WeChat's `{errcode, errmsg … rid: …}` with HTTP 200 (or the rule's status). A 45011 on
 * ingest (events, collect) comes with HTTP 429 and Retry-After, as the real ingest answers it.
 */
function sendFault(req: FastifyRequest, reply: FastifyReply, call: Omit<FaultCall, 'appid'>, f: Fault): FastifyReply {
  const errcode = f.errcode ?? ERRORS.SYSTEM_ERROR.errcode;
  const errmsg = f.errmsg ?? ERRORS.SYSTEM_ERROR.errmsg;
  let status = f.httpStatus ?? 200;
  if (f.httpStatus === undefined && (call.route === 'events' || call.route === 'collect') && errcode === ERRORS.MINUTE_QUOTA.errcode) {
    status = 429;
    reply.header('retry-after', '1');
  }
  return reply.code(status).header(FAULT_HEADER, String(f.ruleId)).type('application/json; charset=utf-8').send(errorBody(errcode, errmsg, req.id));
}

/** The fault (if any) for a call; waits out its delay first. */
export async function takeFault(tm: TestMode, call: FaultCall): Promise<Fault | undefined> {
  const f = tm.faults.match(call);
  if (f && f.delayMs > 0) await sleep(f.delayMs);
  return f;
}

/**
 * Before the token, stable_token, analysis and ingest (events, collect) routes run: a matching fault rule answers instead (after its
 * delay), or only delays the call. Cloud calls through /tcb are handled by the /tcb route (see routes/tcb.ts).
 */
async function faultHook(app: FastifyInstance, s: Services, tm: TestMode): Promise<void> {
  app.addHook('preHandler', async (req, reply) => {
    if (!tm.faults.active) return;
    const call = callOf(req);
    if (!call) return;
    const appid = tm.faults.wantsAppid(call) ? await appidOf(s, req, call) : undefined;
    const f = await takeFault(tm, { ...call, appid });
    if (!f) return;
    if (f.errcode === undefined && f.httpStatus === undefined) {
      reply.header(FAULT_HEADER, String(f.ruleId));
      return;
    }
    return sendFault(req, reply, call, f);
  });
}
