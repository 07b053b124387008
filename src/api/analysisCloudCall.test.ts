import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANALYSIS_APIS } from '../analysis/index.ts';
import { ManualClock } from '../domain/clock.ts';
import { dayOf, formatDay } from '../domain/day.ts';
import { latestPeriod, shiftPeriod } from '../domain/period.ts';
import { generateDemoEvents } from '../demo/index.ts';
import { startTestServer, type TestServer } from './testing.ts';
import { camel, cloudFor, thrown, type WxCloud } from './wxCloud.suite.ts';

// The real wx-server-sdk against the real datacube server (DuckDB file, port 0): each of the nine analysis APIs as a
// cloud call answers what the HTTPS call answers, camelCased, with errMsg and errCode.

const NOW = Date.now();
const YESTERDAY = dayOf(NOW) - 1;

describe('the analysis family as cloud calls through the real wx-server-sdk', () => {
  let t: TestServer;
  let app: { appid: string; secret: string };
  let token: string;
  let cloud: WxCloud;

  beforeAll(async () => {
    t = await startTestServer({ clock: new ManualClock(NOW) });
    app = await t.newApp({ env: 'cloud-analysis' });
    token = await t.token(app.appid, app.secret);
    for (const batch of generateDemoEvents({ users: 40, days: 70, endDay: YESTERDAY, batchSize: 5000 })) {
      expect((await t.post(`/v1/events?access_token=${token}`, batch)).json.errcode).toBe(0);
    }
    cloud = cloudFor(`${t.url}/tcb`, 'cloud-analysis', app.appid, app.secret);
  }, 120_000);
  afterAll(async () => {
    await t.stop(true);
  });

  it('answers each of the nine like the HTTPS call, camelCased, with errMsg and errCode', async () => {
    expect(ANALYSIS_APIS).toHaveLength(9);
    for (const api of ANALYSIS_APIS) {
      // A period with data and, for retention, some later keys.
      const p = shiftPeriod(latestPeriod(api.granularity, YESTERDAY), api.kind === 'retain' ? -1 : 0);
      const begin = formatDay(p.begin);
      const end = formatDay(p.end);
      const viaSdk = await cloud.openapi.analysis[api.name]?.({ beginDate: begin, endDate: end });
      const viaHttps = (await t.post(`/datacube/${api.path}?access_token=${token}`, { begin_date: begin, end_date: end })).json;
      expect(viaHttps.errcode, api.name).toBeUndefined();
      expect(viaSdk, api.name).toEqual({ ...(camel(viaHttps) as object), errMsg: `openapi.analysis.${api.name}:ok`, errCode: 0 });
    }
    const page = await cloud.openapi.analysis.getVisitPage?.({ beginDate: formatDay(YESTERDAY), endDate: formatDay(YESTERDAY) });
    expect((page?.list as Record<string, unknown>[])[0]).toHaveProperty('pagePath');
    const dist = await cloud.openapi.analysis.getVisitDistribution?.({ beginDate: formatDay(YESTERDAY), endDate: formatDay(YESTERDAY) });
    expect((dist?.list as { index: string; itemList: unknown[] }[]).map((x) => x.index)).toEqual([
      'access_source_session_cnt',
      'access_source_visit_uv',
      'access_staytime_info',
      'access_depth_info',
    ]);
  });

  it('returns snake_case with convertCase: false', async () => {
    const raw = await cloud.openapi({ convertCase: false }).analysis.getDailyRetain?.({ begin_date: formatDay(YESTERDAY - 8), end_date: formatDay(YESTERDAY - 8) });
    expect(raw?.ref_date).toBe(formatDay(YESTERDAY - 8));
    expect((raw?.visit_uv_new as { key: number }[]).map((x) => x.key)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('throws 61500 and 61501 as WeChat does, per granularity', async () => {
    const fmt = await thrown(cloud.openapi.analysis.getDailyVisitTrend?.({ beginDate: '2026-11-01', endDate: '20261101' }) ?? Promise.resolve());
    expect(fmt.errCode).toBe(61500);
    expect(fmt.errMsg).toBe('openapi.analysis.getDailyVisitTrend:fail date format error');
    const week = latestPeriod('week', YESTERDAY);
    const range = await thrown(
      cloud.openapi.analysis.getWeeklyRetain?.({ beginDate: formatDay(week.begin + 1), endDate: formatDay(week.end + 1) }) ?? Promise.resolve(),
    );
    expect(range.errCode).toBe(61501);
    expect(range.errMsg).toBe('openapi.analysis.getWeeklyRetain:fail date range error');
    const twoDays = await thrown(
      cloud.openapi.analysis.getVisitPage?.({ beginDate: formatDay(YESTERDAY - 1), endDate: formatDay(YESTERDAY) }) ?? Promise.resolve(),
    );
    expect(twoDays.errCode).toBe(61501);
  });
});
