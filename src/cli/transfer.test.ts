import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dayOf, startOfDay } from '../domain/day.ts';
import { BIN, cliEnv, runCli, runCliAsync, startServe } from './testing.ts';

// `datacube export` / `datacube import` with the real command: while a server owns the data directory, again and
// again, and with a progress bar when they run on a terminal.

const dir = mkdtempSync(join(tmpdir(), 'datacube-transfer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const Y = dayOf(Date.now()) - 1;
const iso = (d: number, h: number) => new Date(startOfDay(d) + h * 3_600_000).toISOString();

interface Listed {
  appid: string;
  events: number;
}
const listOf = (out: string) => out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Listed);

describe('datacube export and import', { timeout: 240_000 }, () => {
  it('work through a running server, and importing the same file twice stores its events once, with or without event_id', async () => {
    const src = join(dir, 'src');
    const { appid } = JSON.parse(runCli(['app', 'create', '--name', 'moving', '--data', src]).out) as { appid: string };
    // Events with and without ids; two identical events without an id are two visits and stay two.
    const twin = { openid: 'twin', time: iso(Y, 9), page: 'pages/a' };
    const events = [
      { openid: 'a', time: iso(Y, 8), event_id: 'e-a' },
      { openid: 'b', time: iso(Y, 8) },
      { openid: 'c', time: iso(Y - 3, 8), gender: 2 },
      twin,
      twin,
    ];
    writeFileSync(join(dir, 'in.ndjson'), events.map((e) => JSON.stringify(e)).join('\n'));
    expect(runCli(['ingest', '--appid', appid, '--data', src, join(dir, 'in.ndjson')]).code).toBe(0);

    const server = await startServe(src);
    const file = join(dir, 'moving.export.ndjson');
    try {
      const exp = await runCliAsync(['export', '--appid', appid, '--out', file, '--data', src]);
      expect(exp.code, exp.err).toBe(0);
      expect(exp.err).toMatch(/exported 5 events/);
      // It holds the app's sealed secret and the secret's hash: readable by its owner only, as the data directory.
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const lines = readFileSync(file, 'utf8').trim().split('\n');
      expect(lines).toHaveLength(6);
      expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({ datacube_export: 1, app: { appid, name: 'moving' } });
      // To standard output as well.
      const stdout = await runCliAsync(['export', '--appid', appid, '--data', src]);
      expect(stdout.out).toBe(readFileSync(file, 'utf8'));
      const none = await runCliAsync(['export', '--appid', 'wx0000000000000000', '--data', src]);
      expect(none.code).toBe(1);
      expect(none.err).toMatch(/no app wx0000000000000000/);
    } finally {
      await server.stop();
    }

    // Into another data directory, while its server runs: twice.
    const dst = join(dir, 'dst');
    expect(runCli(['app', 'create', '--data', dst]).code).toBe(0);
    const dstServer = await startServe(dst);
    try {
      const first = await runCliAsync(['import', file, '--data', dst]);
      expect(first.code, first.err).toBe(0);
      expect(JSON.parse(first.out)).toEqual({ appid, created: true, secretReadable: false, accepted: 5, duplicates: 0, rejected: 0, errors: [] });
      const second = await runCliAsync(['import', file, '--data', dst]);
      expect(second.code, second.err).toBe(0);
      expect(JSON.parse(second.out)).toMatchObject({ appid, created: false, accepted: 0, duplicates: 5 });
      expect(listOf((await runCliAsync(['app', 'list', '--data', dst])).out).find((a) => a.appid === appid)?.events).toBe(5);
      // The server checks each event as ingest would: a line it refuses is reported by its line, the others stored.
      const fileLines = readFileSync(file, 'utf8').trim().split('\n');
      const event = JSON.parse(fileLines[1] ?? '{}') as Record<string, unknown>;
      const withBad = join(dir, 'with-bad.export.ndjson');
      writeFileSync(withBad, [...fileLines, JSON.stringify({ ...event, eventId: 'bad-time', time: 9e15 }), '{not json', JSON.stringify({ ...event, eventId: 'fine' })].join('\n') + '\n');
      const mixed = await runCliAsync(['import', withBad, '--data', dst]);
      expect(mixed.code, mixed.err).toBe(1);
      expect(JSON.parse(mixed.out)).toMatchObject({ accepted: 1, duplicates: 5, rejected: 2, errors: [{ line: 7, reason: expect.stringMatching(/^time: /) }, { line: 8, reason: 'not JSON' }] });
      expect(mixed.err).toMatch(/2 lines were not imported; the others were/);
      // The portrait is the source's.
      const p = await runCliAsync(['portrait', '--appid', appid, '--last', '7', '--json', '--data', dst]);
      expect(p.code, p.err).toBe(0);
      expect((JSON.parse(p.out) as { visit_uv: { genders: { value: number }[] } }).visit_uv.genders.reduce((s, g) => s + g.value, 0)).toBe(4);
    } finally {
      await dstServer.stop();
    }
    // Without a server, a third time: still nothing new.
    const third = runCli(['import', file, '--data', dst]);
    expect(JSON.parse(third.out)).toMatchObject({ accepted: 0, duplicates: 5, rejected: 0 });
    const notExport = join(dir, 'not-export.ndjson');
    writeFileSync(notExport, '{"openid":"x"}\n');
    const bad = runCli(['import', notExport, '--data', dst]);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/is not a datacube export/);
    expect(runCli(['import', join(dir, 'missing.ndjson'), '--data', dst]).code).toBe(2);
  });

  it('carries the first days retention kept: users seen only before the cut stay "not new" in the importing store', async () => {
    const src = join(dir, 'kept-src');
    const { appid } = JSON.parse(runCli(['app', 'create', '--name', 'kept', '--data', src]).out) as { appid: string };
    // "old" came 40 days ago and again 2 days ago; "fresh" first came 2 days ago.
    const events = [
      { openid: 'old', time: iso(Y - 40, 8), event_id: 'o1' },
      { openid: 'old', time: iso(Y - 2, 8), event_id: 'o2' },
      { openid: 'fresh', time: iso(Y - 2, 9), event_id: 'f1' },
    ];
    writeFileSync(join(dir, 'kept.ndjson'), events.map((e) => JSON.stringify(e)).join('\n'));
    expect(runCli(['ingest', '--appid', appid, '--data', src, join(dir, 'kept.ndjson')]).code).toBe(0);
    expect(runCli(['app', 'update', appid, '--retain-days', '31', '--data', src]).code).toBe(0);
    expect(JSON.parse(runCli(['prune', '--data', src]).out)).toMatchObject({ appid, events: 1 });
    const week = ['portrait', '--appid', appid, '--last', '7', '--json'];
    const before = JSON.parse(runCli([...week, '--data', src]).out) as { visit_uv_new: { genders: { value: number }[] } };
    const newUsers = (p: typeof before) => p.visit_uv_new.genders.reduce((n, g) => n + g.value, 0);
    expect(newUsers(before)).toBe(1);

    const file = join(dir, 'kept.export.ndjson');
    expect(runCli(['export', '--appid', appid, '--out', file, '--data', src]).code).toBe(0);
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[1]).toEqual({ first_seen: [{ openid: 'old', day: Y - 40 }] });
    expect(lines).toHaveLength(4);

    // Into a new store directly, and into another through its running server: the same portrait as the source.
    const direct = join(dir, 'kept-direct');
    const imported = runCli(['import', file, '--data', direct]);
    expect(imported.code, imported.err).toBe(0);
    expect(JSON.parse(imported.out)).toMatchObject({ appid, created: true, accepted: 2, firstSeen: 1 });
    expect(JSON.parse(runCli([...week, '--data', direct]).out)).toEqual(before);
    // Again: the app has its events there, so the kept days are left alone and the events are duplicates.
    expect(JSON.parse(runCli(['import', file, '--data', direct]).out)).toMatchObject({ accepted: 0, duplicates: 2, firstSeen: 0 });
    expect(JSON.parse(runCli([...week, '--data', direct]).out)).toEqual(before);

    const served = join(dir, 'kept-served');
    runCli(['app', 'create', '--name', 'other', '--data', served]);
    const server = await startServe(served);
    try {
      const viaServer = await runCliAsync(['import', file, '--data', served]);
      expect(viaServer.code, viaServer.err).toBe(0);
      expect(JSON.parse(viaServer.out)).toMatchObject({ accepted: 2, firstSeen: 1 });
      expect(JSON.parse((await runCliAsync([...week, '--data', served])).out)).toEqual(before);
    } finally {
      await server.stop();
    }

    // A bad kept line is refused by its line; the rest is imported.
    const bad = join(dir, 'kept.bad.ndjson');
    writeFileSync(bad, [JSON.stringify(lines[0]), JSON.stringify({ first_seen: [{ openid: 'x y', day: 1 }] }), JSON.stringify(lines[2])].join('\n'));
    const refused = runCli(['import', bad, '--data', join(dir, 'kept-bad')]);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.out)).toMatchObject({ accepted: 1, rejected: 1, errors: [{ line: 2, reason: expect.stringMatching(/first_seen\[0\]/) }] });
  });

  it('shows progress on a terminal, and none when the output is a pipe', () => {
    const data = join(dir, 'tty');
    const demo = runCli(['demo', '--users', '200', '--days', '7', '--data', data]);
    const { appid } = JSON.parse(demo.out.trim().split('\n').pop() ?? '{}') as { appid: string };
    const file = join(dir, 'tty.export.ndjson');
    // `script` gives the command a terminal (util-linux; in every Debian).
    const onTty = (args: string) =>
      spawnSync('script', ['-qec', `${process.execPath} ${BIN} ${args}`, '/dev/null'], { encoding: 'utf8', env: cliEnv(), timeout: 120_000 });
    const exp = onTty(`export --appid ${appid} --out ${file} --data ${data}`);
    expect(exp.status, exp.stdout).toBe(0);
    expect(exp.stdout).toMatch(/export wx[0-9a-f]{16} \[[^\]]*\] 100% \| \d+\/\d+ events/);
    const imp = onTty(`import ${file} --data ${join(dir, 'tty2')}`);
    expect(imp.status, imp.stdout).toBe(0);
    expect(imp.stdout).toMatch(/import \[[^\]]*\] 100% \| \d+\/\d+ bytes/);
    const piped = runCli(['export', '--appid', appid, '--out', file, '--data', data]);
    expect(piped.err).not.toMatch(/%/);
  });
});
