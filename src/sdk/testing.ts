/**
 * A small stand-in for WeChat's API host, for the SDK's tests: the token routes and the analysis routes with
 * WeChat's real error bodies (`{errcode, errmsg: "… rid: …"}`, HTTP 200; 45011 from ingest with HTTP 429 and
 * `Retry-After`), a scriptable list of faults (errors, hangs, dropped connections, HTML error pages), a counter of
 * token requests and a log of every request. It also takes `POST /v1/events` like datacube (deduplicated by
 * event_id) so the ingest client can be tested against faults the real server cannot be made to produce on cue.
 * Test support only; not part of the SDK.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ERRORS } from '../domain/errors.ts';
import { ANALYSIS_PATHS } from './apis.ts';

export type StandInRoute = 'stable_token' | 'token' | 'datacube' | 'events';

/** What the stand-in does with the next request of a route, instead of answering it normally. */
export type Fault =
  | { errcode: number; status?: number; retryAfter?: number }
  /** Waits this long before answering normally (to make a client time out). */
  | { hangMs: number }
  /** Closes the connection without an answer. */
  | { drop: true }
  /** Events only: stores the batch, then closes the connection without an answer (the answer is lost). */
  | { dropAfterStore: true }
  /** An HTML error page with this status, as a proxy would send. */
  | { htmlStatus: number };

export interface LoggedRequest {
  /** Date.now() when the request arrived. */
  at: number;
  method: string;
  path: string;
  query: URLSearchParams;
  body: string;
}

export interface StandIn {
  url: string;
  /** Every request, in order. */
  requests: LoggedRequest[];
  /** Token requests so far (both routes). */
  tokenRequests(): number;
  /** Queues faults for the next requests of a route (first in, first out). */
  fault(route: StandInRoute, ...faults: Fault[]): void;
  /** Forgets tokens, faults, requests and events; the default answers and settings again. */
  reset(): void;
  /** Makes every token issued so far answer 40001 (as after a forced refresh elsewhere). */
  revokeTokens(): void;
  /** Makes every token issued so far answer 42001. */
  expireTokens(): void;
  /** Stored events by event_id. */
  events: Map<string, Record<string, unknown>>;
  /** Events refused for having no openid. */
  malformed: number;
  /** Answer bodies by API name, WeChat's JSON; defaults given. */
  answers: Record<string, Record<string, unknown>>;
  /** How long a token route waits before answering, ms (to let calls pile up). */
  tokenDelayMs: number;
  /** `expires_in` of new tokens. */
  tokenTtlSeconds: number;
  close(): Promise<void>;
}

export const STAND_IN_APPID = 'wxstandin0000001';
export const STAND_IN_SECRET = 'standin-secret-0123456789abcdef0';

/** A request id in WeChat's form: Unix time in hex, then random hex. */
function rid(): string {
  const r = randomBytes(8).toString('hex');
  return `${Math.floor(Date.now() / 1000).toString(16)}-${r.slice(0, 8)}-${r.slice(8)}`;
}

function textOf(errcode: number): string {
  return Object.values(ERRORS).find((e) => e.errcode === errcode)?.errmsg ?? 'unknown error';
}

const group = (n: number) => ({
  province: [{ id: 44, name: '广东省', value: n }],
  city: [{ id: 4401, name: '广州', value: n }],
  genders: [{ id: 1, name: '男', value: n }],
  platforms: [{ id: 1, name: 'iPhone', value: n }],
  devices: [{ name: 'Apple iPhone 13', value: n }],
  ages: [{ id: 2, name: '18-24岁', value: n }],
});

/** WeChat's answers, shaped as the references give them. */
export function defaultAnswers(): Record<string, Record<string, unknown>> {
  const trend = { list: [{ ref_date: '20261127', session_cnt: 12, visit_pv: 40, visit_uv: 9, visit_uv_new: 3, stay_time_uv: 61.5, stay_time_session: 46.125, visit_depth: 2.25 }] };
  const retain = { ref_date: '20261127', visit_uv_new: [{ key: 0, value: 3 }], visit_uv: [{ key: 0, value: 9 }] };
  return {
    getUserPortrait: { ref_date: '20261121-20261127', visit_uv_new: group(2), visit_uv: group(5) },
    getDailySummary: { list: [{ ref_date: '20261127', visit_total: 120, share_pv: 4, share_uv: 3 }] },
    getDailyVisitTrend: trend,
    getWeeklyVisitTrend: { list: [{ ...trend.list[0], ref_date: '20261116-20261122' }] },
    getMonthlyVisitTrend: { list: [{ ...trend.list[0], ref_date: '202610' }] },
    getVisitDistribution: {
      ref_date: '20261127',
      list: [
        { index: 'access_source_session_cnt', item_list: [{ key: 1, value: 10 }, { key: 10, value: 2 }] },
        { index: 'access_source_visit_uv', item_list: [{ key: 1, value: 8 }] },
        { index: 'access_staytime_info', item_list: [{ key: 3, value: 12 }] },
        { index: 'access_depth_info', item_list: [{ key: 2, value: 12 }] },
      ],
    },
    getVisitPage: {
      ref_date: '20261127',
      list: [{ page_path: 'pages/index/index', page_visit_pv: 30, page_visit_uv: 9, page_staytime_pv: 12.5, entrypage_pv: 12, exitpage_pv: 7, page_share_pv: 4, page_share_uv: 3 }],
    },
    getDailyRetain: retain,
    getWeeklyRetain: { ...retain, ref_date: '20261116-20261122' },
    getMonthlyRetain: { ...retain, ref_date: '202610' },
  };
}

const API_BY_PATH = new Map(Object.entries(ANALYSIS_PATHS).map(([name, path]) => [path, name]));

/** Starts the stand-in on loopback, port 0; `prefix` serves everything under a path (`/wechat`). */
export async function startStandIn(opts: { prefix?: string } = {}): Promise<StandIn> {
  const prefix = opts.prefix ?? '';
  const faults: Record<StandInRoute, Fault[]> = { stable_token: [], token: [], datacube: [], events: [] };
  const tokens = new Map<string, 'ok' | 'revoked' | 'expired'>();
  let stable: { token: string; expiresAt: number } | undefined;
  let tokenCount = 0;

  const s: StandIn = {
    url: '',
    requests: [],
    tokenRequests: () => tokenCount,
    fault: (route, ...f) => faults[route].push(...f),
    reset: () => {
      tokens.clear();
      stable = undefined;
      for (const list of Object.values(faults)) list.length = 0;
      s.requests.length = 0;
      s.events.clear();
      s.malformed = 0;
      s.answers = defaultAnswers();
      s.tokenDelayMs = 0;
      s.tokenTtlSeconds = 7200;
    },
    revokeTokens: () => {
      for (const t of tokens.keys()) tokens.set(t, 'revoked');
      stable = undefined;
    },
    expireTokens: () => {
      for (const t of tokens.keys()) tokens.set(t, 'expired');
      stable = undefined;
    },
    events: new Map(),
    malformed: 0,
    answers: defaultAnswers(),
    tokenDelayMs: 0,
    tokenTtlSeconds: 7200,
    close: () => new Promise((r) => server.close(() => r())),
  };

  const issue = (): string => {
    const t = randomBytes(48).toString('base64url');
    tokens.set(t, 'ok');
    return t;
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void handle(req, res, Buffer.concat(chunks).toString('utf8'));
    });
  });

  const send = (res: http.ServerResponse, body: unknown, status = 200, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json; encoding=utf-8', ...headers });
    res.end(JSON.stringify(body));
  };
  const error = (res: http.ServerResponse, errcode: number, status = 200, retryAfter?: number) =>
    send(res, { errcode, errmsg: `${textOf(errcode)} rid: ${rid()}` }, status, retryAfter === undefined ? {} : { 'retry-after': String(retryAfter) });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, body: string): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const path = url.pathname.startsWith(prefix) ? url.pathname.slice(prefix.length) : '(outside the prefix)';
    s.requests.push({ at: Date.now(), method: req.method ?? '', path, query: url.searchParams, body });
    const route: StandInRoute | undefined =
      path === '/cgi-bin/stable_token' ? 'stable_token' : path === '/cgi-bin/token' ? 'token' : path.startsWith('/datacube/') ? 'datacube' : path === '/v1/events' ? 'events' : undefined;
    if (!route) return send(res, { errcode: 40066, errmsg: `invalid url rid: ${rid()}` }, 404);
    if (route === 'stable_token' || route === 'token') {
      tokenCount++;
      if (s.tokenDelayMs > 0) await new Promise((r) => setTimeout(r, s.tokenDelayMs));
    }
    const f = faults[route].shift();
    if (f && 'hangMs' in f) await new Promise((r) => setTimeout(r, f.hangMs));
    else if (f && 'drop' in f) return void req.socket.destroy();
    else if (f && 'htmlStatus' in f) {
      res.writeHead(f.htmlStatus, { 'content-type': 'text/html' });
      return void res.end(`<html><body><h1>${f.htmlStatus} Bad Gateway</h1></body></html>`);
    } else if (f && 'errcode' in f) return error(res, f.errcode, f.status, f.retryAfter);

    if (route === 'stable_token' || route === 'token') {
      let appid: unknown;
      let secret: unknown;
      let grant: unknown;
      let force: unknown = false;
      if (route === 'token') {
        if (req.method !== 'GET') return error(res, 40066);
        appid = url.searchParams.get('appid');
        secret = url.searchParams.get('secret');
        grant = url.searchParams.get('grant_type');
      } else {
        let b: Record<string, unknown>;
        try {
          b = JSON.parse(body) as Record<string, unknown>;
        } catch {
          return error(res, 47001);
        }
        ({ appid, secret, grant_type: grant, force_refresh: force } = b);
      }
      if (grant !== 'client_credential') return error(res, 40002);
      if (appid !== STAND_IN_APPID) return error(res, 40013);
      if (secret !== STAND_IN_SECRET) return error(res, 40125);
      if (route === 'token') return send(res, { access_token: issue(), expires_in: s.tokenTtlSeconds });
      const now = Date.now();
      if (force === true || !stable || stable.expiresAt <= now) stable = { token: issue(), expiresAt: now + s.tokenTtlSeconds * 1000 };
      return send(res, { access_token: stable.token, expires_in: Math.floor((stable.expiresAt - now) / 1000) });
    }

    const token = url.searchParams.get('access_token');
    if (!token) return error(res, 41001);
    const state = tokens.get(token);
    if (state === undefined || state === 'revoked') return error(res, 40001);
    if (state === 'expired') return error(res, 42001);

    if (route === 'datacube') {
      const api = API_BY_PATH.get(path.slice('/datacube/'.length));
      if (!api) return error(res, 48001);
      let b: Record<string, unknown>;
      try {
        b = JSON.parse(body) as Record<string, unknown>;
      } catch {
        return error(res, 47001);
      }
      const date = /^\d{8}$/;
      if (typeof b.begin_date !== 'string' || typeof b.end_date !== 'string' || !date.test(b.begin_date) || !date.test(b.end_date)) return error(res, 61500);
      if (b.begin_date > b.end_date) return error(res, 61501);
      return send(res, s.answers[api] ?? {});
    }

    // POST /v1/events
    let list: unknown;
    try {
      list = JSON.parse(body);
    } catch {
      return error(res, 47001);
    }
    if (!Array.isArray(list)) return error(res, 47001);
    let accepted = 0;
    let duplicates = 0;
    const rejected: { index: number; errcode: number; errmsg: string }[] = [];
    list.forEach((e: unknown, index) => {
      const ev = e as Record<string, unknown>;
      if (typeof ev.openid !== 'string' || ev.openid === '') {
        s.malformed++;
        rejected.push({ index, errcode: 47001, errmsg: 'openid: required' });
        return;
      }
      const id = String(ev.event_id);
      if (s.events.has(id)) duplicates++;
      else {
        s.events.set(id, ev);
        accepted++;
      }
    });
    if (f && 'dropAfterStore' in f) return void req.socket.destroy();
    return send(res, { errcode: 0, errmsg: 'ok', accepted, duplicates, rejected });
  }

  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  s.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${prefix}`;
  return s;
}
