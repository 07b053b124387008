/**
 * Crash: `datacube serve` in a child process takes events from 4 concurrent clients and is killed with SIGKILL at
 * random moments, round after round. After every restart the store opens, and the 1-day portrait counts at least
 * every acknowledged event (each event is its own user); after the last round every event sent is stored exactly
 * once, checked by event_id in the store itself. Runs on the DuckDB store (the file in the data directory) and on
 * the ClickHouse store (a fresh database on the test server; the ClickHouse server itself stays up: see
 * clickhouseRestart.test.ts for that).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dayOf, formatDay } from '../../src/domain/day.ts';
import { describeWithClickHouse, dropDatabase, freshDatabaseUrl } from '../../src/store/clickhouse/testing.ts';
import { DuckDBStore, duckdbPath, openStore, type Store } from '../../src/store/index.ts';
import { adminCreateApp, fetchToken, LONG, removeDir, rng, sleep, startChildServer, tempDir, waitExit, type ChildServer } from './harness.ts';
import { activeUsers, dailyVisits, drainPending, Ledger, runIngestClient } from './ingestLoad.ts';

const ROUNDS = LONG ? 20 : 5;
const CLIENTS = 4;

describe('crash: SIGKILL during concurrent ingest (DuckDB)', () => {
  crashRounds(() => 'duckdb', (dataDir) => DuckDBStore.create(duckdbPath(dataDir)));
});

describeWithClickHouse('DATACUBE_TEST_CLICKHOUSE', 'crash: SIGKILL during concurrent ingest (ClickHouse)', (base) => {
  // A killed server's writer lease blocks the app until it ages out: 3 s here instead of the default 30 s.
  const url = `${freshDatabaseUrl(base)}?lease_ttl=3`;
  afterAll(() => dropDatabase(url));
  crashRounds(() => url, (dataDir) => openStore(url, dataDir));
});

function crashRounds(store: () => string, openForCheck: (dataDir: string) => Promise<Store>): void {
  const dataDir = tempDir('crash');
  const env = (): Record<string, string> => ({ DATACUBE_STORE: store() });
  const logDir = tempDir('crash-logs');
  afterAll(() => {
    removeDir(dataDir);
    removeDir(logDir);
  });

  it(`loses no acknowledged event and stores each exactly once over ${ROUNDS} kills`, { timeout: LONG ? 600_000 : 180_000 }, async () => {
    const seed = Number(process.env.DATACUBE_SEED ?? Math.floor(Math.random() * 2 ** 31));
    const rand = rng(seed);
    const note = `seed ${seed} (DATACUBE_SEED=${seed} repeats this run)`;
    // Two days ago, so the day stays a valid 1-day window even if the run crosses midnight in Shanghai.
    const day = dayOf(Date.now()) - 2;
    const ledger = new Ledger(day);

    let server: ChildServer = await startChildServer(dataDir, { logDir, name: 'crash', env: env() });
    const app = await adminCreateApp(server);
    const kills: { afterMs: number; acked: number; sent: number }[] = [];

    for (let round = 0; round < ROUNDS; round++) {
      if (round > 0) {
        // The dead server's server.json is still there, naming a process that no longer exists: the start copes.
        const stale = JSON.parse(readFileSync(join(dataDir, 'server.json'), 'utf8')) as { pid: number };
        expect(stale.pid, note).not.toBe(process.pid);
        server = await startChildServer(dataDir, { logDir, name: 'crash', env: env() });
        expect(server.pid).not.toBe(stale.pid);
      }
      const token = await fetchToken(server.url, app.appid, app.secret);
      // The store opened cleanly and holds at least everything acknowledged so far, and nothing never sent.
      const users = await activeUsers(server.url, token, formatDay(day));
      expect(users, note).toBeGreaterThanOrEqual(ledger.acked.size);
      expect(users, note).toBeLessThanOrEqual(ledger.sent.size);

      const started = Date.now();
      let stop = false;
      const clients = Array.from({ length: CLIENTS }, (_, client) =>
        runIngestClient({ url: server.url, token, ledger, client, rand, stop: () => stop || Date.now() - started > 20_000 }),
      );
      // The first kill lands as the clients start; every other one while batches are being written: after this
      // round's first acknowledgement (so the machine's load cannot turn every round into an early kill), plus a
      // random delay.
      const ackedBefore = ledger.acked.size;
      if (round === 0) {
        await sleep(Math.floor(rand() * 40));
      } else {
        while (ledger.acked.size === ackedBefore && Date.now() - started < 15_000) await sleep(5);
        await sleep(Math.floor(rand() * 1000));
      }
      const afterMs = Date.now() - started;
      server.child.kill('SIGKILL');
      const exit = await waitExit(server, 10_000);
      expect(exit?.signal, note).toBe('SIGKILL');
      stop = true;
      await Promise.all(clients);
      kills.push({ afterMs, acked: ledger.acked.size, sent: ledger.sent.size });
    }

    // A last start: resend what never got an answer, then a graceful stop.
    server = await startChildServer(dataDir, { logDir, name: 'crash', env: env() });
    const token = await fetchToken(server.url, app.appid, app.secret);
    await drainPending(server.url, token, ledger, rand);
    expect(ledger.acked.size, note).toBe(ledger.sent.size);
    expect(await activeUsers(server.url, token, formatDay(day)), note).toBe(ledger.sent.size);
    // The analysis family's tables (on ClickHouse folded in steps, repaired after a fold cut short) count them too.
    expect(await dailyVisits(server.url, token, formatDay(day)), note).toEqual({ uv: ledger.sent.size, pv: ledger.sent.size });
    server.child.kill('SIGTERM');
    expect((await waitExit(server, 20_000))?.code, note).toBe(0);
    expect(existsSync(join(dataDir, 'server.json'))).toBe(false);

    // The store itself: every event sent, each exactly once.
    const store = await openForCheck(dataDir);
    try {
      const seen = new Map<string, number>();
      await store.exportEvents(app.appid, async (batch) => {
        for (const e of batch) seen.set(e.eventId ?? '(none)', (seen.get(e.eventId ?? '(none)') ?? 0) + 1);
      });
      const twice = [...seen].filter(([, n]) => n > 1).map(([id]) => id);
      const missing = [...ledger.sent.keys()].filter((id) => !seen.has(id));
      const unknown = [...seen.keys()].filter((id) => !ledger.sent.has(id));
      expect(twice, note).toEqual([]);
      expect(missing, note).toEqual([]);
      expect(unknown, note).toEqual([]);
      expect(await store.countEvents(app.appid)).toBe(ledger.sent.size);
    } finally {
      await store.close();
    }
    console.info(`crash: ${note}; kills (ms after start, acked, sent): ${kills.map((k) => `${k.afterMs}/${k.acked}/${k.sent}`).join(" ")}`);
    // Enough happened for the run to mean something: events were acknowledged in every round after the first.
    expect(kills.filter((k, i) => i > 0 && k.acked > (kills[i - 1]?.acked ?? 0)).length, JSON.stringify(kills)).toBe(ROUNDS - 1);
  });
}
