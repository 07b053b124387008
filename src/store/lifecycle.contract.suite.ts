/**
 * The personal-data contract every Store backend must pass (deletion, retention, snapshot and restore; see
 * lifecycle.ts), against the in-memory oracle (referencePortrait.ts). Each backend's test file calls
 * `describeLifecycleContract` beside `describeStoreContract`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DistributionCount, EVENT_TYPES, RETAIN_KEYS } from '../domain/analysis.ts';
import type { VisitEvent } from '../domain/event.ts';
import { shiftPeriod } from '../domain/period.ts';
import type { Window } from '../domain/window.ts';
import { mulberry32 } from '../demo/prng.ts';
import { BASE_DAY, BASE_MS, freshAppid, visit } from './contract.suite.ts';
import type { FirstSeen, SnapshotSink, UsageRecord } from './lifecycle.ts';
import type { AppRecord, TokenRecord } from './records.ts';
import { referenceDistribution, referencePages, referenceRetention, referenceSummary, referenceTrend } from './referenceAnalysis.ts';
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
    const day = Math.floor((time - BASE_MS) / DAY);
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
        // For the analysis family: sessions of a day (some events without one), visits, opens and shares of pages
        // (one of them the user's own), stay, scenes.
        session: rnd() < 0.25 ? null : `${prefix}${user}-d${day}-s${i % 2}`,
        type: pick([EVENT_TYPES.VISIT, EVENT_TYPES.VISIT, EVENT_TYPES.VISIT, EVENT_TYPES.OPEN, EVENT_TYPES.SHARE]),
        page: pick([null, 'pages/index/index', 'pages/list/list', 'pages/detail/detail', `pages/me/${prefix}${user}`]),
        stay: Math.floor(rnd() * 120),
        scene: pick([null, 1001, 1007, 1089]),
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

/**
 * The analysis family's answers for `days` (trend, summary, distribution, pages of each day), `windows` (trends)
 * and daily/weekly retention cohorts starting on `cohortDays` (later periods ending by `lastDay`), from the store or
 * from the reference over `events`; stays rounded (sums may be added in another order).
 */
interface AnalysisProbe {
  days: readonly number[];
  windows: readonly Window[];
  cohortDays: readonly number[];
  lastDay: number;
}

const round = (x: number) => Math.round(x * 1e6) / 1e6;
const distribution = (d: readonly DistributionCount[]) => d.filter((c) => c.value > 0).map((c) => `${c.index}|${c.key}|${c.value}`).sort();

function cohorts(p: AnalysisProbe): { cohort: Window; later: Window[] }[] {
  const out: { cohort: Window; later: Window[] }[] = [];
  for (const d of p.cohortDays) {
    const day = { granularity: 'day' as const, begin: d, end: d };
    out.push({ cohort: day, later: RETAIN_KEYS.day.map((k) => shiftPeriod(day, k)).filter((w) => w.end <= p.lastDay) });
    const week = { granularity: 'week' as const, begin: d, end: d + 6 };
    out.push({ cohort: week, later: RETAIN_KEYS.week.map((k) => shiftPeriod(week, k)).filter((w) => w.end <= p.lastDay) });
  }
  return out;
}

export async function storeAnalysis(store: Store, appid: string, p: AnalysisProbe): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const d of p.days) {
    const t = await store.visitTrend(appid, { begin: d, end: d });
    out[`trend ${d - BASE_DAY}`] = { ...t, stay: round(t.stay) };
    out[`summary ${d - BASE_DAY}`] = await store.dailySummary(appid, d);
    out[`distribution ${d - BASE_DAY}`] = distribution(await store.visitDistribution(appid, d));
    out[`pages ${d - BASE_DAY}`] = (await store.visitPages(appid, d, 200)).map((x) => ({ ...x, stay: round(x.stay) }));
  }
  for (const w of p.windows) {
    const t = await store.visitTrend(appid, w);
    out[`trend ${w.begin - BASE_DAY}..${w.end - BASE_DAY}`] = { ...t, stay: round(t.stay) };
  }
  for (const { cohort, later } of cohorts(p)) out[`retention ${cohort.begin - BASE_DAY}..${cohort.end - BASE_DAY}`] = await store.retention(appid, cohort, later);
  return out;
}

export function referenceAnalysis(events: readonly VisitEvent[], p: AnalysisProbe): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const d of p.days) {
    const t = referenceTrend(events, { begin: d, end: d });
    out[`trend ${d - BASE_DAY}`] = { ...t, stay: round(t.stay) };
    out[`summary ${d - BASE_DAY}`] = referenceSummary(events, d);
    out[`distribution ${d - BASE_DAY}`] = distribution(referenceDistribution(events, d));
    out[`pages ${d - BASE_DAY}`] = referencePages(events, d, 200).map((x) => ({ ...x, stay: round(x.stay) }));
  }
  for (const w of p.windows) {
    const t = referenceTrend(events, w);
    out[`trend ${w.begin - BASE_DAY}..${w.end - BASE_DAY}`] = { ...t, stay: round(t.stay) };
  }
  for (const { cohort, later } of cohorts(p)) out[`retention ${cohort.begin - BASE_DAY}..${cohort.end - BASE_DAY}`] = referenceRetention(events, cohort, later);
  return out;
}

/** Days, windows and cohorts of [first, last] for `storeAnalysis` (every `step`-th day). */
export function analysisProbe(first: number, last: number, step: number): AnalysisProbe {
  const days: number[] = [];
  for (let d = first; d <= last; d += step) days.push(d);
  const windows = [7, 30].flatMap((len) => (first + len - 1 <= last ? [{ begin: first, end: first + len - 1 }, { begin: last - len + 1, end: last }] : []));
  return { days, windows, cohortDays: [first, first + 2 * step].filter((d) => d + 7 <= last), lastDay: last };
}

/**
 * Visitors of periods that begin before a prune's cut (`straddling`, from the store; `straddlingExpected`, from the
 * events left and every event ever stored): a period's visitors are the users with an event left in it, its new
 * visitors those of them whose first day ever (kept by the prune) is in it; a retention cohort is the period's
 * (new or active) visitors so counted, and key k how many of them have an event left k periods later.
 */
function straddlingPeriods(cut: number): { trends: Window[]; cohorts: { cohort: Window; later: Window[] }[] } {
  const day = (d: number) => ({ granularity: 'day' as const, begin: d, end: d });
  const week = (d: number) => ({ granularity: 'week' as const, begin: d, end: d + 6 });
  const retain = (c: Window & { granularity: 'day' | 'week' }) => ({ cohort: c, later: RETAIN_KEYS[c.granularity].slice(0, 3).map((k) => shiftPeriod(c, k)) });
  return {
    trends: [{ begin: cut - 1, end: cut - 1 }, { begin: cut - 3, end: cut + 3 }, { begin: cut - 10, end: cut + 19 }],
    cohorts: [retain(day(cut - 2)), retain(day(cut - 1)), retain(week(cut - 3)), retain(week(cut - 12))],
  };
}

async function straddling(store: Store, appid: string, cut: number): Promise<unknown[]> {
  const { trends, cohorts: cs } = straddlingPeriods(cut);
  const out: unknown[] = [];
  for (const w of trends) {
    const t = await store.visitTrend(appid, w);
    out.push({ w, uv: t.visitUv, uvNew: t.visitUvNew });
  }
  for (const { cohort, later } of cs) out.push({ cohort, ...(await store.retention(appid, cohort, later)) });
  return out;
}

function straddlingExpected(left: readonly VisitEvent[], all: readonly VisitEvent[], cut: number): unknown[] {
  const first = new Map<string, number>();
  for (const e of all) first.set(e.openid, Math.min(first.get(e.openid) ?? Infinity, e.day));
  const within = (d: number, w: Window) => d >= w.begin && d <= w.end;
  const users = (w: Window) => new Set(left.filter((e) => within(e.day, w)).map((e) => e.openid));
  const { trends, cohorts: cs } = straddlingPeriods(cut);
  const out: unknown[] = [];
  for (const w of trends) {
    const uv = users(w);
    out.push({ w, uv: uv.size, uvNew: [...uv].filter((u) => within(first.get(u) ?? -1, w)).length });
  }
  for (const { cohort, later } of cs) {
    const active = users(cohort);
    const fresh = [...active].filter((u) => within(first.get(u) ?? -1, cohort));
    const kept = (of: Iterable<string>, w: Window) => [...of].filter((u) => users(w).has(u)).length;
    out.push({ cohort, new: [fresh.length, ...later.map((w) => kept(fresh, w))], active: [active.size, ...later.map((w) => kept(active, w))] });
  }
  return out;
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
      // The analysis family too: as if they had never been seen.
      const probe = analysisProbe(BASE_DAY, BASE_DAY + 39, 3);
      expect(await storeAnalysis(store, appid, probe)).toEqual(referenceAnalysis(kept, probe));
      expect(JSON.stringify(await storeAnalysis(store, appid, probe))).not.toMatch(/pages\/me\/u[12]"/);
      // The same openids in another app are another app's users.
      await expectOracle(store, other, events, windowsWithin(BASE_DAY, BASE_DAY + 39, 9));
      const otherProbe = analysisProbe(BASE_DAY + 5, BASE_DAY + 39, 11);
      expect(await storeAnalysis(store, other, otherProbe)).toEqual(referenceAnalysis(events, otherProbe));
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
      const probe = { days: [BASE_DAY + 33], windows: [{ begin: BASE_DAY + 4, end: BASE_DAY + 33 }], cohortDays: [BASE_DAY + 26], lastDay: BASE_DAY + 34 };
      expect(await storeAnalysis(store, appid, probe)).toEqual(referenceAnalysis(now, probe));
      expect(await store.visitTrend(appid, { begin: BASE_DAY + 33, end: BASE_DAY + 33 })).toMatchObject({ visitUvNew: referenceTrend(now, { begin: BASE_DAY + 33, end: BASE_DAY + 33 }).visitUvNew });
    }, 120_000);

    it('prunes: drops exactly the events before the cut, windows from the cut answer as before, first days stay', async () => {
      const appid = freshAppid();
      const cut = BASE_DAY + 25;
      const cutMs = BASE_MS + 25 * DAY;
      const MIN = 60_000;
      const events = [
        ...lifecycleEvents(31, 10, 60),
        // Sessions across the cut's midnight (with a value, and without one: 20 minutes apart) belong to the day
        // before: they must not turn into sessions of the cut day. Another pair just too far apart to be one.
        visit({ openid: 'night', time: cutMs - 50 * MIN, session: 'late-show', page: 'pages/index/index', type: EVENT_TYPES.VISIT, scene: 1089 }),
        visit({ openid: 'night', time: cutMs + 10 * MIN, session: 'late-show', page: 'pages/detail/detail', type: EVENT_TYPES.VISIT, stay: 30 }),
        visit({ openid: 'owl', time: cutMs - 70 * MIN, page: 'pages/list/list', type: EVENT_TYPES.VISIT }),
        visit({ openid: 'owl', time: cutMs - 45 * MIN, page: 'pages/list/list', type: EVENT_TYPES.VISIT }),
        visit({ openid: 'owl', time: cutMs - 15 * MIN, page: 'pages/index/index', type: EVENT_TYPES.VISIT }),
        visit({ openid: 'owl', time: cutMs + 5 * MIN, page: 'pages/detail/detail', type: EVENT_TYPES.VISIT, stay: 12 }),
        visit({ openid: 'lark', time: cutMs - 20 * MIN, type: EVENT_TYPES.OPEN, scene: 1007 }),
        visit({ openid: 'lark', time: cutMs + 11 * MIN, type: EVENT_TYPES.VISIT, page: 'pages/index/index' }),
      ];
      // What comes after the cut's midnight arrives in a later batch (on ClickHouse: other partial rows of the sessions).
      const justAfter = (e: VisitEvent) => e.time >= cutMs && e.time < cutMs + 60 * MIN;
      await appendAll(store, appid, events.filter((e) => !justAfter(e)));
      await appendAll(store, appid, events.filter(justAfter));
      const windows = windowsWithin(cut, BASE_DAY + 59, 4);
      const before = new Map<string, string[]>();
      for (const w of windows) before.set(`${w.begin}-${w.end}`, canonical(await store.portrait(appid, w)));
      const probe = analysisProbe(cut, BASE_DAY + 59, 4);
      const analysisBefore = await storeAnalysis(store, appid, probe);
      expect(analysisBefore).toEqual(referenceAnalysis(events, probe));
      const old = events.filter((e) => e.day < cut);
      const [r] = await store.prune([{ appid, beforeDay: cut }]);
      expect(r).toEqual({ appid, beforeDay: cut, events: old.length, users: new Set(old.map((e) => e.openid)).size });
      expect(await store.countEvents(appid)).toBe(events.length - old.length);
      const left = await exported(store, appid);
      expect(left.length).toBe(events.length - old.length);
      expect(left.every((e) => e.day >= cut)).toBe(true);
      // The first days kept (what an export carries): each user's first day, for users none of whose events is left
      // that old.
      const firstDay = new Map<string, number>();
      for (const e of events) firstDay.set(e.openid, Math.min(firstDay.get(e.openid) ?? e.day, e.day));
      const firstLeft = new Map<string, number>();
      for (const e of left) firstLeft.set(e.openid, Math.min(firstLeft.get(e.openid) ?? e.day, e.day));
      const kept = [...firstDay].filter(([u, d]) => d < (firstLeft.get(u) ?? Infinity)).map(([openid, day]) => ({ openid, day }));
      expect(kept.length).toBeGreaterThan(0);
      expect([...(await store.keptFirstSeen(appid))].sort((a, b) => a.openid.localeCompare(b.openid))).toEqual(
        kept.sort((a, b) => a.openid.localeCompare(b.openid)),
      );
      for (const w of windows) expect(canonical(await store.portrait(appid, w))).toEqual(before.get(`${w.begin}-${w.end}`));
      // "New" still counts from first days before the cut: the oracle sees every event ever stored.
      await expectOracle(store, appid, events, windows);
      // So do the analysis family's answers (new visitors, users ever, sessions, pages, retention from the cut on).
      expect(await storeAnalysis(store, appid, probe)).toEqual(analysisBefore);
      // Periods that begin before the cut count what is left of them, with the first days kept: every backend alike.
      expect(await straddling(store, appid, cut)).toEqual(straddlingExpected(left, events, cut));
      // Again: nothing left to drop.
      expect((await store.prune([{ appid, beforeDay: cut }]))[0]).toMatchObject({ events: 0, users: 0 });
      // A user seen only before the cut who comes back is not new; a brand-new one is.
      const onlyOld = [...new Set(old.map((e) => e.openid))].find((u) => !events.some((e) => e.openid === u && e.day >= cut));
      const back = [
        visit({ openid: onlyOld ?? 'u0', time: BASE_MS + 58 * DAY + HOUR, gender: 1 }),
        visit({ openid: 'fresh', time: BASE_MS + 58 * DAY + 2 * HOUR, gender: 2 }),
      ];
      await appendAll(store, appid, back);
      const lastDays = { days: [BASE_DAY + 58], windows: [{ begin: BASE_DAY + 52, end: BASE_DAY + 58 }], cohortDays: [], lastDay: BASE_DAY + 59 };
      expect(await storeAnalysis(store, appid, lastDays)).toEqual(referenceAnalysis([...events, ...back], lastDays));
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
        // The analysis tables are rebuilt from the events, with the kept first days.
        const probe = analysisProbe(cut, BASE_DAY + 59, 6);
        expect(await storeAnalysis(empty.store, appid, probe)).toEqual(await storeAnalysis(store, appid, probe));
        expect(await storeAnalysis(empty.store, appid, probe)).toEqual(referenceAnalysis(events, probe));
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
      const probe = analysisProbe(BASE_DAY, BASE_DAY + 19, 4);
      expect(await storeAnalysis(store, appid, probe)).toEqual(referenceAnalysis(stored, probe));
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
