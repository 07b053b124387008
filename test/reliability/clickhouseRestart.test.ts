/**
 * ClickHouse stopped and restarted under datacube while 4 clients ingest: a private ClickHouse server (its own
 * ports and temporary directory, started with .ci/clickhouse.sh private-start; the shared test servers are never
 * touched) is stopped — gracefully (SIGTERM, as `systemctl stop` does), then killed (SIGKILL) — and started again,
 * each time after the clients got acknowledgements. While it is away every answer is a retryable errcode (-1, or
 * 45011 when ingest is saturated), never an acknowledgement; afterwards every acknowledged event is stored, and once
 * the clients sent again what was not acknowledged, every event is stored exactly once and the portrait counts
 * each of them.
 */
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../src/api/testing.ts';
import { systemClock } from '../../src/domain/clock.ts';
import { dayOf, formatDay } from '../../src/domain/day.ts';
import { openStore } from '../../src/store/index.ts';
import { findClickHouseServer } from '../clickhouseServer.ts';
import { removeDir, rng, sleep, tempDir } from './harness.ts';
import { activeUsers, dailyVisits, drainPending, Ledger, runIngestClient } from './ingestLoad.ts';

const SCRIPT = resolve(import.meta.dirname, '../../.ci/clickhouse.sh');
const server = findClickHouseServer();
const installed = server !== undefined;
const HINT = 'needs Debian\'s clickhouse-server: `sudo bash .ci/clickhouse.sh install`';

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => res(port));
    });
  });
}

if (!installed && !process.env.CI) {
  it.skip(`ClickHouse stopped and restarted mid-ingest: ${HINT}`, () => undefined);
} else {
  describe('ClickHouse stopped and restarted mid-ingest', () => {
    const dir = tempDir('ch-private');
    let ports: [number, number] = [0, 0];
    let t: TestServer | undefined;
    const sh = (...args: string[]) =>
      execFileSync('bash', [SCRIPT, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000, env: server === undefined ? process.env : { ...process.env, CH_SERVER_BIN: server } });
    const start = () => sh('private-start', dir, String(ports[0]), String(ports[1]));
    afterAll(async () => {
      await t?.stop(true).catch(() => undefined);
      try {
        sh('private-stop', dir, 'KILL');
      } finally {
        removeDir(dir);
      }
    });

    it('answers retryable errcodes while it is away and stores every event exactly once', { timeout: 300_000 }, async () => {
      expect(installed, HINT).toBe(true);
      ports = [await freePort(), await freePort()];
      start();
      const url = `clickhouse://default:@127.0.0.1:${ports[0]}/datacube?lease_ttl=3`;
      t = await startTestServer({ clock: systemClock, config: { store: url } });
      const app = await t.newApp({ dailyQuota: 1_000_000_000 });
      const token = await t.token(app.appid, app.secret);
      const seed = Number(process.env.DATACUBE_SEED ?? Math.floor(Math.random() * 2 ** 31));
      const rand = rng(seed);
      const note = `seed ${seed}`;
      const day = dayOf(Date.now()) - 2;
      const ledger = new Ledger(day);
      const outages: { signal: string; ackedBefore: number; retriedDuring: number; ackedDuringOutage: number }[] = [];

      for (const signal of ['TERM', 'KILL']) {
        let stop = false;
        const base = t.url;
        const clients = Array.from({ length: 4 }, (_, client) =>
          runIngestClient({ url: base, token, ledger, client, rand, stop: () => stop, maxBatch: 200, retryErrcodes: [-1, 45011] }),
        );
        // Let acknowledgements flow, then take ClickHouse away in the middle of the writes.
        const ackedAtStart = ledger.acked.size;
        const deadline = Date.now() + 60_000;
        while (ledger.acked.size < ackedAtStart + 200 && Date.now() < deadline) await sleep(20);
        await sleep(Math.floor(rand() * 300));
        sh('private-stop', dir, signal);
        const ackedBefore = ledger.acked.size;
        // Answers that arrive while it is down can only be retryable errcodes: any acknowledgement would throw in the
        // client (it checks the answer accounts for the whole batch) — and must then be stored (checked at the end).
        await sleep(2000);
        const ackedDuringOutage = ledger.acked.size - ackedBefore;
        start();
        const ackedAfterStart = ledger.acked.size;
        const deadline2 = Date.now() + 60_000;
        while (ledger.acked.size < ackedAfterStart + 200 && Date.now() < deadline2) await sleep(20);
        stop = true;
        const results = await Promise.all(clients);
        outages.push({ signal, ackedBefore, retriedDuring: results.reduce((s, r) => s + r.busy, 0), ackedDuringOutage });
        for (const r of results) expect(r.end, note).toBe('stopped');
      }
      // Acknowledgements that were in flight when it stopped may still arrive in the first moments; after that none.
      console.info(`clickhouse restart: ${note}; ${JSON.stringify(outages)}; sent ${ledger.sent.size}`);
      for (const o of outages) expect(o.retriedDuring, JSON.stringify(o)).toBeGreaterThan(0);

      await drainPending(t.url, token, ledger, rand);
      expect(ledger.acked.size, note).toBe(ledger.sent.size);
      expect(await activeUsers(t.url, token, formatDay(day)), note).toBe(ledger.sent.size);
      // The analysis family's tables (on ClickHouse folded in steps, repaired after a fold cut short) count them too.
      expect(await dailyVisits(t.url, token, formatDay(day)), note).toEqual({ uv: ledger.sent.size, pv: ledger.sent.size });

      const store = await openStore(url, dir);
      try {
        const seen = new Map<string, number>();
        await store.exportEvents(app.appid, async (batch) => {
          for (const e of batch) seen.set(e.eventId ?? '(none)', (seen.get(e.eventId ?? '(none)') ?? 0) + 1);
        });
        expect([...ledger.sent.keys()].filter((id) => !seen.has(id)), note).toEqual([]);
        expect([...seen.keys()].filter((id) => !ledger.sent.has(id)), note).toEqual([]);
        expect([...seen].filter(([, n]) => n > 1).map(([id]) => id), note).toEqual([]);
      } finally {
        await store.close();
      }
    });
  });
}
