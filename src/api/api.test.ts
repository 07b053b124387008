import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../domain/clock.ts';
import { formatDay, startOfDay, dayOf } from '../domain/day.ts';
import { startTestServer, type TestServer } from './testing.ts';

// "Now" is 2026-11-28 10:00 Shanghai, so yesterday is 20261127.
const NOW = Date.UTC(2026, 10, 28, 2, 0, 0);
const TODAY = dayOf(NOW);
const YESTERDAY = TODAY - 1;
const PORTRAIT = '/datacube/getweanalysisappiduserportrait';

function iso(day: number, hour: number): string {
  return new Date(startOfDay(day) + hour * 3_600_000).toISOString();
}

describe('WeChat-compatible HTTP API (real server, port 0)', () => {
  const clock = new ManualClock(NOW);
  let t: TestServer;
  let app: { appid: string; secret: string };
  let token: string;

  beforeAll(async () => {
    t = await startTestServer({ clock });
    app = await t.newApp();
    token = await t.token(app.appid, app.secret);
  });
  afterAll(async () => {
    await t.stop(true);
  });

  const portrait = (tok: string | undefined, body: unknown) =>
    t.post(`${PORTRAIT}${tok === undefined ? '' : `?access_token=${encodeURIComponent(tok)}`}`, body);
  const ingest = (tok: string, body: unknown, headers?: Record<string, string>) => t.post(`/v1/events?access_token=${tok}`, body, headers);

  it('answers health checks', async () => {
    expect((await t.get('/healthz')).json).toEqual({ ok: true });
  });

  describe('tokens', () => {
    it('issues a token and refuses bad grant types, appids and secrets', async () => {
      const ok = await t.get(`/cgi-bin/token?grant_type=client_credential&appid=${app.appid}&secret=${app.secret}`);
      expect(ok.json.expires_in).toBe(7200);
      expect(String(ok.json.access_token).length).toBeGreaterThanOrEqual(43);
      expect((await t.get(`/cgi-bin/token?grant_type=password&appid=${app.appid}&secret=${app.secret}`)).json.errcode).toBe(40002);
      expect((await t.get(`/cgi-bin/token?grant_type=client_credential&appid=wx0000000000000000&secret=${app.secret}`)).json.errcode).toBe(40013);
      expect((await t.get(`/cgi-bin/token?grant_type=client_credential&appid=nonsense&secret=x`)).json.errcode).toBe(40013);
      const bad = await t.get(`/cgi-bin/token?grant_type=client_credential&appid=${app.appid}&secret=${'0'.repeat(32)}`);
      expect(bad.json.errcode).toBe(40125);
      expect(String(bad.json.errmsg)).toMatch(/^invalid appsecret.* rid: [0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$/);
    });

    it('keeps the previous token working for 5 minutes after a new one is issued, then refuses it', async () => {
      const a = await t.newApp();
      const first = await t.token(a.appid, a.secret);
      const body = { begin_date: formatDay(YESTERDAY), end_date: formatDay(YESTERDAY) };
      expect((await portrait(first, body)).json.ref_date).toBe(formatDay(YESTERDAY));
      const second = await t.token(a.appid, a.secret);
      clock.advance(4 * 60_000);
      expect((await portrait(first, body)).json.ref_date).toBeDefined();
      clock.advance(61_000);
      expect((await portrait(first, body)).json.errcode).toBe(40001);
      expect((await portrait(second, body)).json.ref_date).toBeDefined();
      clock.set(NOW);
    });

    it('expires tokens after 7200 s with 42001', async () => {
      const a = await t.newApp();
      const tok = await t.token(a.appid, a.secret);
      clock.advance(7200_000 + 1000);
      const r = await portrait(tok, { begin_date: formatDay(YESTERDAY), end_date: formatDay(YESTERDAY) });
      clock.set(NOW);
      expect(r.json.errcode).toBe(42001);
    });

    it('issues no token on HEAD /cgi-bin/token (the caller would lose its live token to one it never sees)', async () => {
      const a = await t.newApp();
      const live = await t.token(a.appid, a.secret);
      const head = await fetch(`${t.url}/cgi-bin/token?grant_type=client_credential&appid=${a.appid}&secret=${a.secret}`, { method: 'HEAD' });
      expect(head.status).toBe(404);
      clock.advance(5 * 60_000 + 1000);
      const r = await portrait(live, { begin_date: formatDay(YESTERDAY), end_date: formatDay(YESTERDAY) });
      clock.set(NOW);
      expect(r.json.ref_date).toBe(formatDay(YESTERDAY));
    });

    it('gives the same stable token while it is valid, a new one on force_refresh, independent of /cgi-bin/token', async () => {
      const a = await t.newApp();
      const req = (force?: boolean) =>
        t.post('/cgi-bin/stable_token', { grant_type: 'client_credential', appid: a.appid, secret: a.secret, ...(force === undefined ? {} : { force_refresh: force }) });
      const s1 = (await req()).json;
      clock.advance(100_000);
      const s2 = (await req(false)).json;
      expect(s2.access_token).toBe(s1.access_token);
      expect(s2.expires_in).toBe(7100);
      // /cgi-bin/token does not disturb it.
      await t.token(a.appid, a.secret);
      await t.token(a.appid, a.secret);
      clock.advance(10 * 60_000);
      const body = { begin_date: formatDay(YESTERDAY), end_date: formatDay(YESTERDAY) };
      expect((await portrait(String(s1.access_token), body)).json.ref_date).toBeDefined();
      const s3 = (await req(true)).json;
      expect(s3.access_token).not.toBe(s1.access_token);
      expect(s3.expires_in).toBe(7200);
      expect((await req(true)).json.errcode).toBe(45009); // less than 30 s after the last forced refresh
      expect((await portrait(String(s1.access_token), body)).json.ref_date).toBeDefined(); // 5-minute overlap
      clock.advance(5 * 60_000 + 1000);
      expect((await portrait(String(s1.access_token), body)).json.errcode).toBe(40001);
      expect((await req()).json.access_token).toBe(s3.access_token);
      expect((await t.post('/cgi-bin/stable_token', { grant_type: 'client_credential', appid: a.appid, secret: 'nope' })).json.errcode).toBe(40125);
      expect((await t.post('/cgi-bin/stable_token', '{"grant_type":')).json.errcode).toBe(47001);
      clock.set(NOW);
    });
  });

  describe('getUserPortrait errors', () => {
    const good = () => ({ begin_date: formatDay(YESTERDAY - 6), end_date: formatDay(YESTERDAY) });
    it('41001 without a token, 40001 for an unknown one', async () => {
      expect((await portrait(undefined, good())).json.errcode).toBe(41001);
      expect((await portrait('', good())).json.errcode).toBe(41001);
      expect((await portrait('x'.repeat(64), good())).json.errcode).toBe(40001);
    });
    it('47001 for bodies that are not a JSON object with string dates', async () => {
      for (const body of ['', 'null', '[]', '"x"', '{"begin_date":', '{"begin_date":20261121,"end_date":"20261127"}', '{"end_date":"20261127"}', '{"begin_date":"20261121","end_date":1e999}']) {
        const r = await portrait(token, body);
        expect(r.status, body).toBe(200);
        expect(r.json.errcode, body).toBe(47001);
      }
      const r = await portrait(token, new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]));
      expect(r.json.errcode).toBe(47001);
    });
    it('61500 for a date that is not yyyymmdd or not a real day', async () => {
      for (const [b, e] of [['2026-11-21', '20261127'], ['20261121', '2026112'], ['20260230', '20260301'], ['20261321', '20261327'], ['', '20261127']]) {
        expect((await portrait(token, { begin_date: b, end_date: e })).json.errcode, `${b} ${e}`).toBe(61500);
      }
    });
    it('61501 for a span other than 0/6/29 days, begin after end, or an end after yesterday', async () => {
      const y = YESTERDAY;
      for (const [b, e] of [[y - 4, y], [y - 5, y], [y - 30, y], [y, y - 6], [y - 5, y + 1], [TODAY, TODAY]]) {
        const r = await portrait(token, { begin_date: formatDay(b ?? 0), end_date: formatDay(e ?? 0) });
        expect(r.json.errcode, `${b} ${e}`).toBe(61501);
        expect(String(r.json.errmsg)).toMatch(/^date range error/);
      }
    });
    it('45009 past the daily quota', async () => {
      const a = await t.newApp({ dailyQuota: 2 });
      const tok = await t.token(a.appid, a.secret);
      expect((await portrait(tok, good())).json.ref_date).toBeDefined();
      expect((await portrait(tok, good())).json.ref_date).toBeDefined();
      expect((await portrait(tok, good())).json.errcode).toBe(45009);
      clock.advance(24 * 3_600_000);
      const tok2 = await t.token(a.appid, a.secret);
      const next = { begin_date: formatDay(YESTERDAY + 1), end_date: formatDay(YESTERDAY + 1) };
      expect((await portrait(tok2, next)).json.ref_date).toBe(formatDay(YESTERDAY + 1));
      clock.set(NOW);
    });
    it('answers unknown routes with a JSON errcode, never HTML', async () => {
      const r = await t.post('/nope', {});
      expect(r.status).toBe(404);
      expect(r.json.errcode).toBe(40066);
    });
  });

  describe('ingest and portraits', () => {
    it('round-trips events into 1-, 7- and 30-day portraits with the exact WeChat shape', async () => {
      const a = await t.newApp();
      const tok = await t.token(a.appid, a.secret);
      const events = [
        { openid: 'old', time: iso(YESTERDAY - 40, 9), province: '北京', city: '北京' },
        { openid: 'old', time: iso(YESTERDAY - 3, 9), gender: 2, platform: 'Android', brand: 'OPPO', model: 'R9', province: '广东省', city: '广州市', age: 30 },
        { openid: 'new1', time: iso(YESTERDAY, 9), gender: 1, platform: 'iOS', brand: 'iPhone', model: 'iPhone 13<iPhone14,5>', city: '深圳', age: 17 },
        { openid: 'new2', time: iso(YESTERDAY - 20, 23), gender: 'female', platform: 'devtools', age: 50 },
      ];
      const r = await ingest(tok, events);
      expect(r.json).toEqual({ errcode: 0, errmsg: 'ok', accepted: 4, duplicates: 0, rejected: [] });

      const one = (await portrait(tok, { begin_date: formatDay(YESTERDAY), end_date: formatDay(YESTERDAY) })).json;
      expect(one).toEqual({
        ref_date: formatDay(YESTERDAY),
        visit_uv_new: {
          province: [{ id: 44, name: '广东省', value: 1 }],
          city: [{ id: 4403, name: '深圳', value: 1 }],
          genders: [{ id: 1, name: '男', value: 1 }],
          platforms: [{ id: 1, name: 'iPhone', value: 1 }],
          devices: [{ name: 'Apple iPhone 13', value: 1 }],
          ages: [{ id: 1, name: '17岁以下', value: 1 }],
        },
        visit_uv: {
          province: [{ id: 44, name: '广东省', value: 1 }],
          city: [{ id: 4403, name: '深圳', value: 1 }],
          genders: [{ id: 1, name: '男', value: 1 }],
          platforms: [{ id: 1, name: 'iPhone', value: 1 }],
          devices: [{ name: 'Apple iPhone 13', value: 1 }],
          ages: [{ id: 1, name: '17岁以下', value: 1 }],
        },
      });

      const week = (await portrait(tok, { begin_date: formatDay(YESTERDAY - 6), end_date: formatDay(YESTERDAY) })).json as {
        ref_date: string;
        visit_uv: Record<string, { id?: number; name: string; value: number }[]>;
        visit_uv_new: Record<string, { id?: number; name: string; value: number }[]>;
      };
      expect(week.ref_date).toBe(`${formatDay(YESTERDAY - 6)}-${formatDay(YESTERDAY)}`);
      expect(week.visit_uv.province).toEqual([{ id: 44, name: '广东省', value: 2 }]);
      expect(week.visit_uv.devices).toEqual([
        { name: 'Apple iPhone 13', value: 1 },
        { name: 'OPPO R9', value: 1 },
      ]);
      expect(week.visit_uv_new.genders).toEqual([{ id: 1, name: '男', value: 1 }]);
      expect(week.visit_uv.ages).toEqual([
        { id: 1, name: '17岁以下', value: 1 },
        { id: 4, name: '30-39岁', value: 1 },
      ]);

      const month = (await portrait(tok, { begin_date: formatDay(YESTERDAY - 29), end_date: formatDay(YESTERDAY) })).json as typeof week;
      expect(month.visit_uv.genders).toEqual([{ id: 2, name: '女', value: 2 }, { id: 1, name: '男', value: 1 }]);
      expect(month.visit_uv_new.genders).toEqual([{ id: 1, name: '男', value: 1 }, { id: 2, name: '女', value: 1 }]);
      expect(month.visit_uv.platforms).toEqual([
        { id: 1, name: 'iPhone', value: 1 },
        { id: 2, name: 'Android', value: 1 },
        { id: 3, name: '其他', value: 1 },
      ]);
      expect(month.visit_uv.province).toEqual([{ id: 44, name: '广东省', value: 2 }, { id: 0, name: '未知', value: 1 }]);
    });

    it('changes the next answer when a late event arrives', async () => {
      const a = await t.newApp();
      const tok = await t.token(a.appid, a.secret);
      const body = { begin_date: formatDay(YESTERDAY - 6), end_date: formatDay(YESTERDAY) };
      await ingest(tok, [{ openid: 'u', time: iso(YESTERDAY - 1, 8), gender: 1 }]);
      const before = (await portrait(tok, body)).json as { visit_uv_new: { genders: unknown[] } };
      expect(before.visit_uv_new.genders).toEqual([{ id: 1, name: '男', value: 1 }]);
      await ingest(tok, [{ openid: 'u', time: iso(YESTERDAY - 15, 8) }, { openid: 'u', time: iso(YESTERDAY - 1, 9), gender: 2 }]);
      const after = (await portrait(tok, body)).json as { visit_uv_new: { genders: unknown[] }; visit_uv: { genders: unknown[] } };
      expect(after.visit_uv_new.genders).toEqual([]);
      expect(after.visit_uv.genders).toEqual([{ id: 2, name: '女', value: 1 }]);
    });

    it("keeps apps apart: app A's token never reads or writes app B's data", async () => {
      const a = await t.newApp();
      const b = await t.newApp();
      const ta = await t.token(a.appid, a.secret);
      const tb = await t.token(b.appid, b.secret);
      await ingest(ta, [{ openid: 'x', time: iso(YESTERDAY, 1), gender: 1 }]);
      const body = { begin_date: formatDay(YESTERDAY), end_date: formatDay(YESTERDAY) };
      expect(((await portrait(tb, body)).json as { visit_uv: { genders: unknown[] } }).visit_uv.genders).toEqual([]);
      expect(((await portrait(ta, body)).json as { visit_uv: { genders: unknown[] } }).visit_uv.genders).toHaveLength(1);
      expect(await t.services.store.countEvents(b.appid)).toBe(0);
    });

    it('accepts NDJSON and {"events":[…]}, reports duplicates and rejects bad events by index and field', async () => {
      const a = await t.newApp();
      const tok = await t.token(a.appid, a.secret);
      const nd = [
        JSON.stringify({ openid: 'a', time: iso(YESTERDAY, 1), event_id: 'e1' }),
        '{not json',
        JSON.stringify({ openid: 'a', time: iso(YESTERDAY, 2), event_id: 'e1' }),
        JSON.stringify({ openid: 'b c', time: iso(YESTERDAY, 2) }),
      ].join('\n');
      const r = await ingest(tok, nd, { 'content-type': 'application/x-ndjson' });
      expect(r.json.accepted).toBe(1);
      expect(r.json.duplicates).toBe(1);
      expect(r.json.rejected).toEqual([
        { index: 1, errcode: 47001, errmsg: 'line 2 is not valid JSON' },
        { index: 3, errcode: 47001, errmsg: expect.stringContaining('openid') },
      ]);
      const r2 = await ingest(tok, { events: [{ openid: 'c', time: NOW + 3_600_000 }, { openid: 'c', time: iso(YESTERDAY, 3), age: 300 }, { openid: 'c', time: iso(YESTERDAY, 3), event_id: 'e1' }] });
      expect(r2.json).toMatchObject({ accepted: 0, duplicates: 1 });
      expect((r2.json.rejected as { errmsg: string }[]).map((x) => x.errmsg.split(':')[0])).toEqual(['time', 'age']);
      // The same batch sent again (a client that timed out) is stored once.
      const batch = [{ openid: 'r', time: iso(YESTERDAY, 4), event_id: 'retry-1' }];
      await ingest(tok, batch);
      expect((await ingest(tok, batch)).json).toMatchObject({ accepted: 0, duplicates: 1 });
      expect(await t.services.store.countEvents(a.appid)).toBe(2);
    });

    it('refuses oversized batches and bodies, and malformed bodies, with an errcode and stores nothing', async () => {
      const a = await t.newApp();
      const tok = await t.token(a.appid, a.secret);
      const many = Array.from({ length: 10_001 }, (_, i) => ({ openid: `u${i}`, time: iso(YESTERDAY, 1) }));
      expect((await ingest(tok, many)).json.errcode).toBe(45002);
      const huge = JSON.stringify([{ openid: 'u', time: iso(YESTERDAY, 1), pad: 'x'.repeat(11 * 1024 * 1024) }]);
      const big = await ingest(tok, huge);
      expect(big.status).toBe(200);
      expect(big.json.errcode).toBe(45002);
      for (const body of ['[{"openid":"u"', '{"events":3}', '12', 'null']) {
        expect((await ingest(tok, body)).json.errcode, body).toBe(47001);
      }
      expect((await ingest(tok, [{ openid: 'u', time: 1e300 }])).json.rejected).toHaveLength(1);
      expect(await t.services.store.countEvents(a.appid)).toBe(0);
      expect((await t.get('/healthz')).json).toEqual({ ok: true });
    });
  });
});

describe('restart', () => {
  it('keeps apps, tokens and data', async () => {
    const clock = new ManualClock(NOW);
    let t = await startTestServer({ clock });
    const a = await t.newApp();
    const tok = await t.token(a.appid, a.secret);
    await t.post(`/v1/events?access_token=${tok}`, [{ openid: 'p', time: iso(YESTERDAY, 5), gender: 2 }]);
    const dataDir = t.dataDir;
    await t.stop();
    t = await startTestServer({ clock, dataDir });
    const r = await t.post(`${PORTRAIT}?access_token=${tok}`, { begin_date: formatDay(YESTERDAY), end_date: formatDay(YESTERDAY) });
    expect((r.json as { visit_uv: { genders: unknown } }).visit_uv.genders).toEqual([{ id: 2, name: '女', value: 1 }]);
    expect(await t.token(a.appid, a.secret)).toBeTruthy();
    await t.stop(true);
  });
});
