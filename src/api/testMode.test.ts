import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { seededAppCredentials } from '../auth/index.ts';
import { LocalBackend } from '../cli/localBackend.ts';
import { fillDemo } from '../cli/fillDemo.ts';
import { ManualClock } from '../domain/clock.ts';
import { dayOf, formatDay, startOfDay } from '../domain/day.ts';
import { FaultBook, parseInstant, TestMode } from '../testmode/index.ts';
import { OPEN_APIS } from './openApis.ts';
import { startTestServer, type TestServer } from './testing.ts';
import { cloudFor, thrown } from './wxCloud.suite.ts';

// The real server (DuckDB file, port 0) in test mode: its clock moves only when a test moves it, and fault rules
// answer the WeChat routes and /tcb (through the real wx-server-sdk) exactly as often as asked.

const START = parseInstant('2026-06-15T10:00:00+08:00');
const SEED = 42;
const PORTRAIT = '/datacube/getweanalysisappiduserportrait';

interface Raw {
  status: number;
  headers: Headers;
  json: Record<string, unknown>;
  ms: number;
}

describe('test mode', () => {
  let tm: TestMode;
  let t: TestServer;
  let app: { appid: string; secret: string };

  const call = async (method: string, path: string, body?: unknown, init?: RequestInit): Promise<Raw> => {
    const started = performance.now();
    const r = await fetch(t.url + path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      ...init,
    });
    const text = await r.text();
    return { status: r.status, headers: r.headers, json: JSON.parse(text) as Record<string, unknown>, ms: performance.now() - started };
  };
  const setClock = (set: string) => call('POST', '/__datacube/clock', { set });
  const advance = (by: string) => call('POST', '/__datacube/clock', { advance: by });
  const addFaults = async (rules: unknown) => {
    const r = await call('POST', '/__datacube/faults', rules);
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    const all = r.json as unknown as { id: number }[];
    return all.slice(all.length - (Array.isArray(rules) ? rules.length : 1));
  };
  const firedCounts = async () => ((await call('GET', '/__datacube/faults')).json as unknown as { id: number; fired: number }[]).map((r) => r.fired);
  const tokenRaw = (a = app) => call('GET', `/cgi-bin/token?grant_type=client_credential&appid=${a.appid}&secret=${a.secret}`);
  const token = async (a = app) => {
    const r = await tokenRaw(a);
    if (typeof r.json.access_token !== 'string') throw new Error(JSON.stringify(r.json));
    return r.json.access_token;
  };
  const portrait = (tok: string, begin: string, end = begin) => call('POST', `${PORTRAIT}?access_token=${tok}`, { begin_date: begin, end_date: end });

  beforeAll(async () => {
    tm = new TestMode({ clockMs: START, seed: SEED, apis: OPEN_APIS });
    t = await startTestServer({ clock: tm.clock, server: { testMode: tm } });
    const demo = await fillDemo(new LocalBackend(t.services), t.dataDir, tm.clock, { users: 60, days: 7, seed: SEED });
    app = demo.credentials;
  });
  afterAll(async () => {
    await t.stop(true);
  });
  beforeEach(async () => {
    await call('DELETE', '/__datacube/faults');
    await setClock('2026-06-15T10:00:00+08:00');
  });

  describe('clock', () => {
    it('stands still until moved; advance and set answer the new time', async () => {
      const a = await call('GET', '/__datacube/clock');
      expect(a.json).toEqual({ now: '2026-06-15T10:00:00+08:00', nowMs: START, today: '20260615', yesterday: '20260614' });
      await new Promise((r) => setTimeout(r, 30));
      expect((await call('GET', '/__datacube/clock')).json.nowMs).toBe(START);
      const b = await advance('2h');
      expect(b.status).toBe(200);
      expect(b.json).toMatchObject({ now: '2026-06-15T12:00:00+08:00', nowMs: START + 7_200_000 });
      expect((await advance('14h')).json).toMatchObject({ now: '2026-06-16T02:00:00+08:00', today: '20260616', yesterday: '20260615' });
      expect((await setClock('2026-07-01T00:00:00Z')).json).toMatchObject({ now: '2026-07-01T08:00:00+08:00', today: '20260701' });
      expect(tm.clock.now()).toBe(Date.parse('2026-07-01T00:00:00Z'));
    });

    it('refuses bodies it cannot read, with a message', async () => {
      for (const body of ['', 'nope', '[]', '{}', '{"advance":"2h","set":"2026-06-15"}', '{"advance":"-2h"}', '{"advance":"soon"}', '{"set":"2026-02-30"}', '{"later":"2h"}',
        // Past 9999 (a clock past year 275760 left every later answer a system error), and offsets past ±14:00.
        '{"advance":"99999999d"}', '{"set":"999999999999999"}', '{"set":"2026-06-15T10:00:00+14:59"}']) {
        const r = await call('POST', '/__datacube/clock', body);
        expect(r.status, body).toBe(400);
        expect(typeof r.json.error, body).toBe('string');
      }
      expect(tm.clock.now()).toBe(START);
    });

    it('moves the windows: the end may be at most yesterday by the test clock', async () => {
      const tok = await token();
      expect((await portrait(tok, '20260614')).json.ref_date).toBe('20260614');
      expect((await portrait(tok, '20260615')).json.errcode).toBe(61501);
      await advance('14h'); // 2026-06-16 00:00 in China (and the token ran out long ago)
      expect((await portrait(tok, '20260615')).json.errcode).toBe(42001);
      expect((await portrait(await token(), '20260615')).json.ref_date).toBe('20260615');
    });

    it('makes a token 42001 after 2 hours, and a replaced one 40001 after the 5-minute overlap', async () => {
      const first = await token();
      await advance('1h59m59s');
      expect((await portrait(first, '20260614')).json.ref_date).toBe('20260614');
      await advance('1s');
      expect((await portrait(first, '20260614')).json.errcode).toBe(42001);

      const a = await token();
      const b = await token();
      await advance('4m59s');
      expect((await portrait(a, '20260614')).json.ref_date).toBe('20260614');
      await advance('1s');
      expect((await portrait(a, '20260614')).json.errcode).toBe(40001);
      expect((await portrait(b, '20260614')).json.ref_date).toBe('20260614');
      // stable_token's expires_in counts down with the clock.
      const body = { grant_type: 'client_credential', appid: app.appid, secret: app.secret };
      const s1 = await call('POST', '/cgi-bin/stable_token', body);
      await advance('10m');
      const s2 = await call('POST', '/cgi-bin/stable_token', body);
      expect(s2.json.access_token).toBe(s1.json.access_token);
      expect(s2.json.expires_in).toBe(Number(s1.json.expires_in) - 600);
    });

    it('counts quotas per test day, and force_refresh gaps by the test clock', async () => {
      const limited = await t.newApp({ dailyQuota: 2 });
      const tok = await token(limited);
      expect((await portrait(tok, '20260614')).json.errcode).toBeUndefined();
      expect((await portrait(tok, '20260614')).json.errcode).toBeUndefined();
      expect((await portrait(tok, '20260614')).json.errcode).toBe(45009);
      await advance('13h59m');
      expect((await portrait(await token(limited), '20260614')).json.errcode).toBe(45009);
      await advance('1m'); // a new day in China
      expect((await portrait(await token(limited), '20260615')).json.ref_date).toBe('20260615');

      const body = { grant_type: 'client_credential', appid: limited.appid, secret: limited.secret, force_refresh: true };
      expect((await call('POST', '/cgi-bin/stable_token', body)).json.access_token).toBeDefined();
      expect((await call('POST', '/cgi-bin/stable_token', body)).json.errcode).toBe(45009);
      await advance('30s');
      expect((await call('POST', '/cgi-bin/stable_token', body)).json.access_token).toBeDefined();
    });

    it("measures issue 10's token serialisation and wrong-secret limit by the test clock", async () => {
      // Concurrent /cgi-bin/token calls: the newest token lives its 2 hours, the others 5 minutes of test time.
      const a = await t.newApp();
      const toks = await Promise.all([0, 1, 2, 3].map(() => token(a)));
      await advance('4m59s');
      for (const tok of toks) expect((await portrait(tok, '20260614')).json.ref_date).toBe('20260614');
      await advance('1s');
      const codes = await Promise.all(toks.map(async (tok) => (await portrait(tok, '20260614')).json.errcode));
      expect(codes.filter((c) => c === 40001)).toHaveLength(3);
      const newest = toks[codes.indexOf(undefined)] ?? '';
      await advance('1h54m59s');
      expect((await portrait(newest, '20260614')).json.ref_date).toBe('20260614');
      await advance('1s');
      expect((await portrait(newest, '20260614')).json.errcode).toBe(42001);

      // Wrong secrets: 10 a minute per client address, then 45011 with a Retry-After counted on the test clock.
      // (Two weeks before the other tests' time, so these failures are long gone when they run.)
      await setClock('2026-06-01T10:00:00+08:00');
      const b = await t.newApp();
      for (let i = 0; i < 10; i++) expect((await tokenRaw({ appid: b.appid, secret: '0'.repeat(32) })).json.errcode).toBe(40125);
      const refused = await tokenRaw(b);
      expect(refused.status).toBe(429);
      expect(refused.json.errcode).toBe(45011);
      expect(refused.headers.get('retry-after')).toBe('60');
      await advance('59s');
      expect((await tokenRaw(b)).headers.get('retry-after')).toBe('1');
      await advance('1s');
      expect(typeof (await tokenRaw(b)).json.access_token).toBe('string');
    });

    it('writes request ids whose first group is the test clock in hex seconds', async () => {
      await setClock('2030-01-01T00:00:00+08:00');
      const r = await portrait('x'.repeat(64), '20291231');
      const rid = /rid: ([0-9a-f]{8})-[0-9a-f]{8}-[0-9a-f]{8}$/.exec(String(r.json.errmsg));
      expect(rid?.[1]).toBe(Math.floor(parseInstant('2030-01-01T00:00:00+08:00') / 1000).toString(16));
    });
  });

  describe('faults over HTTPS-style calls', () => {
    it('an errcode rule on token fires exactly `times` times, with WeChat errmsg and a rid', async () => {
      const [rule] = await addFaults({ route: 'token', errcode: -1, times: 2 });
      const answers = [await tokenRaw(), await tokenRaw(), await tokenRaw()];
      expect(answers.map((a) => a.json.errcode)).toEqual([-1, -1, undefined]);
      expect(answers[0]?.status).toBe(200);
      expect(String(answers[0]?.json.errmsg)).toMatch(/^system error rid: [0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$/);
      expect(answers[0]?.headers.get('x-datacube-fault')).toBe(String(rule?.id));
      expect(typeof answers[2]?.json.access_token).toBe('string');
      expect(await firedCounts()).toEqual([2]);
    });

    it('an analysis rule fires by any of its names; a 40001 rule makes a good token fail once', async () => {
      const tok = await token();
      await addFaults([
        { route: 'analysis.getUserPortrait', errcode: 40001, times: 1 },
        { route: 'getUserPortrait', errcode: 42001, times: 1 },
        { route: 'getweanalysisappiduserportrait', errcode: 45009, times: 1 },
      ]);
      const codes: unknown[] = [];
      for (let i = 0; i < 4; i++) codes.push((await portrait(tok, '20260614')).json.errcode);
      expect(codes).toEqual([40001, 42001, 45009, undefined]);
      const r = await portrait(tok, '20260614');
      expect(r.json.ref_date).toBe('20260614');
      expect(await firedCounts()).toEqual([1, 1, 1]);
      const errmsg = (await call('GET', '/__datacube/faults')).json;
      expect(JSON.stringify(errmsg)).not.toContain(tok);
    });

    it('a stable_token rule with an appid fires only for that app', async () => {
      const other = await t.newApp();
      await addFaults({ route: 'stable_token', appid: app.appid, errcode: 45009, times: 2 });
      const body = (a: { appid: string; secret: string }) => ({ grant_type: 'client_credential', appid: a.appid, secret: a.secret });
      expect((await call('POST', '/cgi-bin/stable_token', body(other))).json.access_token).toBeDefined();
      expect((await call('POST', '/cgi-bin/stable_token', body(app))).json.errcode).toBe(45009);
      expect((await call('POST', '/cgi-bin/stable_token', body(other))).json.access_token).toBeDefined();
      expect((await call('POST', '/cgi-bin/stable_token', body(app))).json.errcode).toBe(45009);
      expect((await call('POST', '/cgi-bin/stable_token', body(app))).json.access_token).toBeDefined();
      expect(await firedCounts()).toEqual([2]);
    });

    it('an events rule refuses the batch (45011 with HTTP 429 and Retry-After) and stores nothing', async () => {
      const tok = await token();
      const before = await t.services.store.countEvents(app.appid);
      await addFaults({ route: 'events', errcode: 45011, times: 1 });
      const batch = [{ openid: 'fault-user', time: START - 3_600_000, event_id: 'fault-1' }];
      const refused = await call('POST', `/v1/events?access_token=${tok}`, batch);
      expect(refused.status).toBe(429);
      expect(refused.headers.get('retry-after')).toBe('1');
      expect(refused.json.errcode).toBe(45011);
      expect(await t.services.store.countEvents(app.appid)).toBe(before);
      const stored = await call('POST', `/v1/events?access_token=${tok}`, batch);
      expect(stored.json).toMatchObject({ errcode: 0, accepted: 1 });
      expect(await t.services.store.countEvents(app.appid)).toBe(before + 1);
    });

    it('a collect rule (the tracker\'s /v1/collect) fires for its app, with 429 for 45011', async () => {
      await addFaults({ route: 'collect', appid: app.appid, errcode: 45011, times: 1 });
      const send = () =>
        call('POST', `/v1/collect?appid=${app.appid}`, undefined, {
          body: JSON.stringify([{ openid: 'tracker-user', time: START - 60_000, event_id: 'collect-1' }]),
          headers: { 'content-type': 'application/json', referer: `https://servicewechat.com/${app.appid}/1/page-frame.html` },
        });
      const refused = await send();
      expect([refused.status, refused.json.errcode, refused.headers.get('retry-after')]).toEqual([429, 45011, '1']);
      const stored = await send();
      expect(stored.json).toMatchObject({ errcode: 0, accepted: 1 });
      expect(await firedCounts()).toEqual([1]);
    });

    it('an httpStatus rule answers that status with a JSON errcode, exactly `times` times', async () => {
      const tok = await token();
      await addFaults({ route: 'getUserPortrait', httpStatus: 503, times: 2 });
      const answers = [await portrait(tok, '20260614'), await portrait(tok, '20260614'), await portrait(tok, '20260614')];
      expect(answers.map((a) => a.status)).toEqual([503, 503, 200]);
      expect(answers[0]?.json.errcode).toBe(-1);
      expect(String(answers[0]?.json.errmsg)).toMatch(/^system error rid: /);
      expect(answers[2]?.json.ref_date).toBe('20260614');
    });

    it('a delay rule answers late (then normally), exactly `times` times', async () => {
      const tok = await token();
      const [rule] = await addFaults({ route: 'getUserPortrait', delayMs: 400, times: 1 });
      const late = await portrait(tok, '20260614');
      expect(late.ms).toBeGreaterThanOrEqual(390);
      expect(late.json.ref_date).toBe('20260614');
      expect(late.headers.get('x-datacube-fault')).toBe(String(rule?.id));
      const next = await portrait(tok, '20260614');
      expect(next.headers.get('x-datacube-fault')).toBeNull();
      expect(await firedCounts()).toEqual([1]);
    });

    it('fires exactly `times` times under concurrent calls', async () => {
      const tok = await token();
      await addFaults({ route: 'getUserPortrait', errcode: -1, times: 5 });
      const answers = await Promise.all(Array.from({ length: 20 }, () => portrait(tok, '20260614')));
      expect(answers.filter((a) => a.json.errcode === -1)).toHaveLength(5);
      expect(answers.filter((a) => a.json.ref_date === '20260614')).toHaveLength(15);
    });

    it('ratio rules fire on the calls the seed picks, the same on every run', async () => {
      const tok = await token();
      const [rule] = await addFaults({ route: 'getUserPortrait', errcode: -1, ratio: 0.4 });
      const seen: number[] = [];
      for (let i = 0; i < 30; i++) seen.push((await portrait(tok, '20260614')).json.errcode === -1 ? 1 : 0);
      // The same rule id and seed in a fresh book draw the same.
      const twin = new FaultBook({ apis: OPEN_APIS, seed: SEED });
      for (let id = 1; id < (rule?.id ?? 1); id++) twin.add({ route: 'token', errcode: -1 });
      twin.add({ route: 'getUserPortrait', errcode: -1, ratio: 0.4 });
      const expected = Array.from({ length: 30 }, () => (twin.match({ route: 'api', api: 'analysis.getUserPortrait' }) ? 1 : 0));
      expect(seen).toEqual(expected);
      expect(seen.reduce((a, b) => a + b, 0)).toBeGreaterThan(3);
      expect(seen.reduce((a, b) => a + b, 0)).toBeLessThan(27);
    });

    it('lists rules with their counts, clears one or all, and refuses bad rules with a reason', async () => {
      const [a, b] = await addFaults([{ route: 'token', errcode: 40013, times: 1 }, { route: 'events', delayMs: 10 }]);
      await tokenRaw();
      const listed = (await call('GET', '/__datacube/faults')).json;
      expect(listed).toEqual([
        { id: a?.id, route: 'token', errcode: 40013, times: 1, fired: 1, matched: 1 },
        { id: b?.id, route: 'events', delayMs: 10, fired: 0, matched: 0 },
      ]);
      expect((await call('DELETE', `/__datacube/faults/${a?.id}`)).json).toEqual([{ id: b?.id, route: 'events', delayMs: 10, fired: 0, matched: 0 }]);
      expect((await call('DELETE', `/__datacube/faults/${a?.id}`)).status).toBe(404);
      expect((await call('DELETE', '/__datacube/faults')).json).toEqual([]);
      for (const bad of [{ route: 'portrait', errcode: -1 }, { route: 'token' }, { route: 'token', errcode: -1, times: -1 }, '{', []]) {
        const r = await call('POST', '/__datacube/faults', typeof bad === 'string' ? bad : bad);
        expect(r.status, JSON.stringify(bad)).toBe(400);
        expect(typeof r.json.error).toBe('string');
      }
      expect((await call('POST', '/__datacube/faults', { route: 'portrait', errcode: -1 })).json.error).toMatch(/unknown route "portrait"; use one of token, stable_token, events, collect, tcb, analysis\.getUserPortrait/);
      expect((await call('GET', '/__datacube/faults')).json).toEqual([]);
    });

    it('shows what test mode is doing at GET /__datacube', async () => {
      tm.demo = app;
      const r = (await call('GET', '/__datacube')).json;
      expect(r).toMatchObject({ testMode: true, seed: SEED, demo: app, faults: [], clock: { nowMs: START } });
      expect(r.routes).toContain('analysis.getUserPortrait');
    });
  });

  describe('faults on cloud calls through the real wx-server-sdk', () => {
    let serviceUrl: string;
    let end: string;
    beforeAll(() => {
      serviceUrl = `${t.url}/tcb`;
    });
    beforeEach(async () => {
      // Far from the wall clock: the SDK signs with the wall clock, and test mode still accepts it.
      const frozen = Date.now() - 40 * 86_400_000;
      tm.clock.set(frozen);
      end = formatDay(dayOf(frozen) - 1);
      const tok = await token();
      await call('POST', `/v1/events?access_token=${tok}`, [{ openid: 'cloud-user', time: startOfDay(dayOf(frozen) - 1) + 3_600_000, gender: 1 }]);
    });

    it('works with the clock far from the wall clock, and windows follow the test clock', async () => {
      const cloud = cloudFor(serviceUrl, app.appid, app.appid, app.secret);
      const r = await cloud.openapi.analysis.getUserPortrait({ beginDate: end, endDate: end });
      expect(r).toMatchObject({ refDate: end, errCode: 0 });
      const late = await thrown(cloud.openapi.analysis.getUserPortrait({ beginDate: formatDay(dayOf(tm.clock.now())), endDate: formatDay(dayOf(tm.clock.now())) }));
      expect(late.errCode).toBe(61501);
    });

    it('an errcode rule (tcb or the API name) makes the SDK throw WeChat errCode and errMsg, exactly `times` times', async () => {
      const cloud = cloudFor(serviceUrl, app.appid, app.appid, app.secret);
      await addFaults([
        { route: 'tcb', errcode: 45009, times: 2 },
        { route: 'getUserPortrait', errcode: -1, times: 1 },
      ]);
      const failures = [];
      for (let i = 0; i < 3; i++) failures.push(await thrown(cloud.openapi.analysis.getUserPortrait({ beginDate: end, endDate: end })));
      expect(failures.map((f) => f.errCode)).toEqual([45009, 45009, -1]);
      expect(failures[0]?.errMsg).toMatch(/^openapi\.analysis\.getUserPortrait:fail reach max api daily quota limit rid: [0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$/);
      expect(failures[2]?.errMsg).toMatch(/^openapi\.analysis\.getUserPortrait:fail system error rid: /);
      expect((await cloud.openapi.analysis.getUserPortrait({ beginDate: end, endDate: end })).errCode).toBe(0);
      expect(await firedCounts()).toEqual([2, 1]);
    });

    it('an HTTPS analysis call does not spend a tcb rule', async () => {
      await addFaults({ route: 'tcb', errcode: -1, times: 1 });
      expect((await portrait(await token(), end)).json.ref_date).toBe(end);
      expect(await firedCounts()).toEqual([0]);
    });

    it('an httpStatus rule fails the call as a gateway failure the SDK reports, exactly `times` times', async () => {
      const cloud = cloudFor(serviceUrl, app.appid, app.appid, app.secret);
      await addFaults({ route: 'tcb', httpStatus: 502, times: 1 });
      const e = await thrown(cloud.openapi.analysis.getUserPortrait({ beginDate: end, endDate: end }));
      expect(e.errCode).toBe(-501001);
      expect(e.errMsg).toMatch(/^openapi\.analysis\.getUserPortrait:fail -501001 resource system error\. 502 Bad Gateway/);
      expect((await cloud.openapi.analysis.getUserPortrait({ beginDate: end, endDate: end })).errCode).toBe(0);
      expect(await firedCounts()).toEqual([1]);
    });

    it('a delay rule makes the cloud call arrive late, then answer normally', async () => {
      const cloud = cloudFor(serviceUrl, app.appid, app.appid, app.secret);
      await addFaults({ route: 'tcb', delayMs: 400, times: 1 });
      const started = performance.now();
      expect((await cloud.openapi.analysis.getUserPortrait({ beginDate: end, endDate: end })).refDate).toBe(end);
      expect(performance.now() - started).toBeGreaterThanOrEqual(390);
      expect(await firedCounts()).toEqual([1]);
    });

    it('an appid narrows a cloud-call rule to that app', async () => {
      const other = await t.newApp();
      await addFaults({ route: 'tcb', appid: other.appid, errcode: 48001, times: 1 });
      const cloud = cloudFor(serviceUrl, app.appid, app.appid, app.secret);
      expect((await cloud.openapi.analysis.getUserPortrait({ beginDate: end, endDate: end })).errCode).toBe(0);
      const otherCloud = cloudFor(serviceUrl, other.appid, other.appid, other.secret);
      expect((await thrown(otherCloud.openapi.analysis.getUserPortrait({ beginDate: end, endDate: end }))).errCode).toBe(48001);
      expect(await firedCounts()).toEqual([1]);
    });
  });

  it('the seeded demo app is the one the seed names', () => {
    expect(app).toEqual(seededAppCredentials(SEED));
  });
});

describe('without test mode', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ clock: new ManualClock(START) });
  });
  afterAll(async () => {
    await t.stop(true);
  });

  it('has no test-mode routes: each answers 404 with 40066, like any unknown route', async () => {
    const routes: [string, string][] = [
      ['GET', '/__datacube'],
      ['GET', '/__datacube/clock'],
      ['POST', '/__datacube/clock'],
      ['GET', '/__datacube/faults'],
      ['POST', '/__datacube/faults'],
      ['DELETE', '/__datacube/faults'],
      ['DELETE', '/__datacube/faults/1'],
    ];
    for (const [method, path] of routes) {
      const body = method === 'POST' ? JSON.stringify(path.endsWith('clock') ? { advance: '2h' } : { route: 'token', errcode: -1 }) : undefined;
      const r = await fetch(t.url + path, { method, body, headers: body ? { 'content-type': 'application/json' } : {} });
      expect(r.status, `${method} ${path}`).toBe(404);
      const j = (await r.json()) as { errcode: number; errmsg: string };
      expect(j.errcode).toBe(40066);
      expect(j.errmsg).toMatch(/^invalid url, hint: .* rid: /);
    }
    // Nothing moved, nothing fires.
    expect(t.services.clock.now()).toBe(START);
    const app = await t.newApp();
    expect(typeof (await t.token(app.appid, app.secret))).toBe('string');
  });
});
