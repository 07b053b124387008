/**
 * Graceful shutdown: SIGTERM while 4 clients ingest. The server finishes what it accepted, answers later requests
 * with a retryable 503 (errcode -1, Retry-After), closes the store, removes server.json and exits 0; every
 * acknowledged event is in the file, none twice.
 */
import { existsSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dayOf } from '../../src/domain/day.ts';
import { DuckDBStore, duckdbPath } from '../../src/store/index.ts';
import { adminCreateApp, fetchToken, removeDir, rng, sleep, startChildServer, tempDir, waitExit } from './harness.ts';
import { Ledger, runIngestClient } from './ingestLoad.ts';
import { SHUTDOWN_GRACE_MS } from '../../src/cli/serve.ts';

describe('graceful shutdown', () => {
  const dataDir = tempDir('shutdown');
  const logDir = tempDir('shutdown-logs');
  afterAll(() => {
    removeDir(dataDir);
    removeDir(logDir);
  });

  it('SIGTERM during ingest loses nothing acknowledged and exits 0', { timeout: 120_000 }, async () => {
    const seed = Number(process.env.DATACUBE_SEED ?? Math.floor(Math.random() * 2 ** 31));
    const rand = rng(seed);
    const ledger = new Ledger(dayOf(Date.now()) - 2);
    const server = await startChildServer(dataDir, { logDir, name: 'shutdown' });
    const app = await adminCreateApp(server);
    const token = await fetchToken(server.url, app.appid, app.secret);

    const started = Date.now();
    const clients = Array.from({ length: 4 }, (_, client) =>
      runIngestClient({ url: server.url, token, ledger, client, rand, stop: () => Date.now() - started > 60_000, maxBatch: 2000 }),
    );
    // The signal goes out once the server has acknowledged a first batch (not after a fixed delay, which a loaded
    // machine can outrun), so the shutdown always has acknowledged data to keep and ingest in flight.
    const firstAckDeadline = Date.now() + 30_000;
    while (ledger.acked.size === 0 && Date.now() < firstAckDeadline) await sleep(10);
    const ackedBeforeSignal = ledger.acked.size;
    server.child.kill('SIGTERM');
    // A liveness bound, not a speed measurement: a shutdown that hangs fails here.
    const exit = await waitExit(server, 15_000);
    const results = await Promise.all(clients);
    expect(exit, server.output()).toEqual({ code: 0, signal: null });
    expect(ackedBeforeSignal).toBeGreaterThan(0);
    // Every client stopped because the server went away (or said it was going), not for another reason.
    console.info(`shutdown: ${ackedBeforeSignal} acknowledged before SIGTERM, ${ledger.acked.size} in all; clients ended with: ${results.map((r) => r.end.slice(0, 80)).join(" | ")}`);
    for (const r of results) expect(r.end).not.toBe('stopped');
    expect(existsSync(join(dataDir, 'server.json'))).toBe(false);

    const store = await DuckDBStore.create(duckdbPath(dataDir));
    try {
      const seen = new Map<string, number>();
      await store.exportEvents(app.appid, async (batch) => {
        for (const e of batch) seen.set(e.eventId ?? '', (seen.get(e.eventId ?? '') ?? 0) + 1);
      });
      expect([...ledger.acked].filter((id) => seen.get(id) !== 1), `seed ${seed}`).toEqual([]);
      expect([...seen].filter(([id, n]) => n !== 1 || !ledger.sent.has(id))).toEqual([]);
    } finally {
      await store.close();
    }
  });
  it('does not wait for a client that never finishes its request: its connection is cut after the grace period', { timeout: 120_000 }, async () => {
    const dir = tempDir('shutdown-slow');
    try {
      const server = await startChildServer(dir, { logDir, name: 'shutdown-slow' });
      // A valid token: the server checks it before it reads the body, then waits for the body.
      const app = await adminCreateApp(server);
      const token = await fetchToken(server.url, app.appid, app.secret);
      const { port } = new URL(server.url);
      const socket = net.connect(Number(port), '127.0.0.1');
      const closed = new Promise<void>((r) => socket.once('close', () => r()));
      socket.on('error', () => undefined);
      socket.resume(); // whatever the server answers is read (a paused socket would not see the close)
      await new Promise<void>((r) => socket.once('connect', () => r()));
      // Headers and a tenth of the promised body, then nothing.
      socket.write(`POST /v1/events?access_token=${token} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n[{"openid":`);
      await sleep(300);
      server.child.kill('SIGTERM');
      const exit = await waitExit(server, SHUTDOWN_GRACE_MS + 20_000);
      expect(exit, server.output()).toEqual({ code: 0, signal: null });
      await closed;
      expect(existsSync(join(dir, 'server.json'))).toBe(false);
    } finally {
      removeDir(dir);
    }
  });
});
