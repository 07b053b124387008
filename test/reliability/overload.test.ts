/**
 * Overload: many clients at once send ingest bodies near the 10 MB limit (and small batches in between) to
 * `datacube serve` in a child process. Past the bytes it may hold, the server answers 45011 (HTTP 429,
 * Retry-After) before reading the body, instead of buffering it; its resident memory stays bounded for the whole
 * flood, and every answer is an acknowledgement or that retryable refusal.
 */
import http from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { dayOf, startOfDay } from '../../src/domain/day.ts';
import { adminCreateApp, fetchToken, json, LONG, removeDir, request, rssOf, sleep, startChildServer, tempDir, waitExit } from './harness.ts';

const FLOOD_MS = Number(process.env.DATACUBE_FLOOD_MS ?? (LONG ? 60_000 : 8_000));
const BIG_CLIENTS = 48;
const SMALL_CLIENTS = 8;
const MB = 1024 * 1024;
/**
 * The bound on resident memory above the idle server's. The server may hold 4 × 10 MB of bodies being read plus
 * the parsed batches being validated and stored (at most 200,000 events), and DuckDB's working memory; 48 bodies
 * of 9 MB read at once would alone be 430 MB before any parsing.
 */
const RSS_GROWTH_LIMIT = 400 * MB;

/** A batch of 10,000 events of about 900 bytes each: the same event ids every time, so storage does not grow. */
function bigBody(day: number, client: number): Buffer {
  const pad = 'p'.repeat(800);
  const events = Array.from({ length: 10_000 }, (_, i) => ({
    event_id: `big-${client % 4}-${i}`,
    openid: `big${i % 500}`,
    time: startOfDay(day) + i * 1000,
    note: pad,
  }));
  return Buffer.from(JSON.stringify(events));
}

describe('overload', () => {
  const dataDir = tempDir('overload');
  const logDir = tempDir('overload-logs');
  afterAll(() => {
    removeDir(dataDir);
    removeDir(logDir);
  });

  it(`answers 45011 with Retry-After past its bound and keeps memory bounded through a ${FLOOD_MS / 1000} s flood`, { timeout: FLOOD_MS + 120_000 }, async () => {
    const server = await startChildServer(dataDir, { logDir, name: 'overload' });
    try {
      const app = await adminCreateApp(server);
      const token = await fetchToken(server.url, app.appid, app.secret);
      const day = dayOf(Date.now()) - 2;
      const bodies = Array.from({ length: 4 }, (_, i) => bigBody(day, i));
      expect(bodies[0]!.length).toBeGreaterThan(8 * MB);
      expect(bodies[0]!.length).toBeLessThan(10 * MB);
      const path = `/v1/events?access_token=${encodeURIComponent(token)}`;

      // Warm up: store each big batch once, so the flood's batches are all duplicates (work, but no growth on disk).
      for (const body of bodies) {
        const r = await request(server.url, { method: 'POST', path, headers: { 'content-type': 'application/json' }, body, timeoutMs: 60_000 });
        expect(r.ok && json(r.answer).errcode).toBe(0);
      }
      await sleep(500);
      const idle = rssOf(server.pid) ?? 0;
      expect(idle).toBeGreaterThan(0);

      let peak = idle;
      const sampler = setInterval(() => {
        const r = rssOf(server.pid);
        if (r !== undefined && r > peak) peak = r;
      }, 50);

      const tally = { ok: 0, busy: 0, smallOk: 0, smallBusy: 0, other: [] as string[] };
      const deadline = Date.now() + FLOOD_MS;
      const client = async (i: number, big: boolean) => {
        const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
        let n = 0;
        try {
          while (Date.now() < deadline && n < 100_000) {
            n++;
            const body = big
              ? bodies[i % bodies.length]!
              : Buffer.from(JSON.stringify([{ event_id: `small-${i}-${n}`, openid: `s${i}`, time: startOfDay(day) + n }]));
            const r = await request(server.url, { method: 'POST', path, headers: { 'content-type': 'application/json' }, body, timeoutMs: 60_000 }, agent);
            if (!r.ok) {
              tally.other.push(r.error);
              continue;
            }
            const j = json(r.answer);
            if (r.answer.status === 200 && j.errcode === 0) {
              tally.ok++;
              if (!big) tally.smallOk++;
            } else if (r.answer.status === 429 && j.errcode === 45011 && r.answer.headers['retry-after'] !== undefined) {
              tally.busy++;
              if (!big) tally.smallBusy++;
              await sleep(big ? 50 : 10);
            } else tally.other.push(`HTTP ${r.answer.status} ${r.answer.text.slice(0, 200)}`);
          }
        } finally {
          agent.destroy();
        }
      };
      await Promise.all([
        ...Array.from({ length: BIG_CLIENTS }, (_, i) => client(i, true)),
        ...Array.from({ length: SMALL_CLIENTS }, (_, i) => client(i, false)),
      ]);
      clearInterval(sampler);

      console.info(
        `overload: ${FLOOD_MS / 1000} s, ${tally.ok} acknowledged (${tally.smallOk} small), ${tally.busy} answered 45011 (${tally.smallBusy} small); RSS idle ${Math.round(idle / MB)} MB, peak ${Math.round(peak / MB)} MB`,
      );
      expect(tally.other.slice(0, 5)).toEqual([]);
      expect(tally.busy).toBeGreaterThan(0);
      expect(tally.ok).toBeGreaterThan(0);
      expect(peak - idle).toBeLessThan(RSS_GROWTH_LIMIT);
      // Still healthy afterwards.
      const h = await request(server.url, { path: '/healthz' });
      expect(h.ok && h.answer.status).toBe(200);
    } finally {
      server.child.kill('SIGTERM');
      await waitExit(server, 20_000);
    }
  });
});
