/**
 * The ClickHouse store on a two-shard cluster (DATACUBE_TEST_CLICKHOUSE_CLUSTER and
 * DATACUBE_TEST_CLICKHOUSE_SHARDS, from `.ci/clickhouse.sh env`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASE_DAY, BASE_MS, describeStoreContract, freshAppid, visit } from '../contract.suite.ts';
import { describeLifecycleContract } from '../lifecycle.contract.suite.ts';
import { canonical, referencePortrait } from '../referencePortrait.ts';
import { ClickHouseStore } from './ClickHouseStore.ts';
import type { Connection } from './connection.ts';
import { openClickHouseStore } from './index.ts';
import { migrate } from './migrate.ts';
import { registerScenarios } from './scenarios.ts';
import { sql } from './sql.ts';
import { connectTo, describeWithClickHouse, dropDatabase, freshDatabaseUrl, shardEndpoints } from './testing.ts';
import { parseClickHouseUrl } from './url.ts';

describeWithClickHouse('DATACUBE_TEST_CLICKHOUSE_CLUSTER', 'ClickHouse store (two-shard cluster)', (baseUrl) => {
  const url = freshDatabaseUrl(baseUrl);
  afterAll(() => dropDatabase(url));

  it('is given a cluster URL', () => {
    expect(parseClickHouseUrl(url).cluster).toBeTruthy();
  });

  describeStoreContract('ClickHouse cluster', (opts) => openClickHouseStore(url, opts));

  describeLifecycleContract(
    'ClickHouse cluster',
    () => openClickHouseStore(url),
    async () => {
      const fresh = freshDatabaseUrl(baseUrl);
      const store = await openClickHouseStore(fresh);
      return { store, dispose: async () => { await store.close(); await dropDatabase(fresh); } };
    },
  );

  registerScenarios(() => url);

  describe('sharding', () => {
    let store: ClickHouseStore;
    let shards: Connection[];
    beforeAll(async () => {
      store = await ClickHouseStore.open(url);
      shards = shardEndpoints().map((http) => connectTo(url, http));
    });
    afterAll(async () => {
      await store?.close();
      for (const s of shards ?? []) await s.close();
    });

    async function localOpenids(shard: Connection, table: string, appid: string): Promise<string[]> {
      const rows = await shard.rows<{ openid: string }>(
        sql`SELECT DISTINCT openid FROM ${shard.table(`${table}_local`)} WHERE appid = ${appid} ORDER BY openid`,
      );
      return rows.map((r) => r.openid);
    }

    it('has the local tables on every shard and Distributed tables in front', async () => {
      expect(shards.length).toBe(2);
      for (const s of shards) {
        const rows = await s.rows<{ name: string; engine: string }>(
          sql`SELECT name, engine FROM system.tables WHERE database = ${s.target.database}`,
        );
        const engine = new Map(rows.map((r) => [r.name, r.engine]));
        for (const t of ['events', 'user_chain', 'event_ids', 'apps', 'tokens', 'usage', 'schema_migrations']) {
          expect(engine.get(t), t).toBe('Distributed');
          expect(engine.get(`${t}_local`), `${t}_local`).toMatch(/MergeTree$/);
        }
      }
    });

    it('puts each user on exactly one shard, with the derived rows beside the events', async () => {
      const appid = freshAppid();
      const events = Array.from({ length: 400 }, (_, i) =>
        visit({ openid: `user${i % 100}`, time: BASE_MS + (i % 5) * 86_400_000 + i, gender: i % 3, province: i % 2 ? 44 : 11, eventId: `e${i}` }),
      );
      expect(await store.append(appid, events)).toEqual({ accepted: 400, duplicates: [] });
      const counts = await Promise.all(
        shards.map(async (s) => Number((await s.rows<{ n: string }>(sql`SELECT count() AS n FROM ${s.table('events_local')} WHERE appid = ${appid}`))[0]?.n)),
      );
      expect(counts.every((n) => n > 0), `events per shard: ${counts.join(', ')}`).toBe(true);
      expect(counts.reduce((a, b) => a + b, 0)).toBe(400);

      const [a, b] = await Promise.all(shards.map((s) => localOpenids(s, 'events', appid)));
      expect(a && b).toBeTruthy();
      const onA = new Set(a);
      expect((b ?? []).filter((u) => onA.has(u))).toEqual([]); // no user on both
      expect((a ?? []).length + (b ?? []).length).toBe(100);
      for (const [i, s] of shards.entries()) {
        const own = i === 0 ? a : b;
        // (The app's progress rows, kind 2, have no openid: chain.ts.)
        expect((await localOpenids(s, 'user_chain', appid)).filter((u) => u !== '')).toEqual(own);
      }

      // Duplicates are found whichever shard holds the first copy.
      const again = await store.append(appid, [...events.slice(0, 2), visit({ openid: 'other', time: BASE_MS, eventId: 'e2' })]);
      expect(again).toEqual({ accepted: 0, duplicates: [0, 1, 2] });

      // Counts from both shards add up to the reference.
      for (const w of [{ begin: BASE_DAY, end: BASE_DAY }, { begin: BASE_DAY + 1, end: BASE_DAY + 7 }, { begin: BASE_DAY - 20, end: BASE_DAY + 9 }]) {
        expect(canonical(await store.portrait(appid, w))).toEqual(canonical(referencePortrait(events, w)));
      }
      expect(await store.countEvents(appid)).toBe(400);
    });

    it('serves the same data from every server of the cluster', async () => {
      const appid = freshAppid();
      await store.append(appid, [visit({ openid: 'x', time: BASE_MS + 1, gender: 1 }), visit({ openid: 'y', time: BASE_MS + 2, gender: 2 })]);
      await store.createApp({ appid, name: 'n', secretHash: 'h', secretSealed: 's', env: appid, dailyQuota: 3, createdAt: 1, collect: true });
      await store.addUsage(appid, 'api', BASE_DAY, 2);
      const [, second] = shardEndpoints();
      const viaSecond = new URL(url);
      viaSecond.host = new URL(second ?? '').host;
      const other = await ClickHouseStore.open(viaSecond.toString());
      try {
        expect(await migrate(other.connection)).toEqual([]);
        expect(await other.getApp(appid)).toMatchObject({ name: 'n', dailyQuota: 3 });
        expect(await other.getUsage(appid, 'api', BASE_DAY)).toBe(2);
        expect(await other.countEvents(appid)).toBe(2);
        expect(canonical(await other.portrait(appid, { begin: BASE_DAY, end: BASE_DAY }))).toEqual(
          canonical(await store.portrait(appid, { begin: BASE_DAY, end: BASE_DAY })),
        );
      } finally {
        await other.close();
      }
    });
  });
});
