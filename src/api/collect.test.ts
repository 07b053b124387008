import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../domain/clock.ts';
import type { VisitEvent } from '../domain/event.ts';
import { clientAddress, trustedProxies } from './clientAddress.ts';
import { RateLimiter } from './rateLimit.ts';
import { refererAppid } from './routes/collect.ts';
import { startTestServer, TEST_ADMIN_KEY, type TestServer } from './testing.ts';

const NOW = Date.UTC(2026, 10, 28, 2, 0, 0);
const IPHONE_UA =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.42(0x18002a2f) NetType/WIFI Language/zh_CN miniProgram/wx1234567890abcdef';
const OPPO_UA =
  'Mozilla/5.0 (Linux; Android 11; PEGM00 Build/RKQ1.200903.002; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/86.0.4240.99 XWEB/4317 MMWEBSDK/20220903 Mobile Safari/537.36 MicroMessenger/8.0.28.2240(0x28001C35) WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64 miniProgram/wx1234567890abcdef';

const referer = (appid: string, version: string | number = 3) => `https://servicewechat.com/${appid}/${version}/page-frame.html`;

async function stored(t: TestServer, appid: string): Promise<VisitEvent[]> {
  const out: VisitEvent[] = [];
  await t.services.store.exportEvents(appid, async (b) => void out.push(...b));
  return out;
}

describe('POST /v1/collect (real server, port 0)', () => {
  const clock = new ManualClock(NOW);
  let t: TestServer;
  let appid: string;
  let n = 0;
  const ev = (extra: Record<string, unknown> = {}) => ({ openid: 'oCollect_1', time: NOW - 60_000, event_id: `c-${n++}`, ...extra });
  const collect = (body: unknown, headers: Record<string, string> = {}, id = appid) =>
    t.post(`/v1/collect?appid=${id}`, body, { referer: referer(id), 'user-agent': IPHONE_UA, ...headers });

  beforeAll(async () => {
    // Loopback is a trusted proxy here, so tests can speak for clients at other addresses through X-Forwarded-For.
    t = await startTestServer({ clock, config: { trustedProxies: ['127.0.0.1', '::1/128'] } });
    appid = (await t.newApp()).appid;
  });
  afterAll(async () => {
    await t.stop(true);
  });

  it('takes events from the app’s mini-program, with region from the client address and device from the User-Agent', async () => {
    const r = await collect([ev(), ev({ ip: '8.8.8.8', ua: OPPO_UA })], { 'x-forwarded-for': '202.96.134.133' });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ errcode: 0, errmsg: 'ok', accepted: 2, duplicates: 0, rejected: [] });
    const events = await stored(t, appid);
    expect(events).toHaveLength(2);
    // The event's own ip is never believed on this route; its own ua is.
    expect(events[0]).toMatchObject({ ip: '202.96.134.133', province: 44, city: 4403, ua: IPHONE_UA, platform: 'ios', platformId: 1, device: 'Apple iPhone' });
    expect(events[1]).toMatchObject({ ip: '202.96.134.133', province: 44, city: 4403, ua: OPPO_UA, platform: 'android', device: 'OPPO Reno5 5G' });
    // A resend is answered the same way as on /v1/events: duplicates, nothing counted twice.
    const again = await t.post(`/v1/collect?appid=${appid}`, { events: [{ ...ev(), event_id: 'c-0' }] }, { referer: referer(appid, 'devtools') });
    expect(again.json).toMatchObject({ errcode: 0, accepted: 0, duplicates: 1 });
  });

  it('takes a sent province over the address’s, and rejects bad events one by one', async () => {
    const before = (await stored(t, appid)).length;
    const r = await collect([ev({ province: '北京' }), ev({ age: 999 }), ev({ time: 'yesterday' })], { 'x-forwarded-for': '202.96.134.133' });
    expect(r.json).toMatchObject({ errcode: 0, accepted: 1, rejected: [{ index: 1, errcode: 47001 }, { index: 2, errcode: 47001 }] });
    const last = (await stored(t, appid)).slice(before);
    expect(last[0]).toMatchObject({ province: 11, city: 1101 });
  });

  it('refuses requests without the mini-program Referer of that app, before reading their body', async () => {
    const body = [ev()];
    const cases: Record<string, string>[] = [
      {},
      { referer: 'https://example.com/' },
      { referer: referer('wx0000000000000001') },
      { referer: `http://servicewechat.com/${appid}/1/page-frame.html` },
      { referer: `https://servicewechat.com/${appid}/beta/page-frame.html` },
      { referer: `https://servicewechat.com/${appid}/1/page-frame.html.evil.com` },
    ];
    for (const headers of cases) {
      const r = await t.post(`/v1/collect?appid=${appid}`, body, headers);
      expect(r.json.errcode, JSON.stringify(headers)).toBe(48001);
      expect(String(r.json.errmsg)).toMatch(/servicewechat\.com.*rid: /);
    }
    expect((await t.post(`/v1/collect`, body, { referer: referer(appid) })).json.errcode).toBe(40013);
    expect((await t.post(`/v1/collect?appid=wx0000000000000001`, body, { referer: referer('wx0000000000000001') })).json.errcode).toBe(40013);

    // The answer comes although the announced 60 KB body never arrives: nothing waited for it.
    const url = new URL(t.url);
    const answer = await new Promise<string>((resolve, reject) => {
      const sock = connect(Number(url.port), url.hostname, () => {
        sock.write(`POST /v1/collect?appid=${appid} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 60000\r\nReferer: https://example.com/\r\n\r\n[`);
      });
      let got = '';
      sock.on('data', (d: Buffer) => {
        got += d.toString();
        if (got.includes('rid: ')) {
          sock.destroy();
          resolve(got);
        }
      });
      sock.on('error', reject);
      setTimeout(() => reject(new Error(`no answer; got ${got}`)), 5000);
    });
    expect(answer).toMatch(/"errcode":48001/);
  });

  it('holds the limits: at most 100 events and 64 KB a request', async () => {
    const many = Array.from({ length: 101 }, () => ev());
    expect((await collect(many, { 'x-forwarded-for': '1.0.0.1' })).json.errcode).toBe(45002);
    const big = [ev({ blob: 'x'.repeat(70 * 1024) })];
    expect((await collect(big, { 'x-forwarded-for': '1.0.0.2' })).json.errcode).toBe(45002);
    expect((await collect(Array.from({ length: 100 }, () => ev()), { 'x-forwarded-for': '1.0.0.3' })).json).toMatchObject({ errcode: 0, accepted: 100 });
  });

  it('can be turned off for an app and on again (admin route, as `datacube app update --collect`)', async () => {
    const other = (await t.newApp()).appid;
    const patch = (collectOn: boolean) =>
      fetch(`${t.url}/admin/apps/${other}`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${TEST_ADMIN_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ collect: collectOn }),
      }).then((r) => r.json() as Promise<Record<string, unknown>>);
    expect(await patch(false)).toMatchObject({ appid: other, collect: false });
    const off = await collect([ev()], {}, other);
    expect(off.json.errcode).toBe(48001);
    expect(String(off.json.errmsg)).toMatch(/turned off/);
    expect(await patch(true)).toMatchObject({ collect: true });
    expect((await collect([ev()], {}, other)).json).toMatchObject({ errcode: 0, accepted: 1 });
  });

  it('corrects a client clock that is off by the batch’s sent_at', async () => {
    const hour = 3_600_000;
    const r = await collect({ events: [ev({ time: NOW - 2 * hour, event_id: 'skewed' })], sent_at: NOW - hour }, { 'x-forwarded-for': '1.0.0.4' });
    expect(r.json).toMatchObject({ errcode: 0, accepted: 1 });
    const e = (await stored(t, appid)).find((x) => x.eventId === 'skewed');
    expect(e?.time).toBe(NOW - hour);
    // A future time by the client's clock is fine when the client's clock is ahead.
    const ahead = await collect({ events: [ev({ time: NOW + 3 * hour, event_id: 'ahead' })], sent_at: NOW + 3 * hour }, { 'x-forwarded-for': '1.0.0.4' });
    expect(ahead.json).toMatchObject({ accepted: 1 });
  });
});

describe('POST /v1/collect: client address and rates', () => {
  let t: TestServer;
  let appid: string;
  beforeAll(async () => {
    t = await startTestServer({ clock: new ManualClock(NOW), config: { collectIpRate: 1, collectAppRate: 40 } });
    appid = (await t.newApp()).appid;
  });
  afterAll(async () => {
    await t.stop(true);
  });
  const send = (events: unknown[], headers: Record<string, string> = {}) =>
    t.post(`/v1/collect?appid=${appid}`, events, { referer: referer(appid), ...headers });
  const e = (i: number) => ({ openid: 'oRate', time: NOW - 1000, event_id: `r-${i}-${Math.random()}` });

  it('ignores X-Forwarded-For from a peer that is not a trusted proxy', async () => {
    const r = await send([e(0)], { 'x-forwarded-for': '202.96.134.133' });
    expect(r.json).toMatchObject({ errcode: 0, accepted: 1 });
    const out: VisitEvent[] = [];
    await t.services.store.exportEvents(appid, async (b) => void out.push(...b));
    expect(out[0]).toMatchObject({ ip: '127.0.0.1', province: 0, city: 0 });
  });

  it('answers 429 with 45011 and Retry-After past the rate of a client address, then lets it through again', async () => {
    // Rate 1/s, burst 2: one request was made above; the next one or two pass, then 429.
    let r = await send([e(1)]);
    for (let i = 0; i < 3 && r.status === 200; i++) r = await send([e(2 + i)]);
    expect(r.status).toBe(429);
    expect(r.json.errcode).toBe(45011);
    const after = Number(r.headers.get('retry-after'));
    expect(after).toBeGreaterThanOrEqual(1);
    await new Promise((res) => setTimeout(res, after * 1000));
    expect((await send([e(9)])).status).toBe(200);
  });

  it('answers 429 with 45011 past the rate of an app, in events', async () => {
    // Rate 40 events/s, burst 100 (a full request always fits once).
    await new Promise((res) => setTimeout(res, 2100));
    const hundred = Array.from({ length: 100 }, (_, i) => e(100 + i));
    expect((await send(hundred)).json).toMatchObject({ errcode: 0, accepted: 100 });
    await new Promise((res) => setTimeout(res, 1100));
    const r = await send(Array.from({ length: 60 }, (_, i) => e(300 + i)));
    expect(r.status).toBe(429);
    expect(r.json.errcode).toBe(45011);
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });
});

describe('client address', () => {
  const proxies = trustedProxies(['10.0.0.0/8', '127.0.0.1', '::1']);
  it('believes X-Forwarded-For only from trusted proxies, read from the right', () => {
    expect(clientAddress('203.0.113.5', '1.2.3.4', proxies)).toBe('203.0.113.5');
    expect(clientAddress('10.1.1.1', '1.2.3.4', proxies)).toBe('1.2.3.4');
    expect(clientAddress('::ffff:10.1.1.1', '1.2.3.4', proxies)).toBe('1.2.3.4');
    expect(clientAddress('10.1.1.1', '6.6.6.6, 1.2.3.4, 10.2.2.2', proxies)).toBe('1.2.3.4');
    expect(clientAddress('10.1.1.1', ['6.6.6.6', '1.2.3.4:5555'], proxies)).toBe('1.2.3.4');
    expect(clientAddress('127.0.0.1', '[2001:db8::7]:443', proxies)).toBe('2001:db8::7');
    expect(clientAddress('10.1.1.1', 'garbage, 10.3.3.3', proxies)).toBe('10.3.3.3');
    expect(clientAddress('10.1.1.1', undefined, proxies)).toBe('10.1.1.1');
    expect(clientAddress('::1', '10.9.9.9', trustedProxies([]))).toBe('::1');
  });

  it('reads the mini-program Referer', () => {
    expect(refererAppid('https://servicewechat.com/wx1234567890abcdef/12/page-frame.html')).toBe('wx1234567890abcdef');
    expect(refererAppid('https://servicewechat.com/wx1234567890abcdef/devtools/page-frame.html')).toBe('wx1234567890abcdef');
    expect(refererAppid('https://servicewechat.com/wx1234567890abcdef/page-frame.html')).toBeUndefined();
    expect(refererAppid(undefined)).toBeUndefined();
  });
});

describe('RateLimiter', () => {
  it('refills at its rate up to its burst, and says how long to wait', () => {
    let now = 0;
    const r = new RateLimiter(2, 4, 3, () => now);
    for (let i = 0; i < 4; i++) expect(r.take('a')).toBe(0);
    expect(r.take('a')).toBe(500);
    now = 500;
    expect(r.take('a')).toBe(0);
    expect(r.take('a', 10)).toBe(2000); // more than the burst: waits for a full bucket, then passes alone
    now = 2500;
    expect(r.take('a', 10)).toBe(0);
    // Keys are bounded: idle (refilled) keys go first.
    r.take('b');
    r.take('c');
    now = 100_000;
    r.take('d');
    expect(r.size).toBeLessThanOrEqual(3);
  });
});
