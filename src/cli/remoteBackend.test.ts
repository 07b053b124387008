/**
 * CLI ingest through a running server (issue 10): batches are split by bytes to fit the server's body limit, and a
 * 45011 (HTTP 429) is waited out with its Retry-After instead of ending the run.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, TEST_ADMIN_KEY, type TestServer } from '../api/testing.ts';
import { ManualClock } from '../domain/clock.ts';
import { dayOf, startOfDay } from '../domain/day.ts';
import { byteBatches } from './byteBatches.ts';
import { RemoteBackend } from './remoteBackend.ts';

const NOW = Date.UTC(2026, 10, 28, 2, 0, 0);
const DAY = dayOf(NOW) - 1;

describe('byteBatches', () => {
  it('keeps each JSON array within the byte limit, in order, and puts an oversized record alone', () => {
    const records = Array.from({ length: 100 }, (_, i) => ({ openid: `u${i}`, pad: 'x'.repeat(i % 7 === 0 ? 300 : 20) }));
    const parts = byteBatches(records, 400, 1000);
    expect(parts.map((p) => p.count).reduce((a, b) => a + b, 0)).toBe(100);
    let next = 0;
    for (const p of parts) {
      expect(p.first).toBe(next);
      next += p.count;
      expect(JSON.parse(p.body)).toEqual(records.slice(p.first, p.first + p.count));
      expect(Buffer.byteLength(p.body)).toBeLessThanOrEqual(400);
    }
    const huge = byteBatches([{ a: 1 }, { b: 'y'.repeat(1000) }, { c: 3 }], 100);
    expect(huge.map((p) => p.count)).toEqual([1, 1, 1]);
    expect(byteBatches(records, 1_000_000, 30).map((p) => p.count)).toEqual([30, 30, 30, 10]);
  });
});

describe('RemoteBackend.ingest', () => {
  let t: TestServer;
  let appid: string;
  let token: string;
  beforeAll(async () => {
    // A small body limit, so that a few thousand events already need several bodies.
    t = await startTestServer({ clock: new ManualClock(NOW), config: { maxBodyBytes: 64 * 1024 } });
    const app = await t.newApp();
    appid = app.appid;
    token = await t.token(app.appid, app.secret);
  });
  afterAll(async () => {
    await t.stop(true);
  });
  const records = (n: number, tag: string) =>
    Array.from({ length: n }, (_, i) => ({ openid: `${tag}${i}`, time: startOfDay(DAY) + i, note: 'n'.repeat(100) }));

  it('splits a batch larger than the server’s body limit and maps rejections back to the batch', async () => {
    const remote = new RemoteBackend({ url: t.url, pid: process.pid, adminKey: TEST_ADMIN_KEY, maxBodyBytes: 64 * 1024 });
    const batch: unknown[] = records(3000, 'a');
    batch[2500] = { openid: 'bad one', time: startOfDay(DAY) };
    expect(Buffer.byteLength(JSON.stringify(batch))).toBeGreaterThan(5 * 64 * 1024);
    const r = await remote.ingest(appid, batch);
    expect(r.accepted).toBe(2999);
    expect(r.rejected).toEqual([{ index: 2500, errmsg: expect.stringMatching(/^openid: /) }]);
  });

  it('waits out 45011 (HTTP 429, Retry-After) and then stores the batch', async () => {
    // Another upload from this address holds this client's whole share of body bytes, and stalls: the server
    // answers 45011 until the minimum upload rate cuts it off (within seconds).
    const { hostname, port } = new URL(t.url);
    const holder = connect({ host: hostname, port: Number(port) });
    await new Promise<void>((r) => holder.once('connect', () => r()));
    holder.on('error', () => undefined);
    holder.write(`POST /v1/events?access_token=${token} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${64 * 1024}\r\n\r\n[`);
    await new Promise((r) => setTimeout(r, 200));
    let waits = 0;
    const remote = new RemoteBackend(
      { url: t.url, pid: process.pid, adminKey: TEST_ADMIN_KEY, maxBodyBytes: 64 * 1024 },
      {
        sleep: async (ms) => {
          waits++;
          await new Promise((r) => setTimeout(r, ms));
        },
      },
    );
    const r = await remote.ingest(appid, records(400, 'b'));
    expect(r).toEqual({ accepted: 400, duplicates: 0, rejected: [] });
    expect(waits).toBeGreaterThan(0);
    holder.destroy();
  }, 30_000);
});
