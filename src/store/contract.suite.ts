/**
 * The contract every Store backend must pass. Each backend's test file calls `describeStoreContract` with a
 * factory; the suite uses fresh appids per test, so one store instance serves the whole suite.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dayOf } from '../domain/day.ts';
import { emptyEvent, type VisitEvent } from '../domain/event.ts';
import type { Window } from '../domain/window.ts';
import { canonical, referencePortrait } from './referencePortrait.ts';
import { OVERFLOW_DEVICE_NAME } from '../domain/dimensions.ts';
import type { Store, StoreOptions } from './store.ts';

let appCounter = 0;
export function freshAppid(): string {
  appCounter++;
  return `wx${(Date.now() % 1e8).toString(16).padStart(8, '0')}${(appCounter * 7919 + Math.floor(Math.random() * 1e6)).toString(16).padStart(8, '0')}`.slice(0, 18);
}

/** 2026-11-01 00:00 in Shanghai. */
export const BASE_MS = Date.UTC(2026, 9, 31, 16, 0, 0);
export const BASE_DAY = dayOf(BASE_MS);

export function visit(p: Partial<VisitEvent> & { openid: string; time: number }): VisitEvent {
  return { ...emptyEvent(), day: dayOf(p.time), ...p };
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function find(counts: Awaited<ReturnType<Store['portrait']>>, dimension: string, key: number | string | null) {
  return counts.find((c) => c.dimension === dimension && c.key === key);
}

/**
 * `open` gives the store under test; with options, another store on the same backend (a separate file for DuckDB,
 * the same database for ClickHouse) configured so (the test closes it).
 */
export function describeStoreContract(label: string, open: (opts?: StoreOptions) => Promise<Store>): void {
  describe(`Store contract: ${label}`, () => {
    let store: Store;
    beforeAll(async () => {
      store = await open();
    }, 120_000);
    afterAll(async () => {
      await store?.close();
    });

    it('stores a batch and reports event_id duplicates, in the batch and against stored events', async () => {
      const appid = freshAppid();
      const t = BASE_MS + HOUR;
      const r1 = await store.append(appid, [
        visit({ openid: 'u1', time: t, eventId: 'e1' }),
        visit({ openid: 'u1', time: t, eventId: 'e2' }),
        visit({ openid: 'u1', time: t, eventId: 'e1' }),
        visit({ openid: 'u2', time: t }),
        visit({ openid: 'u2', time: t }),
      ]);
      expect(r1).toEqual({ accepted: 4, duplicates: [2] });
      const r2 = await store.append(appid, [visit({ openid: 'u3', time: t, eventId: 'e2' }), visit({ openid: 'u3', time: t, eventId: 'e3' })]);
      expect(r2).toEqual({ accepted: 1, duplicates: [0] });
      expect(await store.countEvents(appid)).toBe(5);
      // Another app may reuse the same event ids.
      const other = freshAppid();
      expect(await store.append(other, [visit({ openid: 'u1', time: t, eventId: 'e1' })])).toEqual({ accepted: 1, duplicates: [] });
    });

    it('counts active and new users with the latest known value per dimension', async () => {
      const appid = freshAppid();
      const d0 = BASE_MS; // day 0 00:00 Shanghai
      await store.append(appid, [
        // u1: first seen before the window; in the window: Guangzhou then (later) Shenzhen, gender only early.
        visit({ openid: 'u1', time: d0 + 1 * HOUR, province: 11, city: 1101, gender: 2 }),
        visit({ openid: 'u1', time: d0 + 3 * DAY + 1 * HOUR, province: 44, city: 4401, gender: 1, platformId: 1, platform: 'ios' }),
        visit({ openid: 'u1', time: d0 + 4 * DAY + 2 * HOUR, province: 44, city: 4403, device: 'Apple iPhone 13' }),
        visit({ openid: 'u1', time: d0 + 5 * DAY + 2 * HOUR }), // later, but carries nothing: does not erase
        // u2: new in the window, Android, age bucket 2.
        visit({ openid: 'u2', time: d0 + 3 * DAY + 5 * HOUR, platformId: 2, platform: 'android', ageBucket: 2, age: 20, device: 'OPPO R9' }),
        // u3: only outside the window.
        visit({ openid: 'u3', time: d0 + 9 * DAY, gender: 1 }),
      ]);
      const w: Window = { begin: BASE_DAY + 3, end: BASE_DAY + 9 };
      const c = await store.portrait(appid, w);
      expect(find(c, 'genders', 1)).toMatchObject({ active: 2, new: 1 }); // u1 (latest in window: 1) + u3
      expect(find(c, 'genders', 0)).toMatchObject({ active: 1, new: 1 }); // u2
      expect(find(c, 'genders', 2)).toBeUndefined(); // u1's 2 is outside the window
      expect(find(c, 'city', 4403)).toMatchObject({ active: 1, new: 0 });
      expect(find(c, 'city', 4401)).toBeUndefined();
      expect(find(c, 'province', 44)).toMatchObject({ active: 1, new: 0 });
      expect(find(c, 'platforms', 1)).toMatchObject({ active: 1, new: 0 });
      expect(find(c, 'platforms', 2)).toMatchObject({ active: 1, new: 1 });
      expect(find(c, 'platforms', 0)).toMatchObject({ active: 1, new: 1 });
      expect(find(c, 'devices', 'Apple iPhone 13')).toMatchObject({ active: 1, new: 0 });
      expect(find(c, 'devices', 'OPPO R9')).toMatchObject({ active: 1, new: 1 });
      expect(find(c, 'devices', null)).toMatchObject({ active: 1, new: 1 });
      expect(find(c, 'ages', 2)).toMatchObject({ active: 1, new: 1 });
      for (const dim of ['genders', 'ages', 'platforms', 'province', 'city', 'devices']) {
        const sum = c.filter((x) => x.dimension === dim).reduce((s, x) => s + x.active, 0);
        expect(sum, dim).toBe(3);
      }
      // One day: u1 only; not new (first day before).
      const one = await store.portrait(appid, { begin: BASE_DAY + 4, end: BASE_DAY + 4 });
      expect(canonical(one)).toEqual(canonical(referencePortrait(await allEvents(store, appid), { begin: BASE_DAY + 4, end: BASE_DAY + 4 })));
      expect(find(one, 'city', 4403)).toMatchObject({ active: 1, new: 0 });
    });

    it('takes late events into the next answer: a new earliest day, a later value', async () => {
      const appid = freshAppid();
      const w: Window = { begin: BASE_DAY + 10, end: BASE_DAY + 16 };
      await store.append(appid, [visit({ openid: 'u1', time: BASE_MS + 12 * DAY, gender: 1 })]);
      let c = await store.portrait(appid, w);
      expect(find(c, 'genders', 1)).toMatchObject({ active: 1, new: 1 });
      // A late event from before the window: u1 is no longer new in it.
      await store.append(appid, [visit({ openid: 'u1', time: BASE_MS + 2 * DAY })]);
      c = await store.portrait(appid, w);
      expect(find(c, 'genders', 1)).toMatchObject({ active: 1, new: 0 });
      // A late event inside the window, later in time: its gender wins.
      await store.append(appid, [visit({ openid: 'u1', time: BASE_MS + 15 * DAY, gender: 2 })]);
      c = await store.portrait(appid, w);
      expect(find(c, 'genders', 2)).toMatchObject({ active: 1, new: 0 });
      expect(find(c, 'genders', 1)).toBeUndefined();
      // The earlier window now has u1 as new.
      const early = await store.portrait(appid, { begin: BASE_DAY + 2, end: BASE_DAY + 2 });
      expect(find(early, 'genders', 0)).toMatchObject({ active: 1, new: 1 });
    });

    it('keeps apps apart', async () => {
      const a = freshAppid();
      const b = freshAppid();
      await store.append(a, [visit({ openid: 'same', time: BASE_MS + HOUR, gender: 1 })]);
      await store.append(b, [visit({ openid: 'same', time: BASE_MS + 2 * HOUR, gender: 2 })]);
      const ca = await store.portrait(a, { begin: BASE_DAY, end: BASE_DAY });
      expect(canonical(ca).filter((x) => x.startsWith('genders'))).toEqual(['genders|1|1|1']);
      const none = await store.portrait(freshAppid(), { begin: BASE_DAY, end: BASE_DAY });
      expect(none).toEqual([]);
    });

    it('equals the in-memory reference on random event sets, for 1-, 7- and 30-day windows', async () => {
      const eventArb = fc.record({
        user: fc.integer({ min: 0, max: 11 }),
        dayOffset: fc.integer({ min: 0, max: 44 }),
        ms: fc.integer({ min: 0, max: DAY - 1 }),
        gender: fc.constantFrom(0, 0, 1, 2),
        ageBucket: fc.integer({ min: 0, max: 6 }),
        platformId: fc.constantFrom(0, 1, 2, 3),
        province: fc.constantFrom(0, 11, 44, 31),
        city: fc.constantFrom(0, 1101, 4401, 4403, 3101),
        device: fc.constantFrom(null, 'OPPO R9', 'Apple iPhone 13', 'Xiaomi 13'),
        eventId: fc.option(fc.integer({ min: 0, max: 30 }).map((n) => `id${n}`), { nil: null }),
      });
      await fc.assert(
        fc.asyncProperty(fc.array(eventArb, { minLength: 1, maxLength: 60 }), fc.integer({ min: 1, max: 3 }), async (raw, chunks) => {
          const appid = freshAppid();
          const usedTimes = new Set<number>();
          const events = raw.map((r, i) => {
            let time = BASE_MS + r.dayOffset * DAY + r.ms;
            while (usedTimes.has(time)) time += 1; // distinct times: ties between devices are arbitrary
            usedTimes.add(time);
            return visit({ openid: `user${r.user}`, time, gender: r.gender, ageBucket: r.ageBucket, platformId: r.platformId,
              province: r.province, city: r.city, device: r.device, eventId: r.eventId, session: `s${i}` });
          });
          // Store in a few batches, in the given (unsorted) order; remember what was accepted.
          const stored: VisitEvent[] = [];
          const size = Math.ceil(events.length / chunks);
          for (let i = 0; i < events.length; i += size) {
            const part = events.slice(i, i + size);
            const r = await store.append(appid, part);
            const dup = new Set(r.duplicates);
            part.forEach((e, k) => {
              if (!dup.has(k)) stored.push(e);
            });
          }
          for (const [begin, len] of [[BASE_DAY + 40, 1], [BASE_DAY + 20, 7], [BASE_DAY + 10, 30], [BASE_DAY, 30]] as const) {
            const w = { begin, end: begin + len - 1 };
            expect(canonical(await store.portrait(appid, w))).toEqual(canonical(referencePortrait(stored, w)));
          }
        }),
        { numRuns: 25 },
      );
    }, 300_000);

    it('keeps apps, tokens and usage counters', async () => {
      const appid = freshAppid();
      await store.createApp({ appid, name: 'n', secretHash: 'h', secretSealed: 's', env: `env-${appid}`, dailyQuota: 5, createdAt: 1, collect: true });
      expect(await store.getApp(appid)).toMatchObject({ appid, name: 'n', env: `env-${appid}`, dailyQuota: 5, collect: true });
      expect((await store.getAppByEnv(`env-${appid}`))?.appid).toBe(appid);
      expect(await store.updateApp(appid, { dailyQuota: 7, env: 'x-' + appid })).toMatchObject({ dailyQuota: 7, env: 'x-' + appid, collect: true });
      // The collect flag: off, kept through other changes, on again.
      expect(await store.updateApp(appid, { collect: false })).toMatchObject({ collect: false, dailyQuota: 7 });
      expect(await store.updateApp(appid, { name: 'm' })).toMatchObject({ collect: false, name: 'm' });
      expect((await store.getApp(appid))?.collect).toBe(false);
      expect((await store.listApps()).find((a) => a.appid === appid)?.collect).toBe(false);
      expect(await store.updateApp(appid, { collect: true })).toMatchObject({ collect: true, name: 'm' });
      const off = freshAppid();
      await store.createApp({ appid: off, name: 'o', secretHash: 'h', secretSealed: 's', env: `env-${off}`, dailyQuota: 5, createdAt: 2, collect: false });
      expect((await store.getApp(off))?.collect).toBe(false);
      expect((await store.listApps()).some((a) => a.appid === appid)).toBe(true);
      expect(await store.getApp('wx0000000000000000')).toBeUndefined();

      await store.putToken({ hash: `h1-${appid}`, appid, kind: 'token', issuedAt: 100, expiresAt: 10_000, sealed: null });
      await store.putToken({ hash: `h2-${appid}`, appid, kind: 'token', issuedAt: 200, expiresAt: 20_000, sealed: null });
      await store.putToken({ hash: `s1-${appid}`, appid, kind: 'stable', issuedAt: 150, expiresAt: 20_000, sealed: 'box' });
      await store.retireTokens(appid, 'token', 500, `h2-${appid}`);
      expect((await store.getToken(`h1-${appid}`))?.expiresAt).toBe(500);
      expect((await store.getToken(`h2-${appid}`))?.expiresAt).toBe(20_000);
      expect((await store.getToken(`s1-${appid}`))?.expiresAt).toBe(20_000);
      expect((await store.latestToken(appid, 'stable', 300))?.sealed).toBe('box');
      expect((await store.latestToken(appid, 'token', 300))?.hash).toBe(`h2-${appid}`);
      expect(await store.latestToken(appid, 'stable', 30_000)).toBeUndefined();

      expect(await store.addUsage(appid, 'getUserPortrait', 100, 1)).toBe(1);
      expect(await store.addUsage(appid, 'getUserPortrait', 100, 4)).toBe(5);
      expect(await store.getUsage(appid, 'getUserPortrait', 100)).toBe(5);
      expect(await store.getUsage(appid, 'getUserPortrait', 101)).toBe(0);
    });

    it('caps the distinct device names of an app: past the cap, new names count under the overflow bucket and the append says so', async () => {
      const capped = await open({ maxDeviceNames: 3 });
      try {
        const a = freshAppid();
        const b = freshAppid();
        const t = BASE_MS + HOUR;
        const dev = (openid: string, device: string, k: number) => visit({ openid, time: t + k, device });
        // b first: its names are its own, whatever a sends later.
        expect(await capped.append(b, [dev('b1', 'Phone B', 0), dev('b2', 'Phone C', 1)])).toEqual({ accepted: 2, duplicates: [] });
        const r1 = await capped.append(a, [dev('a1', 'Phone A', 2), dev('a2', 'Phone B', 3), dev('a3', 'Phone A', 4)]);
        expect(r1).toEqual({ accepted: 3, duplicates: [] });
        // Third name fits; the fourth and fifth (and the fourth again) are past the cap.
        const r2 = await capped.append(a, [dev('a4', 'Phone C', 5), dev('a5', 'Phone D', 6), dev('a6', 'Phone E', 7), dev('a7', 'Phone D', 8)]);
        expect(r2).toEqual({ accepted: 4, duplicates: [], deviceOverflow: { events: 3, names: 2, cap: 3 } });
        // Names already admitted keep counting as themselves.
        expect(await capped.append(a, [dev('a8', 'Phone B', 9)])).toEqual({ accepted: 1, duplicates: [] });
        const day = { begin: BASE_DAY, end: BASE_DAY };
        const devices = (c: Awaited<ReturnType<Store['portrait']>>) =>
          Object.fromEntries(c.filter((x) => x.dimension === 'devices').map((x) => [String(x.key), x.active]));
        expect(devices(await capped.portrait(a, day))).toEqual({ 'Phone A': 2, 'Phone B': 2, 'Phone C': 1, [OVERFLOW_DEVICE_NAME]: 3 });
        expect(devices(await capped.portrait(b, day))).toEqual({ 'Phone B': 1, 'Phone C': 1 });
        // b still has room of its own.
        expect(await capped.append(b, [dev('b3', 'Phone Z', 10)])).toEqual({ accepted: 1, duplicates: [] });
        expect(devices(await capped.portrait(b, day))).toEqual({ 'Phone B': 1, 'Phone C': 1, 'Phone Z': 1 });
      } finally {
        await capped.close();
      }
    });

    it('keeps the times of stable_token forced refreshes', async () => {
      const appid = freshAppid();
      expect(await store.forceRefreshTimes(appid, 0)).toEqual([]);
      await store.addForceRefresh(appid, 1_000);
      await store.addForceRefresh(appid, 50_000);
      await store.addForceRefresh(appid, 20_000);
      await store.addForceRefresh(freshAppid(), 30_000);
      expect(await store.forceRefreshTimes(appid, 0)).toEqual([1_000, 20_000, 50_000]);
      expect(await store.forceRefreshTimes(appid, 20_000)).toEqual([20_000, 50_000]);
    });

    it('counts each app\'s events and knows the latest event time', async () => {
      const a = freshAppid();
      const b = freshAppid();
      await store.append(a, [visit({ openid: 'u1', time: BASE_MS + 5 * HOUR }), visit({ openid: 'u2', time: BASE_MS + 2 * HOUR })]);
      await store.append(b, [visit({ openid: 'u1', time: BASE_MS + 9 * DAY })]);
      const stats = new Map((await store.eventStats()).map((x) => [x.appid, x]));
      expect(stats.get(a)).toEqual({ appid: a, events: 2, lastTime: BASE_MS + 5 * HOUR });
      expect(stats.get(b)).toEqual({ appid: b, events: 1, lastTime: BASE_MS + 9 * DAY });
      expect(stats.has(freshAppid())).toBe(false);
    });

    it('deletes an app with its events, derived rows, tokens and usage, and nothing of other apps', async () => {
      const gone = freshAppid();
      const kept = freshAppid();
      for (const appid of [gone, kept]) {
        await store.createApp({ appid, name: 'n', secretHash: 'h', secretSealed: 's', env: `env-${appid}`, dailyQuota: 5, createdAt: 1, collect: true });
        await store.append(appid, [visit({ openid: 'u1', time: BASE_MS + HOUR, gender: 1, eventId: 'e1' }), visit({ openid: 'u2', time: BASE_MS + DAY })]);
        await store.putToken({ hash: `t-${appid}`, appid, kind: 'token', issuedAt: 100, expiresAt: 10_000, sealed: null });
        await store.addUsage(appid, 'getUserPortrait', 100, 3);
        await store.addForceRefresh(appid, 1_000);
      }
      const w = { begin: BASE_DAY, end: BASE_DAY + 6 };
      const before = canonical(await store.portrait(kept, w));
      expect(before.length).toBeGreaterThan(0);
      expect(await store.deleteApp(gone)).toBe(true);
      expect(await store.getApp(gone)).toBeUndefined();
      expect(await store.getAppByEnv(`env-${gone}`)).toBeUndefined();
      expect((await store.listApps()).some((a) => a.appid === gone)).toBe(false);
      expect(await store.countEvents(gone)).toBe(0);
      expect(await store.portrait(gone, w)).toEqual([]);
      expect(await store.getToken(`t-${gone}`)).toBeUndefined();
      expect(await store.getUsage(gone, 'getUserPortrait', 100)).toBe(0);
      expect(await store.forceRefreshTimes(gone, 0)).toEqual([]);
      expect((await store.eventStats()).some((x) => x.appid === gone)).toBe(false);
      // The other app is untouched.
      expect(canonical(await store.portrait(kept, w))).toEqual(before);
      expect(await store.countEvents(kept)).toBe(2);
      expect((await store.getToken(`t-${kept}`))?.appid).toBe(kept);
      expect(await store.getUsage(kept, 'getUserPortrait', 100)).toBe(3);
      expect(await store.forceRefreshTimes(kept, 0)).toEqual([1_000]);
      // Deleting again, or an app that never was: false. The event id may be used again by a new app of that id.
      expect(await store.deleteApp(gone)).toBe(false);
      expect(await store.append(gone, [visit({ openid: 'u1', time: BASE_MS + HOUR, eventId: 'e1' })])).toEqual({ accepted: 1, duplicates: [] });
    });

    it('exports the raw events it stored, with every field', async () => {
      const appid = freshAppid();
      const e = visit({ openid: 'u1', time: BASE_MS + 5, eventId: 'x', gender: 2, age: 33, ageBucket: 4, platform: 'ios', platformId: 1,
        brand: 'iPhone', model: 'iPhone 13<iPhone14,5>', device: 'Apple iPhone 13', province: 44, city: 4401, ip: '1.2.3.4',
        page: 'pages/a/b', scene: 1001, session: 's1', stay: 12.5, type: 'visit', props: '{"k":"v\\n\'"}',
        ua: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) MicroMessenger/8.0.42(0x18002a2f) "quoted" \\ ' });
      await store.append(appid, [e]);
      const out: VisitEvent[] = [];
      expect(await store.exportEvents(appid, async (b) => void out.push(...b))).toBe(1);
      expect(out).toEqual([e]);
    });
  });
}

async function allEvents(store: Store, appid: string): Promise<VisitEvent[]> {
  const out: VisitEvent[] = [];
  await store.exportEvents(appid, async (b) => void out.push(...b));
  return out;
}
