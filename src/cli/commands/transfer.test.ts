/**
 * `datacube import` runs ingest's checks (issue 10): an export line ingest would refuse is reported, not stored,
 * so it cannot break portraits; and an imported app cannot take another app's cloud env.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config.ts';
import { ManualClock } from '../../domain/clock.ts';
import { dayOf } from '../../domain/day.ts';
import type { VisitEvent } from '../../domain/event.ts';
import { processRecord } from '../../ingest/index.ts';
import { openServices, type Services } from '../../services.ts';
import type { Io } from '../command.ts';
import { LocalBackend } from '../localBackend.ts';
import { exportApp as exportWith, importFile as importWith } from './transfer.ts';

const dir = mkdtempSync(join(tmpdir(), 'datacube-transfer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const NOW = Date.UTC(2026, 10, 28, 2, 0, 0);
const DAY = dayOf(NOW) - 1;

const quiet: Io = { out: () => undefined, err: () => undefined, interactive: false };
// The commands' functions on the local store (the services are closed by the test, not by the backend).
const exportApp = (s: Services, appid: string, file: string) => exportWith(new LocalBackend(s), quiet, appid, file);
const importFile = (s: Services, file: string) => importWith(new LocalBackend(s), quiet, file);

function event(rec: Record<string, unknown>): VisitEvent {
  const r = processRecord(rec, { now: NOW });
  if (!r.ok) throw new Error(r.reason);
  return r.event;
}

describe('datacube import', () => {
  it('refuses, line by line, the events ingest would refuse, and stores the others unchanged', async () => {
    const clock = new ManualClock(NOW);
    const src = await openServices(loadConfig({}, { dataDir: join(dir, 'src'), logLevel: 'silent' }), clock);
    const { app } = await src.auth.createApp({ name: 'from' });
    await src.ingest.ingest(app.appid, [{ openid: 'u1', time: NOW - 86_400_000, gender: 1, brand: 'OPPO', model: 'R9', province: '广东', city: '广州' }]);
    const file = join(dir, 'export.ndjson');
    await exportApp(src, app.appid, file);
    await src.close();

    const good = event({ openid: 'u2', time: NOW - 3_600_000, gender: 2, event_id: 'g1' });
    const lines = (await import('node:fs')).readFileSync(file, 'utf8').trimEnd().split('\n');
    lines.push(
      JSON.stringify(good),
      JSON.stringify({ ...good, eventId: 'bad-time', time: 9e15 }), // what broke every later derive, for all apps
      JSON.stringify({ ...good, eventId: 'bad-city', city: 4403, province: 11 }), // Shenzhen is not in Beijing
      JSON.stringify({ ...good, eventId: 'bad-day', day: good.day + 1 }),
      JSON.stringify({ ...good, eventId: 'bad-device', device: 'Somebody Else' }),
      JSON.stringify({ ...good, eventId: 'x\ud800' }),
      '{not json',
    );
    writeFileSync(file, `${lines.join('\n')}\n`);

    const dst = await openServices(loadConfig({}, { dataDir: join(dir, 'dst'), logLevel: 'silent', masterKey: undefined }), clock);
    try {
      const r = await importFile(dst, file);
      expect(r).toMatchObject({ appid: app.appid, created: true, accepted: 2, rejected: 6 });
      expect(r.errors.map((e) => [e.line, e.reason.split(':')[0]])).toEqual([
        [4, 'time'],
        [5, 'city'],
        [6, 'day'],
        [7, 'device'],
        [8, 'event_id'],
        [9, 'not JSON'],
      ]);
      const p = await dst.portrait.portrait(app.appid, { begin: DAY, end: DAY });
      expect(p.visit_uv.genders.reduce((a, x) => a + x.value, 0)).toBe(1);
      // Another app's portrait is fine too.
      const other = await dst.auth.createApp({ name: 'other' });
      await dst.ingest.ingest(other.app.appid, [{ openid: 'o', time: NOW - 86_400_000 }]);
      expect((await dst.portrait.portrait(other.app.appid, { begin: DAY, end: DAY })).visit_uv.genders).toEqual([{ id: 0, name: '未知', value: 1 }]);
    } finally {
      await dst.close();
    }
  });

  it('refuses an app whose cloud env another app already has', async () => {
    const clock = new ManualClock(NOW);
    const src = await openServices(loadConfig({}, { dataDir: join(dir, 'src2'), logLevel: 'silent' }), clock);
    const { app } = await src.auth.createApp({ name: 'taker', env: 'shared-env' });
    const file = join(dir, 'export2.ndjson');
    await exportApp(src, app.appid, file);
    await src.close();
    const dst = await openServices(loadConfig({}, { dataDir: join(dir, 'dst2'), logLevel: 'silent' }), clock);
    try {
      const owner = await dst.auth.createApp({ name: 'owner', env: 'shared-env' });
      await expect(importFile(dst, file)).rejects.toThrow(`the cloud env "shared-env" already belongs to ${owner.app.appid}`);
      expect(await dst.store.getApp(app.appid)).toBeUndefined();
      expect((await dst.store.getAppByEnv('shared-env'))?.appid).toBe(owner.app.appid);
    } finally {
      await dst.close();
    }
  });
});
