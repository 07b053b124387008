/**
 * Issue 10, point 5, the breaks that show over HTTP: event ids with a lone surrogate, impossible dates and offsets,
 * secrets put in the path, and the device cap's answer.
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../domain/clock.ts';
import { dayOf, startOfDay } from '../domain/day.ts';
import { OVERFLOW_DEVICE_NAME } from '../domain/dimensions.ts';
import { startTestServer, type TestServer } from './testing.ts';

const NOW = Date.UTC(2026, 10, 28, 2, 0, 0);
const DAY = dayOf(NOW) - 1;

class Lines extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _e: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

describe('small breaks over HTTP', () => {
  const clock = new ManualClock(NOW);
  const log = new Lines();
  let t: TestServer;
  let app: { appid: string; secret: string };
  let token: string;
  beforeAll(async () => {
    t = await startTestServer({ clock, config: { maxDeviceNames: 2 }, server: { logger: { level: 'info', stream: log } } });
    app = await t.newApp();
    token = await t.token(app.appid, app.secret);
  });
  afterAll(async () => {
    await t.stop(true);
  });
  const ingest = (body: unknown) => t.post(`/v1/events?access_token=${token}`, body);

  it('refuses an event_id with a lone surrogate every time instead of storing it again on each resend', async () => {
    const e = { event_id: 'x\ud800', openid: 'u1', time: startOfDay(DAY) + 1000 };
    for (let i = 0; i < 3; i++) {
      const r = await ingest([e]);
      expect(r.json.accepted).toBe(0);
      expect(r.json.rejected).toEqual([{ index: 0, errcode: 47001, errmsg: expect.stringMatching(/^event_id: /) }]);
    }
    const ok = { ...e, event_id: 'x\ud83d\ude00' };
    expect((await ingest([ok])).json.accepted).toBe(1);
    expect((await ingest([ok])).json).toMatchObject({ accepted: 0, duplicates: 1 });
    expect(await t.services.store.countEvents(app.appid)).toBe(1);
  });

  it('refuses 2026-02-30 and an offset of +14:59 rather than storing another instant', async () => {
    const r = await ingest([
      { openid: 'u2', time: '2026-02-30T10:00:00Z' },
      { openid: 'u2', time: '2026-11-27T10:00:00+14:59' },
      { openid: 'u2', time: '2026-11-27T10:00:00+08:00' },
    ]);
    expect(r.json.accepted).toBe(1);
    expect((r.json.rejected as { index: number; errmsg: string }[]).map((x) => [x.index, x.errmsg.split(':')[0]])).toEqual([
      [0, 'time'],
      [1, 'time'],
    ]);
  });

  it('keeps secrets put in the path out of the log', async () => {
    const r = await t.get(`/cgi-bin/token/${app.secret}`);
    expect(r.status).toBe(404);
    const p = await t.post(`/datacube/${app.secret}?access_token=${token}`, {});
    expect(p.json.errcode).toBe(48001);
    expect(log.text).not.toContain(app.secret);
    expect(log.text).not.toContain(token);
    expect(log.text).toContain('"url":"/cgi-bin/token/*"');
    expect(log.text).toContain('"url":"/datacube/*?access_token=[redacted]"');
  });

  it('counts device names past the app’s cap under 其他 and says so in the answer and the log', async () => {
    const ev = (openid: string, brand: string) => ({ openid, time: startOfDay(DAY) + 5000, brand, model: 'M1' });
    const first = await ingest([ev('d1', 'A'), ev('d2', 'B')]);
    expect(first.json.device_overflow).toBeUndefined();
    const r = await ingest([ev('d3', 'C'), ev('d4', 'D'), ev('d5', 'A')]);
    expect(r.json).toMatchObject({ accepted: 3, device_overflow: { events: 2, names: 2, cap: 2, name: OVERFLOW_DEVICE_NAME } });
    expect(log.text).toMatch(/"level":40[^\n]*device names past the cap of 2/);
  });
});
