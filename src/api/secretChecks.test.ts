/**
 * Issue 10, point 3 (secrets): wrong-secret floods are limited per client IP and per appid (45011, HTTP 429,
 * Retry-After), scrypt runs in a bounded pool so /healthz and the store keep answering, and verified secrets are
 * remembered for a while.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../domain/clock.ts';
import { dayOf, formatDay, startOfDay } from '../domain/day.ts';
import { startTestServer, type TestServer } from './testing.ts';

const NOW = Date.UTC(2026, 10, 28, 2, 0, 0);
const WRONG = '0'.repeat(32);

/** A GET from a chosen loopback source address (127.0.0.0/8 all reach a server on 127.0.0.1). */
function getFrom(url: string, path: string, localAddress = '127.0.0.1'): Promise<{ status: number; json: Record<string, unknown>; retryAfter?: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { localAddress, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(body) as Record<string, unknown>, retryAfter: res.headers['retry-after'] }));
    });
    req.on('error', reject);
    req.end();
  });
}

const tokenPath = (appid: string, secret: string) => `/cgi-bin/token?grant_type=client_credential&appid=${appid}&secret=${secret}`;

describe('wrong-secret limits (defaults: 10 per IP, 30 per appid, in 60 s)', () => {
  const clock = new ManualClock(NOW);
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ clock });
  });
  afterAll(async () => {
    await t.stop(true);
  });

  it('answers 64 concurrent wrong secrets from one client with at most 10 checks, the rest 45011 with Retry-After', async () => {
    clock.set(NOW);
    const app = await t.newApp();
    const answers = await Promise.all(Array.from({ length: 64 }, () => getFrom(t.url, tokenPath(app.appid, WRONG), '127.0.0.2')));
    const checked = answers.filter((a) => a.json.errcode === 40125);
    const refused = answers.filter((a) => a.json.errcode === 45011);
    expect(checked.length).toBeLessThanOrEqual(10);
    expect(checked.length + refused.length).toBe(64);
    for (const r of refused) {
      expect(r.status).toBe(429);
      expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(Number(r.retryAfter)).toBeLessThanOrEqual(60);
      expect(String(r.json.errmsg)).toMatch(/^api minute-quota reach limit.* rid: /);
    }
    // The blocked client is refused even with the right secret (not verified lately); another client is served;
    // the blocked one may try again once its failures are a minute old.
    expect((await getFrom(t.url, tokenPath(app.appid, app.secret), '127.0.0.2')).json.errcode).toBe(45011);
    expect((await getFrom(t.url, tokenPath(app.appid, app.secret), '127.0.0.3')).json.expires_in).toBe(7200);
    expect((await getFrom(t.url, tokenPath(app.appid, WRONG), '127.0.0.2')).json.errcode).toBe(45011);
    clock.advance(61_000);
    expect((await getFrom(t.url, tokenPath(app.appid, WRONG), '127.0.0.2')).json.errcode).toBe(40125);
    clock.set(NOW);
  });

  it('limits wrong secrets for one appid from many clients; a secret verified before still gets tokens', async () => {
    clock.set(NOW);
    const fresh = await t.newApp();
    const known = await t.newApp();
    const other = await t.newApp();
    // `known`'s secret is verified once before the flood: it is remembered for 5 minutes.
    expect((await getFrom(t.url, tokenPath(known.appid, known.secret), '127.0.1.1')).json.expires_in).toBe(7200);
    for (const [n, app] of [fresh, known].entries()) {
      for (let ip = 10; ip < 13; ip++) {
        const r = await Promise.all(Array.from({ length: 10 }, () => getFrom(t.url, tokenPath(app.appid, WRONG), `127.0.${2 + n}.${ip}`)));
        expect(r.every((x) => x.json.errcode === 40125)).toBe(true);
      }
      // 30 failures for the appid: a fourth client is refused before any check.
      const r = await getFrom(t.url, tokenPath(app.appid, WRONG), '127.0.2.20');
      expect([r.status, r.json.errcode]).toEqual([429, 45011]);
    }
    // A secret not verified lately waits like everyone else (the price of the limit)…
    expect((await getFrom(t.url, tokenPath(fresh.appid, fresh.secret), '127.0.2.21')).json.errcode).toBe(45011);
    // …a secret verified lately is served at once, and other appids are not affected.
    expect((await getFrom(t.url, tokenPath(known.appid, known.secret), '127.0.2.21')).json.expires_in).toBe(7200);
    expect((await getFrom(t.url, tokenPath(other.appid, other.secret), '127.0.2.21')).json.expires_in).toBe(7200);
    clock.advance(61_000);
    expect((await getFrom(t.url, tokenPath(fresh.appid, fresh.secret), '127.0.2.21')).json.expires_in).toBe(7200);
    clock.set(NOW);
  });

  it('counts unknown appids against the client too', async () => {
    clock.set(NOW);
    for (let i = 0; i < 10; i++) {
      const appid = `wx${(i + 1).toString(16).padStart(16, '0')}`;
      expect((await getFrom(t.url, tokenPath(appid, WRONG), '127.0.3.1')).json.errcode).toBe(40013);
    }
    expect((await getFrom(t.url, tokenPath('wx00000000000000ff', WRONG), '127.0.3.1')).json.errcode).toBe(45011);
    clock.set(NOW);
  });
});

describe('secret checks cannot starve the store or /healthz', () => {
  const clock = new ManualClock(NOW);
  let t: TestServer;
  beforeAll(async () => {
    // No failure limits here: every one of the wrong secrets is checked, through the bounded scrypt pool.
    t = await startTestServer({ clock, config: { secretFailuresPerIp: 10_000, secretFailuresPerApp: 10_000 } });
  });
  afterAll(async () => {
    await t.stop(true);
  });

  it('answers /healthz and acknowledges ingest while 32 wrong-secret checks are queued', async () => {
    const app = await t.newApp();
    const token = await t.token(app.appid, app.secret);
    let checked = 0;
    // 32 different wrong secrets (identical ones would share one check).
    const flood = Array.from({ length: 32 }, (_, i) =>
      getFrom(t.url, tokenPath(app.appid, (i + 1).toString(16).padStart(32, '0'))).then((r) => {
        if (r.json.errcode === 40125) checked++;
        return r;
      }),
    );
    await new Promise((r) => setTimeout(r, 50));
    const health = await getFrom(t.url, '/healthz');
    const checkedBeforeHealth = checked;
    const day = dayOf(NOW) - 1;
    const batches = await Promise.all(
      Array.from({ length: 8 }, (_, b) =>
        t.post(`/v1/events?access_token=${token}`, Array.from({ length: 100 }, (_, i) => ({ openid: `u${b}-${i}`, time: startOfDay(day) + i * 1000 }))),
      ),
    );
    const checkedBeforeIngest = checked;
    const all = await Promise.all(flood);
    expect(health.json).toEqual({ ok: true });
    expect(batches.every((b) => b.json.accepted === 100)).toBe(true);
    expect(all.every((a) => a.json.errcode === 40125)).toBe(true);
    // One check at a time: /healthz and the batches did not wait for the queue of checks to drain.
    expect(checkedBeforeHealth).toBeLessThan(16);
    expect(checkedBeforeIngest).toBeLessThan(24);
    expect(formatDay(day)).toMatch(/^\d{8}$/);
  });
});
