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
import { referencePages, referenceRetention, referenceTrend } from '../referenceAnalysis.ts';
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
