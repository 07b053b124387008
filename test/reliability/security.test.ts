/**
 * Security: secrets and tokens are kept only as hashes (the bytes of the DuckDB file and its WAL never hold them;
 * the demo secret lives only in demo.json) and never reach the log; comparisons go through timingSafeEqual; app
 * A's credentials never read or write app B's data; body size limits hold on every route; an internal failure
 * shows the client a rid and no detail, and the server's log has that rid with the error.
 *
 * Token rotation (the previous token works 5 more minutes, then 40001) and expiry (42001 after 7200 s) are proved
 * in src/api/api.test.ts ("keeps the previous token working for 5 minutes…", "expires tokens after 7200 s…",
 * "gives the same stable token while it is valid…").
 */
import { createRequire } from 'node:module';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import * as nodeCrypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestServer, TEST_ADMIN_KEY, type TestServer } from '../../src/api/testing.ts';
import { hashSecret, hashToken, safeEqual, verifySecret } from '../../src/auth/index.ts';
import { fillDemo } from '../../src/cli/fillDemo.ts';
import { LocalBackend } from '../../src/cli/localBackend.ts';
import { ManualClock } from '../../src/domain/clock.ts';
import { dayOf, formatDay, startOfDay } from '../../src/domain/day.ts';
import { json, request } from './harness.ts';
import { LogCapture } from './logCapture.ts';

// Every call of timingSafeEqual in the code under test is seen (and still done by the real function).
vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:crypto')>();
  return { ...real, timingSafeEqual: vi.fn(real.timingSafeEqual) };
});

const NOW = Date.now();
const YESTERDAY = dayOf(NOW) - 1;
const PORTRAIT = '/datacube/getweanalysisappiduserportrait';
const RID = /rid: ([0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8})$/;

/** Every file under `dir`, with its bytes. */
function filesUnder(dir: string): { path: string; bytes: Buffer }[] {
  const out: { path: string; bytes: Buffer }[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push({ path: name, bytes: readFileSync(p) });
  }
  return out;
}

/** The files whose bytes contain `needle` (as UTF-8). */
function holding(files: { path: string; bytes: Buffer }[], needle: string): string[] {
  const n = Buffer.from(needle, 'utf8');
  return files.filter((f) => f.bytes.includes(n)).map((f) => f.path);
}

describe('security', () => {
  describe('secrets and tokens at rest and in logs', () => {
    const logs = new LogCapture();
    let t: TestServer;

    beforeAll(async () => {
      t = await startTestServer({ clock: new ManualClock(NOW), server: { logger: { level: 'info', stream: logs } } });
    });
    afterAll(async () => {
      await t.stop(true);
    });

    it('keeps them only as hashes in the DuckDB file and its WAL, and the demo secret only in demo.json', async () => {
      // Controls: values as random as a secret and a token, stored in clear on purpose (an app name, an openid),
      // prove that a plain byte search does find strings in these files.
      const nameControl = randomBytes(16).toString('hex');
      const openidControl = randomBytes(48).toString('base64url');
      const secrets: string[] = [];
      const tokens: string[] = [];

      const direct = await t.services.auth.createApp({ name: nameControl });
      secrets.push(direct.secret);
      const viaAdmin = await request(t.url, {
        method: 'POST',
        path: '/admin/apps',
        headers: { authorization: `Bearer ${TEST_ADMIN_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'via-admin' }),
      });
      expect(viaAdmin.ok).toBe(true);
      const adminApp = viaAdmin.ok ? (json(viaAdmin.answer) as { appid: string; secret: string }) : { appid: '', secret: '' };
      secrets.push(adminApp.secret);
      for (const a of [{ appid: direct.app.appid, secret: direct.secret }, adminApp]) {
        tokens.push(await t.token(a.appid, a.secret));
        const stable = await t.post('/cgi-bin/stable_token', { grant_type: 'client_credential', appid: a.appid, secret: a.secret });
        tokens.push(String(stable.json.access_token));
      }
      const ingest = await t.post(`/v1/events?access_token=${tokens[0]}`, [{ openid: openidControl, time: startOfDay(YESTERDAY) + 1000 }]);
      expect(ingest.json.accepted).toBe(1);
      // Tokens work by hash: the stored record is found by the SHA-256 of the token.
      for (const tok of tokens) expect((await t.services.store.getToken(hashToken(tok)))?.hash).toBe(hashToken(tok));
      expect((await t.services.store.getApp(direct.app.appid))?.secretHash).toMatch(/^scrypt\$[0-9a-f]{32}\$[0-9a-f]{64}$/);

      const demo = await fillDemo(new LocalBackend(t.services), t.dataDir, t.services.clock, { users: 20, days: 2 });
      expect(demo.accepted).toBeGreaterThan(0);

      // While the server runs: the commits are in the WAL.
      const live = filesUnder(t.dataDir);
      expect(live.some((f) => f.path.endsWith('.wal') && f.bytes.length > 0), live.map((f) => f.path).join(', ')).toBe(true);
      expect(holding(live, nameControl).length).toBeGreaterThan(0);
      expect(holding(live, openidControl).length).toBeGreaterThan(0);
      for (const s of secrets) expect(holding(live, s)).toEqual([]);
      for (const tok of tokens) expect(holding(live, tok)).toEqual([]);
      expect(holding(live, demo.credentials.secret)).toEqual(['demo.json']);

      // After a checkpoint and close: the database file itself.
      await t.services.close();
      const closed = filesUnder(t.dataDir);
      expect(holding(closed, nameControl)).toContain('datacube.duckdb');
      expect(holding(closed, openidControl)).toContain('datacube.duckdb');
      for (const s of secrets) expect(holding(closed, s)).toEqual([]);
      for (const tok of tokens) expect(holding(closed, tok)).toEqual([]);
      expect(holding(closed, demo.credentials.secret)).toEqual(['demo.json']);

      // Nor in the log, though they were sent in query strings (which the log shows redacted).
      const logText = logs.text();
      expect(logText).toContain('secret=[redacted]');
      expect(logText).toContain('access_token=[redacted]');
      for (const s of [...secrets, ...tokens, demo.credentials.secret]) expect(logText.includes(s), s).toBe(false);
    });
  });

  describe('constant-time comparisons', () => {
    const spy = vi.mocked(nodeCrypto.timingSafeEqual);

    it('verifySecret compares scrypt outputs with timingSafeEqual, right or wrong, whatever the length', async () => {
      const stored = hashSecret('0123456789abcdef0123456789abcdef');
      for (const [candidate, expected] of [
        ['0123456789abcdef0123456789abcdef', true],
        ['0123456789abcdef0123456789abcdee', false],
        ['x', false],
        ['0123456789abcdef0123456789abcdef0', false],
      ] as const) {
        spy.mockClear();
        expect(await verifySecret(candidate, stored)).toBe(expected);
        expect(spy).toHaveBeenCalledTimes(1);
        const [a, b] = spy.mock.calls[0] ?? [];
        expect((a as Buffer).length).toBe(32);
        expect((b as Buffer).length).toBe(32);
      }
    });

    it('safeEqual (the admin key) compares fixed-length digests with timingSafeEqual, so not even the length shows', () => {
      for (const [x, y, expected] of [
        ['key', 'key', true],
        ['key', 'kez', false],
        ['key', 'a-much-longer-candidate', false],
        ['', 'key', false],
      ] as const) {
        spy.mockClear();
        expect(safeEqual(x, y)).toBe(expected);
        expect(spy).toHaveBeenCalledTimes(1);
        expect((spy.mock.calls[0]?.[0] as Buffer).length).toBe(32);
      }
    });

    it('the token endpoint checks a wrong secret the same way as a right one', async () => {
      const t = await startTestServer({ clock: new ManualClock(NOW) });
      try {
        const a = await t.newApp();
        const wrong = `${a.secret.slice(0, -1)}${a.secret.endsWith('0') ? '1' : '0'}`;
        for (const secret of [a.secret, wrong, 'short']) {
          spy.mockClear();
          await t.get(`/cgi-bin/token?grant_type=client_credential&appid=${a.appid}&secret=${secret}`);
          expect(spy, secret).toHaveBeenCalledTimes(1);
        }
        // A secret verified in the last 5 minutes is recognised by an exact lookup of its hash (no scrypt): only a
        // client that sends exactly the right secret can see the difference.
        spy.mockClear();
        await t.get(`/cgi-bin/token?grant_type=client_credential&appid=${a.appid}&secret=${a.secret}`);
        expect(spy).toHaveBeenCalledTimes(0);
      } finally {
        await t.stop(true);
      }
    });
  });

  describe("app isolation: A's credentials never read or write B's data", () => {
    let t: TestServer;
    let a: { appid: string; secret: string; token: string };
    let b: { appid: string; secret: string; token: string };
    const day = formatDay(YESTERDAY);

    beforeAll(async () => {
      t = await startTestServer({ clock: new ManualClock(NOW) });
      const mk = async (env: string) => {
        const x = await t.newApp({ env });
        return { ...x, token: await t.token(x.appid, x.secret) };
      };
      a = await mk('env-a');
      b = await mk('env-b');
      await t.post(`/v1/events?access_token=${b.token}`, [{ openid: 'b-user', time: startOfDay(YESTERDAY) + 1000, gender: 2 }]);
    });
    afterAll(async () => {
      await t.stop(true);
    });

    it('ingest with A token stores under A whatever the body says', async () => {
      const r = await t.post(`/v1/events?access_token=${a.token}&appid=${b.appid}`, {
        appid: b.appid,
        events: [{ openid: 'a-user', time: startOfDay(YESTERDAY) + 2000, appid: b.appid, gender: 1 }],
      });
      expect(r.json.accepted).toBe(1);
      expect(await t.services.store.countEvents(a.appid)).toBe(1);
      expect(await t.services.store.countEvents(b.appid)).toBe(1);
    });

    it("a portrait with A's token shows A's data, whatever appid the request names", async () => {
      const r = await t.post(`${PORTRAIT}?access_token=${a.token}&appid=${b.appid}`, { begin_date: day, end_date: day, appid: b.appid });
      expect((r.json as { visit_uv: { genders: unknown[] } }).visit_uv.genders).toEqual([{ id: 1, name: '男', value: 1 }]);
    });

    it("A's secret gets no token for B, and A's signature opens no cloud call in B's env", async () => {
      expect((await t.get(`/cgi-bin/token?grant_type=client_credential&appid=${b.appid}&secret=${a.secret}`)).json.errcode).toBe(40125);
      expect((await t.post('/cgi-bin/stable_token', { grant_type: 'client_credential', appid: b.appid, secret: a.secret })).json.errcode).toBe(40125);
      const require = createRequire(import.meta.url);
      process.env.TENCENTCLOUD = 'true'; // no probe of Tencent Cloud's metadata host
      delete require.cache[require.resolve('wx-server-sdk')];
      const cloud = require('wx-server-sdk') as {
        init(c: Record<string, string>): void;
        openapi: { analysis: { getUserPortrait(d: Record<string, string>): Promise<unknown> } };
      };
      cloud.init({ env: 'env-b', serviceUrl: `${t.url}/tcb`, secretId: a.appid, secretKey: a.secret });
      const err = await cloud.openapi.analysis.getUserPortrait({ beginDate: day, endDate: day }).then(
        () => undefined,
        (e: unknown) => e as { errMsg?: string },
      );
      expect(String(err?.errMsg)).toMatch(/secretId must be the appid of env/);
    });

    it('admin routes answer 401 JSON without the key', async () => {
      for (const [method, path] of [['GET', '/admin/apps'], ['POST', '/admin/apps'], ['PATCH', `/admin/apps/${b.appid}`], ['POST', '/admin/events'], ['POST', '/admin/portrait']]) {
        for (const auth of [undefined, 'Bearer wrong', `Bearer ${TEST_ADMIN_KEY}x`, TEST_ADMIN_KEY]) {
          const r = await request(t.url, { method, path: `${path}?appid=${b.appid}`, headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) }, body: '{}' });
          expect(r.ok && r.answer.status, `${method} ${path} ${auth}`).toBe(401);
          expect(r.ok && typeof json(r.answer).error).toBe('string');
        }
      }
      expect(await t.services.store.countEvents(b.appid)).toBe(1);
    });
  });

  describe('limits and failures', () => {
    const logs = new LogCapture();
    let t: TestServer;
    let token: string;
    let a: { appid: string; secret: string };

    beforeAll(async () => {
      t = await startTestServer({ clock: new ManualClock(NOW), server: { logger: { level: 'info', stream: logs } } });
      a = await t.newApp({ env: 'limits' });
      token = await t.token(a.appid, a.secret);
    });
    afterAll(async () => {
      await t.stop(true);
    });

    it('holds the body size limit of every route, with or without a Content-Length', async () => {
      const big = (n: number) => `{"begin_date":"${'x'.repeat(n)}"}`;
      const cases: [string, number, number][] = [
        [`/v1/events?access_token=${token}`, 10 * 1024 * 1024 + 1, 45002],
        [`${PORTRAIT}?access_token=${token}`, 64 * 1024 + 1, 45002],
        ['/cgi-bin/stable_token', 64 * 1024 + 1, 45002],
      ];
      for (const [path, size, errcode] of cases) {
        for (const chunked of [false, true]) {
          const r = await request(t.url, {
            method: 'POST',
            path,
            headers: { 'content-type': 'application/json', ...(chunked ? { 'transfer-encoding': 'chunked' } : {}) },
            body: big(size),
          });
          expect(r.ok, path).toBe(true);
          if (r.ok) expect(json(r.answer).errcode, `${path} chunked=${chunked}`).toBe(errcode);
        }
      }
      // /tcb streams its multipart form: each part has its limit (requestData 1 MB, text fields 16 KB). The body is
      // read only for a request whose TC3 header names the env's appid with a fresh timestamp (the signature itself,
      // over the form fields, is checked after reading them), so these carry such a header.
      const ts = Math.floor(NOW / 1000);
      const tc3 = {
        authorization: `TC3-HMAC-SHA256 Credential=${a.appid}/${new Date(ts * 1000).toISOString().slice(0, 10)}/tcb/tc3_request, SignedHeaders=content-type;host, Signature=${'0'.repeat(64)}`,
        'x-timestamp': String(ts),
      };
      const part = (name: string, body: string, file: boolean) =>
        `--x\r\nContent-Disposition: form-data; name="${name}"${file ? '; filename="b"\r\nContent-Type: application/octet-stream' : ''}\r\n\r\n${body}\r\n`;
      for (const [body, message] of [
        [`${part('action', 'wx.openApi', false)}${part('requestData', 'x'.repeat(1024 * 1024 + 1), true)}--x--\r\n`, 'malformed form: request file too large'],
        [`${part('apiName', 'x'.repeat(16 * 1024 + 1), false)}--x--\r\n`, 'form field apiName is malformed or too long'],
      ]) {
        const tcb = await request(t.url, { method: 'POST', path: '/tcb?env=limits', headers: { 'content-type': 'multipart/form-data; boundary=x', ...tc3 }, body });
        expect(tcb.ok && json(tcb.answer)).toMatchObject({ code: 'INVALID_PARAM', message });
      }
      const headers = await request(t.url, { path: '/healthz', headers: { 'x-big': 'a'.repeat(20_000) } });
      expect(headers.ok && headers.answer.status).toBe(431);
      expect(headers.ok && json(headers.answer).errcode).toBe(45002);
      expect(await t.services.store.countEvents((await t.services.store.getAppByEnv('limits'))?.appid ?? '')).toBe(0);
    });

    it('puts the rid of every answer in the log, and the error with it when something fails inside', async () => {
      const rids: string[] = [];
      for (const path of [`${PORTRAIT}?access_token=nope`, `/v1/events?access_token=${token}`, '/nowhere']) {
        const r = await request(t.url, { method: 'POST', path, headers: { 'content-type': 'application/json' }, body: '{"begin_date":' });
        const rid = r.ok ? RID.exec(String(json(r.answer).errmsg))?.[1] : undefined;
        expect(rid, path).toBeDefined();
        rids.push(rid ?? '');
      }
      for (const rid of rids) expect(logs.reqIds.has(rid), rid).toBe(true);

      // An internal failure: the store goes away under the running server.
      await t.services.store.close();
      const r = await request(t.url, { method: 'POST', path: `/v1/events?access_token=${token}`, headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ openid: 'x', time: NOW - 1000 }]) });
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      const answer = json(r.answer);
      expect(answer.errcode).toBe(-1);
      expect(String(answer.errmsg)).toMatch(/^system error rid: [0-9a-f-]{26}$/);
      expect(r.answer.text).not.toMatch(/closed|store|\.ts|node_modules|\/work|\n\s+at /);
      const rid = RID.exec(String(answer.errmsg))?.[1] ?? '';
      const line = logs.atLeast(50).find((l) => l.includes(rid));
      expect(line, logs.atLeast(50).join('\n')).toBeDefined();
      expect(line).toContain('the store is closed');
    });
  });
});
