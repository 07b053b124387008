import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANALYSIS_APIS, type AnalysisApi } from '../analysis/index.ts';
import { bodyFor, expectClose, expectedAnswer } from '../analysis/expectedAnswers.suite.ts';
import { ManualClock } from '../domain/clock.ts';
import { dayOf, formatDay, startOfDay } from '../domain/day.ts';
import type { VisitEvent } from '../domain/event.ts';
import { type Period, latestPeriod, periodRefDate, shiftPeriod } from '../domain/period.ts';
import { generateDemoEvents } from '../demo/index.ts';
import { startTestServer, type TestServer } from './testing.ts';

// "Now" is 2026-12-02 10:00 Shanghai (a Wednesday): yesterday is 20261201, the last finished week 20261123–20261129,
// the last finished month November 2026.
const NOW = Date.UTC(2026, 11, 2, 2, 0, 0);
const YESTERDAY = dayOf(NOW) - 1;

describe('the analysis family over HTTPS (real server, port 0)', () => {
  const clock = new ManualClock(NOW);
  let t: TestServer;
  let app: { appid: string; secret: string };
  let token: string;
  let stored: VisitEvent[];

  beforeAll(async () => {
    t = await startTestServer({ clock });
    app = await t.newApp();
    token = await t.token(app.appid, app.secret);
    for (const batch of generateDemoEvents({ users: 80, days: 75, endDay: YESTERDAY, batchSize: 5000 })) {
      const r = await t.post(`/v1/events?access_token=${token}`, batch);
      expect(r.json.errcode).toBe(0);
    }
    stored = [];
    await t.services.store.exportEvents(app.appid, async (b) => void stored.push(...b));
  }, 120_000);
  afterAll(async () => {
    await t.stop(true);
  });

  /** `tok` null: no access_token at all. */
  const call = (path: string, body: unknown, tok: string | null = token) =>
    t.post(`/datacube/${path}${tok === null ? '' : `?access_token=${encodeURIComponent(tok)}`}`, body);

  it('serves all nine at WeChat paths, each equal to the reference over the stored events', async () => {
    expect(ANALYSIS_APIS.map((a) => a.path)).toEqual([
      'getweanalysisappiddailysummarytrend',
      'getweanalysisappiddailyvisittrend',
      'getweanalysisappidweeklyvisittrend',
      'getweanalysisappidmonthlyvisittrend',
      'getweanalysisappidvisitdistribution',
      'getweanalysisappidvisitpage',
      'getweanalysisappiddailyretaininfo',
      'getweanalysisappidweeklyretaininfo',
      'getweanalysisappidmonthlyretaininfo',
    ]);
    for (const api of ANALYSIS_APIS) {
      const latest = latestPeriod(api.granularity, YESTERDAY);
      const periods = api.granularity === 'day' ? [latest, shiftPeriod(latest, -3), shiftPeriod(latest, -30)] : [latest, shiftPeriod(latest, -1)];
      for (const p of periods) {
        const r = await call(api.path, bodyFor(p));
        expect(r.status).toBe(200);
        expect(r.json.errcode, `${api.name} ${periodRefDate(p)}: ${JSON.stringify(r.json)}`).toBeUndefined();
        expectClose(r.json, expectedAnswer(stored, api, p, YESTERDAY), `${api.name} ${periodRefDate(p)}`);
      }
    }
  });

  it('answers in the documented shapes', async () => {
    const day = bodyFor(latestPeriod('day', YESTERDAY));
    const week = bodyFor(latestPeriod('week', YESTERDAY));
    const month = bodyFor(latestPeriod('month', YESTERDAY));
    const summary = (await call('getweanalysisappiddailysummarytrend', day)).json;
    expect(summary).toEqual({ list: [{ ref_date: '20261201', visit_total: expect.any(Number), share_pv: expect.any(Number), share_uv: expect.any(Number) }] });
    const trend = (await call('getweanalysisappidweeklyvisittrend', week)).json as { list: Record<string, unknown>[] };
    expect(Object.keys(trend.list[0] ?? {})).toEqual(['ref_date', 'session_cnt', 'visit_pv', 'visit_uv', 'visit_uv_new', 'stay_time_uv', 'stay_time_session', 'visit_depth']);
    expect(trend.list[0]?.ref_date).toBe('20261123-20261129');
    expect(trend.list[0]?.visit_uv).toBeGreaterThan(0);
    expect((await call('getweanalysisappidmonthlyvisittrend', month)).json).toMatchObject({ list: [{ ref_date: '202611' }] });
    const dist = (await call('getweanalysisappidvisitdistribution', day)).json as { ref_date: string; list: { index: string; item_list: { key: number; value: number }[] }[] };
    expect(dist.ref_date).toBe('20261201');
    expect(dist.list.map((x) => x.index)).toEqual(['access_source_session_cnt', 'access_source_visit_uv', 'access_staytime_info', 'access_depth_info']);
    for (const x of dist.list) {
      expect(x.item_list.length).toBeGreaterThan(0);
      for (const it of x.item_list) expect(Object.keys(it)).toEqual(['key', 'value']);
    }
    const sessions = dist.list[0]?.item_list.reduce((s, i) => s + i.value, 0);
    expect(dist.list[2]?.item_list.reduce((s, i) => s + i.value, 0)).toBe(sessions);
    expect(dist.list[3]?.item_list.reduce((s, i) => s + i.value, 0)).toBe(sessions);
    const pages = (await call('getweanalysisappidvisitpage', day)).json as { ref_date: string; list: Record<string, unknown>[] };
    expect(Object.keys(pages.list[0] ?? {})).toEqual([
      'page_path', 'page_visit_pv', 'page_visit_uv', 'page_staytime_pv', 'entrypage_pv', 'exitpage_pv', 'page_share_pv', 'page_share_uv',
    ]);
    const daily = (await call('getweanalysisappiddailyretaininfo', bodyFor({ granularity: 'day', begin: YESTERDAY - 20, end: YESTERDAY - 20 }))).json as {
      ref_date: string;
      visit_uv_new: { key: number; value: number }[];
      visit_uv: { key: number; value: number }[];
    };
    expect(Object.keys(daily)).toEqual(['ref_date', 'visit_uv_new', 'visit_uv']);
    // Keys 0–7 and 14 are over; key 30 (20 days from yesterday + 10) is not yet.
    expect(daily.visit_uv.map((x) => x.key)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 14]);
    expect(daily.visit_uv_new.map((x) => x.key)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 14]);
    const yesterdayRetain = (await call('getweanalysisappiddailyretaininfo', day)).json as { visit_uv: { key: number }[] };
    expect(yesterdayRetain.visit_uv.map((x) => x.key)).toEqual([0]);
    const weekly = (await call('getweanalysisappidweeklyretaininfo', bodyFor(shiftPeriod(latestPeriod('week', YESTERDAY), -2)))).json as { visit_uv: { key: number }[] };
    expect(weekly.visit_uv.map((x) => x.key)).toEqual([0, 1, 2]);
    const monthly = (await call('getweanalysisappidmonthlyretaininfo', month)).json as { ref_date: string; visit_uv: { key: number }[] };
    expect(monthly.ref_date).toBe('202611');
    expect(monthly.visit_uv.map((x) => x.key)).toEqual([0]);
    expect(((await call('getweanalysisappidmonthlyretaininfo', bodyFor(shiftPeriod(latestPeriod('month', YESTERDAY), -1)))).json.visit_uv as unknown[]).length).toBe(2);
  });

  it("applies each granularity's date rules: 61500, 61501, 47001", async () => {
    const y = formatDay(YESTERDAY);
    const cases: [string, unknown, number][] = [
      ['getweanalysisappiddailysummarytrend', { begin_date: formatDay(YESTERDAY - 1), end_date: y }, 61501],
      ['getweanalysisappiddailyvisittrend', { begin_date: formatDay(YESTERDAY + 1), end_date: formatDay(YESTERDAY + 1) }, 61501],
      ['getweanalysisappidvisitdistribution', { begin_date: '2026-12-01', end_date: y }, 61500],
      ['getweanalysisappidvisitpage', { begin_date: y, end_date: '20261232' }, 61500],
      ['getweanalysisappiddailyretaininfo', { begin_date: y }, 47001],
      ['getweanalysisappidweeklyvisittrend', { begin_date: '20261124', end_date: '20261130' }, 61501], // Tuesday–Monday
      ['getweanalysisappidweeklyvisittrend', { begin_date: '20261130', end_date: '20261206' }, 61501], // not over
      ['getweanalysisappidweeklyretaininfo', { begin_date: '20261116', end_date: '20261129' }, 61501], // two weeks
      ['getweanalysisappidmonthlyvisittrend', { begin_date: '20261101', end_date: '20261129' }, 61501],
      ['getweanalysisappidmonthlyvisittrend', { begin_date: '20261201', end_date: '20261231' }, 61501], // not over
      ['getweanalysisappidmonthlyretaininfo', { begin_date: '20261001', end_date: '20261130' }, 61501],
      ['getweanalysisappidmonthlyretaininfo', { begin_date: 20261001, end_date: '20261031' }, 47001],
    ];
    for (const [path, body, errcode] of cases) {
      const r = await call(path, body);
      expect(r.status).toBe(200);
      expect(r.json.errcode, `${path} ${JSON.stringify(body)}`).toBe(errcode);
      expect(String(r.json.errmsg)).toMatch(/ rid: /);
    }
    expect((await call('getweanalysisappiddailyvisittrend', '{not json')).json.errcode).toBe(47001);
    expect((await call('getweanalysisappiddailyvisittrend', bodyFor(latestPeriod('day', YESTERDAY)), null)).json.errcode).toBe(41001);
    expect((await call('getweanalysisappiddailyvisittrend', bodyFor(latestPeriod('day', YESTERDAY)), 'nope')).json.errcode).toBe(40001);
  });

  it('answers an app without events with zeros and empty lists', async () => {
    const other = await t.newApp();
    const tok = await t.token(other.appid, other.secret);
    const day = bodyFor(latestPeriod('day', YESTERDAY));
    expect((await call('getweanalysisappiddailyvisittrend', day, tok)).json).toEqual({
      list: [{ ref_date: '20261201', session_cnt: 0, visit_pv: 0, visit_uv: 0, visit_uv_new: 0, stay_time_uv: 0, stay_time_session: 0, visit_depth: 0 }],
    });
    expect((await call('getweanalysisappidvisitpage', day, tok)).json).toEqual({ ref_date: '20261201', list: [] });
    expect((await call('getweanalysisappidvisitdistribution', day, tok)).json).toEqual({
      ref_date: '20261201',
      list: ['access_source_session_cnt', 'access_source_visit_uv', 'access_staytime_info', 'access_depth_info'].map((index) => ({ index, item_list: [] })),
    });
    expect((await call('getweanalysisappiddailyretaininfo', day, tok)).json).toEqual({ ref_date: '20261201', visit_uv_new: [{ key: 0, value: 0 }], visit_uv: [{ key: 0, value: 0 }] });
  });

  it('drops cached answers when the app receives events, late ones included', async () => {
    const fresh = await t.newApp();
    const tok = await t.token(fresh.appid, fresh.secret);
    const week = latestPeriod('week', YESTERDAY);
    const at = (day: number, h: number) => new Date(startOfDay(day) + h * 3_600_000).toISOString();
    const trend = async () => ((await call('getweanalysisappidweeklyvisittrend', bodyFor(week), tok)).json.list as Record<string, number>[])[0];
    await t.post(`/v1/events?access_token=${tok}`, [{ openid: 'a', time: at(week.begin + 2, 9), page: 'p', stay: 10 }]);
    expect(await trend()).toMatchObject({ visit_uv: 1, visit_uv_new: 1, session_cnt: 1, visit_pv: 1 });
    expect(await trend()).toMatchObject({ visit_uv: 1 }); // cached
    await t.post(`/v1/events?access_token=${tok}`, [
      { openid: 'a', time: at(week.begin - 20, 9), type: 'open' }, // late: a is no longer new this week
      { openid: 'b', time: at(week.begin + 6, 23), page: 'q', stay: 4, type: 'Visit' },
    ]);
    expect(await trend()).toMatchObject({ visit_uv: 2, visit_uv_new: 1, session_cnt: 2, visit_pv: 2, stay_time_uv: 7 });
  });

  it('counts each API against its own daily quota', async () => {
    const q = await t.newApp({ dailyQuota: 2 });
    const tok = await t.token(q.appid, q.secret);
    const day = bodyFor(latestPeriod('day', YESTERDAY));
    expect((await call('getweanalysisappidvisitpage', day, tok)).json.errcode).toBeUndefined();
    expect((await call('getweanalysisappidvisitpage', day, tok)).json.errcode).toBeUndefined();
    expect((await call('getweanalysisappidvisitpage', day, tok)).json.errcode).toBe(45009);
    expect((await call('getweanalysisappiddailyvisittrend', day, tok)).json.errcode).toBeUndefined();
  });
});
