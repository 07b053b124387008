import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../domain/clock.ts';
import { dayOf, formatDay, startOfDay } from '../domain/day.ts';
import { startTestServer, type TestServer } from './testing.ts';
import { camel, cloudFor, freshWxCloud, thrown } from './wxCloud.suite.ts';

// The real wx-server-sdk against the real datacube server (DuckDB file, port 0): the cloud call and the
// HTTPS call must give the same portrait.

const NOW = Date.now();
const YESTERDAY = dayOf(NOW) - 1;

describe('cloud call through the real wx-server-sdk', () => {
  let t: TestServer;
  let app: { appid: string; secret: string };
  let serviceUrl: string;
  const begin = formatDay(YESTERDAY - 6);
  const end = formatDay(YESTERDAY);

  beforeAll(async () => {
    t = await startTestServer({ clock: new ManualClock(NOW) });
    serviceUrl = `${t.url}/tcb`;
    app = await t.newApp({ env: 'cloud1-test' });
    const tok = await t.token(app.appid, app.secret);
    const at = (d: number, h: number) => new Date(startOfDay(d) + h * 3_600_000).toISOString();
    await t.post(`/v1/events?access_token=${tok}`, [
      { openid: 'a', time: at(YESTERDAY, 9), gender: 1, platform: 'ios', brand: 'iPhone', model: 'iPhone 15', province: '广东', city: '深圳', age: 28 },
      { openid: 'b', time: at(YESTERDAY - 3, 9), gender: 2, platform: 'android', brand: 'HUAWEI', model: 'Mate 60', province: '浙江', city: '杭州', age: 41 },
      { openid: 'c', time: at(YESTERDAY - 40, 9) },
      { openid: 'c', time: at(YESTERDAY - 2, 9), platform: 'android' },
    ]);
  });
  afterAll(async () => {
    await t.stop(true);
  });

  it('answers getUserPortrait like the HTTPS call, camelCased, with errMsg and errCode', async () => {
    const cloud = cloudFor(serviceUrl, 'cloud1-test', app.appid, app.secret);
    const viaSdk = await cloud.openapi.analysis.getUserPortrait({ beginDate: begin, endDate: end });
    const tok = await t.token(app.appid, app.secret);
    const viaHttps = (await t.post(`/datacube/getweanalysisappiduserportrait?access_token=${tok}`, { begin_date: begin, end_date: end })).json;
    expect(viaSdk).toEqual({ ...(camel(viaHttps) as object), errMsg: 'openapi.analysis.getUserPortrait:ok', errCode: 0 });
    expect((viaSdk.visitUv as { genders: unknown[] }).genders).toHaveLength(3);
    expect(viaSdk.refDate).toBe(`${begin}-${end}`);
  });

  it('returns snake_case with convertCase: false and honours the env app own appid', async () => {
    const cloud = cloudFor(serviceUrl, 'cloud1-test', app.appid, app.secret);
    const raw = await cloud.openapi({ convertCase: false, appid: app.appid }).analysis.getUserPortrait({ begin_date: begin, end_date: end });
    expect(raw.ref_date).toBe(`${begin}-${end}`);
    expect(raw.visit_uv_new).toBeDefined();
    const other = await thrown(cloud.openapi({ appid: 'wx0123456789abcdef' }).analysis.getUserPortrait({ beginDate: begin, endDate: end }));
    expect(other.errCode).toBe(48001);
  });

  it('throws 61500 and 61501 for bad dates, as WeChat does', async () => {
    const cloud = cloudFor(serviceUrl, 'cloud1-test', app.appid, app.secret);
    const fmt = await thrown(cloud.openapi.analysis.getUserPortrait({ beginDate: '2026-11-01', endDate: end }));
    expect(fmt.errCode).toBe(61500);
    expect(fmt.errMsg).toMatch(/:fail date format error$/);
    const range = await thrown(cloud.openapi.analysis.getUserPortrait({ beginDate: formatDay(YESTERDAY - 4), endDate: end }));
    expect(range.errCode).toBe(61501);
    expect(range.errMsg).toMatch(/:fail date range error$/);
  });

  it('refuses a wrong secretKey and an unknown env', async () => {
    const wrong = cloudFor(serviceUrl, 'cloud1-test', app.appid, '0'.repeat(32));
    const e1 = await thrown(wrong.openapi.analysis.getUserPortrait({ beginDate: begin, endDate: end }));
    expect(String(e1.errMsg)).toMatch(/fail/);
    expect(e1.errCode).not.toBe(0);
    const unknown = cloudFor(serviceUrl, 'no-such-env', app.appid, app.secret);
    const e2 = await thrown(unknown.openapi.analysis.getUserPortrait({ beginDate: begin, endDate: end }));
    expect(String(e2.errMsg)).toMatch(/invalid env/);
  });

  it('takes the env from TCB_ENV with cloud.init({ env: cloud.DYNAMIC_CURRENT_ENV }), as the README shows', async () => {
    const saved = { TCB_ENV: process.env.TCB_ENV, TCB_CONTEXT_KEYS: process.env.TCB_CONTEXT_KEYS, SCF_NAMESPACE: process.env.SCF_NAMESPACE };
    const call = async () => {
      const cloud = freshWxCloud();
      cloud.init({ env: cloud.DYNAMIC_CURRENT_ENV, serviceUrl, secretId: app.appid, secretKey: app.secret });
      return cloud.openapi.analysis.getUserPortrait({ beginDate: end, endDate: end });
    };
    try {
      // What a cloud function's runtime sets: TCB_ENV, named in TCB_CONTEXT_KEYS (the SDK reads it only then).
      process.env.TCB_ENV = 'cloud1-test';
      process.env.TCB_CONTEXT_KEYS = 'TCB_ENV';
      const r = await call();
      expect(r.refDate).toBe(end);
      expect(r.errCode).toBe(0);
      // TCB_ENV alone is not read: the request names no env and is refused, saying so.
      delete process.env.TCB_CONTEXT_KEYS;
      expect(String((await thrown(call())).errMsg)).toMatch(/missing env/);
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it('uses the appid as the env of an app created without one', async () => {
    const plain = await t.newApp();
    const cloud = cloudFor(serviceUrl, plain.appid, plain.appid, plain.secret);
    const r = await cloud.openapi.analysis.getUserPortrait({ beginDate: end, endDate: end });
    expect(r.refDate).toBe(end);
    expect(r.errCode).toBe(0);
  });
});
