/**
 * The same demo data in DuckDB, a single ClickHouse server and the two-shard ClickHouse cluster must give
 * identical portraits; an export from DuckDB imported into ClickHouse must too; and two datacube servers in
 * front of one cluster must agree on tokens and data.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../config.ts';
import { ManualClock } from '../domain/clock.ts';
import { formatDay, startOfDay } from '../domain/day.ts';
import type { VisitEvent } from '../domain/event.ts';
import { generateDemoEvents } from '../demo/index.ts';
import { prepareBatch } from '../ingest/index.ts';
import { openServices } from '../services.ts';
import { describeWithClickHouse, dropDatabase, freshDatabaseUrl } from './clickhouse/testing.ts';
import { openClickHouseStore } from './clickhouse/index.ts';
import { DuckDBStore } from './duckdb/index.ts';
import { canonical } from './referencePortrait.ts';
import type { Store } from './store.ts';

const END = 20_000; // a fixed Shanghai day (2024-10-05), so the data never depends on today
const NOW = startOfDay(END + 1) + 10 * 3_600_000;
const dir = mkdtempSync(join(tmpdir(), 'datacube-cross-'));
const BIN = resolve(import.meta.dirname, '../../bin/datacube.js');

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function demoEvents(): VisitEvent[] {
  const out: VisitEvent[] = [];
  for (const batch of generateDemoEvents({ users: 600, days: 30, endDay: END, seed: 7 })) {
    const p = prepareBatch(batch, { now: NOW });
    expect(p.rejected).toEqual([]);
    out.push(...p.events);
  }
  return out;
}

const WINDOWS = [
  { begin: END, end: END },
  { begin: END - 6, end: END },
  { begin: END - 29, end: END },
  { begin: END - 12, end: END - 12 },
  { begin: END - 20, end: END - 14 },
];

const single = process.env.DATACUBE_TEST_CLICKHOUSE;
const cluster = process.env.DATACUBE_TEST_CLICKHOUSE_CLUSTER;

describeWithClickHouse(['DATACUBE_TEST_CLICKHOUSE', 'DATACUBE_TEST_CLICKHOUSE_CLUSTER'], 'one answer across backends', () => {
  const appid = 'wx00000000c0ffee01';
  const events = demoEvents();
  const stores: { name: string; store: Store; drop?: () => Promise<void> }[] = [];

  beforeAll(async () => {
    stores.push({ name: 'duckdb', store: await DuckDBStore.create(join(dir, 'cross.duckdb')) });
    for (const [name, base] of [['clickhouse', single], ['clickhouse cluster', cluster]] as const) {
      if (!base) continue;
      const url = freshDatabaseUrl(base);
      stores.push({ name, store: await openClickHouseStore(url), drop: () => dropDatabase(url) });
    }
    for (const { store } of stores) {
      for (let i = 0; i < events.length; i += 5000) await store.append(appid, events.slice(i, i + 5000));
    }
  }, 300_000);

  afterAll(async () => {
    for (const s of stores) {
      await s.store.close();
      await s.drop?.();
    }
  });

  it('has the ClickHouse servers to compare with', () => {
    expect(single, 'DATACUBE_TEST_CLICKHOUSE (see .ci/clickhouse.sh)').toBeTruthy();
    expect(cluster, 'DATACUBE_TEST_CLICKHOUSE_CLUSTER (see .ci/clickhouse.sh)').toBeTruthy();
  });

  it('gives identical demo portraits on DuckDB, ClickHouse and the two-shard cluster', async () => {
    const [duck, ...others] = stores;
    if (!duck) throw new Error('no DuckDB store');
    for (const w of WINDOWS) {
      const expected = canonical(await duck.store.portrait(appid, w));
      expect(expected.length).toBeGreaterThan(20);
      for (const o of others) expect(canonical(await o.store.portrait(appid, w)), `${o.name} ${formatDay(w.begin)}`).toEqual(expected);
    }
  }, 120_000);

  it('moves an app from DuckDB to ClickHouse with datacube export / import', async () => {
    if (!single) throw new Error('DATACUBE_TEST_CLICKHOUSE is not set');
    const data = join(dir, 'move');
    const env = { ...process.env, DATACUBE_LOG_LEVEL: 'silent' };
    const run = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env, timeout: 120_000 });
    const created = run(['app', 'create', '--name', 'mover', '--data', data]);
    expect(created.status, created.stderr).toBe(0);
    const { appid: moved } = JSON.parse(created.stdout) as { appid: string };
    // Fill it through the real store of that data directory, then close it for the CLI.
    const duck = await DuckDBStore.create(join(data, 'datacube.duckdb'));
    await duck.append(moved, events);
    const want = [];
    for (const w of WINDOWS) want.push(canonical(await duck.portrait(moved, w)));
    await duck.close();

    const file = join(dir, 'export.ndjson');
    const ex = run(['export', '--appid', moved, '--out', file, '--data', data]);
    expect(ex.status, ex.stderr).toBe(0);
    expect(ex.stderr).toMatch(new RegExp(`exported ${events.length} events`));
    const url = freshDatabaseUrl(single);
    try {
      const im = run(['import', file, '--data', data, '--store', url]);
      expect(im.status, im.stderr).toBe(0);
      expect(JSON.parse(im.stdout)).toMatchObject({ appid: moved, created: true, accepted: events.length, secretReadable: true });
      const ch = await openClickHouseStore(url);
      try {
        for (const [i, w] of WINDOWS.entries()) expect(canonical(await ch.portrait(moved, w))).toEqual(want[i]);
        expect((await ch.getApp(moved))?.name).toBe('mover');
      } finally {
        await ch.close();
      }
      // Importing again adds nothing (every event has an event_id).
      const again = run(['import', file, '--data', data, '--store', url]);
      expect(JSON.parse(again.stdout)).toMatchObject({ created: false, accepted: 0, duplicates: events.length });
    } finally {
      await dropDatabase(url);
    }
  }, 300_000);

  it('lets two datacube servers in front of one cluster share apps, tokens and data', async () => {
    if (!cluster) throw new Error('DATACUBE_TEST_CLICKHOUSE_CLUSTER is not set');
    const url = freshDatabaseUrl(cluster);
    const clock = new ManualClock(NOW);
    const key = 'ab'.repeat(32);
    const cfg = (d: string) => loadConfig({}, { dataDir: join(dir, d), store: url, masterKey: key, logLevel: 'silent' });
    const a = await openServices(cfg('a'), clock);
    const b = await openServices(cfg('b'), clock);
    try {
      const { app, secret } = await a.auth.createApp({ name: 'shared' });
      const token = (await b.auth.token('client_credential', app.appid, secret)).access_token;
      expect(await a.auth.verify(token)).toBe(app.appid);
      const w = { begin: END, end: END };
      const at = startOfDay(END) + 3_600_000;
      await a.ingest.ingest(app.appid, [{ openid: 'one', time: at, gender: 1 }]);
      const before = await b.portrait.portrait(app.appid, w);
      expect(before.visit_uv.genders).toEqual([{ id: 1, name: '男', value: 1 }]);
      // Ingest through server A; server B's cached answer must not hide it.
      await a.ingest.ingest(app.appid, [{ openid: 'two', time: at, gender: 2 }]);
      const after = await b.portrait.portrait(app.appid, w);
      expect(after.visit_uv.genders).toEqual([{ id: 1, name: '男', value: 1 }, { id: 2, name: '女', value: 1 }]);
      // B's quota counter and A's live in the same table.
      await a.auth.charge(app.appid, 'getUserPortrait');
      await a.auth.flushUsage();
      expect(await b.store.getUsage(app.appid, 'getUserPortrait', END + 1)).toBe(1);
    } finally {
      await a.close();
      await b.close();
      await dropDatabase(url);
    }
  }, 120_000);
});
