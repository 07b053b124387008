import { afterAll, describe, expect, it } from 'vitest';
import { dayOf, startOfDay } from '../domain/day.ts';
import { DuckDBStore, duckdbPath } from '../store/index.ts';
import { adminCreateApp, removeDir, sleep, startChildServer, tempDir, waitExit, type ChildServer } from '../../test/reliability/harness.ts';
import { DatacubeIngest, type FetchLike, type IngestEventError } from './index.ts';

// The ingest client keeps a stream going while the real `datacube serve` (a child process) is killed with SIGKILL
// mid-stream and started again on the same port: every event ends up stored exactly once, checked by event_id in
// the DuckDB file itself.

const N = 3000;

describe('DatacubeIngest across a server restart', () => {
  const dataDir = tempDir('sdk-restart');
  const logDir = tempDir('sdk-restart-logs');
  afterAll(() => {
    removeDir(dataDir);
    removeDir(logDir);
  });

  it(`loses and doubles nothing of ${N} events while the server is killed and restarted`, { timeout: 180_000 }, async () => {
    let server: ChildServer = await startChildServer(dataDir, { logDir, name: 'sdk-1' });
    const port = Number(new URL(server.url).port);
    const app = await adminCreateApp(server);
    let networkFailures = 0;
    const counting: FetchLike = async (url, init) => {
      try {
        return await fetch(url, init);
      } catch (e) {
        networkFailures++;
        throw e;
      }
    };
    const errors: IngestEventError[] = [];
    const ingest = new DatacubeIngest({
      ...app,
      baseUrl: server.url,
      fetch: counting,
      maxBatchEvents: 100,
      flushIntervalMs: 20,
      retries: 40,
      backoff: { baseMs: 50, maxMs: 500 },
      timeoutMs: 10_000,
      onError: (e) => errors.push(e),
    });
    const base = startOfDay(dayOf(Date.now()) - 2);
    const sent = new Set<string>();
    let atKill = { accepted: 0, pending: 0 };
    for (let i = 0; i < N; i++) {
      sent.add(ingest.track({ openid: `user-${i}`, time: base + i * 1000, platform: 'ios' }));
      if (i % 50 === 49) await sleep(10);
      if (i === 1000) {
        // Kill once the stream is flowing: some batches acknowledged, others waiting or on the wire.
        for (let w = 0; ingest.stats().accepted === 0 && w < 30_000; w += 10) await sleep(10);
        atKill = ingest.stats();
        server.child.kill('SIGKILL');
        await server.exited;
      }
      if (i === 2000) server = await startChildServer(dataDir, { logDir, name: 'sdk-2', port });
    }
    const t0 = Date.now();
    const stats = await ingest.close();
    console.info(`restart: close took ${Date.now() - t0} ms; stats ${JSON.stringify(stats)}; at kill ${JSON.stringify(atKill)}; network failures ${networkFailures}`);
    expect(errors.map((e) => e.message)).toEqual([]);
    // Mid-stream: events were stored before the kill and others were still waiting; the client saw the server gone.
    expect(atKill.accepted).toBeGreaterThan(0);
    expect(atKill.pending).toBeGreaterThan(0);
    expect(networkFailures).toBeGreaterThan(0);
    expect(stats).toMatchObject({ tracked: N, rejected: 0, undeliverable: 0, pending: 0 });
    expect(stats.accepted + stats.duplicates).toBe(N);

    server.child.kill('SIGTERM');
    expect((await waitExit(server, 20_000))?.code).toBe(0);
    const store = await DuckDBStore.create(duckdbPath(dataDir));
    try {
      const seen = new Map<string, number>();
      await store.exportEvents(app.appid, async (batch) => {
        for (const e of batch) seen.set(e.eventId ?? '(none)', (seen.get(e.eventId ?? '(none)') ?? 0) + 1);
      });
      expect([...seen].filter(([, n]) => n > 1)).toEqual([]);
      expect([...sent].filter((id) => !seen.has(id))).toEqual([]);
      expect([...seen.keys()].filter((id) => !sent.has(id))).toEqual([]);
      expect(await store.countEvents(app.appid)).toBe(N);
    } finally {
      await store.close();
    }
  });
});
