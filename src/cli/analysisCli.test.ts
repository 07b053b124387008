import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dayOf, formatDay, startOfDay } from '../domain/day.ts';
import { latestPeriod, periodRefDate } from '../domain/period.ts';
import { granularityOf } from './commands/analysis.ts';

// `datacube summary|trend|distribution|pages|retain` in child processes, on a real DuckDB file.

const BIN = resolve(import.meta.dirname, '../../bin/datacube.js');
const dir = mkdtempSync(join(tmpdir(), 'datacube-cli-analysis-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, DATACUBE_LOG_LEVEL: 'silent' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const Y = dayOf(Date.now()) - 1;
const at = (d: number, h: number, m = 0) => new Date(startOfDay(d) + h * 3_600_000 + m * 60_000).toISOString();

describe('datacube analysis commands', () => {
  const data = join(dir, 'd');
  let appid = '';

  beforeAll(() => {
    const created = run(['app', 'create', '--data', data]);
    expect(created.code, created.err).toBe(0);
    appid = (JSON.parse(created.out) as { appid: string }).appid;
    const file = join(dir, 'events.ndjson');
    const events = [
      { openid: 'u1', time: at(Y - 8, 9), type: 'open', scene: 1089, session: 'a' },
      { openid: 'u1', time: at(Y - 8, 9, 1), page: 'pages/index', stay: 12, session: 'a' },
      { openid: 'u1', time: at(Y - 8, 9, 2), page: 'pages/detail', stay: 30, session: 'a' },
      { openid: 'u1', time: at(Y - 8, 9, 3), page: 'pages/detail', type: 'share', session: 'a' },
      { openid: 'u2', time: at(Y - 8, 20), page: 'pages/index', stay: 3, scene: 1007 },
      { openid: 'u1', time: at(Y - 7, 10), page: 'pages/index', stay: 5, scene: 1001 },
      { openid: 'u1', time: at(Y, 10), page: 'pages/index', stay: 5 },
    ];
    writeFileSync(file, events.map((e) => JSON.stringify(e)).join('\n'));
    const r = run(['ingest', '--appid', appid, '--data', data, file]);
    expect(JSON.parse(r.out)).toMatchObject({ accepted: 7, rejected: 0 });
  }, 120_000);

  it('names granularities from dates', () => {
    expect(granularityOf('20261130', '20261130')).toBe('day');
    expect(granularityOf('20261123', '20261129')).toBe('week');
    expect(granularityOf('20261124', '20261130')).toBeUndefined();
    expect(granularityOf('20261101', '20261130')).toBe('month');
    expect(granularityOf('x', '20261130')).toBeUndefined();
  });

  it("prints WeChat's JSON with --json", () => {
    const d = formatDay(Y - 8);
    const trend = run(['trend', '--appid', appid, '--date', d, '--json', '--data', data]);
    expect(trend.code, trend.err).toBe(0);
    expect(JSON.parse(trend.out)).toEqual({
      list: [{ ref_date: d, session_cnt: 2, visit_pv: 3, visit_uv: 2, visit_uv_new: 2, stay_time_uv: 22.5, stay_time_session: 22.5, visit_depth: 1.5 }],
    });
    expect(JSON.parse(run(['summary', '--appid', appid, '--begin', d, '--end', d, '--json', '--data', data]).out)).toEqual({
      list: [{ ref_date: d, visit_total: 2, share_pv: 1, share_uv: 1 }],
    });
    const retain = JSON.parse(run(['retain', '--appid', appid, '--date', d, '--json', '--data', data]).out) as { visit_uv: { key: number; value: number }[] };
    expect(retain.visit_uv.slice(0, 2)).toEqual([{ key: 0, value: 2 }, { key: 1, value: 1 }]);
    expect(retain.visit_uv.find((x) => x.key === 7)).toEqual({ key: 7, value: 0 });
    const week = latestPeriod('week', Y);
    const weekly = JSON.parse(run(['trend', '--appid', appid, '--begin', formatDay(week.begin), '--end', formatDay(week.end), '--json', '--data', data]).out) as {
      list: { ref_date: string }[];
    };
    expect(weekly.list[0]?.ref_date).toBe(periodRefDate(week));
    const monthly = JSON.parse(run(['retain', '--appid', appid, '--granularity', 'month', '--json', '--data', data]).out) as { ref_date: string };
    expect(monthly.ref_date).toBe(periodRefDate(latestPeriod('month', Y)));
    const dist = JSON.parse(run(['distribution', '--appid', appid, '--date', d, '--json', '--data', data]).out) as { list: { index: string; item_list: unknown[] }[] };
    expect(dist.list.find((x) => x.index === 'access_source_session_cnt')?.item_list).toEqual([{ key: 3, value: 1 }, { key: 29, value: 1 }]);
  }, 300_000);

  it('prints readable tables', () => {
    const d = formatDay(Y - 8);
    const trend = run(['trend', '--appid', appid, '--date', d, '--data', data]);
    expect(trend.out).toMatch(new RegExp(`Visit trend ${d} \\(day\\)`));
    expect(trend.out).toMatch(/visitors \(visit_uv\)\s+2/);
    expect(trend.out).toMatch(/pages per session \(visit_depth\)\s+1\.50/);
    const dist = run(['distribution', '--appid', appid, '--date', d, '--data', data]);
    expect(dist.out).toMatch(/task bar recent \(29\)\s+1\s+50\.0%\s+1/);
    expect(dist.out).toMatch(/31–50 s \(6\)\s+1/);
    expect(dist.out).toMatch(/2 pages \(2\)\s+1/);
    const pages = run(['pages', '--appid', appid, '--date', d, '--data', data]);
    expect(pages.out).toMatch(/pages\/index\s+2\s+2\s+7\.50\s+2\s+1\s+0\s+0/);
    expect(pages.out).toMatch(/pages\/detail\s+1\s+1\s+30\.00\s+0\s+1\s+1\s+1/);
    const retain = run(['retain', '--appid', appid, '--date', d, '--data', data]);
    expect(retain.out).toMatch(/2 new users, 2 active users/);
    expect(retain.out).toMatch(new RegExp(`1\\s+${formatDay(Y - 7)}\\s+1\\s+50\\.0%\\s+1\\s+50\\.0%`));
    expect(run(['summary', '--appid', appid, '--data', data]).out).toMatch(new RegExp(`Daily summary ${formatDay(Y)}[\\s\\S]*users ever \\(visit_total\\)\\s+2`));
  }, 300_000);

  it('fails clearly on bad dates, options and apps', () => {
    const twoDays = run(['pages', '--appid', appid, '--begin', formatDay(Y - 1), '--end', formatDay(Y), '--data', data]);
    expect(twoDays.code).toBe(1);
    expect(twoDays.err).toMatch(/errcode 61501: date range error/);
    expect(run(['trend', '--appid', appid, '--date', '2026-11-01', '--data', data]).err).toMatch(/errcode 61500/);
    expect(run(['trend', '--appid', appid, '--date', formatDay(Y + 1), '--data', data]).err).toMatch(/errcode 61501/);
    expect(run(['retain', '--appid', appid, '--granularity', 'year', '--data', data]).err).toMatch(/granularity/);
    expect(run(['trend', '--appid', appid, '--begin', formatDay(Y), '--data', data]).err).toMatch(/--begin and --end/);
    expect(run(['summary', '--appid', 'wx0000000000000000', '--data', data]).err).toMatch(/no app wx0000000000000000/);
    for (const c of ['summary', 'trend', 'distribution', 'pages', 'retain']) expect(run([c, '--help']).out).toMatch(/Usage: datacube/);
  }, 300_000);

  it('goes through a running server that owns the data directory', async () => {
    const server = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--data', data], { env: { ...process.env, DATACUBE_LOG_LEVEL: 'silent' }, stdio: 'ignore' });
    try {
      const file = join(data, 'server.json');
      for (let i = 0; i < 300 && !existsSync(file); i++) await new Promise((r) => setTimeout(r, 100));
      expect(existsSync(file)).toBe(true);
      const d = formatDay(Y - 8);
      const r = run(['trend', '--appid', appid, '--date', d, '--json', '--data', data]);
      expect(r.code, r.err).toBe(0);
      expect(JSON.parse(r.out)).toMatchObject({ list: [{ ref_date: d, visit_uv: 2, session_cnt: 2 }] });
      expect(run(['pages', '--appid', appid, '--begin', d, '--end', formatDay(Y - 7), '--data', data]).err).toMatch(/errcode 61501/);
      expect(JSON.parse(readFileSync(file, 'utf8'))).toHaveProperty('url');
    } finally {
      server.kill('SIGTERM');
      await new Promise((r) => server.once('exit', r));
    }
  }, 300_000);
});
