import { spawn, spawnSync } from 'node:child_process';
import { createReadStream, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dayOf, formatDay, startOfDay } from '../domain/day.ts';
import type { VisitEvent } from '../domain/event.ts';
import { readBackup } from '../lifecycle/backupFile.ts';
import { findBytes } from '../lifecycle/testing.ts';
import { buildPortrait } from '../portrait/buildPortrait.ts';
import { referencePortrait } from '../store/referencePortrait.ts';

// `datacube user delete`, `app update --retain-days`, `prune`, `backup` and `restore`: the real command in child
// processes, on real DuckDB files, directly and through a running server.

const BIN = resolve(import.meta.dirname, '../../bin/datacube.js');
const dir = mkdtempSync(join(tmpdir(), 'datacube-cli-personal-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ENV = { ...process.env, DATACUBE_LOG_LEVEL: 'silent' };
function run(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 180_000, env: ENV });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
function runAsync(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((res) => {
    const p = spawn(process.execPath, [BIN, ...args], { env: ENV });
    let out = '';
    let err = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.stderr.on('data', (b: Buffer) => (err += b.toString()));
    p.on('exit', (code) => res({ code, out, err }));
  });
}

const Y = dayOf(Date.now()) - 1;
const at = (d: number, minute: number) => new Date(startOfDay(d) + minute * 60_000).toISOString();

function newApp(data: string): { appid: string; secret: string } {
  const r = run(['app', 'create', '--name', 'shop', '--data', data]);
  expect(r.code, r.err).toBe(0);
  return JSON.parse(r.out) as { appid: string; secret: string };
}

async function backupEvents(file: string): Promise<{ appid: string; e: VisitEvent }[]> {
  const out: { appid: string; e: VisitEvent }[] = [];
  await readBackup(createReadStream(file), {
    app: async () => undefined,
    token: async () => undefined,
    usage: async () => undefined,
    firstSeen: async () => undefined,
    events: async (appid, events) => void out.push(...events.map((e) => ({ appid, e }))),
  });
  return out;
}

function portraitJson(data: string, appid: string, begin: number, end: number): unknown {
  const r = run(['portrait', '--appid', appid, '--begin', formatDay(begin), '--end', formatDay(end), '--json', '--data', data]);
  expect(r.code, r.err).toBe(0);
  return JSON.parse(r.out);
}
const expected = (events: readonly VisitEvent[], begin: number, end: number) =>
  JSON.parse(JSON.stringify(buildPortrait({ begin, end }, referencePortrait(events, { begin, end })))) as unknown;

describe('datacube user delete / app update --retain-days / prune / backup / restore', () => {
  it('works on the data directory directly, and refuses bad input clearly with nothing changed', () => {
    const data = join(dir, 'direct');
    const { appid } = newApp(data);
    const nd = join(dir, 'direct.ndjson');
    const lines = [];
    for (let d = 0; d < 50; d++) for (const u of ['keep1', 'keep2', 'gone1']) lines.push(JSON.stringify({ openid: u, time: at(Y - d, 60 + d), event_id: `${u}-${d}`, gender: 1 }));
    writeFileSync(nd, lines.join('\n'));
    expect(JSON.parse(run(['ingest', '--appid', appid, '--data', data, nd]).out)).toMatchObject({ accepted: 150 });

    const noApp = run(['user', 'delete', '--appid', 'wx00000000000000ff', '--openid', 'gone1', '--data', data]);
    expect(noApp.code).toBe(1);
    expect(noApp.err).toMatch(/no app wx00000000000000ff .*nothing was deleted/);
    const none = run(['user', 'delete', '--appid', appid, '--data', data]);
    expect(none.code).toBe(1);
    expect(none.err).toMatch(/--openid/);
    const bad = run(['user', 'delete', '--appid', appid, '--openid', 'gone1', '--openid', 'not an openid', '--data', data]);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/openids\[1\] is not an openid/);
    const list = join(dir, 'openids.txt');
    writeFileSync(list, ['gone1', ...Array.from({ length: 1500 }, (_, i) => `nobody${i}`)].join('\n'));
    const del = run(['user', 'delete', '--appid', appid, '--file', list, '--data', data]);
    expect(del.code, del.err).toBe(0);
    expect(JSON.parse(del.out)).toEqual({ appid, users: 1, events: 50 });
    expect(del.err).toMatch(/users deleted .*"users":1,"events":50/);
    expect(del.err).not.toMatch(/gone1/);
    expect(findBytes(data, ['gone1']).get('gone1')).toEqual([]);

    const low = run(['app', 'update', appid, '--retain-days', '30', '--data', data]);
    expect(low.code).toBe(1);
    expect(low.err).toMatch(/at least 31/);
    expect(run(['app', 'update', appid, '--retain-days', 'soon', '--data', data]).code).toBe(1);
    expect(JSON.parse(run(['app', 'list', '--data', data]).out)).toMatchObject({ appid, retainDays: null });
    const set = run(['app', 'update', appid, '--retain-days', '31', '--data', data]);
    expect(JSON.parse(set.out)).toMatchObject({ appid, retainDays: 31 });
    const pruned = run(['prune', '--data', data]);
    expect(pruned.code, pruned.err).toBe(0);
    // Days Y-49 … Y-31 go (today - 31 = Y - 30 is the first day kept): 19 days of 2 users.
    expect(JSON.parse(pruned.out)).toMatchObject({ appid, retain_days: 31, kept_from: formatDay(Y - 30), users: 2, events: 38 });
    expect(JSON.parse(run(['prune', '--data', data]).out)).toMatchObject({ events: 0 });
    expect(JSON.parse(run(['app', 'update', appid, '--retain-days', 'forever', '--data', data]).out)).toMatchObject({ retainDays: null });
    expect(run(['prune', '--data', data]).err).toMatch(/no app has a retention/);

    const file = join(dir, 'direct.backup.gz');
    const b = run(['backup', '--out', file, '--data', data]);
    expect(b.code, b.err).toBe(0);
    expect(JSON.parse(b.out)).toMatchObject({ file, apps: 1, events: 62, first_seen: 2 });
    const into = run(['restore', file, '--data', data]);
    expect(into.code).toBe(1);
    expect(into.err).toMatch(/restore needs an empty store, and this one holds 1 apps, \d+ tokens and 62 events/);
    const damaged = join(dir, 'damaged.gz');
    writeFileSync(damaged, readFileSync(file).subarray(0, 200));
    const r2 = run(['restore', damaged, '--data', join(dir, 'never')]);
    expect(r2.code).toBe(1);
    expect(existsSync(join(dir, 'never'))).toBe(false);
    const fresh = join(dir, 'restored');
    const r = run(['restore', file, '--data', fresh]);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ apps: 1, events: 62, first_seen: 2, secrets_readable: false });
    expect(r.err).toMatch(/master\.key/);
    for (const [b0, e0] of [[Y, Y], [Y - 6, Y], [Y - 29, Y]] as const) expect(portraitJson(fresh, appid, b0, e0)).toEqual(portraitJson(data, appid, b0, e0));
  }, 300_000);

  it('goes through a running server: a backup during ingest holds every event acknowledged before it; deletion, retention and restore too', async () => {
    const data = join(dir, 'served');
    const server = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--data', data], { env: { ...process.env, DATACUBE_LOG_LEVEL: 'info' } });
    let logs = '';
    server.stdout.on('data', (b: Buffer) => (logs += b.toString()));
    server.stderr.on('data', (b: Buffer) => (logs += b.toString()));
    const file = join(dir, 'served.backup.gz');
    const sent: VisitEvent[] = [];
    try {
      const serverFile = join(data, 'server.json');
      for (let i = 0; i < 300 && !existsSync(serverFile); i++) await new Promise((r) => setTimeout(r, 100));
      const { url } = JSON.parse(readFileSync(serverFile, 'utf8')) as { url: string };
      const { appid, secret } = newApp(data);
      const tok = (await (await fetch(`${url}/cgi-bin/token?grant_type=client_credential&appid=${appid}&secret=${secret}`)).json()) as { access_token: string };
      const acked = new Set<string>();
      let stop = false;
      let batches = 0;
      const ingest = (async () => {
        for (let b = 0; !stop && b < 2000; b++) {
          const batch = Array.from({ length: 40 }, (_, i) => ({
            openid: i % 10 === 0 ? 'gone_during_backup' : `c${(b * 13 + i) % 37}`,
            time: at(Y - ((b + i) % 20), (b * 7 + i) % 1400),
            event_id: `e${b}-${i}`,
            gender: (b + i) % 3,
            province: ['广东', '北京'][i % 2],
          }));
          const r = (await (await fetch(`${url}/v1/events?access_token=${tok.access_token}`, { method: 'POST', body: JSON.stringify(batch) })).json()) as { errcode: number; accepted: number };
          expect(r).toMatchObject({ errcode: 0, accepted: 40 });
          for (const x of batch) acked.add(x.event_id);
          batches++;
        }
      })();
      while (batches < 5) await new Promise((r) => setTimeout(r, 20));
      const ackedBefore = new Set(acked);
      const b = await runAsync(['backup', '--out', file, '--data', data]);
      const duringBackup = batches;
      stop = true;
      await ingest;
      expect(b.code, b.err).toBe(0);
      expect(duringBackup, 'ingest went on during the backup').toBeGreaterThan(5);
      const inBackup = await backupEvents(file);
      const ids = new Set(inBackup.map((x) => x.e.eventId));
      for (const id of ackedBefore) expect(ids.has(id), id).toBe(true);
      for (const id of ids) expect(acked.has(String(id)), String(id)).toBe(true);
      sent.push(...inBackup.map((x) => x.e));

      // Deletion through the server: gone from every file of the data directory while it runs.
      expect(findBytes(data, ['gone_during_backup']).get('gone_during_backup')?.length).toBeGreaterThan(0);
      const del = run(['user', 'delete', '--appid', appid, '--openid', 'gone_during_backup', '--data', data]);
      expect(del.code, del.err).toBe(0);
      expect(JSON.parse(del.out)).toMatchObject({ appid, users: 1 });
      expect(findBytes(data, ['gone_during_backup']).get('gone_during_backup')).toEqual([]);
      expect(run(['app', 'update', appid, '--retain-days', '20', '--data', data]).err).toMatch(/at least 31/);
      expect(JSON.parse(run(['app', 'update', appid, '--retain-days', '31', '--data', data]).out)).toMatchObject({ retainDays: 31 });
      expect(JSON.parse(run(['prune', '--data', data]).out)).toMatchObject({ appid, events: 0 });
    } finally {
      server.kill('SIGTERM');
      await new Promise((r) => server.once('exit', r));
    }
    // Logged by the server with counts, never with an openid.
    expect(logs).toMatch(/"op":"backup"/);
    expect(logs).toMatch(/"op":"delete_users"/);
    expect(logs).toMatch(/"op":"prune"/);
    expect(logs).not.toMatch(/gone_during_backup/);

    // The backup restores (into an empty directory, served or not) to the portraits of its own events.
    const fresh = join(dir, 'served-restored');
    const r = run(['restore', file, '--data', fresh]);
    expect(r.code, r.err).toBe(0);
    const appid = (JSON.parse(run(['app', 'list', '--data', fresh]).out) as { appid: string }).appid;
    for (const [b0, e0] of [[Y, Y], [Y - 6, Y], [Y - 29, Y], [Y - 19, Y - 13]] as const) expect(portraitJson(fresh, appid, b0, e0)).toEqual(expected(sent, b0, e0));

    const servedEmpty = join(dir, 'served-empty');
    const second = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--data', servedEmpty], { env: ENV, stdio: 'ignore' });
    try {
      for (let i = 0; i < 300 && !existsSync(join(servedEmpty, 'server.json')); i++) await new Promise((res) => setTimeout(res, 100));
      const viaServer = run(['restore', file, '--data', servedEmpty]);
      expect(viaServer.code, viaServer.err).toBe(0);
      expect(JSON.parse(viaServer.out)).toMatchObject({ events: sent.length });
      expect(portraitJson(servedEmpty, appid, Y - 6, Y)).toEqual(expected(sent, Y - 6, Y));
      const twice = run(['restore', file, '--data', servedEmpty]);
      expect(twice.code).toBe(1);
      expect(twice.err).toMatch(/restore needs an empty store/);
    } finally {
      second.kill('SIGTERM');
      await new Promise((res) => second.once('exit', res));
    }
  }, 300_000);

  it('checks every openid of a long list before deleting any, and names a backup path it cannot write or read', () => {
    const data = join(dir, 'checks');
    const { appid } = newApp(data);
    const nd = join(dir, 'checks.ndjson');
    writeFileSync(nd, ['stay1', 'stay2'].map((u, i) => JSON.stringify({ openid: u, time: at(Y, 60 + i), event_id: `${u}-0` })).join('\n'));
    expect(JSON.parse(run(['ingest', '--appid', appid, '--data', data, nd]).out)).toMatchObject({ accepted: 2 });
    // The first 1,000 (one batch) are valid and hold stay1; the bad entry is in the second batch.
    const list = join(dir, 'checks-openids.txt');
    writeFileSync(list, ['stay1', ...Array.from({ length: 1200 }, (_, i) => `nobody${i}`), 'not an openid'].join('\n'));
    const del = run(['user', 'delete', '--appid', appid, '--file', list, '--data', data]);
    expect(del.code).toBe(1);
    expect(del.err).toMatch(/openids\[1201\] is not an openid .*"not an openid", line 1202 of .*nothing was deleted/);
    expect(JSON.parse(run(['app', 'list', '--data', data]).out)).toMatchObject({ appid, events: 2 });

    const nowhere = join(dir, 'no-such-dir', 'b.gz');
    const b = run(['backup', '--out', nowhere, '--data', data]);
    expect(b.code).toBe(1);
    expect(b.err).toMatch(/cannot write the backup to .*no-such-dir\/b\.gz: no such file or directory; nothing was written/);
    const r = run(['restore', join(dir, 'missing.backup.gz'), '--data', join(dir, 'restore-missing')]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/missing\.backup\.gz: cannot be read \(no such file or directory\); nothing was restored/);
    expect(existsSync(join(dir, 'restore-missing'))).toBe(false);
  }, 120_000);
});
