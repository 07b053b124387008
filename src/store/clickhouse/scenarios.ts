/**
 * ClickHouse-specific checks, run against the single server and the cluster alike (registered by
 * ClickHouseStore.test.ts and cluster.test.ts). The backend-independent contract is ../contract.suite.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VisitEvent } from '../../domain/event.ts';
import { BASE_DAY, BASE_MS, freshAppid, visit } from '../contract.suite.ts';
import { canonical, referencePortrait } from '../referencePortrait.ts';
import type { Store } from '../store.ts';
import { ClickHouseStore } from './ClickHouseStore.ts';
import { type Connection, HttpConnection } from './connection.ts';
import { derivedCounts, rebuildChain } from './derive.ts';
import { isoDay, list, type Sql, sql } from './sql.ts';
import { Leases } from './lease.ts';
import { migrate } from './migrate.ts';
import { MIGRATIONS } from './schema.ts';
import { connectTo, dropDatabase, freshDatabaseUrl, shardEndpoints } from './testing.ts';
import { parseClickHouseUrl } from './url.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Strings that break naive quoting or encoding. */
export const NASTY_STRINGS: string[] = [
  '',
  "'",
  "''",
  '\\',
  "\\'",
  "it's",
  'a\\b\\\\c',
  "x' OR 1=1 --",
  "'); DROP TABLE events; --",
  'a\0b\0',
  'line1\nline2\r\nline3\r',
  'tab\there',
  '\u0001\u0002\u001f\u007f',
  '"double" `back` $dollar {brace}',
  '广东省深圳市',
  'é ñ ü',
  '😀👍🏽👨‍👩‍👧',
  '\u2028\u2029\ufeff',
  '\\x41\\0\\n', // backslash escapes spelled out: must stay literal text
];

async function exportAll(store: Store, appid: string, batchSize?: number): Promise<{ events: VisitEvent[]; sizes: number[] }> {
  const events: VisitEvent[] = [];
  const sizes: number[] = [];
  await store.exportEvents(
    appid,
    async (b) => {
      sizes.push(b.length);
      events.push(...b);
    },
    batchSize,
  );
  return { events, sizes };
}

export function registerScenarios(url: () => string): void {
  describe('ClickHouse scenarios', () => {
    let store: ClickHouseStore;
    beforeAll(async () => {
      // Small batches, so that chunked duplicate lookups and inserts are exercised.
      store = await ClickHouseStore.open(url(), { lookupBatchIds: 3, insertBatchRows: 4 });
    });
    afterAll(() => store?.close());

    it('finds duplicates across chunked lookups and inserts', async () => {
      const appid = freshAppid();
      const t = BASE_MS + HOUR;
      const first = Array.from({ length: 10 }, (_, i) => visit({ openid: `u${i}`, time: t + i, eventId: `e${i % 8}` }));
      expect(await store.append(appid, first)).toEqual({ accepted: 8, duplicates: [8, 9] });
      const second = [
        visit({ openid: 'v0', time: t, eventId: 'e7' }),
        visit({ openid: 'v1', time: t, eventId: 'new1' }),
        visit({ openid: 'v2', time: t, eventId: null }),
        visit({ openid: 'v3', time: t, eventId: 'e0' }),
        visit({ openid: 'v4', time: t, eventId: 'new1' }),
        visit({ openid: 'v5', time: t, eventId: 'e3' }),
        visit({ openid: 'v6', time: t, eventId: null }),
      ];
      expect(await store.append(appid, second)).toEqual({ accepted: 3, duplicates: [0, 3, 4, 5] });
      expect(await store.countEvents(appid)).toBe(11);
      expect(await store.append(appid, [])).toEqual({ accepted: 0, duplicates: [] });
    });

    it('computes the portrait by the latest-known rule, with new and active users', async () => {
      const appid = freshAppid();
      const d = (n: number, h = 0): number => BASE_MS + n * DAY + h * HOUR;
      const T = d(2, 10); // b's two events share this instant: ties go to the larger value
      await store.append(appid, [
        // a: first seen before the window; in it: values on day 2, newer place on day 3, then an event with nothing.
        visit({ openid: 'a', time: d(0, 1), gender: 2, province: 50, city: 5001 }),
        visit({ openid: 'a', time: d(2, 1), gender: 1, province: 44, city: 4401, device: 'OPPO R9', platformId: 2, platform: 'android' }),
        visit({ openid: 'a', time: d(3, 1), province: 11, city: 1101 }),
        visit({ openid: 'a', time: d(4, 23) }),
        // b: new; two events at the same time.
        visit({ openid: 'b', time: T, gender: 1, ageBucket: 3, device: 'Apple iPhone 13', province: 44, city: 4401, platformId: 1 }),
        visit({ openid: 'b', time: T, gender: 2, ageBucket: 5, device: 'Xiaomi 13', province: 31, city: 3101, platformId: 2 }),
        // c: new, nothing known inside the window; known values after the window do not count.
        visit({ openid: 'c', time: d(4, 5) }),
        visit({ openid: 'c', time: d(5, 5), gender: 1, device: 'OPPO R9' }),
        // d: first day inside the window (for now).
        visit({ openid: 'd', time: d(3, 3), gender: 2, province: 31, city: 3101, device: 'Apple iPhone 13', platformId: 1, ageBucket: 2 }),
        // e: only after the window.
        visit({ openid: 'e', time: d(6), gender: 1 }),
      ]);
      const w = { begin: BASE_DAY + 2, end: BASE_DAY + 4 };
      const expected = (dNew: number): string[] =>
        [
          'province|11|1|0', `province|31|1|${dNew}`, 'province|44|1|1', 'province|0|1|1',
          'city|1101|1|0', `city|3101|1|${dNew}`, 'city|4401|1|1', 'city|0|1|1',
          'genders|1|1|0', `genders|2|2|${1 + dNew}`, 'genders|0|1|1',
          'platforms|2|2|1', `platforms|1|1|${dNew}`, 'platforms|0|1|1',
          'ages|0|2|1', 'ages|5|1|1', `ages|2|1|${dNew}`,
          'devices|OPPO R9|1|0', 'devices|Xiaomi 13|1|1', `devices|Apple iPhone 13|1|${dNew}`, 'devices|null|1|1',
        ].sort();
      expect(canonical(await store.portrait(appid, w))).toEqual(expected(1));
      // A late event before the window: d is no longer new in it.
      await store.append(appid, [visit({ openid: 'd', time: d(1, 1) })]);
      expect(canonical(await store.portrait(appid, w))).toEqual(expected(0));
      // Before everything: nobody.
      expect(await store.portrait(appid, { begin: BASE_DAY - 30, end: BASE_DAY - 1 })).toEqual([]);
    });

    it('handles the first Shanghai day, whose times are before the Unix epoch', async () => {
      const appid = freshAppid();
      const start = -8 * HOUR; // 1970-01-01 00:00 in Shanghai
      await store.append(appid, [
        visit({ openid: 'x', time: start, gender: 2, day: 0 }),
        visit({ openid: 'x', time: start + 1, gender: 1, day: 0 }),
      ]);
      expect(canonical(await store.portrait(appid, { begin: 0, end: 0 })).filter((s) => s.startsWith('genders'))).toEqual([
        'genders|1|1|1',
      ]);
      expect((await exportAll(store, appid)).events.map((e) => e.time)).toEqual([start, start + 1]);
    });

    it('exports every field exactly, in storage order, in batches', async () => {
      const appid = freshAppid();
      const stays = [0.1 + 0.2, 1 / 3, 86_399.999, 0, 1e-300, null];
      const events = Array.from({ length: 11 }, (_, i) =>
        visit({
          openid: `u${(i * 7) % 5}`,
          time: BASE_MS + (10 - i) * DAY + i, // stored order is not time order
          eventId: i % 3 === 0 ? null : `id-${i}`,
          gender: i % 3,
          age: i % 2 ? 18 + i : null,
          ageBucket: i % 7,
          platform: i % 2 ? 'ios' : null,
          platformId: i % 4,
          brand: i % 2 ? 'iPhone' : null,
          model: i % 2 ? 'iPhone 13<iPhone14,5>' : null,
          device: i % 2 ? 'Apple iPhone 13' : null,
          province: i % 2 ? 44 : 0,
          city: i % 2 ? 4401 : 0,
          ip: i % 2 ? '2001:db8::1' : null,
          type: i % 2 ? 'visit' : 'share',
          page: i % 2 ? 'pages/index/index?x=1&y=2' : null,
          scene: i % 2 ? 1001 + i : null,
          session: `s${i}`,
          stay: stays[i % stays.length] ?? null,
          props: i % 2 ? JSON.stringify({ k: NASTY_STRINGS[i] ?? '' }) : null,
        }),
      );
      await store.append(appid, events.slice(0, 4));
      await store.append(appid, events.slice(4));
      const { events: out, sizes } = await exportAll(store, appid, 3);
      expect(out).toEqual(events);
      expect(sizes).toEqual([3, 3, 3, 2]);
      expect(await store.exportEvents(freshAppid(), async () => undefined)).toBe(0);
    });

    it('stores and reads back awkward strings in every text field', async () => {
      const appid = freshAppid();
      const events = NASTY_STRINGS.map((s, i) =>
        visit({ openid: `o${i}${s}`, time: BASE_MS + i, eventId: `e${i}${s}`, device: s === '' ? 'empty' : s, page: s, props: s, session: s }),
      );
      expect((await store.append(appid, events)).accepted).toBe(events.length);
      expect((await exportAll(store, appid)).events).toEqual(events);
      // Duplicate detection compares those ids exactly.
      expect(await store.append(appid, events)).toEqual({ accepted: 0, duplicates: events.map((_, i) => i) });
      const devices = (await store.portrait(appid, { begin: BASE_DAY, end: BASE_DAY }))
        .filter((c) => c.dimension === 'devices')
        .map((c) => c.key);
      expect(new Set(devices)).toEqual(new Set(events.map((e) => e.device)));

      const name = NASTY_STRINGS.join('|');
      const odd = `wx'"\\${appid}`;
      await store.createApp({ appid: odd, name, secretHash: "h'\\", secretSealed: 's\n', env: `env\0${appid}`, dailyQuota: 1, createdAt: 2, collect: false });
      expect(await store.getApp(odd)).toEqual({ appid: odd, name, secretHash: "h'\\", secretSealed: 's\n', env: `env\0${appid}`, dailyQuota: 1, createdAt: 2, collect: false, retainDays: null });
      expect((await store.getAppByEnv(`env\0${appid}`))?.appid).toBe(odd);
      expect(await store.addUsage(odd, "api'\\\n", BASE_DAY, 3)).toBe(3);
    });

    it('keeps app versions, token cuts and counters as several servers would see them', async () => {
      const appid = freshAppid();
      const app = { appid, name: 'n', secretHash: 'h', secretSealed: 's', env: `env-${appid}`, dailyQuota: 5, createdAt: 10, collect: true };
      await store.createApp(app);
      await expect(store.createApp(app)).rejects.toThrow(/exists/);
      expect(await store.updateApp(appid, { env: `new-${appid}`, name: 'm' })).toEqual({ ...app, env: `new-${appid}`, name: 'm', retainDays: null });
      expect(await store.updateApp(appid, { retainDays: 45 })).toMatchObject({ retainDays: 45, name: 'm' });
      expect(await store.updateApp(appid, { retainDays: null })).toMatchObject({ retainDays: null, name: 'm' });
      expect(await store.updateApp(appid, { secretHash: 'h2', secretSealed: 's2' })).toMatchObject({ secretHash: 'h2', secretSealed: 's2', name: 'm' });
      expect(await store.getAppByEnv(`env-${appid}`)).toBeUndefined(); // the old env is gone
      expect((await store.getAppByEnv(`new-${appid}`))?.name).toBe('m');
      expect(await store.updateApp(freshAppid(), { name: 'x' })).toBeUndefined();

      // A second store on the same database sees the same rows (several datacube servers, one ClickHouse).
      const other = await ClickHouseStore.open(url());
      try {
        expect(await other.getApp(appid)).toMatchObject({ env: `new-${appid}`, secretHash: 'h2' });
        await other.putToken({ hash: `t1-${appid}`, appid, kind: 'stable', issuedAt: 1, expiresAt: 1000, sealed: '' });
        await other.putToken({ hash: `t2-${appid}`, appid, kind: 'stable', issuedAt: 2, expiresAt: 2000, sealed: null });
        expect((await store.getToken(`t1-${appid}`))?.sealed).toBe(''); // '' and null stay apart
        expect((await store.getToken(`t2-${appid}`))?.sealed).toBeNull();
        await store.retireTokens(appid, 'stable', 1500);
        expect((await other.getToken(`t1-${appid}`))?.expiresAt).toBe(1000); // already ending earlier: unchanged
        expect((await other.getToken(`t2-${appid}`))?.expiresAt).toBe(1500);
        expect((await other.latestToken(appid, 'stable', 1200))?.hash).toBe(`t2-${appid}`);
        expect(await other.latestToken(appid, 'stable', 1500)).toBeUndefined();
        expect(await other.getToken('nope')).toBeUndefined();

        const counts = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? store : other).addUsage(appid, 'api', BASE_DAY, 1)));
        expect(Math.max(...counts)).toBe(10);
        expect(await store.getUsage(appid, 'api', BASE_DAY)).toBe(10);
        expect(await other.getUsage(appid, 'api', BASE_DAY + 1)).toBe(0);
      } finally {
        await other.close();
      }
    });
  });

  describe('several datacube servers on one ClickHouse', () => {
    const windows = [
      { begin: BASE_DAY, end: BASE_DAY },
      { begin: BASE_DAY, end: BASE_DAY + 6 },
      { begin: BASE_DAY - 20, end: BASE_DAY + 9 },
    ];
    const batchOf = (n: number, tag: string): VisitEvent[] =>
      Array.from({ length: n }, (_, i) =>
        visit({ openid: `${tag}${i % 37}`, time: BASE_MS + (i % 7) * DAY + i * 1000, gender: i % 3, province: i % 2 ? 44 : 11, city: i % 2 ? 4401 : 1101, device: i % 5 ? 'OPPO R9' : null, eventId: `${tag}-${i}` }),
      );

    it('stores and counts once a batch that two servers receive at the same moment', async () => {
      // Two stores = two datacube servers: separate connections, separate writer leases.
      const a = await ClickHouseStore.open(url());
      const b = await ClickHouseStore.open(url());
      try {
        for (let round = 0; round < 3; round++) {
          const appid = freshAppid();
          const batch = batchOf(300, `r${round}`);
          const [ra, rb] = await Promise.all([a.append(appid, batch), b.append(appid, batch)]);
          // Every event is accepted by exactly one of them and a duplicate for the other.
          expect(ra.accepted + rb.accepted).toBe(batch.length);
          expect(ra.duplicates.length + rb.duplicates.length).toBe(batch.length);
          expect(await a.countEvents(appid)).toBe(batch.length);
          expect(await derivedCounts(a.connection, appid)).toEqual({ stored: batch.length, derived: batch.length });
          for (const w of windows) {
            expect(canonical(await b.portrait(appid, w))).toEqual(canonical(referencePortrait(batch, w)));
          }
        }
        // Overlapping batches from both sides, many at once: still once each.
        const appid = freshAppid();
        const all = batchOf(400, 'o');
        const parts = [all.slice(0, 250), all.slice(150, 400), all.slice(100, 300), all];
        const results = await Promise.all(parts.map((p, i) => (i % 2 ? b : a).append(appid, p)));
        expect(results.reduce((s0, r) => s0 + r.accepted, 0)).toBe(all.length);
        expect(await b.countEvents(appid)).toBe(all.length);
        for (const w of windows) expect(canonical(await a.portrait(appid, w))).toEqual(canonical(referencePortrait(all, w)));
      } finally {
        await a.close();
        await b.close();
      }
    }, 120_000);

    it('takes over the writer lease of a server that died holding it', async () => {
      const appid = freshAppid();
      // A "server" takes the lease and vanishes without releasing it.
      const dead = HttpConnection.open(parseClickHouseUrl(url()));
      await new Leases(dead, { ttlMs: 2000 }).run(appid, async () => {
        await dead.close();
      });
      const s = await ClickHouseStore.open(url(), { lease: { ttlMs: 2000 } });
      try {
        const t0 = Date.now();
        expect((await s.append(appid, [visit({ openid: 'x', time: BASE_MS, eventId: 'x1' })])).accepted).toBe(1);
        expect(Date.now() - t0).toBeGreaterThanOrEqual(900); // it waited for the lease to age
        expect(await s.countEvents(appid)).toBe(1);
      } finally {
        await s.close();
      }
    }, 60_000);

    it('rebuilds an app chain from its events when a writer died between the two inserts', async () => {
      const appid = freshAppid();
      const first = batchOf(120, 'k');
      const s = await ClickHouseStore.open(url());
      try {
        await s.append(appid, first);
        await s.close();
        // Events stored without being derived, as a writer killed after its first insert leaves them.
        const c = HttpConnection.open(parseClickHouseUrl(url()));
        const orphans = batchOf(50, 'z').map((e, i) => ({ ...e, time: BASE_MS + 2 * DAY + i }));
        await c.insert(
          'events',
          orphans.map((e, i) => ({ appid, seq: i + 1, event_id: e.eventId, openid: e.openid, time: e.time, day: isoDay(e.day), gender: e.gender,
            age: null, age_bucket: 0, platform: null, platform_id: 0, brand: null, model: null, device: e.device, province: e.province, city: e.city,
            ip: null, type: 'visit', page: null, scene: null, session: null, stay: null, props: null })),
        );
        expect(await derivedCounts(c, appid)).toEqual({ stored: 170, derived: 120 });
        await c.close();
        // The next writer of the app notices and rebuilds before its own batch.
        const t = await ClickHouseStore.open(url());
        try {
          const more = [visit({ openid: 'late', time: BASE_MS + DAY, gender: 2, eventId: 'late1' })];
          await t.append(appid, more);
          expect(await derivedCounts(t.connection, appid)).toEqual({ stored: 171, derived: 171 });
          const stored = [...first, ...orphans, ...more];
          for (const w of windows) expect(canonical(await t.portrait(appid, w))).toEqual(canonical(referencePortrait(stored, w)));
        } finally {
          await t.close();
        }
      } finally {
        await s.close();
      }
    }, 60_000);

    it('brings the one-day counts back to the chain when a writer takes the app and finds them apart', async () => {
      const appid = freshAppid();
      const first = batchOf(90, 'dc');
      const s = await ClickHouseStore.open(url());
      try {
        await s.append(appid, first);
      } finally {
        await s.close();
      }
      // A view part lost with a ClickHouse killed mid-insert: the counts of one day miss some chain rows.
      const c = HttpConnection.open(parseClickHouseUrl(url()));
      try {
        await c.exec(
          sql`INSERT INTO ${c.table('chain_day_counts')} SELECT appid, day, dim, num, str, known, -active, -fresh
              FROM ${c.table('chain_day_counts')} WHERE appid = ${appid} AND day = ${isoDay(BASE_DAY)} AND dim IN (0, 5)`,
        );
      } finally {
        await c.close();
      }
      const t = await ClickHouseStore.open(url());
      try {
        const day = windows[0] ?? { begin: BASE_DAY, end: BASE_DAY };
        expect(canonical(await t.portrait(appid, day))).not.toEqual(canonical(referencePortrait(first, day)));
        const more = [visit({ openid: 'dc-late', time: BASE_MS + DAY, gender: 2, eventId: 'dc-late' })];
        await t.append(appid, more);
        for (const w of windows) expect(canonical(await t.portrait(appid, w))).toEqual(canonical(referencePortrait([...first, ...more], w)));
      } finally {
        await t.close();
      }
    }, 60_000);

    it('migrates a store of the previous schema: existing data keeps answering', async () => {
      const old = freshDatabaseUrl(url());
      try {
        const c = HttpConnection.open(parseClickHouseUrl(old));
        await migrate(c, MIGRATIONS.filter((m) => m.version < 15));
        const appid = freshAppid();
        // An app as the previous schema stored it (no retention column yet).
        await c.insert('apps', [{ appid, name: 'old', secret_hash: 'h', secret_sealed: 's', env: appid, daily_quota: 3, created_at: 4, version: 1 }]);
        const events = batchOf(200, 'm');
        await c.insert(
          'events',
          events.map((e, i) => ({ appid, seq: i + 1, event_id: e.eventId, openid: e.openid, time: e.time, day: isoDay(e.day), gender: e.gender,
            age: null, age_bucket: 0, platform: null, platform_id: 0, brand: null, model: null, device: e.device, province: e.province, city: e.city,
            ip: null, type: 'visit', page: null, scene: null, session: null, stay: null, props: null })),
        );
        expect(Number((await c.rows<{ n: string }>(sql`SELECT count() AS n FROM ${c.table('user_days')}`))[0]?.n)).toBeGreaterThan(0);
        await c.close();
        const s = await ClickHouseStore.open(old);
        try {
          for (const w of windows) expect(canonical(await s.portrait(appid, w))).toEqual(canonical(referencePortrait(events, w)));
          expect(await s.getApp(appid)).toMatchObject({ name: 'old', dailyQuota: 3, retainDays: null });
          expect(await s.updateApp(appid, { retainDays: 40 })).toMatchObject({ name: 'old', retainDays: 40 });
          const tables = (await s.connection.rows<{ name: string }>(sql`SELECT name FROM system.tables WHERE database = ${s.connection.target.database}`)).map((r) => r.name);
          expect(tables.filter((n) => /^user_(days|first)/.test(n))).toEqual([]);
        } finally {
          await s.close();
        }
      } finally {
        await dropDatabase(old);
      }
    }, 120_000);
  });

  describe('personal data on ClickHouse', () => {
    let store: ClickHouseStore;
    beforeAll(async () => {
      store = await ClickHouseStore.open(url());
    });
    afterAll(() => store?.close());

    /** Connections to each server holding rows: every shard in cluster mode, else the one server. */
    function servers(): { c: Connection; table: (t: string) => Sql; close: () => Promise<void> }[] {
      if (!store.connection.clustered) return [{ c: store.connection, table: (t) => store.connection.table(t), close: async () => undefined }];
      return shardEndpoints().map((http) => {
        const c = connectTo(url(), http);
        return { c, table: (t: string) => c.table(`${t}_local`), close: () => c.close() };
      });
    }

    it('leaves no row of a deleted user in any table of any server, and no mutation running', async () => {
      const appid = freshAppid();
      const victim = `victim_${appid}`;
      const events = Array.from({ length: 60 }, (_, i) =>
        visit({
          openid: i % 3 ? `keep${i % 7}` : victim,
          time: BASE_MS + (i % 20) * DAY + i,
          eventId: `${i % 3 ? 'k' : victim}-${i}`,
          session: i % 2 ? `s-${victim}` : null,
          page: `pages/me/${victim}`,
          type: i % 4 ? 'visit' : 'share',
          gender: 1,
        }),
      );
      await store.append(appid, events);
      await store.prune([{ appid, beforeDay: BASE_DAY + 5 }]); // the victim gets a kept first day too
      const r = await store.deleteUsers(appid, [victim]);
      expect(r.users).toBe(1);
      expect(r.events).toBe(events.filter((e) => e.openid === victim && e.day >= BASE_DAY + 5).length);
      const ids = events.filter((e) => e.openid === victim).map((e) => e.eventId ?? '');
      let keptRows = 0;
      for (const s of servers()) {
        try {
          for (const t of ['events', 'user_chain', 'kept_first_days', 'an_user_days', 'an_user_first', 'an_page_days', 'an_id_sessions', 'an_gap_slots']) {
            const n = await s.c.rows<{ n: string }>(sql`SELECT count() AS n FROM ${s.table(t)} WHERE appid = ${appid} AND openid = ${victim}`);
            expect(Number(n[0]?.n), t).toBe(0);
          }
          const e = await s.c.rows<{ n: string }>(sql`SELECT count() AS n FROM ${s.table('event_ids')} WHERE appid = ${appid} AND event_id IN ${list(ids)}`);
          expect(Number(e[0]?.n), 'event_ids').toBe(0);
          const m = await s.c.rows<{ n: string }>(sql`SELECT count() AS n FROM system.mutations WHERE database = ${s.c.target.database} AND is_done = 0`);
          expect(Number(m[0]?.n), 'mutations left').toBe(0);
          const k = await s.c.rows<{ n: string }>(sql`SELECT count() AS n FROM ${s.table('events')} WHERE appid = ${appid}`);
          keptRows += Number(k[0]?.n);
        } finally {
          await s.close();
        }
      }
      expect(keptRows).toBe(events.filter((e) => e.openid !== victim && e.day >= BASE_DAY + 5).length);
    }, 120_000);

    it('rebuilds a pruned app chain from its events with the kept first days and dormant users', async () => {
      const appid = freshAppid();
      const events = Array.from({ length: 90 }, (_, i) =>
        visit({ openid: `p${i % 9}`, time: BASE_MS + ((i * 5) % 30) * DAY + i, eventId: `p-${i}`, gender: i % 3, city: i % 2 ? 4401 : 0 }),
      );
      // Every visit of `dormant` falls before the cut: after the prune only its first day is left.
      events.push(visit({ openid: 'dormant', time: BASE_MS + DAY, gender: 1 }), visit({ openid: 'dormant', time: BASE_MS + 3 * DAY, gender: 1 }));
      const cut = BASE_DAY + 12;
      await store.append(appid, events);
      await store.prune([{ appid, beforeDay: cut }]);
      const ws = [
        { begin: cut, end: cut + 6 },
        { begin: cut + 5, end: cut + 5 },
        { begin: cut, end: cut + 17 },
      ];
      const before = await Promise.all(ws.map(async (w) => canonical(await store.portrait(appid, w))));
      await rebuildChain(store.connection, appid);
      expect(await derivedCounts(store.connection, appid)).toEqual({ stored: events.filter((e) => e.day >= cut).length, derived: events.filter((e) => e.day >= cut).length });
      for (const [i, w] of ws.entries()) expect(canonical(await store.portrait(appid, w))).toEqual(before[i]);
      for (const w of ws) expect(canonical(await store.portrait(appid, w))).toEqual(canonical(referencePortrait(events, w)));
      // Every user seen before the cut and back after the rebuild is not new; a new one is.
      const back = [...new Set(events.map((e) => e.openid))].map((u, i) => visit({ openid: u, time: BASE_MS + 29 * DAY + i, gender: 2 }));
      back.push(visit({ openid: 'brand-new', time: BASE_MS + 29 * DAY + 99, gender: 2 }));
      await store.append(appid, back);
      const day = { begin: BASE_DAY + 29, end: BASE_DAY + 29 };
      expect(canonical(await store.portrait(appid, day))).toEqual(canonical(referencePortrait([...events, ...back], day)));
      expect((await store.portrait(appid, day)).find((c) => c.dimension === 'genders' && c.key === 2)?.new).toBe(1);
    }, 120_000);
  });
}
