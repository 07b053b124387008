import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../domain/clock.ts';
import { dayOf, formatDay, startOfDay } from '../domain/day.ts';
import type { VisitEvent } from '../domain/event.ts';
import { findBytes } from '../lifecycle/testing.ts';
import { buildPortrait } from '../portrait/buildPortrait.ts';
import { duckdbPath } from '../store/index.ts';
import { DuckDBStore } from '../store/duckdb/DuckDBStore.ts';
import { referencePortrait } from '../store/referencePortrait.ts';
import { startTestServer, type TestServer } from './testing.ts';

// "Now" is 2026-11-28 10:00 Shanghai, so yesterday is 20261127.
const NOW = Date.UTC(2026, 10, 28, 2, 0, 0);
const TODAY = dayOf(NOW);
const PORTRAIT = '/datacube/getweanalysisappiduserportrait';

/** The rest of the analysis family: path, begin and end (yesterday, the last whole week and month before now). */
const ANALYSIS_CALLS: readonly (readonly [string, string, string])[] = [
  ['getweanalysisappiddailysummarytrend', formatDay(TODAY - 1), formatDay(TODAY - 1)],
  ['getweanalysisappiddailyvisittrend', formatDay(TODAY - 1), formatDay(TODAY - 1)],
  ['getweanalysisappidweeklyvisittrend', '20261116', '20261122'],
  ['getweanalysisappidmonthlyvisittrend', '20261001', '20261031'],
  ['getweanalysisappidvisitdistribution', formatDay(TODAY - 1), formatDay(TODAY - 1)],
  ['getweanalysisappidvisitpage', formatDay(TODAY - 1), formatDay(TODAY - 1)],
  ['getweanalysisappiddailyretaininfo', formatDay(TODAY - 8), formatDay(TODAY - 8)],
  ['getweanalysisappidweeklyretaininfo', '20261109', '20261115'],
];

const iso = (day: number, minute: number) => new Date(startOfDay(day) + minute * 60_000).toISOString();

/** Keeps every log line. */
class Lines extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _e: BufferEncoding, cb: () => void): void {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    cb();
  }
}

/** Visits of `openid` on `days` days before today, carrying the openid in its event ids, sessions and extra fields. */
function visitsOf(openid: string, days: number, salt: number): Record<string, unknown>[] {
  return Array.from({ length: days }, (_, i) => ({
    openid,
    time: iso(TODAY - 1 - ((i * 7 + salt) % 33), 60 + i * 3 + salt),
    event_id: `evt-${openid}-${i}`,
    session: `ses-${openid}-${i % 3}`,
    note: `note-${openid}`,
    // Pages and kinds for the analysis family (a page of the user's own carries the openid into its tables).
    page: i % 4 === 3 ? `pages/me/${openid}` : ['pages/index/index', 'pages/list/list', 'pages/detail/detail'][(i + salt) % 3],
    type: i % 5 === 4 ? 'share' : 'visit',
    stay: (i * 13 + salt) % 90,
    scene: [1001, 1089, 1007][(i + salt) % 3],
    gender: (i + salt) % 3,
    age: 18 + ((i + salt) % 40),
    province: ['广东', '北京', '浙江'][(i + salt) % 3],
    platform: ['ios', 'android'][(i + salt) % 2],
  }));
}

/** WeChat's JSON for the window, from the in-memory oracle over `events`. */
function expected(events: readonly VisitEvent[], begin: number, end: number): unknown {
  return JSON.parse(JSON.stringify(buildPortrait({ begin, end }, referencePortrait(events, { begin, end }))));
}

async function stored(t: TestServer, appid: string): Promise<VisitEvent[]> {
  const out: VisitEvent[] = [];
  await t.services.store.exportEvents(appid, async (b) => void out.push(...b));
  return out;
}

for (const variant of ['as configured', 'strings stored uncompressed'] as const) {
  describe(`POST /v1/users/delete on DuckDB (${variant}): gone from every answer and from every file, server running`, () => {
    const clock = new ManualClock(NOW);
    const dir = mkdtempSync(join(tmpdir(), 'datacube-delete-'));
    const logs = new Lines();
    let t: TestServer;
    let appid: string;
    let token: string;
    /** An app that got the same events except the victim's: the oracle for the analysis family. */
    let witnessToken: string;
    const victim = `vic_${randomBytes(10).toString('hex')}`;
    const other = `ctl_${randomBytes(10).toString('hex')}`;
    const crowd = Array.from({ length: 12 }, (_, i) => `user${i}_${randomBytes(4).toString('hex')}`);

    beforeAll(async () => {
      // Uncompressed, every string is stored as its own bytes: each field of the victim is then findable in the file
      // before the deletion, so not finding it afterwards means it is gone, not merely compressed.
      const store =
        variant === 'strings stored uncompressed' ? await DuckDBStore.create(duckdbPath(dir), { settings: { force_compression: 'uncompressed' } }) : undefined;
      t = await startTestServer({ clock, dataDir: dir, server: { logger: { level: 'info', stream: logs } }, ...(store ? { store } : {}) });
      const app = await t.newApp();
      appid = app.appid;
      token = await t.token(app.appid, app.secret);
      const records = [...visitsOf(victim, 30, 1), ...visitsOf(other, 20, 2), ...crowd.flatMap((u, i) => visitsOf(u, 8, i + 3))];
      const r = await t.post(`/v1/events?access_token=${token}`, records);
      expect(r.json).toMatchObject({ errcode: 0, accepted: records.length, rejected: [] });
      const witness = await t.newApp();
      witnessToken = await t.token(witness.appid, witness.secret);
      const theirs = records.filter((e) => e.openid !== victim);
      expect((await t.post(`/v1/events?access_token=${witnessToken}`, theirs)).json).toMatchObject({ errcode: 0, accepted: theirs.length });
    });
    afterAll(async () => {
      await t.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('refuses bad requests with WeChat errcodes and deletes nothing', async () => {
      const before = await t.services.store.countEvents(appid);
      const cases: [unknown, number][] = [
        ['{not json', 47001],
        [{}, 47001],
        [{ openids: victim }, 47001],
        [{ openids: [] }, 47001],
        [{ openids: [victim, 'has space'] }, 47001],
        [{ openids: [victim, 42] }, 47001],
        [{ openids: [victim, ...Array.from({ length: 1000 }, (_, i) => `x${i}`)] }, 45002],
      ];
      for (const [body, errcode] of cases) {
        const r = await t.post(`/v1/users/delete?access_token=${token}`, body);
        expect(r.json.errcode, JSON.stringify(body).slice(0, 60)).toBe(errcode);
        expect(String(r.json.errmsg)).toMatch(/rid: /);
      }
      expect((await t.post('/v1/users/delete', { openids: [victim] })).json.errcode).toBe(41001);
      expect((await t.post('/v1/users/delete?access_token=nope', { openids: [victim] })).json.errcode).toBe(40001);
      const huge = JSON.stringify({ openids: [victim], pad: 'x'.repeat(300 * 1024) });
      expect((await t.post(`/v1/users/delete?access_token=${token}`, huge)).json.errcode).toBe(45002);
      expect(await t.services.store.countEvents(appid)).toBe(before);
      expect(findBytes(dir, [victim]).get(victim)?.length).toBeGreaterThan(0);
    });

    it('answers as if the user had never been seen, drops cached answers, leaves no byte of the user in the data directory', async () => {
      const all = await stored(t, appid);
      const windows = [
        [TODAY - 1, TODAY - 1],
        [TODAY - 7, TODAY - 1],
        [TODAY - 30, TODAY - 1],
        [TODAY - 33, TODAY - 27],
      ] as const;
      // Answers before, so that they are cached.
      for (const [b, e] of windows) {
        const r = await t.post(`${PORTRAIT}?access_token=${token}`, { begin_date: formatDay(b), end_date: formatDay(e) });
        expect(r.json).toEqual(expected(all, b, e));
      }
      for (const [path, b, e] of ANALYSIS_CALLS) {
        const r = await t.post(`/datacube/${path}?access_token=${token}`, { begin_date: b, end_date: e });
        expect(r.json.errcode ?? 0, path).toBe(0);
      }
      // On disk before: in the file after a checkpoint (every field, when uncompressed).
      // (Folded in first: a background derive or analysis fold in progress would make the checkpoint refuse.)
      const duck = t.services.store as DuckDBStore;
      await duck.derive();
      const c = await duck.connect();
      for (let attempt = 0; ; attempt++) {
        try {
          await c.run('CHECKPOINT');
          break;
        } catch (e) {
          if (attempt >= 20 || !/other write transactions/.test(String(e))) throw e;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      c.closeSync();
      const needles = variant === 'strings stored uncompressed' ? [victim, `evt-${victim}-7`, `ses-${victim}-1`, `note-${victim}`] : [victim];
      for (const [n, files] of findBytes(dir, needles)) expect(files.join(' '), n).toMatch(/datacube\.duckdb/);

      const r = await t.post(`/v1/users/delete?access_token=${token}`, { openids: [victim, 'never_seen_here'] });
      expect(r.json).toEqual({ errcode: 0, errmsg: 'ok', users: 1, events: 30 });

      // Every byte of the user is gone from every file, while the server still runs; the others' are still there.
      const after = findBytes(dir, [...needles, other, `note-${other}`]);
      for (const n of needles) expect(after.get(n), n).toEqual([]);
      expect(after.get(other)?.length, 'another user is still on disk').toBeGreaterThan(0);

      const kept = all.filter((e) => e.openid !== victim);
      expect(await stored(t, appid)).toHaveLength(kept.length);
      for (const [b, e] of windows) {
        const res = await t.post(`${PORTRAIT}?access_token=${token}`, { begin_date: formatDay(b), end_date: formatDay(e) });
        expect(res.json, `${b}-${e}`).toEqual(expected(kept, b, e));
      }

      // The analysis family (cached before) answers as an app that never saw the user does.
      for (const [path, b, e] of ANALYSIS_CALLS) {
        const body = { begin_date: b, end_date: e };
        const mine = await t.post(`/datacube/${path}?access_token=${token}`, body);
        expect(mine.json.errcode ?? 0, `${path} ${JSON.stringify(mine.json)}`).toBe(0);
        expect(mine.json, path).toEqual((await t.post(`/datacube/${path}?access_token=${witnessToken}`, body)).json);
      }

      // Logged with counts, never with an openid.
      const line = logs.lines.find((l) => l.includes('"delete_users"'));
      expect(line && JSON.parse(line)).toMatchObject({ lifecycle: { op: 'delete_users', appid, asked: 2, users: 1, events: 30 } });
      expect(logs.lines.filter((l) => l.includes(victim))).toEqual([]);
    });

    it('takes the user back as a new user, with the same event ids', async () => {
      const again = visitsOf(victim, 3, 1).map((v, i) => ({ ...v, time: iso(TODAY - 1, 600 + i) }));
      const r = await t.post(`/v1/events?access_token=${token}`, again);
      expect(r.json).toMatchObject({ errcode: 0, accepted: 3, duplicates: 0 });
      const all = await stored(t, appid);
      const res = await t.post(`${PORTRAIT}?access_token=${token}`, { begin_date: formatDay(TODAY - 1), end_date: formatDay(TODAY - 1) });
      expect(res.json).toEqual(expected(all, TODAY - 1, TODAY - 1));
      const newUsers = (res.json.visit_uv_new as { genders: { value: number }[] }).genders.reduce((s, g) => s + g.value, 0);
      expect(newUsers).toBe(1);
    });
  });
}

describe('retention through the API', () => {
  const clock = new ManualClock(NOW);
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ clock });
  });
  afterAll(() => t.stop(true));

  it('refuses events older than the app keeps and stores the rest', async () => {
    const app = await t.newApp();
    await t.services.auth.updateApp(app.appid, { retainDays: 31 });
    await expect(t.services.auth.updateApp(app.appid, { retainDays: 30 })).rejects.toThrow(/at least 31/);
    const token = await t.token(app.appid, app.secret);
    const r = await t.post(`/v1/events?access_token=${token}`, [
      { openid: 'a', time: iso(TODAY - 40, 5) },
      { openid: 'b', time: iso(TODAY - 31, 5) },
      { openid: 'c', time: iso(TODAY - 32, 5) },
    ]);
    expect(r.json).toMatchObject({ errcode: 0, accepted: 1 });
    const rejected = r.json.rejected as { index: number; errcode: number; errmsg: string }[];
    expect(rejected.map((x) => x.index)).toEqual([0, 2]);
    expect(rejected[0]?.errmsg).toMatch(/^time: older than the app keeps \(retain_days 31: events before \d{8} are dropped\)/);
  });
});
