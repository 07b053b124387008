/**
 * Issue 10, point 2: tokens are safe under concurrency. An injectable clock stands in for the 5-minute wait.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../domain/clock.ts';
import { dayOf, formatDay } from '../domain/day.ts';
import { startTestServer, type TestServer } from './testing.ts';

const NOW = Date.UTC(2026, 10, 28, 2, 0, 0);
const YESTERDAY = formatDay(dayOf(NOW) - 1);
const PORTRAIT = '/datacube/getweanalysisappiduserportrait';

describe('tokens under concurrency (real server, injectable clock)', () => {
  const clock = new ManualClock(NOW);
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ clock });
  });
  afterAll(async () => {
    await t.stop(true);
  });

  const works = async (token: string) => {
    const r = await t.post(`${PORTRAIT}?access_token=${encodeURIComponent(token)}`, { begin_date: YESTERDAY, end_date: YESTERDAY });
    return r.json.ref_date === YESTERDAY ? 'ok' : r.json.errcode;
  };

  it('of 4 concurrent /cgi-bin/token calls, the newest lives its full lifetime and the others 5 minutes, as one after another', async () => {
    clock.set(NOW);
    const app = await t.newApp();
    const answers = await Promise.all(
      Array.from({ length: 4 }, () => t.get(`/cgi-bin/token?grant_type=client_credential&appid=${app.appid}&secret=${app.secret}`)),
    );
    const tokens = answers.map((a) => String(a.json.access_token));
    expect(new Set(tokens).size).toBe(4);
    for (const a of answers) expect(a.json.expires_in).toBe(7200);
    for (const tok of tokens) expect(await works(tok)).toBe('ok');
    clock.advance(5 * 60_000 + 1_000);
    const after = await Promise.all(tokens.map(works));
    // Exactly one survives (the last one issued); the others were replaced.
    expect(after.filter((x) => x === 'ok')).toHaveLength(1);
    expect(after.filter((x) => x === 40001)).toHaveLength(3);
    const survivor = tokens[after.indexOf('ok')] ?? '';
    clock.set(NOW + 7200_000 - 1_000);
    expect(await works(survivor)).toBe('ok');
    clock.set(NOW + 7200_000 + 1_000);
    expect(await works(survivor)).toBe(42001);
    clock.set(NOW);
  });

  it('gives 8 concurrent stable_token calls one token, valid for its whole lifetime', async () => {
    clock.set(NOW);
    const app = await t.newApp();
    const body = { grant_type: 'client_credential', appid: app.appid, secret: app.secret };
    const answers = await Promise.all(Array.from({ length: 8 }, () => t.post('/cgi-bin/stable_token', body)));
    const tokens = new Set(answers.map((a) => a.json.access_token));
    expect(tokens.size).toBe(1);
    const token = String([...tokens][0]);
    clock.advance(5 * 60_000 + 1_000);
    expect(await works(token)).toBe('ok');
    clock.advance(60 * 60_000);
    expect(await works(token)).toBe('ok');
    expect((await t.post('/cgi-bin/stable_token', body)).json.access_token).toBe(token);
    clock.set(NOW);
  });

  it('gives concurrent forced refreshes one new token: the others are refused as too soon (45009)', async () => {
    clock.set(NOW);
    const app = await t.newApp();
    const body = { grant_type: 'client_credential', appid: app.appid, secret: app.secret, force_refresh: true };
    const answers = await Promise.all(Array.from({ length: 4 }, () => t.post('/cgi-bin/stable_token', body)));
    expect(answers.filter((a) => typeof a.json.access_token === 'string')).toHaveLength(1);
    expect(answers.filter((a) => a.json.errcode === 45009)).toHaveLength(3);
  });
});

describe('forced refresh limits survive a restart', () => {
  it('keeps the 30-second gap and the 20-a-day count across a restart of the server', async () => {
    const clock = new ManualClock(NOW);
    let t = await startTestServer({ clock });
    const dataDir = t.dataDir;
    try {
      const app = await t.newApp();
      const body = { grant_type: 'client_credential', appid: app.appid, secret: app.secret, force_refresh: true };
      expect(typeof (await t.post('/cgi-bin/stable_token', body)).json.access_token).toBe('string');
      await t.stop();
      t = await startTestServer({ clock, dataDir });
      expect((await t.post('/cgi-bin/stable_token', body)).json.errcode).toBe(45009); // 30 s have not passed
      for (let i = 1; i < 20; i++) {
        clock.advance(31_000);
        expect(typeof (await t.post('/cgi-bin/stable_token', body)).json.access_token, `refresh ${i + 1}`).toBe('string');
      }
      clock.advance(31_000);
      expect((await t.post('/cgi-bin/stable_token', body)).json.errcode).toBe(45009); // the 21st today
      await t.stop();
      t = await startTestServer({ clock, dataDir });
      clock.advance(31_000);
      expect((await t.post('/cgi-bin/stable_token', body)).json.errcode).toBe(45009);
      // The next Shanghai day allows 20 again.
      clock.set(NOW + 24 * 3_600_000);
      expect(typeof (await t.post('/cgi-bin/stable_token', body)).json.access_token).toBe('string');
    } finally {
      await t.stop(true);
    }
  });
});
