/**
 * The ClickHouse store against a real single server (DATACUBE_TEST_CLICKHOUSE, from `.ci/clickhouse.sh env`).
 * The cluster is tested in cluster.test.ts; the checks shared by both layouts live in scenarios.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeLifecycleContract } from '../lifecycle.contract.suite.ts';
import { describeStoreContract } from '../contract.suite.ts';
import type { Store } from '../store.ts';
import { ClickHouseStore } from './ClickHouseStore.ts';
import { openClickHouseStore } from './index.ts';
import { migrate } from './migrate.ts';
import { MIGRATIONS } from './schema.ts';
import { NASTY_STRINGS, registerScenarios } from './scenarios.ts';
import { sql } from './sql.ts';
import { describeWithClickHouse, dropDatabase, freshDatabaseUrl } from './testing.ts';

describeWithClickHouse('DATACUBE_TEST_CLICKHOUSE', 'ClickHouse store (single server)', (baseUrl) => {
  const url = freshDatabaseUrl(baseUrl);
  afterAll(() => dropDatabase(url));

  describeStoreContract('ClickHouse single server', (opts) => openClickHouseStore(url, opts));

  describeLifecycleContract(
    'ClickHouse single server',
    () => openClickHouseStore(url),
    async () => {
      const fresh = freshDatabaseUrl(baseUrl);
      const store = await openClickHouseStore(fresh);
      return { store, dispose: async () => { await store.close(); await dropDatabase(fresh); } };
    },
  );

  registerScenarios(() => url);

  describe('on the server itself', () => {
    let store: ClickHouseStore;
    beforeAll(async () => {
      store = await ClickHouseStore.open(url);
    });
    afterAll(() => store?.close());

    it('reads back through SQL literals exactly what was written (quotes, backslashes, NUL, newlines, unicode)', async () => {
      for (const s of NASTY_STRINGS) {
        const rows = await store.connection.rows<{ s: string; n: string }>(sql`SELECT ${s} AS s, length(${s}) AS n`);
        expect(rows[0]?.s, JSON.stringify(s)).toBe(s);
        expect(Number(rows[0]?.n), JSON.stringify(s)).toBe(Buffer.byteLength(s, 'utf8'));
      }
      const all = await store.connection.rows<{ a: string[] }>(sql`SELECT ${NASTY_STRINGS} AS a`);
      expect(all[0]?.a).toEqual(NASTY_STRINGS);
      const nums = await store.connection.rows<{ a: number; b: number; c: number; d: string }>(
        sql`SELECT ${-7} AS a, 0 -${-7} AS b, ${12.5} AS c, toString(${2n ** 63n}) AS d`,
      );
      expect(nums[0]).toEqual({ a: -7, b: 7, c: 12.5, d: '9223372036854775808' });
    });

    it('uses one server: no Distributed tables, no cluster', async () => {
      const engines = await store.connection.rows<{ name: string; engine: string }>(
        sql`SELECT name, engine FROM system.tables WHERE database = ${store.connection.target.database} ORDER BY name`,
      );
      expect(engines.filter((t) => t.engine === 'Distributed')).toEqual([]);
      expect(engines.map((t) => t.name)).toEqual(
        expect.arrayContaining(['events', 'user_chain', 'event_ids', 'apps', 'tokens', 'usage', 'schema_migrations']),
      );
    });
  });

  it('rejects an event its columns cannot hold, before storing any of the batch', async () => {
    const s: Store = await openClickHouseStore(url);
    try {
      const appid = `wxbad${Date.now().toString(16)}`;
      const ok = { eventId: null, openid: 'u', time: 1_700_000_000_000, day: 19_676, gender: 0, age: null, ageBucket: 0, platform: null,
        platformId: 0, brand: null, model: null, device: null, province: 0, city: 0, ip: null, ua: null, type: 'visit', page: null, scene: null,
        session: null, stay: null, props: null };
      await expect(s.append(appid, [ok, { ...ok, province: 2 ** 21 }])).rejects.toThrow(/event 1: province/);
      await expect(s.append(appid, [{ ...ok, time: 1.5 }])).rejects.toThrow(/time/);
      await expect(s.append(appid, [{ ...ok, stay: Number.NaN }])).rejects.toThrow(/stay/);
      await expect(s.append(appid, [{ ...ok, stay: 5e-324 }])).rejects.toThrow(/stay/);
      expect(await s.countEvents(appid)).toBe(0);
    } finally {
      await s.close();
    }
  });

  /** Runs migration 11 once more as if it had never been recorded: "column already exists" must not fail it. */
  async function m11Again(store: ClickHouseStore): Promise<void> {
    const m3 = MIGRATIONS.find((m) => m.version === 11);
    if (!m3) throw new Error('no migration 11');
    expect(await migrate(store.connection, [{ ...m3, version: 99 }])).toEqual([99]);
    const cols = await store.connection.rows<{ name: string }>(
      sql`SELECT name FROM system.columns WHERE database = ${store.connection.target.database} AND table IN ('events', 'apps') AND name IN ('ua', 'collect')`,
    );
    expect(cols.map((r) => r.name).sort()).toEqual(['collect', 'ua']);
  }

  it('migrates once: a second open applies nothing', async () => {
    const fresh = freshDatabaseUrl(baseUrl);
    try {
      const a = await ClickHouseStore.open(fresh);
      const b = await ClickHouseStore.open(fresh);
      expect(await migrate(b.connection)).toEqual([]);
      const rows = await b.connection.rows<{ version: number; n: string }>(
        sql`SELECT version, count() AS n FROM ${b.connection.table('schema_migrations')} GROUP BY version ORDER BY version`,
      );
      expect(rows.map((r) => [r.version, Number(r.n)])).toEqual([
        [1, 1],
        [2, 1],
        [10, 1],
        [11, 1],
        [14, 1],
        [15, 1],
        [17, 1],
        [1501, 1],
        [1502, 1],
        [1514, 1],
        [1515, 1],
      ]);
      // Migration 11's ADD COLUMNs, run again (as by a server that started at the same time), are taken as done.
      await m11Again(b);
      await a.close();
      await b.close();
      await expect(b.countEvents('x')).rejects.toThrow(/closed/);
    } finally {
      await dropDatabase(fresh);
    }
  });
});
