import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalBackend } from '../../cli/localBackend.ts';
import { fillDemo } from '../../cli/fillDemo.ts';
import { ManualClock, yesterday } from '../../domain/clock.ts';
import { formatDay } from '../../domain/day.ts';
import { startTestServer, type TestServer } from '../testing.ts';

// The dashboard's HTTP side on the real server (port 0, real DuckDB file), without a browser: files, sign-in,
// session cookie, the per-address sign-in limit, and data passed through the public API. web/dashboard.e2e.test.ts
// drives the page itself in Chromium.

const NOW = Date.UTC(2026, 10, 28, 2, 0, 0); // 2026-11-28 10:00 Shanghai: yesterday is 20261127
const PORTRAIT = 'getweanalysisappiduserportrait';
const PROXY = '127.0.0.1';

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: Record<string, unknown>;
}

async function call(url: string, init: RequestInit = {}): Promise<Answer> {
  const r = await fetch(url, { redirect: 'manual', ...init });
  const text = await r.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON
  }
  return { status: r.status, headers: r.headers, text, json };
}

/** The session cookie's value from a Set-Cookie header. */
function cookieOf(a: Answer): string {
  const set = a.headers.get('set-cookie') ?? '';
  const m = /datacube_session=([^;]*)/.exec(set);
  if (!m?.[1]) throw new Error(`no session cookie in ${JSON.stringify(set)}: ${a.text}`);
  return `datacube_session=${m[1]}`;
}

describe('dashboard over HTTP (real server)', () => {
  const clock = new ManualClock(NOW);
  let t: TestServer;
  let app: { appid: string; secret: string };
  const day = formatDay(yesterday(clock));

  beforeAll(async () => {
    // The proxy address is trusted so each test can speak for a client address of its own (X-Forwarded-For).
    t = await startTestServer({ clock, config: { trustedProxies: [PROXY], signInFailures: 5 } });
    const filled = await fillDemo(new LocalBackend(t.services), t.dataDir, clock, { users: 400, days: 30 });
    app = filled.credentials;
  });
  afterAll(async () => {
    await t.stop(true);
  });

  let nextIp = 1;
  /** A client address of its own for each caller, so sign-in limits of one test do not touch another. */
  const newClient = () => `198.51.100.${nextIp++}`;

  const signIn = (body: unknown, ip: string, headers: Record<string, string> = {}) =>
    call(`${t.url}/dashboard/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': ip, ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const data = (cookie: string | undefined, body: unknown, headers: Record<string, string> = {}, path = PORTRAIT) =>
    call(`${t.url}/dashboard/datacube/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(cookie ? { cookie } : {}), ...headers },
      body: JSON.stringify(body),
    });
  const publicPortrait = async (body: unknown) => {
    const token = await t.token(app.appid, app.secret);
    return call(`${t.url}/datacube/${PORTRAIT}?access_token=${token}`, { method: 'POST', body: JSON.stringify(body) });
  };
  const session = async () => cookieOf(await signIn({ appid: app.appid, secret: app.secret }, newClient()));

  describe('the page and its files', () => {
    it('serves the page at GET / with a strict content security policy', async () => {
      const r = await call(`${t.url}/`);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(r.text).toContain('<html lang="zh-CN">');
      const csp = r.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
      // HEAD works too, and /dashboard leads to /.
      expect((await call(`${t.url}/`, { method: 'HEAD' })).status).toBe(200);
      const redirect = await call(`${t.url}/dashboard`);
      expect(redirect.status).toBe(302);
      expect(redirect.headers.get('location')).toBe('/');
    });

    it('serves every file the page and its modules refer to, all from datacube itself', async () => {
      const html = (await call(`${t.url}/`)).text;
      const pending = [...html.matchAll(/(?:src|href)="([^"#][^"]*)"/g)].map((m) => m[1] ?? '');
      const seen = new Set<string>();
      while (pending.length > 0) {
        const url = pending.pop() ?? '';
        if (seen.has(url)) continue;
        seen.add(url);
        expect(url, 'only local URLs').toMatch(/^\/[^/]/);
        const r = await call(`${t.url}${url}`);
        expect(r.status, url).toBe(200);
        if (url.endsWith('.js')) {
          expect(r.headers.get('content-type'), url).toBe('text/javascript; charset=utf-8');
          expect(r.text, `${url} refers to nothing outside`).not.toMatch(/\bfrom\s+['"](?!\.\/)|import\(\s*['"](?!\.\/)/);
          for (const m of r.text.matchAll(/(?:from\s+|import\(\s*)['"]\.\/([^'"]+)['"]/g)) pending.push(`/dashboard/assets/${m[1] ?? ''}`);
          for (const m of r.text.matchAll(/['"](\/dashboard\/assets\/[^'"]+)['"]/g)) pending.push(m[1] ?? '');
        }
      }
      for (const f of ['/dashboard/assets/app.js', '/dashboard/assets/echarts.mjs', '/dashboard/assets/china.json', '/dashboard/assets/style.css']) {
        expect(seen, f).toContain(f);
      }
      const echarts = await call(`${t.url}/dashboard/assets/echarts.mjs`);
      expect(echarts.text.length).toBeGreaterThan(500_000);
      expect(echarts.text).toMatch(/registerMap/);
    });

    it('serves the China map with 台湾, 香港 and 澳门, and its Apache-2.0 licence and notice', async () => {
      const map = (await call(`${t.url}/dashboard/assets/china.json`)).json as { features: { id: string; properties: { name: string } }[] };
      const names = map.features.map((f) => f.properties.name);
      expect(names).toHaveLength(34);
      for (const n of ['台湾', '香港', '澳门', '海南', '广东']) expect(names).toContain(n);
      expect(map.features.find((f) => f.properties.name === '台湾')?.id).toBe('710000');
      expect((await call(`${t.url}/dashboard/assets/licenses/china-map-LICENSE.txt`)).text).toContain('Apache License');
      expect((await call(`${t.url}/dashboard/assets/licenses/china-map-NOTICE.txt`)).text).toContain('Apache ECharts');
      expect((await call(`${t.url}/dashboard/assets/licenses/echarts-LICENSE.txt`)).text).toContain('Apache License');
    });

    it('compresses with gzip when asked, and answers 304 to a matching ETag', async () => {
      const plain = await fetch(`${t.url}/dashboard/assets/echarts.mjs`, { headers: { 'accept-encoding': 'identity' } });
      const plainBytes = Buffer.from(await plain.arrayBuffer());
      // Node's fetch always asks for gzip and unpacks it; a raw request shows what was sent.
      const { request } = await import('node:http');
      const raw = await new Promise<{ headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
        request(`${t.url}/dashboard/assets/echarts.mjs`, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
          const parts: Buffer[] = [];
          res.on('data', (b: Buffer) => parts.push(b));
          res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(parts) }));
        })
          .on('error', reject)
          .end();
      });
      expect(raw.headers['content-encoding']).toBe('gzip');
      expect(raw.body.length).toBeLessThan(plainBytes.length / 2);
      expect(gunzipSync(raw.body).equals(plainBytes)).toBe(true);
      const etag = plain.headers.get('etag') ?? '';
      expect(etag).toMatch(/^"[\w-]{22}"$/);
      const again = await fetch(`${t.url}/dashboard/assets/echarts.mjs`, { headers: { 'if-none-match': etag } });
      expect(again.status).toBe(304);
    });

    it('serves nothing else: unknown names, other folders and path tricks get the JSON 404', async () => {
      for (const p of [
        '/dashboard/assets/nope.js',
        '/dashboard/assets/index.html',
        '/dashboard/assets/../package.json',
        '/dashboard/assets/%2e%2e/%2e%2e/package.json',
        '/dashboard/assets/vendor/china-map/china.json',
        '/dashboard/assets/dashboard.e2e.test.ts',
        '/dashboard/assets/tsconfig.json',
      ]) {
        const r = await call(`${t.url}${p}`);
        expect(r.status, p).toBe(404);
        expect(r.json.errcode, p).toBe(40066);
      }
    });

    it('serves no dashboard with DATACUBE_DASHBOARD=off', async () => {
      const off = await startTestServer({ clock, config: { dashboard: false } });
      try {
        const r = await call(`${off.url}/`);
        expect(r.status).toBe(404);
        expect(r.json.errcode).toBe(40066);
        expect((await call(`${off.url}/dashboard/session`)).status).toBe(404);
      } finally {
        await off.stop(true);
      }
    });
  });

  describe('sign-in and the session cookie', () => {
    it('refuses a wrong secret or an unknown appid as the token route does, and sets no cookie', async () => {
      const ip = newClient();
      const wrong = await signIn({ appid: app.appid, secret: '0'.repeat(32) }, ip);
      expect(wrong.json.errcode).toBe(40125);
      expect(wrong.headers.get('set-cookie')).toBeNull();
      const unknown = await signIn({ appid: 'wx0000000000000000', secret: app.secret }, ip);
      expect(unknown.json.errcode).toBe(40013);
      expect(unknown.headers.get('set-cookie')).toBeNull();
      // Every body fault alike: 47001 with HTTP 200, as the token route answers its own.
      for (const body of ['{"appid":', 'null', '[]', { appid: app.appid }, { appid: 1, secret: 2 }]) {
        const r = await signIn(body, ip);
        expect(r.json.errcode, JSON.stringify(body)).toBe(47001);
        expect(r.status, JSON.stringify(body)).toBe(200);
      }
    });

    it('signs in with the right secret: an HttpOnly, SameSite=Strict cookie, no token in sight', async () => {
      const r = await signIn({ appid: app.appid, secret: app.secret }, newClient());
      expect(r.json).toEqual({ errcode: 0, errmsg: 'ok', appid: app.appid, yesterday: day });
      expect(r.text).not.toMatch(/access_token/);
      const set = r.headers.get('set-cookie') ?? '';
      expect(set).toMatch(/^datacube_session=[\w-]{43}; /);
      expect(set).toContain('HttpOnly');
      expect(set).toContain('SameSite=Strict');
      expect(set).toContain('Path=/');
      expect(set).toContain('Max-Age=43200');
      expect(set).not.toContain('Secure');
      expect(r.headers.get('cache-control')).toBe('no-store');

      const who = await call(`${t.url}/dashboard/session`, { headers: { cookie: cookieOf(r) } });
      expect(who.json).toMatchObject({ signed_in: true, appid: app.appid, yesterday: day });
      expect(who.text).not.toMatch(/token|secret/);
      expect((await call(`${t.url}/dashboard/session`)).json).toEqual({ signed_in: false, yesterday: day });
      expect((await call(`${t.url}/dashboard/session`, { headers: { cookie: 'datacube_session=forged' } })).json.signed_in).toBe(false);
    });

    it('marks the cookie Secure when a trusted proxy says the request came over HTTPS, and only then', async () => {
      const viaProxy = await signIn({ appid: app.appid, secret: app.secret }, newClient(), { 'x-forwarded-proto': 'https' });
      expect(viaProxy.headers.get('set-cookie')).toMatch(/; Secure$/);
      const untrusted = await startTestServer({ clock });
      try {
        const a = await untrusted.newApp();
        const direct = await call(`${untrusted.url}/dashboard/session`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-forwarded-proto': 'https' },
          body: JSON.stringify({ appid: a.appid, secret: a.secret }),
        });
        expect(direct.json.errcode).toBe(0);
        expect(direct.headers.get('set-cookie')).not.toContain('Secure');
      } finally {
        await untrusted.stop(true);
      }
    });

    it('refuses sign-ins and data requests that another site starts', async () => {
      const ip = newClient();
      const cross = await signIn({ appid: app.appid, secret: app.secret }, ip, { origin: 'https://evil.example' });
      expect(cross.status).toBe(403);
      expect(cross.headers.get('set-cookie')).toBeNull();
      expect((await signIn({ appid: app.appid, secret: app.secret }, ip, { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
      const cookie = await session();
      const body = { begin_date: day, end_date: day };
      expect((await data(cookie, body, { origin: 'https://evil.example' })).status).toBe(403);
      expect((await data(cookie, body, { 'sec-fetch-site': 'same-site' })).status).toBe(403);
      expect((await data(cookie, body, { origin: t.url, 'sec-fetch-site': 'same-origin' })).status).toBe(200);
    });

    it('signs out: the cookie is cleared and the session no longer reads data', async () => {
      const cookie = await session();
      const body = { begin_date: day, end_date: day };
      expect((await data(cookie, body)).json.ref_date).toBe(day);
      const out = await call(`${t.url}/dashboard/session`, { method: 'DELETE', headers: { cookie } });
      expect(out.json.errcode).toBe(0);
      expect(out.headers.get('set-cookie')).toMatch(/^datacube_session=; .*Max-Age=0/);
      const after = await data(cookie, body);
      expect(after.status).toBe(401);
      expect(after.json.errcode).toBe(41001);
      expect((await call(`${t.url}/dashboard/session`, { headers: { cookie } })).json.signed_in).toBe(false);
    });
  });

  describe('failed sign-ins are limited per client address', () => {
    it('refuses an address after 5 failures in 15 minutes (even with the right secret), not the others', async () => {
      const attacker = newClient();
      const other = newClient();
      for (let i = 0; i < 5; i++) expect((await signIn({ appid: app.appid, secret: `${i}`.repeat(32) }, attacker)).json.errcode).toBe(40125);
      const blocked = await signIn({ appid: app.appid, secret: app.secret }, attacker);
      expect(blocked.status).toBe(429);
      expect(blocked.json.errcode).toBe(45011);
      expect(Number(blocked.headers.get('retry-after'))).toBe(900);
      expect(blocked.headers.get('set-cookie')).toBeNull();
      expect((await signIn({ appid: app.appid, secret: app.secret }, other)).json.errcode).toBe(0);
      clock.advance(15 * 60_000);
      try {
        expect((await signIn({ appid: app.appid, secret: app.secret }, attacker)).json.errcode).toBe(0);
      } finally {
        clock.set(NOW);
      }
    });

    it('counts unknown appids too, and believes X-Forwarded-For only from a trusted proxy', async () => {
      const plain = await startTestServer({ clock, config: { signInFailures: 2 } });
      try {
        const a = await plain.newApp();
        const post = (secret: string, ip: string) =>
          call(`${plain.url}/dashboard/session`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-forwarded-for': ip },
            body: JSON.stringify({ appid: a.appid, secret }),
          });
        // Without a trusted proxy, every request counts for the connection's own address, whatever it claims.
        expect((await post('x', '192.0.2.1')).json.errcode).toBe(40125);
        expect((await call(`${plain.url}/dashboard/session`, { method: 'POST', body: JSON.stringify({ appid: 'wx0000000000000000', secret: 'x' }) })).json.errcode).toBe(40013);
        expect((await post(a.secret, '192.0.2.3')).status).toBe(429);
      } finally {
        await plain.stop(true);
      }
    });
  });

  describe('data through the public API', () => {
    it('answers exactly what the public API answers for the same window', async () => {
      const cookie = await session();
      const begin = formatDay(yesterday(clock) - 6);
      for (const body of [
        { begin_date: day, end_date: day },
        { begin_date: begin, end_date: day },
        { begin_date: formatDay(yesterday(clock) - 29), end_date: day },
      ]) {
        const mine = await data(cookie, body);
        const theirs = await publicPortrait(body);
        expect(mine.status).toBe(200);
        expect(mine.json).toEqual(theirs.json);
        expect((mine.json.visit_uv as { genders: unknown[] }).genders.length).toBeGreaterThan(0);
      }
    });

    it("passes the API's errors on unchanged", async () => {
      const cookie = await session();
      expect((await data(cookie, { begin_date: day, end_date: formatDay(yesterday(clock) + 1) })).json.errcode).toBe(61501);
      expect((await data(cookie, { begin_date: '2026-11-27', end_date: day })).json.errcode).toBe(61500);
      expect((await data(cookie, { begin_date: day, end_date: day }, {}, 'getweanalysisappidnosuchthing')).json.errcode).toBe(48001);
      expect((await data(cookie, { begin_date: day, end_date: day }, {}, '..%2Fcgi-bin%2Ftoken')).json.errcode).toBe(48001);
      expect((await data(undefined, { begin_date: day, end_date: day })).status).toBe(401);
    });

    it('renews its token when another client force-refreshes the stable token, and when the token runs out', async () => {
      const cookie = await session();
      const body = { begin_date: day, end_date: day };
      expect((await data(cookie, body)).json.ref_date).toBe(day);
      // Someone else rotates the stable token: the session's copy dies 5 minutes later.
      const forced = await t.post('/cgi-bin/stable_token', { grant_type: 'client_credential', appid: app.appid, secret: app.secret, force_refresh: true });
      expect(typeof forced.json.access_token).toBe('string');
      try {
        clock.advance(6 * 60_000);
        expect((await data(cookie, body)).json.ref_date).toBe(day);
        // Used every 100 minutes, the session outlives several 2-hour tokens.
        for (let i = 0; i < 4; i++) {
          clock.advance(100 * 60_000);
          expect((await data(cookie, body)).json.ref_date, `after ${(i + 1) * 100} min`).toBe(day);
        }
      } finally {
        clock.set(NOW);
      }
    });

    it('ends a session left unused for 2 hours, and any session after 12 hours', async () => {
      const idle = await session();
      const busy = await session();
      const body = { begin_date: day, end_date: day };
      try {
        clock.advance(100 * 60_000);
        expect((await data(busy, body)).status).toBe(200);
        clock.advance(20 * 60_000);
        expect((await data(idle, body)).status).toBe(401); // 2 h unused
        // One use every 100 minutes keeps a session alive, up to its 12 hours.
        for (let m = 200; m < 12 * 60; m += 100) {
          clock.set(NOW + m * 60_000);
          expect((await data(busy, body)).status, `${m} min`).toBe(200);
        }
        clock.set(NOW + 12 * 3_600_000);
        expect((await data(busy, body)).status).toBe(401);
      } finally {
        clock.set(NOW);
      }
    });
  });
});
