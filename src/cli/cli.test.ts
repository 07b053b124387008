import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dayOf, formatDay, startOfDay } from '../domain/day.ts';

// Drives the real `datacube` command in child processes, on real DuckDB files.

const BIN = resolve(import.meta.dirname, '../../bin/datacube.js');
const dir = mkdtempSync(join(tmpdir(), 'datacube-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [BIN, ...args], { input, encoding: 'utf8', timeout: 120_000, env: { ...process.env, DATACUBE_LOG_LEVEL: 'silent' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const Y = dayOf(Date.now()) - 1;
const at = (d: number, h: number) => new Date(startOfDay(d) + h * 3_600_000).toISOString();

function newApp(data: string): string {
  const r = run(['app', 'create', '--name', 'shop', '--data', data]);
  expect(r.code, r.err).toBe(0);
  const j = JSON.parse(r.out) as { appid: string; secret: string };
  expect(j.appid).toMatch(/^wx[0-9a-f]{16}$/);
  expect(j.secret).toMatch(/^[0-9a-f]{32}$/);
  return j.appid;
}

describe('datacube CLI', () => {
  it('prints help everywhere and fails clearly on bad usage', () => {
    for (const args of [['--help'], ['app', '--help'], ['ingest', '--help'], ['portrait', '--help'], ['demo', '--help'], ['serve', '--help']]) {
      const r = run(args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.out).toMatch(/Usage: datacube/);
    }
    const bad = run(['portrait', '--last', '7']);
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(/required option/);
    const unknown = run(['frobnicate']);
    expect(unknown.code).not.toBe(0);
  });

  it('creates and lists apps, ingests NDJSON, JSON and CSV with line-numbered errors, and prints portraits', () => {
    const data = join(dir, 'd1');
    const appid = newApp(data);
    const list = run(['app', 'list', '--data', data]);
    expect(list.out).toContain(appid);
    expect(list.out).not.toMatch(/secret/);

    const nd = join(dir, 'a.ndjson');
    writeFileSync(nd, [
      JSON.stringify({ openid: 'u1', time: at(Y, 9), gender: 1, province: '广东', city: '广州', event_id: 'n1' }),
      '{broken',
      JSON.stringify({ openid: 'u2', time: at(Y, 10), age: 200 }),
      JSON.stringify({ openid: 'u1', time: at(Y, 11), event_id: 'n1' }),
    ].join('\n'));
    const js = join(dir, 'b.json');
    writeFileSync(js, JSON.stringify([{ openid: 'u3', time: at(Y - 3, 9), gender: 2 }]));
    const csv = join(dir, 'c.csv');
    writeFileSync(csv, `openid,time,gender,platform,brand,model\nu4,${at(Y, 8)},2,android,OPPO,R9\n`);
    const r = run(['ingest', '--appid', appid, '--data', data, nd, js, csv]);
    expect(r.code, r.err).toBe(1); // some lines were rejected
    const sum = JSON.parse(r.out) as { accepted: number; duplicates: number; rejected: number; errors: { line: number; reason: string; file: string }[] };
    expect(sum).toMatchObject({ accepted: 3, duplicates: 1, rejected: 2 });
    expect(sum.errors.map((e) => [e.file, e.line])).toEqual([[nd, 2], [nd, 3]]);
    expect(sum.errors[1]?.reason).toMatch(/^age/);

    const stdin = run(['ingest', '--appid', appid, '--data', data, '-'], JSON.stringify({ openid: 'u5', time: at(Y, 7) }) + '\n');
    expect(JSON.parse(stdin.out)).toMatchObject({ accepted: 1, rejected: 0 });

    const json = run(['portrait', '--appid', appid, '--begin', formatDay(Y - 6), '--end', formatDay(Y), '--json', '--data', data]);
    expect(json.code, json.err).toBe(0);
    const p = JSON.parse(json.out) as { ref_date: string; visit_uv: { genders: { id: number; value: number }[]; city: { id: number }[] } };
    expect(p.ref_date).toBe(`${formatDay(Y - 6)}-${formatDay(Y)}`);
    expect(p.visit_uv.genders.reduce((s, g) => s + g.value, 0)).toBe(4);
    expect(p.visit_uv.city[0]).toMatchObject({ id: 0 });

    const table = run(['portrait', '--appid', appid, '--begin', formatDay(Y), '--end', formatDay(Y), '--data', data]);
    expect(table.code).toBe(0);
    expect(table.out).toMatch(/3 active users/);
    expect(table.out).toMatch(/广州 \(4401\)/);
    expect(table.out).toMatch(/OPPO R9/);

    const badWindow = run(['portrait', '--appid', appid, '--begin', formatDay(Y - 4), '--end', formatDay(Y), '--data', data]);
    expect(badWindow.code).toBe(1);
    expect(badWindow.err).toMatch(/errcode 61501: date range error/);
    const badDate = run(['portrait', '--appid', appid, '--begin', '2026-01-01', '--end', formatDay(Y), '--data', data]);
    expect(badDate.err).toMatch(/errcode 61500/);
    const noApp = run(['ingest', '--appid', 'wx0000000000000000', '--data', data, nd]);
    expect(noApp.code).toBe(1);
    expect(noApp.err).toMatch(/no app wx0000000000000000/);
    const noFile = run(['ingest', '--appid', appid, '--data', data, join(dir, 'missing.ndjson')]);
    expect(noFile.code).toBe(2);
    expect(noFile.err).toMatch(/missing\.ndjson/);
  });

  it('enriches a CSV of only openid, time, ip and ua with regions and devices', () => {
    const data = join(dir, 'csv-enrich');
    const appid = newApp(data);
    const oppo =
      'Mozilla/5.0 (Linux; Android 11; PEGM00 Build/RKQ1.200903.002; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/86.0.4240.99 XWEB/4317 Mobile Safari/537.36 MicroMessenger/8.0.28.2240(0x28001C35) WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64 miniProgram/wx1234567890abcdef';
    const iphone = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.42(0x18002a2f) NetType/WIFI Language/zh_CN';
    const q = (v: string) => `"${v.replaceAll('"', '""')}"`;
    const csv = join(dir, 'only-ip-ua.csv');
    writeFileSync(csv, ['openid,time,ip,ua', `c1,${at(Y, 9)},202.96.134.133,${q(oppo)}`, `c2,${at(Y, 10)},220.181.38.148,${q(iphone)}`, `c3,${at(Y, 11)},192.168.1.9,${q(iphone)}`].join('\n'));
    const r = run(['ingest', '--appid', appid, '--data', data, csv]);
    expect(JSON.parse(r.out), r.err).toMatchObject({ accepted: 3, rejected: 0 });
    const p = run(['portrait', '--appid', appid, '--begin', formatDay(Y), '--end', formatDay(Y), '--json', '--data', data]);
    const j = JSON.parse(p.out) as { visit_uv: Record<string, { id?: number; name: string; value: number }[]> };
    const byName = (dim: string) => Object.fromEntries((j.visit_uv[dim] ?? []).map((x) => [x.name, x.value]));
    expect(byName('province')).toEqual({ 广东省: 1, 北京市: 1, 未知: 1 });
    expect(byName('city')).toEqual({ 深圳: 1, 北京: 1, 未知: 1 });
    expect(byName('platforms')).toEqual({ iPhone: 2, Android: 1 });
    expect(byName('devices')).toEqual({ 'Apple iPhone': 2, 'OPPO Reno5 5G': 1 });
  });

  it('demo creates or reuses the demo app, and portrait prints it', () => {
    const data = join(dir, 'demo');
    const r1 = run(['demo', '--users', '300', '--days', '30', '--data', data]);
    expect(r1.code, r1.err).toBe(0);
    const creds = JSON.parse(r1.out.trim().split('\n').pop() ?? '') as { appid: string; secret: string };
    const r2 = run(['demo', '--users', '300', '--days', '30', '--data', data]);
    expect(JSON.parse(r2.out.trim().split('\n').pop() ?? '')).toEqual(creds);
    expect(r2.err).toMatch(/ 0 events stored/);
    const p = run(['portrait', '--appid', creds.appid, '--begin', formatDay(Y - 29), '--end', formatDay(Y), '--data', data]);
    expect(p.code, p.err).toBe(0);
    expect(p.out).toMatch(/Province 省份/);
    expect(p.out).toMatch(/Android \(2\)/);
  });

  it('goes through a running server that owns the data directory', async () => {
    const data = join(dir, 'served');
    const server = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--data', data], { env: { ...process.env, DATACUBE_LOG_LEVEL: 'silent' }, stdio: 'ignore' });
    try {
      const file = join(data, 'server.json');
      for (let i = 0; i < 300 && !existsSync(file); i++) await new Promise((r) => setTimeout(r, 100));
      const { url } = JSON.parse(readFileSync(file, 'utf8')) as { url: string };
      const appid = newApp(data);
      const nd = join(dir, 's.ndjson');
      writeFileSync(nd, JSON.stringify({ openid: 'z', time: at(Y, 3), gender: 1 }) + '\n');
      expect(JSON.parse(run(['ingest', '--appid', appid, '--data', data, nd]).out)).toMatchObject({ accepted: 1 });
      const p = run(['portrait', '--appid', appid, '--begin', formatDay(Y), '--end', formatDay(Y), '--json', '--data', data]);
      expect(p.code, p.err).toBe(0);
      expect((JSON.parse(p.out) as { visit_uv: { genders: unknown[] } }).visit_uv.genders).toEqual([{ id: 1, name: '男', value: 1 }]);
      const badWindow = run(['portrait', '--appid', appid, '--begin', formatDay(Y - 4), '--end', formatDay(Y), '--data', data]);
      expect(badWindow.code).toBe(1);
      expect(badWindow.err).toMatch(/errcode 61501: date range error/);
      expect(run(['app', 'update', appid, '--quota', '5', '--data', data]).out).toMatch(/"dailyQuota":5/);
      // Turning the public collect route off and on for the app, through the server.
      const collect = () =>
        fetch(`${url}/v1/collect?appid=${appid}`, {
          method: 'POST',
          headers: { referer: `https://servicewechat.com/${appid}/1/page-frame.html`, 'content-type': 'application/json' },
          body: JSON.stringify([{ openid: 'z', time: Date.now() - 1000 }]),
        }).then((r) => r.json() as Promise<{ errcode: number }>);
      expect((await collect()).errcode).toBe(0);
      expect(JSON.parse(run(['app', 'update', appid, '--collect', 'off', '--data', data]).out)).toMatchObject({ appid, collect: false });
      expect((await collect()).errcode).toBe(48001);
      expect(JSON.parse(run(['app', 'update', appid, '--collect', 'on', '--data', data]).out)).toMatchObject({ appid, collect: true });
      expect((await collect()).errcode).toBe(0);
      const bad = run(['app', 'update', appid, '--collect', 'maybe', '--data', data]);
      expect(bad.code).not.toBe(0);
      expect(bad.err).toMatch(/--collect must be on or off/);
      expect((await fetch(`${url}/healthz`)).ok).toBe(true);
      // Admin routes refuse callers without the key.
      expect((await fetch(`${url}/admin/apps`)).status).toBe(401);
    } finally {
      server.kill('SIGTERM');
      await new Promise((r) => server.once('exit', r));
    }
    expect(existsSync(join(data, 'server.json'))).toBe(false);
    // After the server is gone, the CLI opens the file itself and sees the same data.
    const list = run(['app', 'list', '--data', data]);
    expect(list.code).toBe(0);
    expect(list.out).toMatch(/shop/);
  }, 120_000);
});
