import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../domain/clock.ts';
import { ANALYSIS_API_NAMES, ANALYSIS_PATHS } from './apis.ts';
import { MemoryTokenStore, type TokenStore, WeChatApiError, WeChatClient, type WeChatClientOptions } from './index.ts';
import { startStandIn, STAND_IN_APPID, STAND_IN_SECRET, type StandIn } from './testing.ts';

// The SDK against a local stand-in for api.weixin.qq.com that answers with WeChat's real bodies and can be
// told to fail: token handling, retries, timeouts, errors, URLs.

const RID = /^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$/;
const WEEK = { beginDate: '20261121', endDate: '20261127' };

async function failure(p: Promise<unknown>): Promise<WeChatApiError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof WeChatApiError) return e;
    throw e;
  }
  throw new Error('expected the call to fail');
}

describe('WeChatClient against a WeChat stand-in', () => {
  let w: StandIn;
  const client = (o: Partial<WeChatClientOptions> = {}) =>
    new WeChatClient({ appid: STAND_IN_APPID, secret: STAND_IN_SECRET, baseUrl: w.url, backoff: { baseMs: 5, maxMs: 20 }, ...o });
  const datacubeRequests = () => w.requests.filter((r) => r.path.startsWith('/datacube/')).length;

  beforeAll(async () => {
    w = await startStandIn();
  });
  afterEach(() => {
    w.reset();
  });
  afterAll(async () => {
    await w.close();
  });

  it('returns the portrait in the cloud-call shape with typed items, and WeChat’s exact JSON from the raw form', async () => {
    const c = client();
    const p = await c.analysis.getUserPortrait(WEEK);
    expect(p).toEqual({
      refDate: '20261121-20261127',
      visitUvNew: {
        province: [{ id: 44, name: '广东省', value: 2 }],
        city: [{ id: 4401, name: '广州', value: 2 }],
        genders: [{ id: 1, name: '男', value: 2 }],
        platforms: [{ id: 1, name: 'iPhone', value: 2 }],
        devices: [{ name: 'Apple iPhone 13', value: 2 }],
        ages: [{ id: 2, name: '18-24岁', value: 2 }],
      },
      visitUv: expect.objectContaining({ province: [{ id: 44, name: '广东省', value: 5 }] }) as unknown,
      errMsg: 'openapi.analysis.getUserPortrait:ok',
      errCode: 0,
    });
    const raw = await c.datacube.getUserPortraitRaw({ begin_date: '20261121', end_date: '20261127' });
    expect(raw).toEqual(w.answers.getUserPortrait);
    const call = w.requests.find((r) => r.path === '/datacube/getweanalysisappiduserportrait');
    expect(call?.method).toBe('POST');
    expect(JSON.parse(call?.body ?? '')).toEqual({ begin_date: '20261121', end_date: '20261127' });
  });

  it('gives every API of the analysis family both forms, on its own path', async () => {
    const c = client();
    const camel = {
      getUserPortrait: c.analysis.getUserPortrait.bind(c.analysis),
      getDailySummary: c.analysis.getDailySummary.bind(c.analysis),
      getDailyVisitTrend: c.analysis.getDailyVisitTrend.bind(c.analysis),
      getWeeklyVisitTrend: c.analysis.getWeeklyVisitTrend.bind(c.analysis),
      getMonthlyVisitTrend: c.analysis.getMonthlyVisitTrend.bind(c.analysis),
      getVisitDistribution: c.analysis.getVisitDistribution.bind(c.analysis),
      getVisitPage: c.analysis.getVisitPage.bind(c.analysis),
      getDailyRetain: c.analysis.getDailyRetain.bind(c.analysis),
      getWeeklyRetain: c.analysis.getWeeklyRetain.bind(c.analysis),
      getMonthlyRetain: c.analysis.getMonthlyRetain.bind(c.analysis),
    };
    const raw = {
      getUserPortrait: c.datacube.getUserPortraitRaw.bind(c.datacube),
      getDailySummary: c.datacube.getDailySummaryRaw.bind(c.datacube),
      getDailyVisitTrend: c.datacube.getDailyVisitTrendRaw.bind(c.datacube),
      getWeeklyVisitTrend: c.datacube.getWeeklyVisitTrendRaw.bind(c.datacube),
      getMonthlyVisitTrend: c.datacube.getMonthlyVisitTrendRaw.bind(c.datacube),
      getVisitDistribution: c.datacube.getVisitDistributionRaw.bind(c.datacube),
      getVisitPage: c.datacube.getVisitPageRaw.bind(c.datacube),
      getDailyRetain: c.datacube.getDailyRetainRaw.bind(c.datacube),
      getWeeklyRetain: c.datacube.getWeeklyRetainRaw.bind(c.datacube),
      getMonthlyRetain: c.datacube.getMonthlyRetainRaw.bind(c.datacube),
    };
    expect(ANALYSIS_API_NAMES).toHaveLength(10);
    for (const name of ANALYSIS_API_NAMES) {
      w.requests.length = 0;
      const r = await raw[name]({ begin_date: '20261127', end_date: '20261127' });
      expect(r, name).toEqual(w.answers[name]);
      const a = await camel[name]({ beginDate: '20261127', endDate: '20261127' });
      expect(a.errMsg, name).toBe(`openapi.analysis.${name}:ok`);
      expect(a.errCode, name).toBe(0);
      expect(w.requests.filter((q) => q.path.startsWith('/datacube/')).map((q) => q.path), name).toEqual([
        `/datacube/${ANALYSIS_PATHS[name]}`,
        `/datacube/${ANALYSIS_PATHS[name]}`,
      ]);
    }
    const d = await c.analysis.getVisitDistribution({ beginDate: '20261127', endDate: '20261127' });
    expect(d.list[0]).toEqual({ index: 'access_source_session_cnt', itemList: [{ key: 1, value: 10 }, { key: 10, value: 2 }] });
    const pg = await c.analysis.getVisitPage({ beginDate: '20261127', endDate: '20261127' });
    expect(pg.list[0]).toEqual({
      pagePath: 'pages/index/index',
      pageVisitPv: 30,
      pageVisitUv: 9,
      pageStaytimePv: 12.5,
      entrypagePv: 12,
      exitpagePv: 7,
      pageSharePv: 4,
      pageShareUv: 3,
    });
    const t = await c.analysis.getWeeklyVisitTrend({ beginDate: '20261116', endDate: '20261122' });
    expect(t.list[0]).toMatchObject({ refDate: '20261116-20261122', sessionCnt: 12, visitUvNew: 3, stayTimeSession: 46.125, visitDepth: 2.25 });
    const rt = await c.analysis.getMonthlyRetain({ beginDate: '20261001', endDate: '20261031' });
    expect(rt).toEqual({ refDate: '202610', visitUvNew: [{ key: 0, value: 3 }], visitUv: [{ key: 0, value: 9 }], errMsg: 'openapi.analysis.getMonthlyRetain:ok', errCode: 0 });
  });

  it('builds every URL, the token route included, from baseUrl (with a path prefix) and uses stable_token by default', async () => {
    const prefixed = await startStandIn({ prefix: '/wechat/api' });
    try {
      const c = new WeChatClient({ appid: STAND_IN_APPID, secret: STAND_IN_SECRET, baseUrl: `${prefixed.url}/` });
      await c.analysis.getUserPortrait(WEEK);
      expect(prefixed.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /cgi-bin/stable_token', 'POST /datacube/getweanalysisappiduserportrait']);
      expect(JSON.parse(prefixed.requests[0]?.body ?? '')).toEqual({ grant_type: 'client_credential', appid: STAND_IN_APPID, secret: STAND_IN_SECRET, force_refresh: false });
      expect(prefixed.requests[1]?.query.get('access_token')).toMatch(/.{40,}/);

      const classic = new WeChatClient({ appid: STAND_IN_APPID, secret: STAND_IN_SECRET, baseUrl: prefixed.url, tokenEndpoint: 'token' });
      prefixed.requests.length = 0;
      await classic.datacube.getUserPortraitRaw({ begin_date: '20261121', end_date: '20261127' });
      expect(prefixed.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /cgi-bin/token', 'POST /datacube/getweanalysisappiduserportrait']);
      expect(prefixed.requests[0]?.query.get('secret')).toBe(STAND_IN_SECRET);
    } finally {
      await prefixed.close();
    }
  });

  it('makes one token request for 50 concurrent calls', async () => {
    w.tokenDelayMs = 100;
    const c = client();
    const before = w.tokenRequests();
    const answers = await Promise.all(Array.from({ length: 50 }, () => c.analysis.getUserPortrait(WEEK)));
    expect(answers).toHaveLength(50);
    expect(w.tokenRequests() - before).toBe(1);
    expect(datacubeRequests()).toBe(50);
    expect(new Set(w.requests.filter((r) => r.path.startsWith('/datacube/')).map((r) => r.query.get('access_token'))).size).toBe(1);
  });

  it('keeps a token until 5 minutes before it expires, on the injected clock', async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 28, 2));
    const c = client({ clock });
    const before = w.tokenRequests();
    await c.analysis.getUserPortrait(WEEK);
    clock.advance((7200 - 300 - 1) * 1000);
    await c.analysis.getUserPortrait(WEEK);
    expect(w.tokenRequests() - before).toBe(1);
    clock.advance(2000);
    await c.analysis.getUserPortrait(WEEK);
    expect(w.tokenRequests() - before).toBe(2);
  });

  it('shares one token between two clients through a tokenStore (and through a plain Map)', async () => {
    const entries = new Map<string, { token: string; until: number }>();
    const ttls: number[] = [];
    const store: TokenStore = {
      get: async (key) => {
        const e = entries.get(key);
        return e && e.until > Date.now() ? e.token : undefined;
      },
      set: async (key, token, ttlSeconds) => {
        ttls.push(ttlSeconds);
        entries.set(key, { token, until: Date.now() + ttlSeconds * 1000 });
      },
    };
    const before = w.tokenRequests();
    await client({ tokenStore: store }).analysis.getUserPortrait(WEEK);
    await client({ tokenStore: store }).datacube.getUserPortraitRaw({ begin_date: '20261121', end_date: '20261127' });
    expect(w.tokenRequests() - before).toBe(1);
    expect(ttls).toEqual([7200 - 300]);
    const used = w.requests.filter((r) => r.path.startsWith('/datacube/')).map((r) => r.query.get('access_token'));
    expect(used[0]).toBe(used[1]);

    const map = new Map<string, string>();
    await client({ tokenStore: map, tokenEndpoint: 'token' }).analysis.getUserPortrait(WEEK);
    await client({ tokenStore: map, tokenEndpoint: 'token' }).analysis.getUserPortrait(WEEK);
    expect(w.tokenRequests() - before).toBe(2);
    expect([...map.values()]).toHaveLength(1);
  });

  it('drops a refused token (40001, 42001), gets another and retries once; 50 refused calls cause one refresh', async () => {
    const c = client();
    await c.analysis.getUserPortrait(WEEK);
    const before = w.tokenRequests();
    w.revokeTokens();
    await c.analysis.getUserPortrait(WEEK);
    expect(w.tokenRequests() - before).toBe(1);
    w.expireTokens();
    w.tokenDelayMs = 50;
    await Promise.all(Array.from({ length: 50 }, () => c.analysis.getUserPortrait(WEEK)));
    expect(w.tokenRequests() - before).toBe(2);

    // Refused again after the new token: the error comes back, after exactly one retry.
    w.requests.length = 0;
    w.fault('datacube', { errcode: 40001 }, { errcode: 40001 });
    const e = await failure(c.analysis.getUserPortrait(WEEK));
    expect(e.errcode).toBe(40001);
    expect(e.kind).toBe('auth');
    expect(datacubeRequests()).toBe(2);
  });

  it('forces a new stable token when the refused one comes back unchanged', async () => {
    const c = client();
    await c.analysis.getUserPortrait(WEEK);
    w.requests.length = 0;
    w.fault('datacube', { errcode: 40001 });
    await c.analysis.getUserPortrait(WEEK);
    const tokenBodies = w.requests.filter((r) => r.path === '/cgi-bin/stable_token').map((r) => (JSON.parse(r.body) as { force_refresh: boolean }).force_refresh);
    expect(tokenBodies).toEqual([false, true]);
  });

  it('retries -1, 45011 and network failures with backoff, honouring Retry-After; never 45009', async () => {
    const c = client({ retries: 3 });
    await c.getAccessToken();
    w.fault('datacube', { errcode: -1 }, { drop: true }, { htmlStatus: 502 });
    await c.analysis.getUserPortrait(WEEK);
    expect(datacubeRequests()).toBe(4);

    w.requests.length = 0;
    w.fault('datacube', { errcode: 45011, status: 429, retryAfter: 1 });
    await c.analysis.getUserPortrait(WEEK);
    const [first, second] = w.requests.filter((r) => r.path.startsWith('/datacube/'));
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(900);

    w.requests.length = 0;
    w.fault('datacube', { errcode: 45009 });
    const quota = await failure(c.analysis.getUserPortrait(WEEK));
    expect(quota).toMatchObject({ errcode: 45009, kind: 'quota', retryable: false });
    expect(quota.rid).toMatch(RID);
    expect(datacubeRequests()).toBe(1);

    w.requests.length = 0;
    w.fault('datacube', { htmlStatus: 404 });
    const page = await failure(c.analysis.getUserPortrait(WEEK));
    expect(page).toMatchObject({ errcode: -1, status: 404, kind: 'system' });
    expect(datacubeRequests()).toBe(1);
  });

  it('gives up after `retries` and throws the last error with its rid', async () => {
    const c = client({ retries: 2 });
    await c.getAccessToken();
    w.fault('datacube', { errcode: -1 }, { errcode: 45011, status: 429 }, { errcode: -1 });
    const e = await failure(c.analysis.getUserPortrait(WEEK));
    expect(e).toMatchObject({ errcode: -1, kind: 'system', api: 'getUserPortrait' });
    expect(e.rid).toMatch(RID);
    expect(e.errmsg).toMatch(/^system error rid: /);
    expect(datacubeRequests()).toBe(3);

    w.requests.length = 0;
    w.fault('datacube', { errcode: 45011, status: 429 });
    const r = await failure(client({ retries: 0 }).analysis.getUserPortrait(WEEK));
    expect(r).toMatchObject({ errcode: 45011, kind: 'rate-limit', status: 429 });
  });

  it('times out each attempt after timeoutMs, and retries it as a network failure', async () => {
    // Generous numbers: the machine running the tests may be busy, and only the hung request may time out.
    const c = client({ timeoutMs: 1000, retries: 0 });
    await c.getAccessToken();
    w.fault('datacube', { hangMs: 3000 });
    const e = await failure(c.analysis.getUserPortrait(WEEK));
    expect(e).toMatchObject({ errcode: -1, kind: 'system', rid: undefined });
    expect(e.errmsg).toMatch(/timeout/);

    w.fault('datacube', { hangMs: 3000 });
    const ok = await client({ timeoutMs: 1000, retries: 1 }).analysis.getUserPortrait(WEEK);
    expect(ok.errCode).toBe(0);

    const abort = new AbortController();
    w.fault('datacube', { hangMs: 3000 });
    const p = c.analysis.getUserPortrait(WEEK, { signal: abort.signal, timeoutMs: 5000 });
    abort.abort(new Error('the caller gave up'));
    await expect(p).rejects.toThrow('the caller gave up');
  });

  it('throws WeChat’s errors typed: errcode, errmsg, rid and kind', async () => {
    const c = client();
    const fmt = await failure(c.analysis.getUserPortrait({ beginDate: '2026-11-21', endDate: '20261127' }));
    expect(fmt).toBeInstanceOf(WeChatApiError);
    expect(fmt).toMatchObject({ errcode: 61500, kind: 'invalid-argument', name: 'WeChatApiError' });
    expect(fmt.errmsg).toMatch(/^date format error rid: /);
    expect(fmt.rid).toMatch(RID);

    const before = w.tokenRequests();
    const bad = await failure(client({ secret: 'wrong' }).analysis.getUserPortrait(WEEK));
    expect(bad).toMatchObject({ errcode: 40125, kind: 'auth', api: 'stable_token' });
    expect(w.tokenRequests() - before).toBe(1);
    const appid = await failure(client({ appid: 'wxnobody' }).datacube.getUserPortraitRaw({ begin_date: '20261121', end_date: '20261127' }));
    expect(appid).toMatchObject({ errcode: 40013, kind: 'auth' });
  });

  it('sends Dates as the Shanghai day that contains them, whatever the host’s zone', async () => {
    const zone = process.env.TZ;
    process.env.TZ = 'America/Los_Angeles';
    try {
      const c = client();
      // 16:30 UTC on the 20th is 00:30 on the 21st in Shanghai (and the 20th in Los Angeles).
      await c.analysis.getUserPortrait({ beginDate: new Date('2026-11-20T16:30:00Z'), endDate: new Date('2026-11-27T15:59:59.999Z') });
      await c.datacube.getUserPortraitRaw({ begin_date: new Date('2026-11-20T16:00:00Z'), end_date: '20261127' });
      const bodies = w.requests.filter((r) => r.path.startsWith('/datacube/')).map((r) => JSON.parse(r.body) as unknown);
      expect(bodies).toEqual([
        { begin_date: '20261121', end_date: '20261127' },
        { begin_date: '20261121', end_date: '20261127' },
      ]);
      await expect(c.analysis.getUserPortrait({ beginDate: new Date('nonsense'), endDate: '20261127' })).rejects.toThrow(/beginDate is an invalid Date/);
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
  });

  it('refuses options that cannot work, saying which', () => {
    expect(() => new WeChatClient({ appid: '', secret: 's' })).toThrow(/appid/);
    expect(() => new WeChatClient({ appid: 'a', secret: 's', baseUrl: 'ftp://x' })).toThrow(/baseUrl/);
    expect(() => new WeChatClient({ appid: 'a', secret: 's', retries: -1 })).toThrow(/retries/);
    expect(new MemoryTokenStore().get('nothing')).toBeUndefined();
  });
});
