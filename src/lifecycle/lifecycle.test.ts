import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sealer } from '../auth/index.ts';
import { ManualClock } from '../domain/clock.ts';
import { dayOf, startOfDay } from '../domain/day.ts';
import { isWeChatError } from '../domain/errors.ts';
import { BASE_DAY, freshAppid } from '../store/contract.suite.ts';
import { DuckDBStore } from '../store/duckdb/DuckDBStore.ts';
import { lifecycleEvents, windowsWithin } from '../store/lifecycle.contract.suite.ts';
import type { AppRecord } from '../store/records.ts';
import { canonical, referencePortrait } from '../store/referencePortrait.ts';
import { BackupError, readBackup, writeBackup } from './backupFile.ts';
import { checkOpenids, LifecycleService, NotEmptyError } from './LifecycleService.ts';

const dir = mkdtempSync(join(tmpdir(), 'datacube-lifecycle-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const DAY = 86_400_000;
const KEY = new Sealer('11'.repeat(32)).fingerprint();
let files = 0;
const file = (name: string) => join(dir, `${++files}-${name}`);

function appRecord(appid: string, retainDays: number | null = null): AppRecord {
  return { appid, name: 'n', secretHash: 'scrypt$00$11', secretSealed: 'v1.a.b.c', env: appid, dailyQuota: 10, createdAt: 1, collect: true, retainDays };
}

function service(store: DuckDBStore, clock: ManualClock, key = KEY) {
  const logs: { fields: Record<string, unknown>; message: string }[] = [];
  const invalidated: string[] = [];
  const s = new LifecycleService(store, clock, { keyFingerprint: key, invalidate: (a) => void invalidated.push(a) });
  s.useLog((fields, message) => logs.push({ fields, message }));
  return { s, logs, invalidated };
}

describe('backup file', () => {
  async function sample(path: string): Promise<void> {
    await writeBackup(createWriteStream(path), { created_at: 'then', backend: 'test', key: KEY }, async (sink) => {
      await sink.app(appRecord('wx0000000000000001', 40));
      await sink.token({ hash: 'h', appid: 'wx0000000000000001', kind: 'stable', issuedAt: 1, expiresAt: 2, sealed: 'box' });
      await sink.usage({ appid: 'wx0000000000000001', api: 'getUserPortrait', day: 5, calls: 3 });
      await sink.firstSeen('wx0000000000000001', [{ openid: 'old', day: 3 }]);
      await sink.events('wx0000000000000001', lifecycleEvents(1, 3, 4));
      return { apps: 1, tokens: 1, usage: 1, firstSeen: 1, events: lifecycleEvents(1, 3, 4).length };
    });
  }

  it('reads back what was written, record for record', async () => {
    const path = file('ok.gz');
    await sample(path);
    expect(readFileSync(path).subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    const got = { apps: [] as AppRecord[], tokens: 0, usage: 0, kept: [] as unknown[], events: 0 };
    const { header, counts } = await readBackup(createReadStream(path), {
      app: async (a) => void got.apps.push(a),
      token: async () => void got.tokens++,
      usage: async () => void got.usage++,
      firstSeen: async (appid, rows) => void got.kept.push({ appid, rows }),
      events: async (_a, e) => void (got.events += e.length),
    });
    expect(header).toMatchObject({ datacube_backup: 1, created_at: 'then', backend: 'test', key: KEY });
    expect(counts).toEqual({ apps: 1, tokens: 1, usage: 1, first_seen: 1, events: lifecycleEvents(1, 3, 4).length });
    expect(got.apps).toEqual([appRecord('wx0000000000000001', 40)]);
    expect(got.kept).toEqual([{ appid: 'wx0000000000000001', rows: [{ openid: 'old', day: 3 }] }]);
    expect(got.events).toBe(counts.events);
  });

  it('refuses a backup cut short, damaged, or not a backup at all', async () => {
    const path = file('whole.gz');
    await sample(path);
    const bytes = readFileSync(path);
    const cut = file('cut.gz');
    writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await expect(readBackup(createReadStream(cut))).rejects.toThrow(BackupError);
    const text = file('plain.ndjson');
    const lines = [JSON.stringify({ datacube_backup: 1, created_at: 'x', backend: 'b', key: 'k' }), JSON.stringify({ app: appRecord('wx1') })];
    writeFileSync(text, lines.join('\n'));
    await expect(readBackup(createReadStream(text))).rejects.toThrow(/incomplete: it stops before its closing counts/);
    writeFileSync(text, gzipSync([...lines, JSON.stringify({ end: { apps: 2, tokens: 0, usage: 0, first_seen: 0, events: 0 } })].join('\n')));
    await expect(readBackup(createReadStream(text))).rejects.toThrow(/damaged: it says 2 apps but holds 1/);
    writeFileSync(text, [...lines, '{"sneaky":{}}'].join('\n'));
    await expect(readBackup(createReadStream(text))).rejects.toThrow(/line 3: unknown record "sneaky"/);
    writeFileSync(text, [lines[0], JSON.stringify({ event: { appid: 'wx1', openid: 'u' } })].join('\n'));
    await expect(readBackup(createReadStream(text))).rejects.toThrow(/line 2: "eventId" must be a string or null/);
    writeFileSync(text, '{"datacube_export":1}\n');
    await expect(readBackup(createReadStream(text))).rejects.toThrow(/not a datacube backup/);
    await expect(readBackup(createReadStream(join(dir, 'missing.gz')))).rejects.toThrow(/could not be read/);
  });
});

describe('LifecycleService on DuckDB', () => {
  // Now: BASE_DAY + 60, 10:00 Shanghai.
  const clock = new ManualClock(startOfDay(BASE_DAY + 60) + 10 * 3_600_000);
  let store: DuckDBStore;
  beforeAll(async () => {
    store = await DuckDBStore.create(file('service.duckdb'));
  });
  afterAll(() => store.close());

  it('checks deletion requests: a list of 1 to 1,000 openids, an app that exists; nothing deleted otherwise', async () => {
    const { s, logs } = service(store, clock);
    const appid = freshAppid();
    await store.createApp(appRecord(appid));
    await store.append(appid, lifecycleEvents(3, 4, 10));
    const n = await store.countEvents(appid);
    const code = async (p: Promise<unknown>) => p.then(() => 0, (e: unknown) => (isWeChatError(e) ? e.errcode : -99));
    expect(await code(s.deleteUsers(appid, 'u1'))).toBe(47001);
    expect(await code(s.deleteUsers(appid, []))).toBe(47001);
    expect(await code(s.deleteUsers(appid, ['u1', '']))).toBe(47001);
    expect(await code(s.deleteUsers(appid, Array.from({ length: 1001 }, (_, i) => `u${i}`)))).toBe(45002);
    expect(await code(s.deleteUsers('wx00000000000000ff', ['u1']))).toBe(40013);
    expect(await store.countEvents(appid)).toBe(n);
    expect(checkOpenids(Array.from({ length: 1000 }, (_, i) => `u${i}`))).toHaveLength(1000);
    const r = await s.deleteUsers(appid, ['u1', 'u2']);
    expect(r.users).toBe(2);
    expect(await store.countEvents(appid)).toBe(n - r.events);
    expect(logs.map((l) => l.fields)).toEqual([expect.objectContaining({ op: 'delete_users', appid, asked: 2, users: 2, events: r.events })]);
    expect(JSON.stringify(logs)).not.toMatch(/"u1"|"u2"/);
  });

  it('prunes each app by its own retention, once a Shanghai day, and the daily job does it by itself', async () => {
    const { s, logs, invalidated } = service(store, clock);
    const kept40 = freshAppid();
    const keepAll = freshAppid();
    await store.createApp(appRecord(kept40, 40));
    await store.createApp(appRecord(keepAll));
    const events = lifecycleEvents(7, 6, 60);
    await store.append(kept40, events);
    await store.append(keepAll, events);
    const today = dayOf(clock.now());
    const first = today - 40;
    const r = await s.pruneIfDue();
    const mine = r?.find((p) => p.appid === kept40);
    expect(mine).toMatchObject({ appid: kept40, retain_days: 40, events: events.filter((e) => e.day < first).length });
    expect(r?.some((p) => p.appid === keepAll)).toBe(false);
    expect(invalidated).toContain(kept40);
    expect(await store.countEvents(kept40)).toBe(events.filter((e) => e.day >= first).length);
    expect(await store.countEvents(keepAll)).toBe(events.length);
    for (const w of windowsWithin(first, BASE_DAY + 59, 6)) {
      expect(canonical(await store.portrait(kept40, w))).toEqual(canonical(referencePortrait(events, w)));
    }
    // Same day: nothing to do; the next day, one more day goes.
    expect(await s.pruneIfDue()).toBeUndefined();
    clock.advance(DAY);
    const next = await s.pruneIfDue();
    expect(next?.find((p) => p.appid === kept40)?.events).toBe(events.filter((e) => e.day === first).length);
    expect(logs.some((l) => l.fields.op === 'prune' && l.fields.appid === kept40)).toBe(true);

    // The job: a day later again, it prunes on its own.
    clock.advance(DAY);
    const left = await store.countEvents(kept40);
    s.startDailyPrune(20, 10);
    const deadline = Date.now() + 30_000;
    while ((await store.countEvents(kept40)) === left && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
    await s.stop();
    expect(await store.countEvents(kept40)).toBe(events.filter((e) => e.day >= first + 2).length);
  });

  it('backs up while running and restores into an empty store only; sealed secrets are said readable with the same key', async () => {
    const { s, logs } = service(store, clock);
    const appid = freshAppid();
    await store.createApp(appRecord(appid, 45));
    const events = lifecycleEvents(11, 8, 60, 'b');
    await store.append(appid, events);
    await s.prune();
    const path = file('backup.gz');
    const b = await s.backup(createWriteStream(path));
    expect(b.events).toBe(await store.contents().then((c) => c.events));
    expect(b.first_seen).toBeGreaterThan(0);

    // Not into a store that holds anything (this one): nothing written.
    const before = await store.contents();
    await expect(s.restore(() => createReadStream(path))).rejects.toThrow(NotEmptyError);
    expect(await store.contents()).toEqual(before);

    const target = await DuckDBStore.create(file('restored.duckdb'));
    try {
      const other = service(target, clock, new Sealer('22'.repeat(32)).fingerprint());
      const r = await other.s.restore(() => createReadStream(path));
      expect(r).toMatchObject({ apps: b.apps, tokens: b.tokens, events: b.events, first_seen: b.first_seen, secrets_readable: false });
      for (const w of windowsWithin(dayOf(clock.now()) - 45, BASE_DAY + 59, 5)) {
        expect(canonical(await target.portrait(appid, w))).toEqual(canonical(await store.portrait(appid, w)));
      }
      expect(other.logs.map((l) => l.fields.op)).toEqual(['restore']);
    } finally {
      await target.close();
    }
    const again = await DuckDBStore.create(file('restored2.duckdb'));
    try {
      expect((await service(again, clock).s.restore(() => createReadStream(path))).secrets_readable).toBe(true);
    } finally {
      await again.close();
    }
    expect(logs.find((l) => l.fields.op === 'backup')?.fields).toMatchObject({ events: b.events, apps: b.apps });
    expect(JSON.stringify(logs)).not.toMatch(/"b\d+"/);
  });
});
