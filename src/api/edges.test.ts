import net from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config.ts';
import { ManualClock } from '../domain/clock.ts';
import { dayOf, formatDay } from '../domain/day.ts';
import { startTestServer, TEST_ADMIN_KEY, type TestServer } from './testing.ts';

// The API's edges found by trying real clients: URLs as WxJava and others build them, short token lifetimes,
// a reset secret.

const NOW = Date.UTC(2026, 10, 28, 2, 0, 0);
const YESTERDAY = dayOf(NOW) - 1;
const BODY = { begin_date: formatDay(YESTERDAY), end_date: formatDay(YESTERDAY) };

describe('API edges', () => {
  const clock = new ManualClock(NOW);
  let t: TestServer;
  let app: { appid: string; secret: string };
  beforeAll(async () => {
    t = await startTestServer({ clock, config: { tokenTtlSeconds: 301 } });
    app = await t.newApp();
  });
  afterAll(() => t.stop(true));

  it('accepts duplicate and trailing slashes, as WxJava with a base URL ending in "/" sends them', async () => {
    const token = await t.token(app.appid, app.secret);
    for (const path of [
      '//datacube/getweanalysisappiduserportrait',
      '/datacube//getweanalysisappiduserportrait',
      '/datacube/getweanalysisappiduserportrait/',
      '//datacube/getweanalysisappiduserportrait/',
    ]) {
      const r = await t.post(`${path}?access_token=${token}`, BODY);
      expect(r.status, path).toBe(200);
      expect(r.json.ref_date, `${path}: ${JSON.stringify(r.json)}`).toBe(formatDay(YESTERDAY));
    }
    for (const path of ['//cgi-bin/token', '/cgi-bin/token/']) {
      const r = await t.get(`${path}?grant_type=client_credential&appid=${app.appid}&secret=${app.secret}`);
      expect(typeof r.json.access_token, path).toBe('string');
    }
    const s = await t.post('//cgi-bin/stable_token/', { grant_type: 'client_credential', appid: app.appid, secret: app.secret });
    expect(typeof s.json.access_token).toBe('string');
    expect((await t.get('//healthz/')).json).toEqual({ ok: true });
  });

  it('answers an asterisk-form target (GET * HTTP/1.1) with the JSON 404, not the dashboard page', async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const url = new URL(t.url);
      const socket = net.connect(Number(url.port), url.hostname, () => socket.end('GET * HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'));
      let data = '';
      socket.on('data', (b) => (data += b.toString('utf8')));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 404/);
    expect(answer).toMatch(/application\/json/);
    expect(answer).toMatch(/"errcode":40066/);
  });

  it('answers once a request refused before its body is read whose body then breaks (broken chunked encoding)', async () => {
    // The fuzz test's counterexample (seed 1905851873): the 404 went out, then a 400 for the unreadable body after it.
    const token = await t.token(app.appid, app.secret);
    const url = new URL(t.url);
    // Which answer wins depends on whether the refusal is sent before the parser meets the broken chunk (an unknown
    // route is refused at once; an unknown token after a store lookup): either way, one answer, JSON with an errcode.
    for (const [method, target, errcodes] of [
      ['GET', '/v1/events', [40066]], // no GET route: refused unread
      ['POST', '/datacube/getweanalysisappiduserportrait?access_token=nope', [40001, 47001]], // bad token: refused unread
      ['POST', `/datacube/getweanalysisappiduserportrait?access_token=${token}`, [47001]], // read, and found unreadable
    ] as const) {
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = net.connect(Number(url.port), url.hostname, () =>
          socket.end(`${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\nbroken\r\n`),
        );
        let data = '';
        socket.on('data', (b) => (data += b.toString('utf8')));
        socket.on('close', () => resolve(data));
        socket.on('error', reject);
      });
      expect(answer.match(/^HTTP\/1\.1 /gm), `${target}: ${answer}`).toHaveLength(1);
      const body = answer.slice(answer.indexOf('\r\n\r\n') + 4);
      expect(errcodes, `${target}: ${answer}`).toContain((JSON.parse(body) as { errcode: number }).errcode);
    }
  });

  it('answers a client that half-closes once its request is sent (printf … | nc), on routes that ask the store', async () => {
    // The fuzz test's counterexample (seed 521661063), as bytes on a socket, then variants on async routes.
    const port = Number(new URL(t.url).port);
    const raw = (bytes: string) =>
      new Promise<string>((resolve) => {
        const chunks: Buffer[] = [];
        const s = net.connect(port, '127.0.0.1');
        s.on('data', (d: Buffer) => chunks.push(d));
        s.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
        s.on('error', () => undefined);
        s.end(bytes, 'latin1'); // send, then FIN
      });
    const token = await t.token(app.appid, app.secret);
    const cases: [string, RegExp][] = [
      ['GET /healthz HTTP/1.1\r\nContent-Length: 5\r\nConnection: close\r\n\r\n12345     ', /^HTTP\/1\.1 200 [^]*\{"ok":true\}$/],
      ['GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', /^HTTP\/1\.1 200 [^]*\{"ok":true\}$/],
      [`GET /cgi-bin/token?grant_type=client_credential&appid=${app.appid}&secret=${app.secret} HTTP/1.0\r\n\r\n`, /"access_token":"/],
      [
        `POST /datacube/getweanalysisappiduserportrait?access_token=${token} HTTP/1.1\r\nHost: x\r\nContent-Length: ${JSON.stringify(BODY).length}\r\n\r\n${JSON.stringify(BODY)}`,
        /"ref_date":"/,
      ],
    ];
    for (const [bytes, answer] of cases) {
      for (let i = 0; i < 20; i++) expect(await raw(bytes), bytes.split('\r\n')[0]).toMatch(answer);
    }
  });

  it('answers an unknown route with HTTP 404 and errcode 40066', async () => {
    const r = await t.post('/cgi-bin/nothing', BODY);
    expect(r.status).toBe(404);
    expect(r.json.errcode).toBe(40066);
    expect(String(r.json.errmsg)).toMatch(/^invalid url/);
  });

  it('gives the same stable token on every call while it is valid, even with a lifetime of 301 s', async () => {
    const req = () => t.post('/cgi-bin/stable_token', { grant_type: 'client_credential', appid: app.appid, secret: app.secret });
    const first = (await req()).json;
    expect(first.expires_in).toBe(301);
    for (const step of [1_000, 60_000, 200_000]) {
      clock.advance(step);
      const again = (await req()).json;
      expect(again.access_token).toBe(first.access_token);
    }
    const last = (await req()).json;
    expect(last.expires_in).toBe(301 - 261);
    clock.advance(41_000); // expired
    const next = (await req()).json;
    expect(next.access_token).not.toBe(first.access_token);
    expect(next.expires_in).toBe(301);
    clock.set(NOW);
  });

  it('refuses a token lifetime of 300 s or less (a replaced token keeps working 5 minutes)', () => {
    expect(() => loadConfig({ DATACUBE_TOKEN_TTL: '300' })).toThrow(/DATACUBE_TOKEN_TTL.*more than 300/);
    expect(() => loadConfig({ DATACUBE_TOKEN_TTL: '60' })).toThrow(/DATACUBE_TOKEN_TTL/);
    expect(loadConfig({ DATACUBE_TOKEN_TTL: '301' }).tokenTtlSeconds).toBe(301);
  });

  it('ends every token of an app whose secret is reset; the old secret no longer gets one', async () => {
    const b = await t.newApp();
    const token = await t.token(b.appid, b.secret);
    const stable = String((await t.post('/cgi-bin/stable_token', { grant_type: 'client_credential', appid: b.appid, secret: b.secret })).json.access_token);
    const portrait = (tok: string) => t.post(`/datacube/getweanalysisappiduserportrait?access_token=${tok}`, BODY);
    expect((await portrait(token)).json.ref_date).toBeDefined();
    const { secret } = await t.services.auth.resetSecret(b.appid);
    expect(secret).not.toBe(b.secret);
    expect((await portrait(token)).json.errcode).toBe(40001);
    expect((await portrait(stable)).json.errcode).toBe(40001);
    expect((await t.get(`/cgi-bin/token?grant_type=client_credential&appid=${b.appid}&secret=${b.secret}`)).json.errcode).toBe(40125);
    const fresh = await t.token(b.appid, secret);
    expect((await portrait(fresh)).json.ref_date).toBeDefined();
    const stable2 = (await t.post('/cgi-bin/stable_token', { grant_type: 'client_credential', appid: b.appid, secret })).json.access_token;
    expect(stable2).not.toBe(stable);
  });

  it('takes a query parameter given twice with the same value once; different values stay refused, saying why', async () => {
    const token = await t.token(app.appid, app.secret);
    const portrait = `/datacube/getweanalysisappiduserportrait?access_token=${token}&access_token=${token}`;
    expect((await t.post(portrait, BODY)).json.ref_date).toBe(formatDay(YESTERDAY));
    const events = await t.post(`/v1/events?access_token=${token}&access_token=${token}`, [{ openid: 'twice', time: NOW - 60_000 }]);
    expect(events.json.accepted).toBe(1);
    const issued = await t.get(`/cgi-bin/token?grant_type=client_credential&appid=${app.appid}&appid=${app.appid}&secret=${app.secret}`);
    expect(typeof issued.json.access_token).toBe('string');
    const fresh = String(issued.json.access_token);
    const differing = await t.post(`/datacube/getweanalysisappiduserportrait?access_token=${fresh}&access_token=other`, BODY);
    expect(differing.json.errcode).toBe(40001);
    expect(String(differing.json.errmsg)).toMatch(/more than once/);
    expect((await t.get(`/cgi-bin/token?grant_type=client_credential&appid=${app.appid}&appid=wx0000000000000000&secret=${app.secret}`)).json.errcode).toBe(40013);
  });

  it('refuses a compressed body (Content-Encoding: gzip) with 47001 naming the encoding, on every body route alike', async () => {
    const token = await t.token(app.appid, app.secret);
    const gz = (v: unknown) => gzipSync(JSON.stringify(v));
    const cases: [string, unknown][] = [
      [`/datacube/getweanalysisappiduserportrait?access_token=${token}`, BODY],
      [`/datacube/getweanalysisappiddailysummarytrend?access_token=${token}`, BODY],
      ['/cgi-bin/stable_token', { grant_type: 'client_credential', appid: app.appid, secret: app.secret }],
      [`/v1/events?access_token=${token}`, [{ openid: 'gz', time: NOW - 60_000 }]],
      [`/v1/users/delete?access_token=${token}`, { openids: ['gz'] }],
    ];
    for (const [path, body] of cases) {
      const r = await t.post(path, gz(body), { 'content-encoding': 'gzip' });
      expect(r.status, path).toBe(200);
      expect(r.json.errcode, path).toBe(47001);
      expect(String(r.json.errmsg), path).toMatch(/Content-Encoding: gzip/);
    }
    // The token is still checked first; an identity encoding and a bodiless request are left alone.
    expect((await t.post('/v1/events?access_token=nope', gz([]), { 'content-encoding': 'gzip' })).json.errcode).toBe(40001);
    expect((await t.post(`/datacube/getweanalysisappiduserportrait?access_token=${token}`, BODY, { 'content-encoding': 'identity' })).json.ref_date).toBe(formatDay(YESTERDAY));
    const r = await fetch(`${t.url}/healthz`, { headers: { 'content-encoding': 'gzip' } });
    expect(await r.json()).toEqual({ ok: true });
  });

  it('checks the token of /v1/users/delete before reading its body, like the other token routes', async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const url = new URL(t.url);
      // Headers and one byte of a 200 KB body, then nothing: the answer must not wait for the rest.
      const socket = net.connect(Number(url.port), url.hostname, () =>
        socket.write('POST /v1/users/delete HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200000\r\n\r\n{'),
      );
      let data = '';
      socket.on('data', (b) => {
        data += b.toString('utf8');
        if (data.includes('}')) {
          socket.destroy();
          resolve(data);
        }
      });
      socket.on('close', () => resolve(data));
      socket.on('error', reject);
    });
    expect(answer).toMatch(/"errcode":41001/);
  });

  it('echoes at most the start of a very long date in 61500, on the portrait and the analysis APIs alike', async () => {
    const token = await t.token(app.appid, app.secret);
    const long = '1'.repeat(60_000);
    for (const api of ['getweanalysisappiduserportrait', 'getweanalysisappiddailysummarytrend', 'getweanalysisappidweeklyretaininfo']) {
      for (const body of [{ begin_date: long, end_date: BODY.end_date }, { begin_date: BODY.begin_date, end_date: long }]) {
        const r = await t.post(`/datacube/${api}?access_token=${token}`, body);
        expect(r.json.errcode, api).toBe(61500);
        expect(String(r.json.errmsg).length, api).toBeLessThan(300);
        expect(String(r.json.errmsg), api).toMatch(/60000 characters/);
      }
    }
  });

  it('admin app routes refuse a field of the wrong type, naming it, instead of ignoring it', async () => {
    const admin = { authorization: `Bearer ${TEST_ADMIN_KEY}` };
    const patch = (appid: string, body: unknown) =>
      fetch(`${t.url}/admin/apps/${appid}`, { method: 'PATCH', headers: { ...admin, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    for (const [body, field] of [
      [{ dailyQuota: '5' }, 'dailyQuota'],
      [{ name: 7 }, 'name'],
      [{ env: true }, 'env'],
    ] as const) {
      const r = await t.post('/admin/apps', body, admin);
      expect(r.status, field).toBe(400);
      expect(String(r.json.error), field).toMatch(new RegExp(`${field} must be a`));
    }
    const b = await t.newApp();
    for (const [body, field] of [
      [{ collect: 'false' }, 'collect'],
      [{ retainDays: '30' }, 'retainDays'],
      [{ dailyQuota: '5' }, 'dailyQuota'],
    ] as const) {
      const r = await patch(b.appid, body);
      expect(r.status, field).toBe(400);
      expect(String(((await r.json()) as { error?: string }).error), field).toMatch(new RegExp(`${field} must be a`));
    }
    const unchanged = (await (await fetch(`${t.url}/admin/apps/${b.appid}`, { headers: admin })).json()) as { collect: boolean; retainDays: unknown };
    expect(unchanged.collect).toBe(true);
    expect(unchanged.retainDays).toBeNull();
    expect((await patch(b.appid, { collect: false, retainDays: null })).status).toBe(200);
  });

  it('refuses cloud env ids that WeChat would not make', async () => {
    for (const env of ['Prod', 'a b', 'x', '-prod', 'prod-', 'prod--1', 'prod_1', 'p'.repeat(65), '环境']) {
      await expect(t.services.auth.createApp({ env }), env).rejects.toThrow(/not a cloud env id/);
    }
    for (const env of ['prod-1g2h3j4k5l6m7n8o', 'test-3f4e5d', 'cloud1-0g1h2i', 'wx0123456789abcdef']) {
      expect((await t.services.auth.createApp({ env })).app.env).toBe(env);
    }
  });
});
