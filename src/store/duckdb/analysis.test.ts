import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, describe, expect, it } from 'vitest';
import { dayOf, startOfDay } from '../../domain/day.ts';
import type { VisitEvent } from '../../domain/event.ts';
import { generateDemoEvents } from '../../demo/index.ts';
import { prepareBatch } from '../../ingest/pipeline.ts';
import { describeAnalysisContract } from '../analysis.contract.suite.ts';
import { freshAppid, visit } from '../contract.suite.ts';
import { referenceDistribution, referencePages, referenceRetention, referenceTrend } from '../referenceAnalysis.ts';
import { appendEventColumns } from './appendEvents.ts';
import { DuckDBStore } from './DuckDBStore.ts';
import { ANALYSIS_MIGRATION } from './analysisSchema.ts';
import { MIGRATIONS } from './schema.ts';

const dir = mkdtempSync(join(tmpdir(), 'datacube-duckdb-analysis-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeAnalysisContract('DuckDB', () => DuckDBStore.create(join(dir, 'analysis.duckdb')));

describe('DuckDB file written before the analysis tables existed', () => {
  it('folds every stored event into them when opened, and keeps folding later ones', async () => {
    const path = join(dir, 'before-analysis.duckdb');
    const appid = freshAppid();
    const y = dayOf(Date.now()) - 1;
    const all: VisitEvent[] = [];
    for (const b of generateDemoEvents({ users: 50, days: 40, endDay: y, batchSize: 2000 })) all.push(...prepareBatch(b, { now: Date.now() }).events);
    const before = all.filter((e) => e.day < y - 5);
    const after = all.filter((e) => e.day >= y - 5);
    // The file as the version before left it: its migrations, and events (the portrait's derived tables are folded on
    // open).
    const inst = await DuckDBInstance.create(path);
    const c = await inst.connect();
    await c.run('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)');
    for (const [i, m] of MIGRATIONS.slice(0, MIGRATIONS.indexOf(ANALYSIS_MIGRATION)).entries()) {
      if (typeof m === 'string') await c.run(m);
      else await m(c);
      await c.run(`INSERT INTO schema_migrations VALUES (${i + 1}, 0)`);
    }
    const a = await c.createAppender('events');
    before.forEach((e, i) => {
      appendEventColumns(a, i + 1, appid, e, 0);
      a.appendNull(); // id_lo
      a.appendNull(); // id_hi
      a.appendNull(); // ua
      a.endRow();
    });
    a.flushSync();
    a.closeSync();
    c.closeSync();
    inst.closeSync();

    const s = await DuckDBStore.create(path);
    try {
      await s.append(appid, after);
      for (const w of [{ begin: y - 20, end: y - 20 }, { begin: y, end: y }, { begin: y - 13, end: y - 7 }, { begin: y - 29, end: y }]) {
        const got = await s.visitTrend(appid, w);
        const want = referenceTrend(all, w);
        expect({ ...got, stay: Math.round(got.stay) }, JSON.stringify(w)).toEqual({ ...want, stay: Math.round(want.stay) });
      }
      const later = [1, 2, 3, 4, 5, 6, 7, 14].map((k) => ({ begin: y - 15 + k, end: y - 15 + k }));
      expect(await s.retention(appid, { begin: y - 15, end: y - 15 }, later)).toEqual(referenceRetention(all, { begin: y - 15, end: y - 15 }, later));
      expect((await s.visitPages(appid, y - 6, 200)).map((p) => [p.path, p.visitPv, p.entry, p.exit])).toEqual(
        referencePages(all, y - 6, 200).map((p) => [p.path, p.visitPv, p.entry, p.exit]),
      );
    } finally {
      await s.close();
    }
  });
});

describe('DuckDB analysis tables across a close and reopen', () => {
  it('continues a session with an id, and a session without one, after the store is reopened', async () => {
    const path = join(dir, 'reopen.duckdb');
    const appid = freshAppid();
    const y = dayOf(Date.now()) - 1;
    const t = (h: number, m: number) => startOfDay(y) + h * 3_600_000 + m * 60_000;
    const first = [
      visit({ openid: 'u', time: t(9, 0), session: 'k', page: 'a', scene: 1001, stay: 5 }),
      visit({ openid: 'u', time: t(12, 0), page: 'x', stay: 1 }),
    ];
    const second = [
      visit({ openid: 'u', time: t(15, 0), session: 'k', page: 'b', stay: 7 }),
      visit({ openid: 'u', time: t(12, 20), page: 'y', stay: 2 }),
    ];
    let s = await DuckDBStore.create(path);
    await s.append(appid, first);
    expect((await s.visitTrend(appid, { begin: y, end: y })).sessions).toBe(2);
    await s.close();
    s = await DuckDBStore.create(path);
    try {
      await s.append(appid, second);
      const w = { begin: y, end: y };
      expect(await s.visitTrend(appid, w)).toEqual(referenceTrend([...first, ...second], w));
      expect((await s.visitTrend(appid, w)).sessions).toBe(2);
      expect(await s.visitPages(appid, y, 200)).toEqual(referencePages([...first, ...second], y, 200));
    } finally {
      await s.close();
    }
  });
});

describe('DuckDB file whose sessions were folded with events of other types (before migration 9)', () => {
  it('rebuilds the sessions of the users with such events when opened, and keeps folding later events', async () => {
    const path = join(dir, 'other-types.duckdb');
    const appid = freshAppid();
    const y = dayOf(Date.now()) - 1;
    const t = (d: number, h: number, m: number) => startOfDay(y - d) + h * 3_600_000 + m * 60_000;
    const first = [
      visit({ openid: 'clicker', time: t(1, 9, 0), type: 'click', scene: 1001 }),
      visit({ openid: 'u', time: t(1, 10, 0), page: 'a', scene: 1001, stay: 3 }),
      visit({ openid: 'u', time: t(1, 10, 20), type: 'click', scene: 1007 }),
      visit({ openid: 'u', time: t(1, 10, 40), page: 'b', stay: 4 }),
      visit({ openid: 'v', time: t(1, 11, 0), type: 'click', session: 'k', scene: 1007, stay: 100 }),
      visit({ openid: 'v', time: t(1, 11, 5), session: 'k', scene: 1001, page: 'a', stay: 5 }),
      visit({ openid: 'w', time: t(1, 12, 0), page: 'a', scene: 1089, stay: 7 }),
    ];
    let s = await DuckDBStore.create(path);
    await s.append(appid, first);
    const days = [{ begin: y - 1, end: y - 1 }, { begin: y, end: y }];
    expect((await s.visitTrend(appid, days[0] ?? { begin: y, end: y })).sessions).toBe(4);
    await s.close();
    // The file as the version before left it: sessions folded with the clicks (one for the clicker, u's visits joined
    // by the click into one, v's session starting at the click with its scene and stay), migration 9 not applied.
    const inst = await DuckDBInstance.create(path);
    const c = await inst.connect();
    await c.run('DELETE FROM schema_migrations WHERE version >= 9');
    await c.run(
      `INSERT INTO an_sessions SELECT s.app, s.day, u.uid, NULL, s.first_time - 1, s.first_time - 1, NULL, NULL, 10, 0, []::INTEGER[], 0,
         NULL, NULL, NULL, NULL, true
       FROM an_sessions s, an_users u WHERE u.app = s.app AND u.openid = 'clicker' AND s.sid = 'k'`,
    );
    await c.run(`UPDATE an_sessions SET stay = 105, source = 3, scene = 1007 WHERE sid = 'k'`);
    c.closeSync();
    inst.closeSync();
    s = await DuckDBStore.create(path);
    try {
      const second = [
        visit({ openid: 'clicker', time: t(0, 9, 0), type: 'click' }),
        visit({ openid: 'v', time: t(0, 9, 0), page: 'c', stay: 2 }),
        visit({ openid: 'v', time: t(0, 9, 10), type: 'click', session: 'k2' }),
      ];
      await s.append(appid, second);
      const all = [...first, ...second];
      for (const w of days) {
        expect(await s.visitTrend(appid, w), JSON.stringify(w)).toEqual(referenceTrend(all, w));
        expect((await s.visitDistribution(appid, w.begin)).map((x) => `${x.index}/${x.key}/${x.value}`).sort()).toEqual(
          referenceDistribution(all, w.begin).map((x) => `${x.index}/${x.key}/${x.value}`).sort(),
        );
        expect(await s.visitPages(appid, w.begin, 200)).toEqual(referencePages(all, w.begin, 200));
      }
      expect((await s.visitTrend(appid, { begin: y - 1, end: y - 1 })).sessions).toBe(4);
      expect((await s.visitTrend(appid, { begin: y, end: y })).sessions).toBe(1);
      expect(await s.retention(appid, { begin: y - 1, end: y - 1 }, [{ begin: y, end: y }])).toEqual({ new: [4, 2], active: [4, 2] });
    } finally {
      await s.close();
    }
  });
});

describe('DuckDB file with event types stored as sent (before types were kept in lower case; migration 10)', () => {
  it('puts the types in lower case and folds the analysis tables of their apps again when opened', async () => {
    const path = join(dir, 'type-case.duckdb');
    const appid = freshAppid();
    const other = freshAppid();
    const y = dayOf(Date.now()) - 1;
    const t = (d: number, h: number, m: number) => startOfDay(y - d) + h * 3_600_000 + m * 60_000;
    const first = [
      visit({ openid: 'u', time: t(1, 10, 0), type: 'open', scene: 1001, session: 'k' }),
      visit({ openid: 'u', time: t(1, 10, 1), page: 'a', stay: 3, session: 'k' }),
      visit({ openid: 'u', time: t(1, 10, 2), type: 'share', page: 'a', session: 'k' }),
      visit({ openid: 'v', time: t(1, 11, 0), page: 'b', stay: 4 }),
      visit({ openid: 'v', time: t(1, 11, 5), type: 'share', page: 'b' }),
    ];
    let s = await DuckDBStore.create(path);
    await s.append(appid, first);
    await s.append(other, first);
    const w = { begin: y - 1, end: y - 1 };
    const otherBefore = await s.visitTrend(other, w);
    await s.close();
    // The file as a version before the analysis family left it: types as the client sent them (`Share`, `VISIT`,
    // `Open`), folded by migration 7 as other types; migration 10 not applied. The other app's types were lower case.
    const inst = await DuckDBInstance.create(path);
    const c = await inst.connect();
    await c.run('DELETE FROM schema_migrations WHERE version >= 10');
    await c.run(`UPDATE events SET type = CASE type WHEN 'share' THEN 'Share' WHEN 'open' THEN 'Open' ELSE 'VISIT' END WHERE appid = '${appid}'`);
    await c.run(`DELETE FROM an_state WHERE app = (SELECT app FROM app_numbers WHERE appid = '${appid}')`);
    for (const table of ['an_users', 'an_user_days', 'an_pages', 'an_page_days', 'an_sessions']) {
      await c.run(`DELETE FROM ${table} WHERE app = (SELECT app FROM app_numbers WHERE appid = '${appid}')`);
    }
    c.closeSync();
    inst.closeSync();
    s = await DuckDBStore.create(path);
    try {
      const second = [visit({ openid: 'u', time: t(0, 9, 0), page: 'c', stay: 2 }), visit({ openid: 'u', time: t(0, 9, 1), type: 'share', page: 'c' })];
      await s.append(appid, second);
      const all = [...first, ...second];
      for (const x of [w, { begin: y, end: y }]) {
        expect(await s.visitTrend(appid, x), JSON.stringify(x)).toEqual(referenceTrend(all, x));
        expect(await s.visitPages(appid, x.begin, 200)).toEqual(referencePages(all, x.begin, 200));
      }
      expect(await s.dailySummary(appid, y - 1)).toMatchObject({ sharePv: 2, shareUv: 2 });
      expect(await s.visitTrend(other, w)).toEqual(otherBefore);
    } finally {
      await s.close();
    }
  });
});
