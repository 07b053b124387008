import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, describe, expect, it } from 'vitest';
import type { VisitEvent } from '../../domain/event.ts';
import { BASE_DAY, BASE_MS, describeStoreContract, freshAppid, visit } from '../contract.suite.ts';
import { findBytes } from '../../lifecycle/testing.ts';
import { describeLifecycleContract } from '../lifecycle.contract.suite.ts';
import { VALUE_BITS } from '../packing.ts';
import { canonical, referencePortrait } from '../referencePortrait.ts';
import { DuckDBStore } from './DuckDBStore.ts';
import { MIGRATIONS } from './schema.ts';

const dir = mkdtempSync(join(tmpdir(), 'datacube-duckdb-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let opened = 0;
describeStoreContract('DuckDB', (opts) => DuckDBStore.create(join(dir, opts ? `contract-${++opened}.duckdb` : 'contract.duckdb'), opts));

let empties = 0;
describeLifecycleContract(
  'DuckDB',
  () => DuckDBStore.create(join(dir, 'lifecycle.duckdb')),
  async () => {
    const store = await DuckDBStore.create(join(dir, `empty-${++empties}.duckdb`));
    return { store, dispose: () => store.close() };
  },
);

describe('DuckDB file', () => {
  it('keeps events, derived state and apps across a close and reopen', async () => {
    const path = join(dir, 'reopen.duckdb');
    const appid = freshAppid();
    let s = await DuckDBStore.create(path);
    await s.append(appid, [visit({ openid: 'a', time: BASE_MS + 1000, gender: 1, eventId: 'k' })]);
    await s.createApp({ appid, name: 'x', secretHash: 'h', secretSealed: 's', env: appid, dailyQuota: 1, createdAt: 1, collect: true });
    await s.close();
    s = await DuckDBStore.create(path);
    expect(await s.countEvents(appid)).toBe(1);
    expect((await s.getApp(appid))?.name).toBe('x');
    expect(await s.append(appid, [visit({ openid: 'a', time: BASE_MS + 2000, eventId: 'k' })])).toEqual({ accepted: 0, duplicates: [0] });
    const c = await s.portrait(appid, { begin: BASE_DAY, end: BASE_DAY });
    expect(c.find((x) => x.dimension === 'genders')).toMatchObject({ key: 1, active: 1, new: 1 });
    await s.close();
  });
});

describe('DuckDB retention and deletion, table by table', () => {
  it('leaves no derived row of a pruned day nor of a deleted user in any family; first days stay', async () => {
    const appid = freshAppid();
    const DAY = 86_400_000;
    const events = Array.from({ length: 120 }, (_, i) =>
      visit({
        openid: `t${i % 8}`,
        time: BASE_MS + ((i * 7) % 40) * DAY + i * 60_000,
        session: i % 3 ? `t${i % 8}-${(i * 7) % 40}` : null,
        page: `pages/p${i % 5}`,
        type: i % 6 ? 'visit' : 'share',
        gender: 1,
      }),
    );
    const s = await DuckDBStore.create(join(dir, 'tables.duckdb'));
    try {
      await s.append(appid, events);
      const cut = BASE_DAY + 20;
      await s.prune([{ appid, beforeDay: cut }]);
      await s.deleteUsers(appid, ['t3']);
      const c = await s.connect();
      try {
        const one = async (q: string) => Number((await c.runAndReadAll(q)).getRows()[0]?.[0] ?? -1);
        const app = await one(`SELECT app FROM app_numbers WHERE appid = '${appid}'`);
        for (const t of ['user_days', 'user_last', 'an_user_days', 'an_page_days', 'an_sessions']) {
          expect(await one(`SELECT count(*) FROM ${t} WHERE app = ${app} AND day < ${cut}`), t).toBe(0);
          expect(await one(`SELECT count(*) FROM ${t} WHERE app = ${app}`), t).toBeGreaterThan(0);
        }
        // Every user but the deleted one keeps a first day, in both families.
        expect(await one(`SELECT count(*) FROM users WHERE app = ${app}`)).toBe(7);
        expect(await one(`SELECT count(*) FROM an_users WHERE app = ${app}`)).toBe(7);
        expect(await one(`SELECT count(*) FROM an_users WHERE app = ${app} AND openid = 't3'`)).toBe(0);
        // Pages no row refers to any more are gone from the dictionary.
        expect(await one(`SELECT count(*) FROM an_pages p WHERE app = ${app} AND NOT EXISTS (SELECT 1 FROM an_page_days d WHERE d.app = p.app AND d.page = p.page)`)).toBe(0);
      } finally {
        c.closeSync();
      }
    } finally {
      await s.close();
    }
  }, 60_000);
});

describe('DuckDB app deletion', () => {
  it('leaves no byte of the deleted app in the data directory, and other apps answer as before', async () => {
    const sub = mkdtempSync(join(dir, 'app-delete-'));
    const gone = freshAppid();
    const kept = freshAppid();
    // Uncompressed, every string is stored as its own bytes: findable before the deletion, so not finding it after
    // means it left the file, not that it was compressed.
    const s = await DuckDBStore.create(join(sub, 'datacube.duckdb'), { settings: { force_compression: 'uncompressed' } });
    const victim = `gone_${gone}_user`;
    try {
      for (const appid of [gone, kept]) {
        await s.createApp({ appid, name: 'n', secretHash: 'h', secretSealed: 's', env: `env-${appid}`, dailyQuota: 5, createdAt: 1, collect: true });
      }
      await s.append(gone, Array.from({ length: 40 }, (_, i) => visit({ openid: i % 2 ? victim : `g${i}`, time: BASE_MS + i * 3_600_000, page: 'pages/secret/page' })));
      await s.append(kept, Array.from({ length: 40 }, (_, i) => visit({ openid: `k${i % 5}`, time: BASE_MS + i * 3_600_000 })));
      const window = { begin: BASE_DAY, end: BASE_DAY + 1 };
      const before = canonical(await s.portrait(kept, window));
      expect(findBytes(sub, [victim]).get(victim)?.length).toBeGreaterThan(0);
      expect(await s.deleteApp(gone)).toBe(true);
      expect(await s.countEvents(gone)).toBe(0);
      expect(canonical(await s.portrait(kept, window))).toEqual(before);
      expect(findBytes(sub, [victim, gone]).get(victim)).toEqual([]);
    } finally {
      await s.close();
    }
    expect(findBytes(sub, [victim]).get(victim)).toEqual([]);
  }, 120_000);
});

describe('DuckDB compaction interrupted by a crash', () => {
  it('finishes a swap whose copy was ready (the old log is dropped), and drops a copy that was not', async () => {
    const appid = freshAppid();
    const events = Array.from({ length: 40 }, (_, i) => visit({ openid: `c${i % 6}`, time: BASE_MS + (i % 9) * 86_400_000 + i, eventId: `c${i}`, gender: 1 }));
    const path = join(dir, 'crashed.duckdb');
    let s = await DuckDBStore.create(path);
    await s.append(appid, events.slice(0, 30));
    await s.close();
    // The state a crash leaves after `markReady`: the old file and its log, and a complete copy holding more.
    const inst = await DuckDBInstance.create(path);
    const c = await inst.connect();
    await c.run(`ATTACH '${path}.compact-ready' AS ready`);
    await c.run('COPY FROM DATABASE crashed TO ready');
    c.closeSync();
    inst.closeSync();
    const r = await DuckDBInstance.create(`${path}.compact-ready`);
    const rc = await r.connect();
    const top = Number((await rc.runAndReadAll('SELECT max(seq) FROM events')).getRows()[0]?.[0]);
    for (const [i, e] of events.slice(30).entries()) {
      await rc.run(
        `INSERT INTO events (seq, appid, event_id, openid, time, day, gender, age_bucket, platform_id, province, city, type, received_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 0, 0, 0, 0, 'visit', 0)`,
        [BigInt(top + i + 1), appid, e.eventId, e.openid, BigInt(e.time), e.day, e.gender],
      );
    }
    rc.closeSync();
    r.closeSync();
    writeFileSync(`${path}.wal`, 'not a log of the ready copy');
    s = await DuckDBStore.create(path);
    try {
      expect(await s.countEvents(appid)).toBe(40);
      expect(canonical(await s.portrait(appid, { begin: BASE_DAY, end: BASE_DAY + 29 }))).toEqual(canonical(referencePortrait(events, { begin: BASE_DAY, end: BASE_DAY + 29 })));
    } finally {
      await s.close();
    }
    expect(existsSync(`${path}.compact-ready`)).toBe(false);

    // A copy still being written when the crash came: thrown away, the file is as it was.
    writeFileSync(`${path}.compact`, 'half a copy');
    s = await DuckDBStore.create(path);
    try {
      expect(await s.countEvents(appid)).toBe(40);
    } finally {
      await s.close();
    }
    expect(existsSync(`${path}.compact`)).toBe(false);
  });
});

/** A small deterministic event set: 12 users over 40 days, values that change, some unknown, most with an id. */
function oldEvents(seed = 12345, devices = [null, 'OPPO R9', 'Apple iPhone 13', 'Xiaomi 13']): VisitEvent[] {
  let x = seed;
  const rnd = (n: number) => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return (x >>> 8) % n;
  };
  return Array.from({ length: 300 }, (_, i) =>
    visit({
      openid: `u${rnd(12)}`,
      time: BASE_MS + rnd(40) * 86_400_000 + rnd(86_400_000 - 300) + i,
      eventId: rnd(5) === 0 ? null : `old-${i}`,
      gender: rnd(3),
      ageBucket: rnd(7),
      platformId: rnd(4),
      province: [0, 11, 44][rnd(3)] ?? 0,
      city: [0, 1101, 4401][rnd(3)] ?? 0,
      device: devices[rnd(4)] ?? null,
    }),
  );
}

describe('DuckDB file written by an older version', () => {
  it('is migrated on open: same portraits, same duplicate checks, and pending events are folded in', async () => {
    const path = join(dir, 'version1.duckdb');
    const appid = freshAppid();
    const other = freshAppid();
    const events = oldEvents();
    // A second app, sharing some device names (the shared dictionary of version 1 numbered them once for both).
    const otherEvents = oldEvents(777, ['Huawei P60', null, 'Xiaomi 13', 'OPPO R9']);
    const stored = events.flatMap((e, i) => [[appid, e], [other, otherEvents[i]]] as [string, VisitEvent | undefined][]);
    // The file as version 1 left it: events, and derived tables with one row of own values per user and day,
    // folded up to the 500th event (the rest still pending).
    const inst = await DuckDBInstance.create(path);
    const c = await inst.connect();
    await c.run('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)');
    const m1 = MIGRATIONS[0];
    if (typeof m1 !== 'string') throw new Error('migration 1 is SQL');
    await c.run(m1);
    await c.run('INSERT INTO schema_migrations VALUES (1, 0)');
    for (const [i, [app, e]] of stored.entries()) {
      if (!e) continue;
      await c.run(
        `INSERT INTO events (seq, appid, event_id, openid, time, day, gender, age, age_bucket, platform, platform_id, brand, model,
           device, province, city, ip, type, page, scene, session, stay, props, received_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8, NULL, $9, NULL, NULL, $10, $11, $12, NULL, 'visit', NULL, NULL, NULL, NULL, NULL, 0)`,
        [BigInt(i + 1), app, e.eventId, e.openid, BigInt(e.time), e.day, e.gender, e.ageBucket, e.platformId, e.device, e.province, e.city],
      );
    }
    const folded = 500;
    const B = VALUE_BITS;
    await c.run(`INSERT INTO devices SELECT row_number() OVER (ORDER BY name), name FROM (SELECT DISTINCT device AS name FROM events WHERE seq <= ${folded} AND device IS NOT NULL)`);
    await c.run(`INSERT INTO users SELECT appid, openid, row_number() OVER (ORDER BY appid DESC, openid), min(day) FROM events WHERE seq <= ${folded} GROUP BY appid, openid`);
    await c.run(
      `INSERT INTO user_days
       SELECT e.appid, u.uid, e.day, e.day = u.first_day,
         max(CASE WHEN e.gender > 0 THEN (e.time << ${B}) | e.gender ELSE 0 END),
         max(CASE WHEN e.age_bucket > 0 THEN (e.time << ${B}) | e.age_bucket ELSE 0 END),
         max(CASE WHEN e.platform_id > 0 THEN (e.time << ${B}) | e.platform_id ELSE 0 END),
         max(CASE WHEN e.province > 0 THEN (e.time << ${B}) | e.province ELSE 0 END),
         max(CASE WHEN e.city > 0 THEN (e.time << ${B}) | e.city ELSE 0 END),
         max(CASE WHEN dv.id IS NOT NULL THEN (e.time << ${B}) | dv.id ELSE 0 END)
       FROM events e JOIN users u ON u.appid = e.appid AND u.openid = e.openid LEFT JOIN devices dv ON dv.name = e.device
       WHERE e.seq <= ${folded} GROUP BY e.appid, u.uid, e.day, u.first_day`,
    );
    await c.run(`UPDATE derive_state SET last_seq = ${folded}`);
    c.closeSync();
    inst.closeSync();

    const s = await DuckDBStore.create(path);
    try {
      for (const [begin, len] of [[BASE_DAY, 30], [BASE_DAY + 10, 30], [BASE_DAY + 20, 7], [BASE_DAY + 33, 7], [BASE_DAY + 5, 1], [BASE_DAY + 39, 1]] as const) {
        const w = { begin, end: begin + len - 1 };
        expect(canonical(await s.portrait(appid, w)), JSON.stringify(w)).toEqual(canonical(referencePortrait(events, w)));
        expect(canonical(await s.portrait(other, w)), JSON.stringify(w)).toEqual(canonical(referencePortrait(otherEvents, w)));
      }
      // Each app has its own device dictionary now, numbered from 1.
      const c2 = await s.connect();
      const dict = (await c2.runAndReadAll('SELECT n.appid, d.id, d.name FROM app_devices d JOIN app_numbers n ON n.app = d.app ORDER BY 1, 2')).getRows();
      c2.closeSync();
      expect(dict.filter((r) => r[0] === other).map((r) => r[1])).toEqual([1, 2, 3]);
      expect(dict.filter((r) => r[0] === appid).map((r) => r[1])).toEqual([1, 2, 3]);
      const again = events.filter((e) => e.eventId !== null).slice(0, 3);
      const r = await s.append(appid, [...again, visit({ openid: 'new', time: BASE_MS + 5, eventId: 'brand-new' })]);
      expect(r).toEqual({ accepted: 1, duplicates: [0, 1, 2] });
    } finally {
      await s.close();
    }
  });
});

describe('group commit', () => {
  it('stores concurrent appends of several apps in shared commits, each answered as if it had been alone', async () => {
    const path = join(dir, 'group.duckdb');
    let s = await DuckDBStore.create(path);
    const apps = [freshAppid(), freshAppid(), freshAppid()];
    // Already stored: x-0 of the first app.
    await s.append(apps[0] ?? '', [visit({ openid: 'u', time: BASE_MS + 1, eventId: 'x-0' })]);
    const before = s.appendStats();
    // 60 concurrent batches of 20 events. Batch k of an app repeats the ids of batch k - 3 of the same app (a retry),
    // and every batch repeats one id inside itself.
    const batches = Array.from({ length: 60 }, (_, k) => {
      const appid = apps[k % 3] ?? '';
      const round = Math.floor(k / 3);
      const idRound = round % 5 === 4 ? round - 1 : round;
      const events = Array.from({ length: 20 }, (_, i) =>
        visit({ openid: `u${k}-${i}`, time: BASE_MS + k * 1000 + i, eventId: `x-${idRound * 20 + Math.min(i, 18)}` }),
      );
      return { appid, events };
    });
    const results = await Promise.all(batches.map((b) => s.append(b.appid, b.events)));
    const after = s.appendStats();
    expect(after.batches - before.batches).toBe(60);
    // Shared: far fewer commits than batches.
    expect(after.commits - before.commits).toBeLessThan(30);
    for (let k = 0; k < 60; k++) {
      const r = results[k];
      const round = Math.floor(k / 3);
      if (round % 5 === 4) {
        // A retry of the previous round's batch: every event is a duplicate.
        expect(r, `batch ${k}`).toEqual({ accepted: 0, duplicates: Array.from({ length: 20 }, (_, i) => i) });
      } else if (k === 0) {
        // x-0 was stored before, and event 19 repeats event 18's id.
        expect(r).toEqual({ accepted: 18, duplicates: [0, 19] });
      } else {
        expect(r, `batch ${k}`).toEqual({ accepted: 19, duplicates: [19] });
      }
    }
    const total = results.reduce((n, r) => n + r.accepted, 0);
    expect(await s.countEvents(apps[0] ?? '') + (await s.countEvents(apps[1] ?? '')) + (await s.countEvents(apps[2] ?? ''))).toBe(total + 1);
    // Every acknowledged event is in the file after a reopen.
    await s.close();
    s = await DuckDBStore.create(path);
    let stored = 0;
    for (const a of apps) stored += await s.countEvents(a);
    expect(stored).toBe(total + 1);
    await s.close();
  });

  it('fails only the batch that cannot be stored when a shared commit fails', async () => {
    const s = await DuckDBStore.create(join(dir, 'group-fail.duckdb'));
    try {
      const appid = freshAppid();
      // age 300 does not fit the UTINYINT column: the appender refuses that row.
      const bad = visit({ openid: 'bad', time: BASE_MS + 1, age: 300 });
      const answers = await Promise.allSettled([
        s.append(appid, [visit({ openid: 'a', time: BASE_MS + 1 })]),
        s.append(appid, [visit({ openid: 'b', time: BASE_MS + 2 })]),
        s.append(appid, [bad]),
        s.append(appid, [visit({ openid: 'c', time: BASE_MS + 3 })]),
      ]);
      expect(answers.map((a) => a.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
      expect(await s.countEvents(appid)).toBe(3);
    } finally {
      await s.close();
    }
  });
});
