import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANALYSIS_APIS } from '../analysis/index.ts';
import { expectClose, expectedAnswer } from '../analysis/expectedAnswers.suite.ts';
import { startTestServer, type TestServer } from '../api/testing.ts';
import { camel, cloudFor, type WxCloud } from '../api/wxCloud.suite.ts';
import { ManualClock } from '../domain/clock.ts';
import { dayOf, formatDay } from '../domain/day.ts';
import type { VisitEvent } from '../domain/event.ts';
import { latestPeriod, type Period, periodRefDate, shiftPeriod } from '../domain/period.ts';
import { generateDemoEvents } from '../demo/index.ts';
import { ANALYSIS_PATHS } from './apis.ts';
import { type AnalysisApiName, type DatacubeEvent, DatacubeIngest, WeChatApiError, WeChatClient } from './index.ts';

// The nine analysis APIs besides the portrait, through the SDK against the real datacube server (a DuckDB file,
// port 0), with events sent by the SDK's own DatacubeIngest: `client.analysis.*` equals what the real wx-server-sdk
// gets as cloud calls, `client.datacube.*Raw` equals the HTTPS answer byte for byte, and both equal the in-memory
// reference over the stored events.

// The real time: wx-server-sdk signs its requests with it, and the server refuses a signature 5 minutes off.
const NOW = Date.now();
const YESTERDAY = dayOf(NOW) - 1;

type Nine = Exclude<AnalysisApiName, 'getUserPortrait'>;

/** The typed methods of both forms, by name: each is called by its own name (no generic path). */
function typedCalls(c: WeChatClient): Record<Nine, { camel: (p: Period) => Promise<unknown>; raw: (p: Period) => Promise<unknown> }> {
  const range = (p: Period) => ({ beginDate: formatDay(p.begin), endDate: formatDay(p.end) });
  const raw = (p: Period) => ({ begin_date: formatDay(p.begin), end_date: formatDay(p.end) });
  return {
    getDailySummary: { camel: (p) => c.analysis.getDailySummary(range(p)), raw: (p) => c.datacube.getDailySummaryRaw(raw(p)) },
    getDailyVisitTrend: { camel: (p) => c.analysis.getDailyVisitTrend(range(p)), raw: (p) => c.datacube.getDailyVisitTrendRaw(raw(p)) },
    getWeeklyVisitTrend: { camel: (p) => c.analysis.getWeeklyVisitTrend(range(p)), raw: (p) => c.datacube.getWeeklyVisitTrendRaw(raw(p)) },
    getMonthlyVisitTrend: { camel: (p) => c.analysis.getMonthlyVisitTrend(range(p)), raw: (p) => c.datacube.getMonthlyVisitTrendRaw(raw(p)) },
    getVisitDistribution: { camel: (p) => c.analysis.getVisitDistribution(range(p)), raw: (p) => c.datacube.getVisitDistributionRaw(raw(p)) },
    getVisitPage: { camel: (p) => c.analysis.getVisitPage(range(p)), raw: (p) => c.datacube.getVisitPageRaw(raw(p)) },
    getDailyRetain: { camel: (p) => c.analysis.getDailyRetain(range(p)), raw: (p) => c.datacube.getDailyRetainRaw(raw(p)) },
    getWeeklyRetain: { camel: (p) => c.analysis.getWeeklyRetain(range(p)), raw: (p) => c.datacube.getWeeklyRetainRaw(raw(p)) },
    getMonthlyRetain: { camel: (p) => c.analysis.getMonthlyRetain(range(p)), raw: (p) => c.datacube.getMonthlyRetainRaw(raw(p)) },
  };
}

describe('the SDK: the nine other analysis APIs against the real datacube server', () => {
  const clock = new ManualClock(NOW);
  let t: TestServer;
  let app: { appid: string; secret: string };
  let token: string;
  let stored: VisitEvent[];
  let cloud: WxCloud;

  beforeAll(async () => {
    t = await startTestServer({ clock });
    app = await t.newApp({ env: 'sdk-analysis' });
    token = await t.token(app.appid, app.secret);
    // Demo visits (pages, scenes, sessions, stays, shares) over 70 days, sent through the SDK's ingest client.
    const ingest = new DatacubeIngest({ ...app, baseUrl: t.url, clock, maxBatchEvents: 2000 });
    let tracked = 0;
    for (const batch of generateDemoEvents({ users: 60, days: 70, endDay: YESTERDAY, batchSize: 5000 })) {
      for (const record of batch) {
        ingest.track(record as unknown as DatacubeEvent);
        tracked++;
      }
    }
    const stats = await ingest.close();
    expect(stats).toMatchObject({ tracked, accepted: tracked, rejected: 0, undeliverable: 0, pending: 0 });
    stored = [];
    await t.services.store.exportEvents(app.appid, async (b) => void stored.push(...b));
    expect(stored).toHaveLength(tracked);
    cloud = cloudFor(`${t.url}/tcb`, 'sdk-analysis', app.appid, app.secret);
  }, 180_000);
  afterAll(async () => {
    await t.stop(true);
  });

  it('answers each of the nine like wx-server-sdk (camelCase) and like HTTPS (raw), both equal to the reference', async () => {
    const c = new WeChatClient({ ...app, baseUrl: t.url, clock });
    const calls = typedCalls(c);
    expect(Object.keys(calls).sort()).toEqual(ANALYSIS_APIS.map((a) => a.name).sort());
    for (const api of ANALYSIS_APIS) {
      const name = api.name as Nine;
      expect(ANALYSIS_PATHS[name], name).toBe(api.path);
      const latest = latestPeriod(api.granularity, YESTERDAY);
      // The latest period, and one with data before it (retention: some later keys over).
      const periods = api.granularity === 'day' ? [latest, shiftPeriod(latest, -9)] : [latest, shiftPeriod(latest, -1)];
      for (const p of periods) {
        const what = `${name} ${periodRefDate(p)}`;
        const raw = await calls[name].raw(p);
        const https = await t.post(`/datacube/${api.path}?access_token=${token}`, { begin_date: formatDay(p.begin), end_date: formatDay(p.end) });
        expect(https.json.errcode, what).toBeUndefined();
        expect(raw, what).toEqual(https.json);
        expectClose(raw, expectedAnswer(stored, api, p, YESTERDAY), what);

        const viaSdk = await calls[name].camel(p);
        const viaWx = await cloud.openapi.analysis[name]?.({ beginDate: formatDay(p.begin), endDate: formatDay(p.end) });
        expect(viaSdk, what).toEqual(viaWx);
        expect(viaSdk, what).toEqual({ ...(camel(https.json) as object), errMsg: `openapi.analysis.${name}:ok`, errCode: 0 });
      }
    }
  });

  it('reads the answers through their typed fields', async () => {
    const c = new WeChatClient({ ...app, baseUrl: t.url, clock });
    const day = { beginDate: formatDay(YESTERDAY), endDate: new Date(NOW - 86_400_000) };
    const trend = await c.analysis.getDailyVisitTrend(day);
    const row = trend.list[0];
    expect(row?.refDate).toBe(formatDay(YESTERDAY));
    expect(row?.visitUv).toBeGreaterThan(0);
    expect(row?.sessionCnt).toBeGreaterThanOrEqual(row?.visitUv ?? Infinity);
    const dist = await c.analysis.getVisitDistribution(day);
    const sessions = dist.list.find((x) => x.index === 'access_source_session_cnt')?.itemList.reduce((s, i) => s + i.value, 0);
    expect(sessions).toBe(row?.sessionCnt);
    const pages = await c.analysis.getVisitPage(day);
    expect(pages.list.reduce((s, p) => s + p.pageVisitPv, 0)).toBe(row?.visitPv);
    expect(pages.list.reduce((s, p) => s + p.entrypagePv, 0)).toBeLessThanOrEqual(row?.sessionCnt ?? 0);
    const week = await c.analysis.getWeeklyRetain(c.windows.lastWeek());
    expect(week.refDate).toBe(periodRefDate(latestPeriod('week', YESTERDAY)));
    expect(week.visitUv.map((k) => k.key)).toEqual([0]);
    const summary = await c.analysis.getDailySummary(day);
    expect(summary.list[0]?.visitTotal).toBe(new Set(stored.map((e) => e.openid)).size);
  });

  it('throws their date errors typed: a two-day range, a week that is not Monday–Sunday, a month not over', async () => {
    const c = new WeChatClient({ ...app, baseUrl: t.url, clock });
    const lastWeek = latestPeriod('week', YESTERDAY);
    const thisMonth = shiftPeriod(latestPeriod('month', YESTERDAY), 1);
    const cases: [Promise<unknown>, number][] = [
      [c.analysis.getVisitPage({ beginDate: formatDay(YESTERDAY - 1), endDate: formatDay(YESTERDAY) }), 61501],
      [c.analysis.getWeeklyVisitTrend({ beginDate: formatDay(lastWeek.begin + 1), endDate: formatDay(lastWeek.end + 1) }), 61501],
      [c.analysis.getMonthlyRetain({ beginDate: formatDay(thisMonth.begin), endDate: formatDay(thisMonth.end) }), 61501],
      [c.datacube.getDailyRetainRaw({ begin_date: '20261301', end_date: '20261301' }), 61500],
    ];
    for (const [p, errcode] of cases) {
      const e = await p.then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(e).toBeInstanceOf(WeChatApiError);
      expect(e).toMatchObject({ errcode, kind: 'invalid-argument' });
    }
  });
});
