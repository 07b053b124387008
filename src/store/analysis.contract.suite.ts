/**
 * The analysis family's contract: every Store backend answers visit trends, daily summaries, distributions, pages
 * and retention exactly as the in-memory reference (referenceAnalysis.ts) computes them from the stored events.
 * Each backend's test file calls `describeAnalysisContract` with a factory; fresh appids per test.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RETAIN_KEYS, type DistributionCount, type PageCounts, type TrendCounts } from '../domain/analysis.ts';
import type { VisitEvent } from '../domain/event.ts';
import { type Period, shiftPeriod } from '../domain/period.ts';
import type { Window } from '../domain/window.ts';
import { BASE_DAY, BASE_MS, freshAppid, visit } from './contract.suite.ts';
import {
  referenceDistribution,
  referencePages,
  referenceRetention,
  referenceSummary,
  referenceTrend,
} from './referenceAnalysis.ts';
import type { Store } from './store.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

/** Floats (stay sums) may be added in another order: equal within a relative 1e-9. */
function close(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
}

function expectTrend(got: TrendCounts, want: TrendCounts, what: string): void {
  expect({ ...got, stay: 0 }, what).toEqual({ ...want, stay: 0 });
  expect(close(got.stay, want.stay), `${what}: stay ${got.stay} vs ${want.stay}`).toBe(true);
}

function canonicalDistribution(d: readonly DistributionCount[]): string[] {
  return d.filter((c) => c.value > 0).map((c) => `${c.index}|${c.key}|${c.value}`).sort();
}

function expectPages(got: readonly PageCounts[], want: readonly PageCounts[], what: string): void {
  expect(got.map((p) => ({ ...p, stay: 0 })), what).toEqual(want.map((p) => ({ ...p, stay: 0 })));
  got.forEach((p, i) => expect(close(p.stay, want[i]?.stay ?? NaN), `${what}: stay of ${p.path}`).toBe(true));
}

/** Daily, weekly and monthly cohorts with every later period of their keys that lies within `lastDay`. */
function retentionCases(first: number, lastDay: number): { cohort: Period; later: Window[] }[] {
  const cases: { cohort: Period; later: Window[] }[] = [];
  const add = (cohort: Period, keys: readonly number[]) => {
    const later = keys.map((k) => shiftPeriod(cohort, k)).filter((w) => w.end <= lastDay);
    cases.push({ cohort, later });
  };
  for (const d of [first, first + 3, first + 10, first + 30]) add({ granularity: 'day', begin: d, end: d }, RETAIN_KEYS.day);
  // BASE_DAY is a Sunday: weeks start on BASE_DAY + 1 + 7k.
  for (const k of [0, 2, 5]) add({ granularity: 'week', begin: BASE_DAY + 1 + 7 * k, end: BASE_DAY + 7 + 7 * k }, RETAIN_KEYS.week);
  add({ granularity: 'month', begin: BASE_DAY, end: BASE_DAY + 29 }, RETAIN_KEYS.month); // November 2026
  return cases;
}

/** Compares every query of the store with the reference over `stored`, for the days, weeks and months given. */
async function expectAllEqual(store: Store, appid: string, stored: readonly VisitEvent[], days: readonly number[], lastDay: number): Promise<void> {
  for (const d of days) {
    const w = { begin: d, end: d };
    expectTrend(await store.visitTrend(appid, w), referenceTrend(stored, w), `trend of day ${d - BASE_DAY}`);
    expect(await store.dailySummary(appid, d), `summary of day ${d - BASE_DAY}`).toEqual(referenceSummary(stored, d));
    expect(canonicalDistribution(await store.visitDistribution(appid, d)), `distribution of day ${d - BASE_DAY}`).toEqual(
      canonicalDistribution(referenceDistribution(stored, d)),
    );
    expectPages(await store.visitPages(appid, d, 200), referencePages(stored, d, 200), `pages of day ${d - BASE_DAY}`);
  }
  const weeks = [0, 1, 4, 8].map((k) => ({ begin: BASE_DAY + 1 + 7 * k, end: BASE_DAY + 7 + 7 * k }));
  const months = [{ begin: BASE_DAY, end: BASE_DAY + 29 }, { begin: BASE_DAY + 30, end: BASE_DAY + 60 }];
  for (const w of [...weeks, ...months]) {
    expectTrend(await store.visitTrend(appid, w), referenceTrend(stored, w), `trend of ${w.begin - BASE_DAY}–${w.end - BASE_DAY}`);
  }
  for (const { cohort, later } of retentionCases(days[0] ?? BASE_DAY, lastDay)) {
    expect(await store.retention(appid, cohort, later), `${cohort.granularity} retention from ${cohort.begin - BASE_DAY}`).toEqual(
      referenceRetention(stored, cohort, later),
    );
  }
}

/** Appends in batches (in the given order: later batches hold earlier events too); returns what was accepted. */
async function appendAll(store: Store, appid: string, events: readonly VisitEvent[], chunks: number): Promise<VisitEvent[]> {
  const stored: VisitEvent[] = [];
  const size = Math.max(1, Math.ceil(events.length / chunks));
  for (let i = 0; i < events.length; i += size) {
    const part = events.slice(i, i + size);
    const r = await store.append(appid, part);
    const dup = new Set(r.duplicates);
    part.forEach((e, k) => {
      if (!dup.has(k)) stored.push(e);
    });
  }
  return stored;
}

const at = (day: number, h: number, m = 0) => BASE_MS + day * DAY + h * HOUR + m * MIN;

/** `runs`: random event sets tried by the property test (fewer on slower backends). */
export function describeAnalysisContract(label: string, open: () => Promise<Store>, runs = 20): void {
  describe(`Analysis contract: ${label}`, () => {
    let store: Store;
    beforeAll(async () => {
      store = await open();
    }, 120_000);
    afterAll(async () => {
      await store?.close();
    });

    it('counts sessions, views, visitors, stay and depth as the definitions say', async () => {
      const appid = freshAppid();
      const events = [
        // u1, day 3: a session with an id that crosses midnight into day 4, and an open without a session.
        visit({ openid: 'u1', time: at(3, 23, 50), session: 's1', type: 'open', scene: 1089 }),
        visit({ openid: 'u1', time: at(3, 23, 52), session: 's1', page: 'pages/index', stay: 30 }),
        visit({ openid: 'u1', time: at(4, 0, 10), session: 's1', page: 'pages/detail', stay: 50 }),
        visit({ openid: 'u1', time: at(4, 0, 11), session: 's1', page: 'pages/detail', type: 'share' }),
        // u1, day 4, no session value: two events exactly 30 minutes apart are one session, then a 30 min + 1 ms gap.
        visit({ openid: 'u1', time: at(4, 9), page: 'pages/index', stay: 4, scene: 1007 }),
        visit({ openid: 'u1', time: at(4, 9, 30), page: 'pages/list', stay: 1 }),
        visit({ openid: 'u1', time: at(4, 10) + 1, page: 'pages/list', stay: 2, scene: 9999 }),
        // u2: new on day 4; a tap (counts for visitors only) and a view without a page.
        visit({ openid: 'u2', time: at(4, 12), type: 'tap' }),
        visit({ openid: 'u2', time: at(4, 12, 1), stay: 7 }),
      ];
      await store.append(appid, events);
      const d4 = { begin: BASE_DAY + 4, end: BASE_DAY + 4 };
      const t = await store.visitTrend(appid, d4);
      // Sessions starting on day 4: u1's 9:00 (with 9:30) and 10:00+1ms, u2's; s1 belongs to day 3.
      expect(t).toEqual({ sessions: 3, visitPv: 5, visitUv: 2, visitUvNew: 1, stay: 64, depth: 2 + 1 + 0 });
      expectTrend(t, referenceTrend(events, d4), 'day 4');
      const d3 = await store.visitTrend(appid, { begin: BASE_DAY + 3, end: BASE_DAY + 3 });
      expect(d3).toEqual({ sessions: 1, visitPv: 1, visitUv: 1, visitUvNew: 1, stay: 30, depth: 2 });
      const dist = canonicalDistribution(await store.visitDistribution(appid, BASE_DAY + 4));
      expect(dist).toEqual(canonicalDistribution(referenceDistribution(events, BASE_DAY + 4)));
      expect(dist).toContain('access_source_session_cnt|3|1');
      expect(dist).toContain('access_source_session_cnt|10|2');
      expect(dist).toContain('access_source_visit_uv|10|2');
      expect(dist).toContain('access_staytime_info|2|1'); // 4 + 1 = 5 s
      expect(dist).toContain('access_staytime_info|1|1'); // 2 s
      expect(dist).toContain('access_staytime_info|3|1'); // u2: 7 s
      expect(dist).toContain('access_depth_info|2|1');
      expect(dist).toContain('access_depth_info|1|2'); // one page; no page at all
      expect(dist).toHaveLength(9);
      const pages = await store.visitPages(appid, BASE_DAY + 4, 200);
      expect(pages.map((p) => p.path)).toEqual(['pages/list', 'pages/detail', 'pages/index']);
      expect(pages[0]).toEqual({ path: 'pages/list', visitPv: 2, visitUv: 1, stay: 3, entry: 1, exit: 2, sharePv: 0, shareUv: 0 });
      // pages/detail: viewed after midnight in s1 (a day-3 session: no entry or exit here), shared once.
      expect(pages[1]).toEqual({ path: 'pages/detail', visitPv: 1, visitUv: 1, stay: 50, entry: 0, exit: 0, sharePv: 1, shareUv: 1 });
      expect(pages[2]).toEqual({ path: 'pages/index', visitPv: 1, visitUv: 1, stay: 4, entry: 1, exit: 0, sharePv: 0, shareUv: 0 });
      const p3 = await store.visitPages(appid, BASE_DAY + 3, 200);
      expect(p3.find((p) => p.path === 'pages/detail')).toMatchObject({ visitPv: 0, exit: 1 });
      expect(await store.dailySummary(appid, BASE_DAY + 4)).toEqual({ visitTotal: 2, sharePv: 1, shareUv: 1 });
      expect(await store.dailySummary(appid, BASE_DAY + 3)).toEqual({ visitTotal: 1, sharePv: 0, shareUv: 0 });
      expect(await store.dailySummary(appid, BASE_DAY + 2)).toEqual({ visitTotal: 0, sharePv: 0, shareUv: 0 });
      const r = await store.retention(appid, { begin: BASE_DAY + 3, end: BASE_DAY + 3 }, [{ begin: BASE_DAY + 4, end: BASE_DAY + 4 }]);
      expect(r).toEqual({ new: [1, 1], active: [1, 1] });
    });

    it('takes late events into the next answer: merged gap sessions, an earlier first day, a session moved back a day', async () => {
      const appid = freshAppid();
      const stored: VisitEvent[] = [];
      const add = async (events: VisitEvent[]) => {
        await store.append(appid, events);
        stored.push(...events);
      };
      const check = async (what: string) => {
        for (const d of [BASE_DAY + 9, BASE_DAY + 10, BASE_DAY + 11]) {
          const w = { begin: d, end: d };
          expectTrend(await store.visitTrend(appid, w), referenceTrend(stored, w), `${what}: day ${d - BASE_DAY}`);
          expect(canonicalDistribution(await store.visitDistribution(appid, d)), what).toEqual(canonicalDistribution(referenceDistribution(stored, d)));
          expectPages(await store.visitPages(appid, d, 200), referencePages(stored, d, 200), what);
          expect(await store.dailySummary(appid, d), what).toEqual(referenceSummary(stored, d));
        }
        const week = { begin: BASE_DAY + 8, end: BASE_DAY + 14 };
        expectTrend(await store.visitTrend(appid, week), referenceTrend(stored, week), `${what}: week`);
        const later = [1, 2, 3].map((k) => ({ begin: BASE_DAY + 9 + k, end: BASE_DAY + 9 + k }));
        expect(await store.retention(appid, { begin: BASE_DAY + 9, end: BASE_DAY + 9 }, later), what).toEqual(
          referenceRetention(stored, { begin: BASE_DAY + 9, end: BASE_DAY + 9 }, later),
        );
      };
      await add([
        visit({ openid: 'u', time: at(10, 9), page: 'a', scene: 1001, stay: 3 }),
        visit({ openid: 'u', time: at(10, 10), page: 'b', scene: 1007, stay: 4 }),
        visit({ openid: 'u', time: at(11, 8), page: 'c', session: 'k', scene: 1047, stay: 9 }),
        visit({ openid: 'v', time: at(11, 8), page: 'c', stay: 1 }),
      ]);
      await check('in order');
      expect((await store.visitTrend(appid, { begin: BASE_DAY + 10, end: BASE_DAY + 10 })).sessions).toBe(2);
      // 9:30 bridges 9:00 and 10:00 into one session of source 1 (history list).
      await add([visit({ openid: 'u', time: at(10, 9, 30), page: 'a', stay: 5 })]);
      await check('bridged');
      expect((await store.visitTrend(appid, { begin: BASE_DAY + 10, end: BASE_DAY + 10 })).sessions).toBe(1);
      // An earlier first day for u; session k gains an event the day before (it moves to day 10).
      await add([
        visit({ openid: 'u', time: at(9, 12), type: 'open', scene: 1089 }),
        visit({ openid: 'u', time: at(10, 23, 59), page: 'd', session: 'k', scene: 1011, stay: 2 }),
      ]);
      await check('earlier');
      expect((await store.visitTrend(appid, { begin: BASE_DAY + 11, end: BASE_DAY + 11 })).sessions).toBe(1);
      // A share on day 11 and a late visit of v on day 10 (a new first day and a new session).
      await add([
        visit({ openid: 'v', time: at(11, 8, 1), type: 'share', page: 'c' }),
        visit({ openid: 'v', time: at(10, 7), page: 'a', scene: 1001 }),
      ]);
      await check('more');
    });

    it('counts events of other types for visitors only: they neither make, join nor change sessions', async () => {
      const appid = freshAppid();
      const events = [
        // u1: only clicks (day 40 and day 41), with a scene, a page and a stay.
        visit({ openid: 'u1', time: at(40, 9), type: 'click', scene: 1001, page: 'pages/x', stay: 9 }),
        visit({ openid: 'u1', time: at(41, 9), type: 'click', scene: 1001 }),
        // u2: two visits 40 minutes apart without a session value; a click between them does not join them.
        visit({ openid: 'u2', time: at(40, 10), page: 'a', scene: 1001, stay: 3 }),
        visit({ openid: 'u2', time: at(40, 10, 20), type: 'click', scene: 1007 }),
        visit({ openid: 'u2', time: at(40, 10, 40), page: 'b', stay: 4 }),
        // u3: session k; clicks with the same value (one the day before, one earlier that day) change neither its day,
        // its first scene, its stay nor its depth.
        visit({ openid: 'u3', time: at(39, 23), type: 'click', session: 'k', scene: 1089, page: 'c', stay: 100 }),
        visit({ openid: 'u3', time: at(40, 11), type: 'click', session: 'k', scene: 1007, page: 'c', stay: 100 }),
        visit({ openid: 'u3', time: at(40, 11, 5), session: 'k', scene: 1001, page: 'a', stay: 5 }),
      ];
      await store.append(appid, events);
      const day = (k: number) => ({ begin: BASE_DAY + k, end: BASE_DAY + k });
      expect(await store.visitTrend(appid, day(39))).toEqual({ sessions: 0, visitPv: 0, visitUv: 1, visitUvNew: 1, stay: 0, depth: 0 });
      expect(await store.visitTrend(appid, day(40))).toEqual({ sessions: 3, visitPv: 3, visitUv: 3, visitUvNew: 2, stay: 12, depth: 3 });
      expect(await store.visitTrend(appid, day(41))).toEqual({ sessions: 0, visitPv: 0, visitUv: 1, visitUvNew: 0, stay: 0, depth: 0 });
      expect(await store.visitTrend(appid, { begin: BASE_DAY + 36, end: BASE_DAY + 42 })).toEqual({
        sessions: 3,
        visitPv: 3,
        visitUv: 3,
        visitUvNew: 3,
        stay: 12,
        depth: 3,
      });
      expect(canonicalDistribution(await store.visitDistribution(appid, BASE_DAY + 39))).toEqual([]);
      expect(canonicalDistribution(await store.visitDistribution(appid, BASE_DAY + 41))).toEqual([]);
      expect(canonicalDistribution(await store.visitDistribution(appid, BASE_DAY + 40))).toEqual([
        'access_depth_info|1|3',
        'access_source_session_cnt|10|1',
        'access_source_session_cnt|1|2',
        'access_source_visit_uv|10|1',
        'access_source_visit_uv|1|2',
        'access_staytime_info|2|3',
      ]);
      expect(await store.visitPages(appid, BASE_DAY + 40, 200)).toEqual([
        { path: 'a', visitPv: 2, visitUv: 2, stay: 8, entry: 2, exit: 2, sharePv: 0, shareUv: 0 },
        { path: 'b', visitPv: 1, visitUv: 1, stay: 4, entry: 1, exit: 1, sharePv: 0, shareUv: 0 },
      ]);
      expect(await store.dailySummary(appid, BASE_DAY + 39)).toEqual({ visitTotal: 1, sharePv: 0, shareUv: 0 });
      expect(await store.dailySummary(appid, BASE_DAY + 41)).toEqual({ visitTotal: 3, sharePv: 0, shareUv: 0 });
      expect(await store.retention(appid, day(39), [day(40), day(41)])).toEqual({ new: [1, 1, 0], active: [1, 1, 0] });
      expect(await store.retention(appid, day(40), [day(41)])).toEqual({ new: [2, 1], active: [3, 1] });
      await expectAllEqual(store, appid, events, [BASE_DAY + 39, BASE_DAY + 40, BASE_DAY + 41], BASE_DAY + 75);
    });

    it('keeps apps apart: same openids, pages and session values', async () => {
      const a = freshAppid();
      const b = freshAppid();
      await store.append(a, [visit({ openid: 'same', time: at(20, 9), page: 'p', session: 's', scene: 1001, stay: 10 })]);
      await store.append(b, [
        visit({ openid: 'same', time: at(20, 9, 5), page: 'p', session: 's', scene: 1007, stay: 20 }),
        visit({ openid: 'other', time: at(19, 9), page: 'q' }),
      ]);
      const d = BASE_DAY + 20;
      expect(await store.visitTrend(a, { begin: d, end: d })).toEqual({ sessions: 1, visitPv: 1, visitUv: 1, visitUvNew: 1, stay: 10, depth: 1 });
      expect(canonicalDistribution(await store.visitDistribution(a, d)).filter((x) => x.startsWith('access_source'))).toEqual([
        'access_source_session_cnt|1|1',
        'access_source_visit_uv|1|1',
      ]);
      expect(await store.visitPages(a, d, 200)).toEqual([{ path: 'p', visitPv: 1, visitUv: 1, stay: 10, entry: 1, exit: 1, sharePv: 0, shareUv: 0 }]);
      expect(await store.dailySummary(b, d)).toEqual({ visitTotal: 2, sharePv: 0, shareUv: 0 });
      const none = freshAppid();
      expect(await store.visitTrend(none, { begin: d, end: d })).toEqual({ sessions: 0, visitPv: 0, visitUv: 0, visitUvNew: 0, stay: 0, depth: 0 });
      expect(await store.visitPages(none, d, 200)).toEqual([]);
      expect(await store.visitDistribution(none, d)).toEqual([]);
      expect(await store.retention(none, { begin: d, end: d }, [{ begin: d + 1, end: d + 1 }])).toEqual({ new: [0, 0], active: [0, 0] });
    });

    it('lists the top pages by views, then path, at most the limit', async () => {
      const appid = freshAppid();
      const events: VisitEvent[] = [];
      for (let i = 0; i < 12; i++) {
        for (let k = 0; k <= i % 4; k++) events.push(visit({ openid: `u${k}`, time: at(25, 8, i * 2 + k / 10), page: `pages/p${String(i).padStart(2, '0')}` }));
      }
      await store.append(appid, events);
      const top = await store.visitPages(appid, BASE_DAY + 25, 5);
      expect(top).toEqual(referencePages(events, BASE_DAY + 25, 5));
      expect(top.map((p) => [p.path, p.visitPv])).toEqual([['pages/p03', 4], ['pages/p07', 4], ['pages/p11', 4], ['pages/p02', 3], ['pages/p06', 3]]);
    });

    it('equals the in-memory reference on random event sets, for day, week and month periods', async () => {
      const gapChoices = [5 * MIN, 29 * MIN, 30 * MIN, 30 * MIN + 1, 45 * MIN, 2 * HOUR];
      const eventArb = fc.record({
        user: fc.integer({ min: 0, max: 7 }),
        dayOffset: fc.integer({ min: 0, max: 69 }),
        ms: fc.oneof(
          fc.integer({ min: 0, max: DAY - 1 }),
          fc.integer({ min: DAY - 40 * MIN, max: DAY - 1 }), // just before Shanghai midnight
          fc.integer({ min: 0, max: 40 * MIN }), // just after
        ),
        follow: fc.option(fc.constantFrom(...gapChoices), { nil: null }),
        type: fc.constantFrom('visit', 'visit', 'visit', 'open', 'share', 'tap'),
        page: fc.constantFrom(null, 'pages/index/index', 'pages/a', 'pages/b', 'pages/详情/x', 'Pages/A'),
        scene: fc.constantFrom(null, null, 1001, 1007, 1089, 1047, 9999),
        session: fc.constantFrom(null, null, null, 'sA', 'sB', 'sC'),
        stay: fc.option(fc.integer({ min: 0, max: 1600 }).map((n) => (n % 3 === 0 ? n / 8 : Math.floor(n / 8))), { nil: null }),
        eventId: fc.option(fc.integer({ min: 0, max: 60 }).map((n) => `id${n}`), { nil: null }),
      });
      await fc.assert(
        fc.asyncProperty(fc.array(eventArb, { minLength: 1, maxLength: 70 }), fc.integer({ min: 1, max: 4 }), async (raw, chunks) => {
          const appid = freshAppid();
          const last = new Map<number, number>();
          const events = raw.map((r) => {
            const prev = last.get(r.user);
            const time = r.follow !== null && prev !== undefined ? prev + r.follow : BASE_MS + r.dayOffset * DAY + r.ms;
            last.set(r.user, time);
            return visit({ openid: `user${r.user}`, time, type: r.type, page: r.page, scene: r.scene, session: r.session, stay: r.stay, eventId: r.eventId });
          });
          const stored = await appendAll(store, appid, events, chunks);
          const days = [...new Set(stored.map((e) => e.day))].sort((a, b) => a - b);
          const pick = [days[0], days[Math.floor(days.length / 2)], days[days.length - 1], BASE_DAY + 30].filter((d): d is number => d !== undefined);
          await expectAllEqual(store, appid, stored, [...new Set(pick)], BASE_DAY + 75);
        }),
        { numRuns: runs },
      );
    }, 600_000);
  });
}
