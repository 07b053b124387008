/**
 * ClickHouse-only checks of the analysis tables, for both layouts (single server and cluster). Test support only.
 */
import { describe, expect, it } from 'vitest';
import { dayOf } from '../../domain/day.ts';
import type { VisitEvent } from '../../domain/event.ts';
import { generateDemoEvents } from '../../demo/index.ts';
import { prepareBatch } from '../../ingest/pipeline.ts';
import { referenceDistribution, referencePages, referenceRetention, referenceSummary, referenceTrend } from '../referenceAnalysis.ts';
import { ANALYSIS_SESSION_TYPES_MIGRATION, ANALYSIS_TYPE_CASE_MIGRATION, foldAnalysis, foldState, foldsAgree, readFolded } from './analysisFold.ts';
import { trendCounts } from './analysisQuery.ts';
import { ANALYSIS_FOLD_MIGRATION, ANALYSIS_MIGRATION, analysisTables } from './analysisSchema.ts';
import { ClickHouseStore } from './ClickHouseStore.ts';
import { HttpConnection } from './connection.ts';
import { migrate } from './migrate.ts';
import { MIGRATIONS } from './schema.ts';
import { dropDatabase, freshDatabaseUrl } from './testing.ts';
import { isoDay, sql } from './sql.ts';
import { parseClickHouseUrl } from './url.ts';

/** A row of `events` as the store writes it (see events.ts). */
function eventRow(appid: string, seq: number, e: VisitEvent): Record<string, unknown> {
  return {
    appid, seq, event_id: e.eventId, openid: e.openid, time: e.time, day: isoDay(e.day), gender: e.gender, age: e.age,
    age_bucket: e.ageBucket, platform: e.platform, platform_id: e.platformId, brand: e.brand, model: e.model, device: e.device,
    province: e.province, city: e.city, ip: e.ip, ua: e.ua, type: e.type, page: e.page, scene: e.scene, session: e.session,
    stay: e.stay, props: e.props,
  };
}

function stayless<T extends { stay: number }>(x: T): T {
  return { ...x, stay: Math.round(x.stay * 1e6) };
}

export function registerAnalysisBackfill(baseUrl: string): void {
  describe('events stored before the analysis migration', () => {
    it('are copied into the analysis tables once, and later events join them', async () => {
      const url = freshDatabaseUrl(baseUrl);
      const c = HttpConnection.open(parseClickHouseUrl(url));
      const appid = 'wxbackfill00000001';
      const y = dayOf(Date.now()) - 1;
      const all: VisitEvent[] = [];
      for (const b of generateDemoEvents({ users: 60, days: 40, endDay: y, batchSize: 2000 })) all.push(...prepareBatch(b, { now: Date.now() }).events);
      const before = all.filter((e) => e.day < y - 5);
      const after = all.filter((e) => e.day >= y - 5);
      try {
        const earlier = MIGRATIONS.filter((m) => m.version < ANALYSIS_MIGRATION.version);
        expect(await migrate(c, earlier)).toEqual(earlier.map((m) => m.version));
        // Events as the version before stored them: rows of `events` (its other tables are not needed here).
        await c.insert('events', before.map((e, i) => eventRow(appid, i + 1, e)));
        // The upgrade: the analysis tables appear and are filled from the stored events.
        const upTo = MIGRATIONS.filter((m) => m.version <= ANALYSIS_MIGRATION.version);
        expect(await migrate(c, upTo)).toContain(ANALYSIS_MIGRATION.version);
        // A crash between the migration's statements and its record would run them again: nothing is copied twice.
        for (const stmt of ANALYSIS_MIGRATION.statements(c)) await c.exec(stmt);
        // Then the views give way to folds (migration 1502), which start from every event the views had.
        expect(await migrate(c)).toContain(ANALYSIS_FOLD_MIGRATION.version);
        const store = await ClickHouseStore.open(url);
        try {
          await store.append(appid, after);
          for (const w of [{ begin: y - 20, end: y - 20 }, { begin: y, end: y }, { begin: y - 13, end: y - 7 }, { begin: y - 29, end: y }]) {
            expect(stayless(await store.visitTrend(appid, w)), JSON.stringify(w)).toEqual(stayless(referenceTrend(all, w)));
          }
          for (const d of [y - 6, y - 5]) {
            expect((await store.visitPages(appid, d, 200)).map(stayless)).toEqual(referencePages(all, d, 200).map(stayless));
            expect((await store.visitDistribution(appid, d)).map((x) => `${x.index}/${x.key}/${x.value}`).sort()).toEqual(
              referenceDistribution(all, d).map((x) => `${x.index}/${x.key}/${x.value}`).sort(),
            );
          }
          const later = [1, 2, 3, 4, 5, 6, 7, 14].map((k) => ({ begin: y - 15 + k, end: y - 15 + k }));
          expect(await store.retention(appid, { begin: y - 15, end: y - 15 }, later)).toEqual(referenceRetention(all, { begin: y - 15, end: y - 15 }, later));
        } finally {
          await store.close();
        }
      } finally {
        await c.close();
        await dropDatabase(url);
      }
    }, 300_000);
  });
}

/** `visit` → `Visit`, `share` → `SHARE`, `open` → `Open`: an event type as a version before the analysis family stored it (as sent). */
function asSent(type: string): string {
  return type === 'share' ? 'SHARE' : type.charAt(0).toUpperCase() + type.slice(1);
}

export function registerAnalysisTypeCase(baseUrl: string): void {
  describe('event types stored as sent before the analysis family (Visit, SHARE)', () => {
    it('count as their lower-case type, and migration 1515 rebuilds the apps that have them', async () => {
      const url = freshDatabaseUrl(baseUrl);
      const c = HttpConnection.open(parseClickHouseUrl(url));
      const appid = 'wxtypecase00000001';
      const plain = 'wxtypecase00000002';
      const y = dayOf(Date.now()) - 1;
      const all: VisitEvent[] = [];
      for (const b of generateDemoEvents({ users: 40, days: 30, endDay: y, batchSize: 2000 })) all.push(...prepareBatch(b, { now: Date.now() }).events);
      expect(new Set(all.map((e) => e.type))).toEqual(new Set(['visit', 'share']));
      let store: ClickHouseStore | undefined;
      try {
        const earlier = MIGRATIONS.filter((m) => m.version < ANALYSIS_MIGRATION.version);
        await migrate(c, earlier);
        // Rows of `events` as a version before the analysis family stored them: the type as the client sent it.
        await c.insert('events', all.map((e, i) => eventRow(appid, i + 1, { ...e, type: asSent(e.type) })));
        // The upgrade fills the analysis tables from those rows: shares and views count as such.
        await migrate(c);
        store = await ClickHouseStore.open(url);
        await store.append(plain, all);
        expect(await answers(store, appid, y)).toEqual(expected(all, y));
        expect(await answers(store, plain, y)).toEqual(expected(all, y));
        await store.close();
        store = undefined;
        // An earlier version's fold counted them as other types; 1515 marks the apps that have such rows for a rebuild.
        const plainBefore = await foldState(c, plain);
        expect(await foldState(c, appid)).toMatchObject({ done: true });
        await ANALYSIS_TYPE_CASE_MIGRATION.run?.(c, async () => undefined);
        expect(await foldState(c, appid)).toMatchObject({ done: false });
        expect(await foldState(c, plain)).toEqual(plainBefore);
        store = await ClickHouseStore.open(url);
        expect(await answers(store, appid, y)).toEqual(expected(all, y));
        expect(await foldState(c, appid)).toMatchObject({ done: true, events: all.length });
      } finally {
        await store?.close();
        await c.close();
        await dropDatabase(url);
      }
    }, 300_000);
  });
}

/** Every analysis answer of the app over the last 30 days, in a form to compare (stay rounded). */
async function answers(store: ClickHouseStore, appid: string, y: number): Promise<unknown> {
  const month = { begin: y - 29, end: y };
  const days = [y - 6, y - 1, y];
  return {
    trend: stayless(await store.visitTrend(appid, month)),
    week: stayless(await store.visitTrend(appid, { begin: y - 6, end: y })),
    summary: await Promise.all(days.map((d) => store.dailySummary(appid, d))),
    pages: await Promise.all(days.map(async (d) => (await store.visitPages(appid, d, 200)).map(stayless))),
    distribution: await Promise.all(days.map(async (d) => (await store.visitDistribution(appid, d)).map((x) => `${x.index}/${x.key}/${x.value}`).sort())),
    retention: await store.retention(appid, { begin: y - 7, end: y - 7 }, [1, 2, 3, 7].map((k) => ({ begin: y - 7 + k, end: y - 7 + k }))),
  };
}

/** The same answers of the in-memory reference over `events`. */
function expected(events: readonly VisitEvent[], y: number): unknown {
  const days = [y - 6, y - 1, y];
  return {
    trend: stayless(referenceTrend(events, { begin: y - 29, end: y })),
    week: stayless(referenceTrend(events, { begin: y - 6, end: y })),
    summary: days.map((d) => referenceSummary(events, d)),
    pages: days.map((d) => referencePages(events, d, 200).map(stayless)),
    distribution: days.map((d) => referenceDistribution(events, d).map((x) => `${x.index}/${x.key}/${x.value}`).sort()),
    retention: referenceRetention(events, { begin: y - 7, end: y - 7 }, [1, 2, 3, 7].map((k) => ({ begin: y - 7 + k, end: y - 7 + k }))),
  };
}

/** Polls `get` until `ok` (at most 30 s). */
async function until<T>(get: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  for (let i = 0; ; i++) {
    const v = await get();
    if (ok(v) || i >= 300) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Stores that never fold on their own (the tests say when). */
const NO_FOLDS = { foldEvents: Number.MAX_SAFE_INTEGER, foldIdleMs: 3_600_000, foldMaxAgeMs: 3_600_000 };

/**
 * Folds of the analysis tables (analysisFold.ts): answers over the tables, the events not folded yet, or both, are the
 * same; a fold cut short and events that landed below a fold's `seq` are repaired; reads during folds never count an
 * event twice.
 */
export function registerAnalysisFolds(baseUrl: string): void {
  describe('analysis tables folded from events in steps', () => {
    const y = dayOf(Date.now()) - 1;
    const events = (users: number, seed: number): VisitEvent[] => {
      const out: VisitEvent[] = [];
      for (const b of generateDemoEvents({ users, days: 30, endDay: y, batchSize: 5000, seed })) out.push(...prepareBatch(b, { now: Date.now() }).events);
      return out;
    };

    it('answers the same from the events alone, the tables alone and both', async () => {
      const url = freshDatabaseUrl(baseUrl);
      const appid = 'wxfolds0000000001';
      const [a, b, d] = [events(40, 1), events(40, 2), events(40, 3)];
      const reader = await ClickHouseStore.open(url, NO_FOLDS);
      const folder = await ClickHouseStore.open(url, { foldEvents: 1 });
      try {
        await reader.append(appid, a);
        expect(await foldState(reader.connection, appid)).toBeUndefined();
        expect(await answers(reader, appid, y)).toEqual(expected(a, y));
        // Another server's commit folds everything stored (the first store's events too).
        await folder.append(appid, b);
        // The fold follows the commit's answer.
        const folded = await until(() => foldState(reader.connection, appid), (f) => f?.done === true);
        expect(folded).toMatchObject({ done: true, events: a.length + b.length });
        expect(await answers(reader, appid, y)).toEqual(expected([...a, ...b], y));
        await reader.append(appid, d);
        expect(await foldState(reader.connection, appid)).toEqual(folded);
        expect(await answers(reader, appid, y)).toEqual(expected([...a, ...b, ...d], y));
      } finally {
        await reader.close();
        await folder.close();
        await dropDatabase(url);
      }
    }, 300_000);

    it('rebuilds after a fold cut short and after events that landed below a fold', async () => {
      const url = freshDatabaseUrl(baseUrl);
      const appid = 'wxfolds0000000002';
      const [a, b, late] = [events(30, 4), events(30, 5), events(10, 6)];
      let store = await ClickHouseStore.open(url, { foldEvents: 1 });
      const c = store.connection;
      try {
        await store.append(appid, a);
        await until(() => foldState(c, appid), (f) => f?.done === true);
        await store.close();
        // A fold cut short: its intent recorded, the aggregates of the next events in two of the five tables only.
        const s = await foldState(c, appid);
        if (!s) throw new Error('no fold record');
        await c.insert('events', b.map((e, i) => eventRow(appid, s.hi + 1 + i, e)));
        const top = s.hi + b.length;
        await c.insert('an_folds', [{ appid, hi: top, events: s.events + b.length, done: 0, version: s.version + 1 }]);
        for (const t of analysisTables(c.table('events'), sql`appid = ${appid} AND seq > ${s.hi}`).slice(0, 2)) {
          await c.exec(sql`INSERT INTO ${c.table(t.name)} ${t.select}`);
        }
        expect(await foldsAgree(c, appid)).toBe(false);
        store = await ClickHouseStore.open(url, NO_FOLDS);
        // A read finds the intent, waits for it, then takes the lease, which repairs.
        expect(await answers(store, appid, y)).toEqual(expected([...a, ...b], y));
        expect(await foldState(c, appid)).toMatchObject({ done: true, hi: top, events: a.length + b.length });
        await store.close();
        // Events that landed below the record (an insert acknowledged late): the count differs; the next writer rebuilds.
        await c.insert('events', late.map((e, i) => eventRow(appid, s.hi - 1 - i, e)));
        expect(await foldsAgree(c, appid)).toBe(false);
        store = await ClickHouseStore.open(url, NO_FOLDS);
        await store.append(appid, [{ ...(a[0] as VisitEvent), eventId: 'one-more' }]);
        expect(await foldsAgree(c, appid)).toBe(true);
        expect(await answers(store, appid, y)).toEqual(expected([...a, ...b, ...late, { ...(a[0] as VisitEvent), eventId: 'one-more' }], y));
      } finally {
        await store.close();
        await dropDatabase(url);
      }
    }, 300_000);

    it('folds once enough events wait, and when the app goes quiet', async () => {
      const url = freshDatabaseUrl(baseUrl);
      const appid = 'wxfolds0000000005';
      const all = events(80, 9);
      const third = Math.floor(all.length / 3);
      const [p1, p2, p3] = [all.slice(0, third), all.slice(third, 2 * third), all.slice(2 * third)];
      const byCount = await ClickHouseStore.open(url, { ...NO_FOLDS, foldEvents: third + 1 });
      const c = byCount.connection;
      try {
        await byCount.append(appid, p1);
        await new Promise((r) => setTimeout(r, 500));
        expect(await foldState(c, appid)).toBeUndefined();
        await byCount.append(appid, p2);
        expect(await until(() => foldState(c, appid), (f) => f?.done === true)).toMatchObject({ events: 2 * third });
        await byCount.close();
        const quiet = await ClickHouseStore.open(url, { ...NO_FOLDS, foldIdleMs: 300 });
        try {
          await quiet.append(appid, p3);
          expect(await until(() => foldState(c, appid), (f) => f?.done === true && f.events === all.length)).toMatchObject({ done: true, events: all.length });
          expect(await answers(quiet, appid, y)).toEqual(expected(all, y));
        } finally {
          await quiet.close();
        }
      } finally {
        await byCount.close();
        await dropDatabase(url);
      }
    }, 300_000);

    it('rebuilds, after migration 1514, an app whose sessions were folded with events of other types', async () => {
      const url = freshDatabaseUrl(baseUrl);
      const appid = 'wxfolds0000000006';
      const plain = 'wxfolds0000000007';
      const demo = events(30, 10);
      // Clicks before every fifth event, with its session value if any: 20 minutes before (they would join its session
      // and give it their scene) or 3 hours before (they would make sessions of their own).
      const clicks = demo
        .filter((_, i) => i % 5 === 0)
        .map((e, i): VisitEvent => {
          const time = e.time - (i % 2 === 0 ? 20 * 60_000 : 3 * 3_600_000);
          return { ...e, eventId: `click${i}`, type: 'click', time, day: dayOf(time), scene: 1047, stay: 50 };
        });
      const all = [...demo, ...clicks];
      let store = await ClickHouseStore.open(url, { foldEvents: 1 });
      const c = store.connection;
      try {
        await store.append(appid, all);
        await store.append(plain, demo);
        await until(() => foldState(c, appid), (f) => f?.done === true && f.events === all.length);
        await until(() => foldState(c, plain), (f) => f?.done === true && f.events === demo.length);
        await store.close();
        // The rows the version before folded: the clicks in the session tables too (as events that are neither a
        // visit nor a share, like an open).
        const old = sql`(SELECT appid, seq, day, openid, time, 'open' AS type, page, scene, session, stay
          FROM (SELECT * FROM ${c.table('events')} WHERE appid = ${appid} AND type = 'click'))`;
        for (const t of analysisTables(old).filter((x) => x.name === 'an_id_sessions' || x.name === 'an_gap_slots')) {
          await c.exec(sql`INSERT INTO ${c.table(t.name)} ${t.select}`);
        }
        store = await ClickHouseStore.open(url, NO_FOLDS);
        expect(await answers(store, appid, y)).not.toEqual(expected(all, y));
        await store.close();
        const plainBefore = await foldState(c, plain);
        await ANALYSIS_SESSION_TYPES_MIGRATION.run?.(c, async () => undefined);
        expect(await foldState(c, appid)).toMatchObject({ done: false });
        expect(await foldState(c, plain)).toEqual(plainBefore);
        store = await ClickHouseStore.open(url, NO_FOLDS);
        // A read finds the intent, waits, then takes the lease, which rebuilds from the events.
        expect(await answers(store, appid, y)).toEqual(expected(all, y));
        expect(await foldState(c, appid)).toMatchObject({ done: true, events: all.length });
        expect(await answers(store, plain, y)).toEqual(expected(demo, y));
      } finally {
        await store.close();
        await dropDatabase(url);
      }
    }, 300_000);

    it('reads again when a fold overtakes a read', async () => {
      const url = freshDatabaseUrl(baseUrl);
      const appid = 'wxfolds0000000004';
      const a = events(30, 8);
      const store = await ClickHouseStore.open(url, NO_FOLDS);
      const c = store.connection;
      const month = { begin: y - 29, end: y };
      try {
        await store.append(appid, a);
        let reads = 0;
        const r = await readFolded(c, appid, async (src) => {
          // The first read's tables are folded past its record before it queries them (as by another server).
          if (reads++ === 0) await foldAnalysis(c, appid, async () => undefined);
          return trendCounts(c, src, appid, month);
        });
        expect(reads).toBe(2);
        expect(stayless(r?.value ?? referenceTrend([], month))).toEqual(stayless(referenceTrend(a, month)));
      } finally {
        await store.close();
        await dropDatabase(url);
      }
    }, 300_000);

    it('never counts an event twice while another server folds', async () => {
      const url = freshDatabaseUrl(baseUrl);
      const appid = 'wxfolds0000000003';
      // A batch per user, of days in one month: each goes to one shard as one part (a part per month partition),
      // so a read sees all of a batch or none of it.
      const byUser = new Map<string, VisitEvent[]>();
      const month = { begin: y - 29, end: y };
      for (const e of events(20, 7)) {
        if (isoDay(e.day).slice(0, 7) === isoDay(y).slice(0, 7)) byUser.set(e.openid, [...(byUser.get(e.openid) ?? []), e]);
      }
      const batches = [...byUser.values()].slice(0, 10);
      const prefixes = [[], ...batches.map((_, k) => batches.slice(0, k + 1).flat())].map((p) => stayless(referenceTrend(p, month)));
      const writer = await ClickHouseStore.open(url, { foldEvents: 1 });
      const reader = await ClickHouseStore.open(url, NO_FOLDS);
      try {
        let writing = true;
        const written = (async () => {
          for (const b of batches) await writer.append(appid, b);
          writing = false;
        })();
        written.catch(() => (writing = false));
        let reads = 0;
        while (writing) {
          // Each figure comes from one query (the answer's three queries may see different batches): it must be
          // that of the batches stored when it ran, never one that counts some of them twice.
          const got = stayless(await reader.visitTrend(appid, month));
          for (const k of ['visitPv', 'visitUv', 'stay', 'visitUvNew', 'sessions', 'depth'] as const) {
            expect(prefixes.map((p) => p[k]), k).toContain(got[k]);
          }
          reads++;
        }
        await written;
        expect(reads).toBeGreaterThan(0);
        expect(stayless(await reader.visitTrend(appid, month))).toEqual(prefixes[batches.length]);
        const folds = await foldState(reader.connection, appid);
        expect(folds?.version ?? 0).toBeGreaterThan(2);
      } finally {
        await writer.close();
        await reader.close();
        await dropDatabase(url);
      }
    }, 300_000);
  });
}
