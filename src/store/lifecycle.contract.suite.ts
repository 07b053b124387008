/**
 * The personal-data contract every Store backend must pass (deletion, retention, snapshot and restore; see
 * lifecycle.ts), against the in-memory oracle (referencePortrait.ts). Each backend's test file calls
 * `describeLifecycleContract` beside `describeStoreContract`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VisitEvent } from '../domain/event.ts';
import type { Window } from '../domain/window.ts';
import { mulberry32 } from '../demo/prng.ts';
import { BASE_DAY, BASE_MS, freshAppid, visit } from './contract.suite.ts';
import type { FirstSeen, SnapshotSink, UsageRecord } from './lifecycle.ts';
import type { AppRecord, TokenRecord } from './records.ts';
import { canonical, referencePortrait } from './referencePortrait.ts';
import type { Store } from './store.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Deterministic visits of `users` users over `days` days from BASE_DAY, with values that change and ids on most. */
export function lifecycleEvents(seed: number, users: number, days: number, prefix = 'u'): VisitEvent[] {
  const rnd = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const out: VisitEvent[] = [];
  const used = new Set<number>();
  for (let i = 0; i < users * days; i++) {
    if (rnd() < 0.55) continue;
    const user = Math.floor(rnd() * users);
    let time = BASE_MS + Math.floor(rnd() * days) * DAY + Math.floor(rnd() * (DAY - 1000));
    while (used.has(time)) time++;
    used.add(time);
    out.push(
      visit({
        openid: `${prefix}${user}`,
        time,
        eventId: rnd() < 0.8 ? `${prefix}-ev-${i}` : null,
        gender: pick([0, 1, 2]),
        ageBucket: pick([0, 1, 2, 3, 4, 5, 6]),
        platformId: pick([0, 1, 2, 3]),
        province: pick([0, 11, 44]),
        city: pick([0, 1101, 4401, 4403]),
        device: pick([null, 'OPPO R9', 'Apple iPhone 13', 'Xiaomi 13']),
        session: `${prefix}${user}-s${i % 5}`,
        props: JSON.stringify({ who: `${prefix}${user}` }),
      }),
    );
  }
  return out;
}

/** Windows of 1, 7 and 30 days starting at every `step`-th day of [first, last], ending by `last`. */
export function windowsWithin(first: number, last: number, step = 3): Window[] {
  const out: Window[] = [];
  for (const len of [1, 7, 30]) {
    for (let b = first; b + len - 1 <= last; b += step) out.push({ begin: b, end: b + len - 1 });
  }
  return out;
}

async function appendAll(store: Store, appid: string, events: readonly VisitEvent[], size = 97): Promise<void> {
  for (let i = 0; i < events.length; i += size) {
    const r = await store.append(appid, events.slice(i, i + size));
    expect(r.duplicates).toEqual([]);
  }
}

async function exported(store: Store, appid: string): Promise<VisitEvent[]> {
  const out: VisitEvent[] = [];
  await store.exportEvents(appid, async (b) => void out.push(...b));
  return out;
}

async function expectOracle(store: Store, appid: string, events: readonly VisitEvent[], windows: readonly Window[]): Promise<void> {
  for (const w of windows) {
    expect(canonical(await store.portrait(appid, w)), `${w.begin - BASE_DAY}..${w.end - BASE_DAY}`).toEqual(canonical(referencePortrait(events, w)));
  }
}

/** A sink that keeps everything in memory. */
export class MemorySink implements SnapshotSink {
  apps: AppRecord[] = [];
  tokens: TokenRecord[] = [];
  usages: UsageRecord[] = [];
  kept = new Map<string, FirstSeen[]>();
  byApp = new Map<string, VisitEvent[]>();
  async app(a: AppRecord) {
    this.apps.push(a);
  }
  async token(t: TokenRecord) {
    this.tokens.push(t);
  }
  async usage(u: UsageRecord) {
    this.usages.push(u);
  }
  async firstSeen(appid: string, rows: FirstSeen[]) {
    this.kept.set(appid, [...(this.kept.get(appid) ?? []), ...rows]);
  }
  async events(appid: string, events: VisitEvent[]) {
    this.byApp.set(appid, [...(this.byApp.get(appid) ?? []), ...events]);
  }
  /** Loads everything into `store` as a restore does. */
  async restoreInto(store: Store): Promise<void> {
    for (const a of this.apps) await store.createApp(a);
    for (const t of this.tokens) await store.putToken(t);
    for (const u of this.usages) await store.addUsage(u.appid, u.api, u.day, u.calls);
    for (const appid of new Set([...this.kept.keys(), ...this.byApp.keys()])) {
      await store.restoreFirstSeen(appid, this.kept.get(appid) ?? []);
      const ev = this.byApp.get(appid) ?? [];
      for (let i = 0; i < ev.length; i += 500) await store.append(appid, ev.slice(i, i + 500));
    }
  }
}

export interface EmptyStore {
  store: Store;
  dispose(): Promise<void>;
}

export function describeLifecycleContract(label: string, open: () => Promise<Store>, openEmpty: () => Promise<EmptyStore>): void {
  describe(`Personal data contract: ${label}`, () => {
    let store: Store;
    beforeAll(async () => {
      store = await open();
    }, 120_000);
    afterAll(async () => {
      await store?.close();
    });

    it('deletes users: every window as if they had never been seen, other users and apps untouched, again a no-op', async () => {
      const appid = freshAppid();
      const other = freshAppid();
      const events = lifecycleEvents(17, 10, 40);
      await appendAll(store, appid, events);
      await appendAll(store, other, events);
      const gone = new Set(['u1', 'u2']);
      const kept = events.filter((e) => !gone.has(e.openid));
      const r = await store.deleteUsers(appid, ['u1', 'u2', 'nobody', 'u1']);
      expect(r).toEqual({ users: 2, events: events.length - kept.length });
      expect(await store.countEvents(appid)).toBe(kept.length);
      expect((await exported(store, appid)).some((e) => gone.has(e.openid))).toBe(false);
      const windows = windowsWithin(BASE_DAY, BASE_DAY + 39);
      await expectOracle(store, appid, kept, windows);
      // The same openids in another app are another app's users.
      await expectOracle(store, other, events, windowsWithin(BASE_DAY, BASE_DAY + 39, 9));
      expect(await store.countEvents(other)).toBe(events.length);
      expect(await store.deleteUsers(appid, ['u1', 'u2'])).toEqual({ users: 0, events: 0 });
      expect(await store.deleteUsers(appid, [])).toEqual({ users: 0, events: 0 });
    }, 300_000);

    it('takes a deleted user who comes back for a new user, and their resent events for new ones', async () => {
      const appid = freshAppid();
      const events = lifecycleEvents(23, 6, 35);
      await appendAll(store, appid, events);
      const victim = events.filter((e) => e.openid === 'u3');
      expect(victim.length).toBeGreaterThan(3);
      await store.deleteUsers(appid, ['u3']);
      // Back on day 33, with an event id they had used before: stored (not a duplicate), and new in that window.
      const withId = victim.find((e) => e.eventId !== null);
      const back = visit({ openid: 'u3', time: BASE_MS + 33 * DAY + HOUR, eventId: withId?.eventId ?? 'x', gender: 2 });
      expect(await store.append(appid, [back])).toEqual({ accepted: 1, duplicates: [] });
      const now = [...events.filter((e) => e.openid !== 'u3'), back];
      await expectOracle(store, appid, now, [
        { begin: BASE_DAY + 33, end: BASE_DAY + 33 },
        { begin: BASE_DAY + 27, end: BASE_DAY + 33 },
        { begin: BASE_DAY + 4, end: BASE_DAY + 33 },
        { begin: BASE_DAY, end: BASE_DAY + 29 },
      ]);
      const day = await store.portrait(appid, { begin: BASE_DAY + 33, end: BASE_DAY + 33 });
      expect(day.find((c) => c.dimension === 'genders' && c.key === 2)?.new).toBeGreaterThanOrEqual(1);
    }, 120_000);

    it('prunes: drops exactly the events before the cut, windows from the cut answer as before, first days stay', async () => {
      const appid = freshAppid();
      const events = lifecycleEvents(31, 10, 60);
      await appendAll(store, appid, events);
      const cut = BASE_DAY + 25;
      const windows = windowsWithin(cut, BASE_DAY + 59, 4);
      const before = new Map<string, string[]>();
      for (const w of windows) before.set(`${w.begin}-${w.end}`, canonical(await store.portrait(appid, w)));
      const old = events.filter((e) => e.day < cut);
      const [r] = await store.prune([{ appid, beforeDay: cut }]);
      expect(r).toEqual({ appid, beforeDay: cut, events: old.length, users: new Set(old.map((e) => e.openid)).size });
      expect(await store.countEvents(appid)).toBe(events.length - old.length);
      const left = await exported(store, appid);
      expect(left.length).toBe(events.length - old.length);
      expect(left.every((e) => e.day >= cut)).toBe(true);
      for (const w of windows) expect(canonical(await store.portrait(appid, w))).toEqual(before.get(`${w.begin}-${w.end}`));
      // "New" still counts from first days before the cut: the oracle sees every event ever stored.
      await expectOracle(store, appid, events, windows);
      // Again: nothing left to drop.
      expect((await store.prune([{ appid, beforeDay: cut }]))[0]).toMatchObject({ events: 0, users: 0 });
      // A user seen only before the cut who comes back is not new; a brand-new one is.
      const onlyOld = [...new Set(old.map((e) => e.openid))].find((u) => !events.some((e) => e.openid === u && e.day >= cut));
      const back = [
        visit({ openid: onlyOld ?? 'u0', time: BASE_MS + 58 * DAY + HOUR, gender: 1 }),
        visit({ openid: 'fresh', time: BASE_MS + 58 * DAY + 2 * HOUR, gender: 2 }),
      ];
      await appendAll(store, appid, back);
      await expectOracle(store, appid, [...events, ...back], [
        { begin: BASE_DAY + 58, end: BASE_DAY + 58 },
        { begin: BASE_DAY + 52, end: BASE_DAY + 58 },
        { begin: BASE_DAY + 29, end: BASE_DAY + 58 },
      ]);
    }, 300_000);

    it('snapshots apps, live tokens, usage, kept first days and events; a restore answers the same', async () => {
      const appid = freshAppid();
      const app: AppRecord = { appid, name: 'life', secretHash: 'scrypt$aa$bb', secretSealed: 'v1.x.y.z', env: `env-${appid}`, dailyQuota: 9, createdAt: 5, collect: true, retainDays: 40 };
      await store.createApp(app);
      const now = BASE_MS + 61 * DAY;
      await store.putToken({ hash: `live-${appid}`, appid, kind: 'stable', issuedAt: now - 1000, expiresAt: now + 7_200_000, sealed: 'box' });
      await store.putToken({ hash: `dead-${appid}`, appid, kind: 'token', issuedAt: now - 9_000_000, expiresAt: now - 1, sealed: null });
      await store.addUsage(appid, 'getUserPortrait', BASE_DAY + 60, 4);
      const events = lifecycleEvents(41, 8, 60, 'w');
      await appendAll(store, appid, events);
      const cut = BASE_DAY + 20;
      await store.prune([{ appid, beforeDay: cut }]);

      const sink = new MemorySink();
      const counts = await store.snapshot(sink, now);
      expect(sink.apps.find((a) => a.appid === appid)).toEqual(app);
      expect(sink.tokens.filter((t) => t.appid === appid).map((t) => t.hash)).toEqual([`live-${appid}`]);
      expect(sink.usages.filter((u) => u.appid === appid)).toEqual([{ appid, api: 'getUserPortrait', day: BASE_DAY + 60, calls: 4 }]);
      const kept = sink.kept.get(appid) ?? [];
      const firstDays = new Map<string, number>();
      for (const e of events) firstDays.set(e.openid, Math.min(firstDays.get(e.openid) ?? Infinity, e.day));
      expect(kept.length).toBeGreaterThan(0);
      for (const k of kept) expect(k.day).toBe(firstDays.get(k.openid));
      const mine = sink.byApp.get(appid) ?? [];
      expect(mine.length).toBe(events.filter((e) => e.day >= cut).length);
      expect(counts.events).toBe([...sink.byApp.values()].reduce((s, l) => s + l.length, 0));
      expect(counts).toMatchObject({ apps: sink.apps.length, tokens: sink.tokens.length, usage: sink.usages.length });

      const empty = await openEmpty();
      try {
        expect(await empty.store.contents()).toEqual({ apps: 0, tokens: 0, events: 0 });
        await sink.restoreInto(empty.store);
        expect(await empty.store.getApp(appid)).toEqual(app);
        expect((await empty.store.getToken(`live-${appid}`))?.sealed).toBe('box');
        expect(await empty.store.getUsage(appid, 'getUserPortrait', BASE_DAY + 60)).toBe(4);
        expect(await empty.store.contents()).toMatchObject({ apps: sink.apps.length, events: counts.events });
        for (const w of windowsWithin(cut, BASE_DAY + 59, 5)) {
          expect(canonical(await empty.store.portrait(appid, w))).toEqual(canonical(await store.portrait(appid, w)));
        }
        await expectOracle(empty.store, appid, events, windowsWithin(cut, BASE_DAY + 59, 9));
      } finally {
        await empty.dispose();
      }
    }, 300_000);

    it('deletes safely while the same app keeps appending: nothing else lost, derived rows match the events', async () => {
      const appid = freshAppid();
      const victim = 'victim';
      const batches = Array.from({ length: 16 }, (_, b) =>
        Array.from({ length: 12 }, (_, i) =>
          visit({ openid: i % 4 === 0 ? victim : `c${(b * 7 + i) % 9}`, time: BASE_MS + ((b + i) % 20) * DAY + b * 1000 + i, eventId: `b${b}-${i}`, gender: (i % 3) as 0 | 1 | 2 }),
        ),
      );
      const acked: VisitEvent[] = [];
      let deletionStarted = -1;
      const appender = (async () => {
        for (const [b, batch] of batches.entries()) {
          const r = await store.append(appid, batch);
          expect(r.duplicates).toEqual([]);
          acked.push(...batch);
          if (b === 5) deletionStarted = acked.length;
        }
      })();
      while (deletionStarted < 0) await new Promise((r) => setTimeout(r, 5));
      const ackedBefore = acked.slice(0, deletionStarted);
      await Promise.all([store.deleteUsers(appid, [victim]), appender]);
      const stored = await exported(store, appid);
      const ids = new Set(stored.map((e) => e.eventId));
      for (const e of acked) if (e.openid !== victim) expect(ids.has(e.eventId), String(e.eventId)).toBe(true);
      for (const e of ackedBefore) if (e.openid === victim) expect(ids.has(e.eventId), String(e.eventId)).toBe(false);
      expect(stored.length).toBe(new Set(stored.map((e) => e.eventId)).size);
      await expectOracle(store, appid, stored, windowsWithin(BASE_DAY, BASE_DAY + 29, 3));
    }, 300_000);

    it('snapshots while the same app keeps appending: every event acknowledged before, only events sent', async () => {
      const appid = freshAppid();
      const sent: VisitEvent[] = [];
      const acked: VisitEvent[] = [];
      let stop = false;
      const appender = (async () => {
        for (let b = 0; !stop && b < 400; b++) {
          const batch = Array.from({ length: 20 }, (_, i) =>
            visit({ openid: `s${(b * 3 + i) % 15}`, time: BASE_MS + ((b + i) % 25) * DAY + b * 100 + i, eventId: `s${b}-${i}`, city: i % 2 ? 4401 : 0 }),
          );
          sent.push(...batch);
          await store.append(appid, batch);
          acked.push(...batch);
        }
      })();
      while (acked.length < 200) await new Promise((r) => setTimeout(r, 5));
      const ackedBefore = acked.length;
      const sink = new MemorySink();
      await store.snapshot(sink, BASE_MS);
      stop = true;
      await appender;
      const got = sink.byApp.get(appid) ?? [];
      const ids = new Set(got.map((e) => e.eventId));
      for (const e of acked.slice(0, ackedBefore)) expect(ids.has(e.eventId)).toBe(true);
      const sentIds = new Set(sent.map((e) => e.eventId));
      for (const e of got) expect(sentIds.has(e.eventId)).toBe(true);
      // Whole batches only: a batch is in the snapshot entirely or not at all.
      const perBatch = new Map<string, number>();
      for (const e of got) perBatch.set(String(e.eventId).split('-')[0] ?? '', (perBatch.get(String(e.eventId).split('-')[0] ?? '') ?? 0) + 1);
      for (const [b, n] of perBatch) expect(n, b).toBe(20);
      const empty = await openEmpty();
      try {
        await sink.restoreInto(empty.store);
        await expectOracle(empty.store, appid, got, windowsWithin(BASE_DAY, BASE_DAY + 24, 6));
      } finally {
        await empty.dispose();
      }
    }, 300_000);
  });
}
