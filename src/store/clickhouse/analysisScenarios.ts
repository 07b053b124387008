/**
 * ClickHouse-only checks of the analysis tables, for both layouts (single server and cluster). Test support only.
 */
import { describe, expect, it } from 'vitest';
import { dayOf } from '../../domain/day.ts';
import type { VisitEvent } from '../../domain/event.ts';
import { generateDemoEvents } from '../../demo/index.ts';
import { prepareBatch } from '../../ingest/pipeline.ts';
import { referenceDistribution, referencePages, referenceRetention, referenceTrend } from '../referenceAnalysis.ts';
import { ANALYSIS_MIGRATION } from './analysisSchema.ts';
import { ClickHouseStore } from './ClickHouseStore.ts';
import { HttpConnection } from './connection.ts';
import { migrate } from './migrate.ts';
import { MIGRATIONS } from './schema.ts';
import { dropDatabase, freshDatabaseUrl } from './testing.ts';
import { isoDay } from './sql.ts';
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
        expect(await migrate(c)).toContain(ANALYSIS_MIGRATION.version);
        // A crash between the migration's statements and its record would run them again: nothing is copied twice.
        for (const stmt of ANALYSIS_MIGRATION.statements(c)) await c.exec(stmt);
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
