/**
 * Backups move between backends (DuckDB → ClickHouse and back), restores refuse a non-empty ClickHouse database, and
 * POST /v1/users/delete works on a ClickHouse store, also for a second datacube server in front of the same database.
 */
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestServer } from '../api/testing.ts';
import { ManualClock } from '../domain/clock.ts';
import { dayOf, formatDay, startOfDay } from '../domain/day.ts';
import type { VisitEvent } from '../domain/event.ts';
import { buildPortrait } from '../portrait/buildPortrait.ts';
import { describeWithClickHouse, dropDatabase, freshDatabaseUrl } from '../store/clickhouse/testing.ts';
import { openClickHouseStore } from '../store/clickhouse/index.ts';
import { BASE_DAY, freshAppid } from '../store/contract.suite.ts';
import { DuckDBStore } from '../store/duckdb/DuckDBStore.ts';
import { lifecycleEvents, windowsWithin } from '../store/lifecycle.contract.suite.ts';
import { canonical, referencePortrait } from '../store/referencePortrait.ts';
import type { Store } from '../store/store.ts';
import { LifecycleService, NotEmptyError } from './LifecycleService.ts';

const dir = mkdtempSync(join(tmpdir(), 'datacube-across-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const clock = new ManualClock(startOfDay(BASE_DAY + 61) + 3_600_000);
const service = (store: Store) => new LifecycleService(store, clock, { keyFingerprint: 'k', invalidate: () => undefined });

async function fill(store: Store): Promise<string> {
  const appid = freshAppid();
  await store.createApp({ appid, name: 'x', secretHash: 'h', secretSealed: 's', env: appid, dailyQuota: 3, createdAt: 1, collect: true, retainDays: 50 });
  await store.append(appid, lifecycleEvents(5, 9, 60, 'x'));
  await service(store).prune();
  return appid;
}

async function expectSame(a: Store, b: Store, appid: string): Promise<void> {
  for (const w of windowsWithin(BASE_DAY + 11, BASE_DAY + 59, 4)) expect(canonical(await b.portrait(appid, w))).toEqual(canonical(await a.portrait(appid, w)));
}

describeWithClickHouse('DATACUBE_TEST_CLICKHOUSE', 'personal data across backends', (baseUrl) => {
  it('restores a DuckDB backup into ClickHouse and a ClickHouse backup into DuckDB, answering the same', async () => {
    const duck = await DuckDBStore.create(join(dir, 'source.duckdb'));
    const chUrl = freshDatabaseUrl(baseUrl);
    const ch = await openClickHouseStore(chUrl);
    const back = await DuckDBStore.create(join(dir, 'back.duckdb'));
    try {
      const appid = await fill(duck);
      const one = join(dir, 'duck.gz');
      const b1 = await service(duck).backup(createWriteStream(one));
      expect(b1.first_seen).toBeGreaterThan(0);
      expect(await service(ch).restore(() => createReadStream(one))).toMatchObject({ events: b1.events, first_seen: b1.first_seen });
      await expectSame(duck, ch, appid);
      await expect(service(ch).restore(() => createReadStream(one))).rejects.toThrow(NotEmptyError);
      const two = join(dir, 'ch.gz');
      const b2 = await service(ch).backup(createWriteStream(two));
      expect(b2).toMatchObject({ apps: b1.apps, events: b1.events, first_seen: b1.first_seen });
      await service(back).restore(() => createReadStream(two));
      await expectSame(duck, back, appid);
      expect(await back.getApp(appid)).toEqual(await duck.getApp(appid));
    } finally {
      await duck.close();
      await ch.close();
      await back.close();
      await dropDatabase(chUrl);
    }
  }, 300_000);

  it('deletes through POST /v1/users/delete on ClickHouse; a second server on the same database answers without the user too', async () => {
    const url = freshDatabaseUrl(baseUrl);
    const now = Date.UTC(2026, 10, 28, 2, 0, 0);
    const today = dayOf(now);
    const c = new ManualClock(now);
    const a = await startTestServer({ clock: c, dataDir: join(dir, 'a'), config: { store: url } });
    const b = await startTestServer({ clock: c, dataDir: join(dir, 'b'), config: { store: url } });
    try {
      const app = await a.newApp();
      const token = await a.token(app.appid, app.secret);
      const records = Array.from({ length: 90 }, (_, i) => ({
        openid: i % 4 === 0 ? 'leaving_user' : `stay${i % 11}`,
        time: new Date(startOfDay(today - 1 - (i % 10)) + i * 60_000).toISOString(),
        event_id: `r${i}`,
        gender: i % 3,
      }));
      expect((await a.post(`/v1/events?access_token=${token}`, records)).json).toMatchObject({ errcode: 0, accepted: 90 });
      const body = { begin_date: formatDay(today - 7), end_date: formatDay(today - 1) };
      const tokenB = await b.token(app.appid, app.secret);
      // Both servers answer (and cache) before the deletion.
      const stored: VisitEvent[] = [];
      await a.services.store.exportEvents(app.appid, async (x) => void stored.push(...x));
      const all = JSON.parse(JSON.stringify(buildPortrait({ begin: today - 7, end: today - 1 }, referencePortrait(stored, { begin: today - 7, end: today - 1 }))));
      expect((await a.post(`/datacube/getweanalysisappiduserportrait?access_token=${token}`, body)).json).toEqual(all);
      expect((await b.post(`/datacube/getweanalysisappiduserportrait?access_token=${tokenB}`, body)).json).toEqual(all);
      const r = await a.post(`/v1/users/delete?access_token=${token}`, { openids: ['leaving_user'] });
      expect(r.json).toEqual({ errcode: 0, errmsg: 'ok', users: 1, events: 23 });
      const kept = stored.filter((e) => e.openid !== 'leaving_user');
      const without = JSON.parse(JSON.stringify(buildPortrait({ begin: today - 7, end: today - 1 }, referencePortrait(kept, { begin: today - 7, end: today - 1 }))));
      expect((await a.post(`/datacube/getweanalysisappiduserportrait?access_token=${token}`, body)).json).toEqual(without);
      expect((await b.post(`/datacube/getweanalysisappiduserportrait?access_token=${tokenB}`, body)).json).toEqual(without);
      expect(await b.services.store.countEvents(app.appid)).toBe(kept.length);
    } finally {
      await a.stop(true);
      await b.stop(true);
      await dropDatabase(url);
    }
  }, 300_000);
});

