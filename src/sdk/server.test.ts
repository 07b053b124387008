import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPEN_API_BY_PATH } from '../api/openApis.ts';
import { startTestServer, type TestServer } from '../api/testing.ts';
import { cloudFor } from '../api/wxCloud.suite.ts';
import { ManualClock } from '../domain/clock.ts';
import { dayOf, formatDay, startOfDay } from '../domain/day.ts';
import { ANALYSIS_API_NAMES, ANALYSIS_PATHS } from './apis.ts';
import { DatacubeIngest, type FetchLike, type TokenStore, WeChatApiError, WeChatClient } from './index.ts';

// The SDK against the real datacube server (a DuckDB file, port 0): the same answers as the HTTPS routes and the
// real wx-server-sdk, the server's stable tokens, its errors.

const NOW = Date.now();
const YESTERDAY = dayOf(NOW) - 1;

/** A fetch that counts the token requests it passes on. */
function countingFetch(): { fetch: FetchLike; tokenRequests: () => number; urls: string[] } {
  const urls: string[] = [];
  return {
    fetch: (url, init) => {
      urls.push(url);
      return fetch(url, init);
    },
    tokenRequests: () => urls.filter((u) => u.includes('/cgi-bin/')).length,
    urls,
  };
}

async function failure(p: Promise<unknown>): Promise<WeChatApiError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof WeChatApiError) return e;
    throw e;
  }
  throw new Error('expected the call to fail');
}

describe('the SDK against the real datacube server', () => {
  const clock = new ManualClock(NOW);
  let t: TestServer;
  let app: { appid: string; secret: string };
  const client = (o: { fetch?: FetchLike; tokenStore?: TokenStore } = {}) => new WeChatClient({ ...app, baseUrl: t.url, clock, ...o });

  beforeAll(async () => {
    t = await startTestServer({ clock });
    app = await t.newApp({ env: 'sdk-test' });
    const at = (d: number, h: number) => new Date(startOfDay(d) + h * 3_600_000);
    const ingest = new DatacubeIngest({ ...app, baseUrl: t.url, clock });
    const rows = [
      { openid: 'a', time: at(YESTERDAY, 9), gender: 1, platform: 'ios', brand: 'iPhone', model: 'iPhone 15', province: '广东', city: '深圳', age: 28 },
      { openid: 'b', time: at(YESTERDAY - 3, 9), gender: 2, platform: 'android', brand: 'HUAWEI', model: 'Mate 60', province: '浙江', city: '杭州', age: 41 },
      { openid: 'c', time: at(YESTERDAY - 40, 9) },
      { openid: 'c', time: at(YESTERDAY - 2, 9), platform: 'android' },
      { openid: 'd', time: at(YESTERDAY - 20, 23), gender: 2, age: 19, province: '北京' },
    ] as const;
    for (const r of rows) ingest.track({ ...r });
    const stats = await ingest.close();
    expect(stats).toMatchObject({ tracked: 5, accepted: 5, duplicates: 0, rejected: 0, undeliverable: 0, pending: 0 });
  });
  afterAll(async () => {
    await t.stop(true);
  });

  it('answers getUserPortrait exactly as the real wx-server-sdk does, and the raw form exactly as the HTTPS route', async () => {
    const c = client();
    const week = c.windows.last7Days();
    expect(week).toEqual({ beginDate: formatDay(YESTERDAY - 6), endDate: formatDay(YESTERDAY) });

    const cloud = cloudFor(`${t.url}/tcb`, 'sdk-test', app.appid, app.secret);
    const viaWxServerSdk = await cloud.openapi.analysis.getUserPortrait({ ...week });
    const viaSdk = await c.analysis.getUserPortrait(week);
    expect(viaSdk).toEqual(viaWxServerSdk);
    expect(viaSdk.visitUv.genders).toEqual([
      { id: 0, name: '未知', value: 1 },
      { id: 1, name: '男', value: 1 },
      { id: 2, name: '女', value: 1 },
    ]);
    expect(viaSdk.visitUvNew.province.reduce((n, i) => n + i.value, 0)).toBe(2);

    const token = await c.getAccessToken();
    const https = await t.post(`/datacube/getweanalysisappiduserportrait?access_token=${token}`, { begin_date: week.beginDate, end_date: week.endDate });
    expect(await c.datacube.getUserPortraitRaw({ begin_date: week.beginDate, end_date: week.endDate })).toEqual(https.json);

    for (const w of [c.windows.yesterday(), c.windows.last30Days()]) {
      const p = await c.analysis.getUserPortrait(w);
      expect(p.refDate).toBe(w.beginDate === w.endDate ? w.endDate : `${w.beginDate}-${w.endDate}`);
    }
    expect((await c.analysis.getUserPortrait(c.windows.last30Days())).visitUv.province.map((i) => i.name)).toContain('北京市');
  });

  it('gives every API of the analysis family the server’s answer (analysisServer.test.ts checks the nine in depth)', async () => {
    const c = client();
    const token = await c.getAccessToken();
    const day = formatDay(YESTERDAY);
    for (const name of ANALYSIS_API_NAMES) {
      const path = ANALYSIS_PATHS[name];
      expect(OPEN_API_BY_PATH.has(path), `${name} is served at ${path}`).toBe(true);
      const w = name.startsWith('getWeekly') ? c.windows.lastWeek() : name.startsWith('getMonthly') ? c.windows.lastMonth() : name === 'getUserPortrait' ? c.windows.last7Days() : { beginDate: day, endDate: day };
      const https = await t.post(`/datacube/${path}?access_token=${token}`, { begin_date: w.beginDate, end_date: w.endDate });
      expect(https.json.errcode, name).toBeUndefined();
      expect(await c.callRaw(name, { begin_date: w.beginDate, end_date: w.endDate }), name).toEqual(https.json);
    }
  });

  it('throws the server’s errors typed, with the rid the server logged', async () => {
    const c = client();
    const today = formatDay(dayOf(NOW));
    const range = await failure(c.analysis.getUserPortrait({ beginDate: today, endDate: today }));
    expect(range).toMatchObject({ errcode: 61501, kind: 'invalid-argument', api: 'getUserPortrait' });
    expect(range.rid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$/);
    expect(range.hint).toMatch(/yesterday/);
    const fmt = await failure(c.datacube.getUserPortraitRaw({ begin_date: '20261301', end_date: '20261301' }));
    expect(fmt).toMatchObject({ errcode: 61500, kind: 'invalid-argument' });
    const wrong = await failure(new WeChatClient({ appid: app.appid, secret: 'not-the-secret', baseUrl: t.url }).analysis.getUserPortrait(c.windows.yesterday()));
    expect(wrong).toMatchObject({ errcode: 40125, kind: 'auth', api: 'stable_token' });
  });

  it('makes one token request for 50 concurrent calls, and two clients share the token through a tokenStore', async () => {
    const counted = countingFetch();
    const c = client({ fetch: counted.fetch });
    const w = c.windows.last7Days();
    const answers = await Promise.all(Array.from({ length: 50 }, () => c.analysis.getUserPortrait(w)));
    expect(new Set(answers.map((a) => JSON.stringify(a))).size).toBe(1);
    expect(counted.tokenRequests()).toBe(1);
    expect(counted.urls.filter((u) => u.includes('/datacube/'))).toHaveLength(50);

    const shared = new Map<string, string>();
    const one = countingFetch();
    const two = countingFetch();
    await client({ fetch: one.fetch, tokenStore: shared }).analysis.getUserPortrait(w);
    await client({ fetch: two.fetch, tokenStore: shared }).analysis.getUserPortrait(w);
    expect(one.tokenRequests() + two.tokenRequests()).toBe(1);
    expect(two.urls).toHaveLength(1);
    const token = (u: string | undefined) => new URL(u ?? 'http://x').searchParams.get('access_token');
    expect(token(two.urls[0])).toBe(token(one.urls.at(-1)));
  });

  it('recovers when another server force-refreshes the stable token: 40001 after the overlap, then one new token', async () => {
    const counted = countingFetch();
    const c = client({ fetch: counted.fetch });
    const w = c.windows.yesterday();
    await c.analysis.getUserPortrait(w);
    const old = await c.getAccessToken();
    const forced = await t.post('/cgi-bin/stable_token', { grant_type: 'client_credential', appid: app.appid, secret: app.secret, force_refresh: true });
    expect(forced.json.access_token).not.toBe(old);
    clock.advance(6 * 60_000); // past the 5-minute overlap: the old token now answers 40001
    try {
      await c.analysis.getUserPortrait(w);
      expect(counted.tokenRequests()).toBe(2);
      expect(await c.getAccessToken()).toBe(forced.json.access_token);
      const datacube = counted.urls.filter((u) => u.includes('/datacube/')).map((u) => new URL(u).searchParams.get('access_token'));
      expect(datacube).toEqual([old, old, forced.json.access_token]);
    } finally {
      clock.advance(-6 * 60_000);
    }
  });
});
