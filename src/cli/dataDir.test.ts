import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dayOf, formatDay, startOfDay } from '../domain/day.ts';
import { describeWithClickHouse, dropDatabase, freshDatabaseUrl } from '../store/clickhouse/testing.ts';
import { runCli, runCliAsync, startServe } from './testing.ts';

// Which data a command reads and writes: never an empty store made up by a typo, never another store than named,
// and errors that say what is wrong.

const dir = mkdtempSync(join(tmpdir(), 'datacube-datadir-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const Y = dayOf(Date.now()) - 1;
const iso = (d: number, h: number) => new Date(startOfDay(d) + h * 3_600_000).toISOString();

describe('data directory and store', { timeout: 180_000 }, () => {
  it('fails "no datacube data in DIR" for commands that only read, and creates nothing', () => {
    const missing = join(dir, 'typo');
    for (const args of [['portrait', '--appid', 'wx0000000000000000', '--last', '7'], ['app', 'list'], ['export', '--appid', 'wx0000000000000000'], ['app', 'delete', 'wx0000000000000000']]) {
      const r = runCli([...args, '--data', missing]);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.err, args.join(' ')).toContain(`no datacube data in ${missing}`);
      expect(existsSync(missing), args.join(' ')).toBe(false);
    }
    // The same through the environment.
    const env = runCli(['app', 'list'], { env: { DATACUBE_DATA: missing } });
    expect(env.err).toContain(`no datacube data in ${missing}`);
  });

  it('keeps the detail of portrait errors, and --last picks the window ending yesterday', async () => {
    const data = join(dir, 'portrait');
    const { appid } = JSON.parse(runCli(['app', 'create', '--data', data]).out) as { appid: string };
    writeFileSync(join(dir, 'p.ndjson'), [Y, Y - 6, Y - 29, Y - 30].map((d, i) => JSON.stringify({ openid: `u${i}`, time: iso(d, 10) })).join('\n'));
    expect(runCli(['ingest', '--appid', appid, '--data', data, join(dir, 'p.ndjson')]).code).toBe(0);
    const check = async (run: (args: string[]) => Promise<{ code: number | null; out: string; err: string }>) => {
      const five = await run(['portrait', '--appid', appid, '--begin', formatDay(Y - 4), '--end', formatDay(Y), '--data', data]);
      expect(five.code).toBe(1);
      expect(five.err).toMatch(/errcode 61501: date range error \(the window spans 5 days; it must span 1, 7 or 30 days\)/);
      const today = await run(['portrait', '--appid', appid, '--begin', formatDay(Y + 1), '--end', formatDay(Y + 1), '--data', data]);
      expect(today.err).toContain(`errcode 61501: date range error (end_date may be at most ${formatDay(Y)} (yesterday, China time))`);
      const format = await run(['portrait', '--appid', appid, '--begin', '2026-1-1', '--end', formatDay(Y), '--data', data]);
      expect(format.err).toMatch(/errcode 61500: date format error \(begin_date "2026-1-1" is not a yyyymmdd day\)/);
      for (const [last, users] of [['1', 1], ['7', 2], ['30', 3]] as const) {
        const r = await run(['portrait', '--appid', appid, '--last', last, '--json', '--data', data]);
        expect(r.code, r.err).toBe(0);
        const p = JSON.parse(r.out) as { ref_date: string; visit_uv: { genders: { value: number }[] } };
        expect(p.ref_date).toBe(last === '1' ? formatDay(Y) : `${formatDay(Y - Number(last) + 1)}-${formatDay(Y)}`);
        expect(p.visit_uv.genders.reduce((s, g) => s + g.value, 0)).toBe(users);
      }
      const five2 = await run(['portrait', '--appid', appid, '--last', '5', '--data', data]);
      expect(five2.code).toBe(1);
      expect(five2.err).toMatch(/--last.*1, 7, 30/);
      const both = await run(['portrait', '--appid', appid, '--last', '7', '--begin', formatDay(Y), '--data', data]);
      expect(both.code).toBe(1);
      const none = await run(['portrait', '--appid', appid, '--data', data]);
      expect(none.err).toMatch(/give --last 1\|7\|30, or --begin yyyymmdd and --end yyyymmdd/);
    };
    await check(async (args) => runCli(args));
    // The same through a running server.
    const server = await startServe(data);
    try {
      await check((args) => runCliAsync(args));
    } finally {
      await server.stop();
    }
  });

  it('never writes to another store than the one named while a server runs on the data directory', async () => {
    const data = join(dir, 'named');
    const server = await startServe(data);
    try {
      const before = await runCliAsync(['app', 'list', '--data', data]);
      expect(before.code, before.err).toBe(0);
      // A ClickHouse nobody listens on: the command must try that store (and fail saying so), not the server's.
      const elsewhere = 'clickhouse://default:@127.0.0.1:9/nowhere';
      for (const args of [['app', 'create', '--store', elsewhere, '--data', data], ['--store', elsewhere, '--data', data, 'app', 'create']]) {
        const r = await runCliAsync(args);
        expect(r.code, args.join(' ')).toBe(1);
        expect(r.err).toContain('serves duckdb');
        expect(r.err).toContain('names clickhouse default@http://127.0.0.1:9/nowhere');
        expect(r.err).toMatch(/ECONNREFUSED|connect/);
      }
      const viaEnv = await runCliAsync(['app', 'create', '--data', data], { env: { DATACUBE_STORE: elsewhere } });
      expect(viaEnv.code).toBe(1);
      expect(viaEnv.err).toContain('DATACUBE_STORE names clickhouse');
      expect((await runCliAsync(['app', 'list', '--data', data])).out).toBe(before.out);
      // Naming the store the server serves goes through the server.
      const same = await runCliAsync(['app', 'create', '--store', 'duckdb', '--data', data]);
      expect(same.code, same.err).toBe(0);
      expect(same.err).toBe('');
    } finally {
      await server.stop();
    }
  });
});

describeWithClickHouse('DATACUBE_TEST_CLICKHOUSE', 'a store named while a server runs (ClickHouse)', (baseUrl) => {
  const url = freshDatabaseUrl(baseUrl);
  afterAll(() => dropDatabase(url));

  it('fails "no datacube data" for commands that only read a ClickHouse database without a store, and creates nothing', async () => {
    const missing = freshDatabaseUrl(baseUrl);
    const database = new URL(missing).pathname.slice(1);
    const data = join(dir, 'ch-missing');
    for (const args of [['portrait', '--appid', 'wx0000000000000000', '--last', '7'], ['app', 'list'], ['trend', '--appid', 'wx0000000000000000'], ['prune']]) {
      const r = await runCliAsync([...args, '--store', missing, '--data', data]);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.err, args.join(' ')).toContain(`no datacube data in the ClickHouse database ${database}`);
    }
    const { HttpConnection } = await import('../store/clickhouse/connection.ts');
    const { parseClickHouseUrl } = await import('../store/clickhouse/url.ts');
    const { sql } = await import('../store/clickhouse/sql.ts');
    const c = HttpConnection.open(parseClickHouseUrl(missing));
    try {
      expect(await c.rows(sql`SELECT name FROM system.databases WHERE name = ${database}`)).toEqual([]);
    } finally {
      await c.close();
    }
  });

  it('uses the named ClickHouse store, not the DuckDB file the server serves, and the other way round', async () => {
    const data = join(dir, 'ch');
    const server = await startServe(data);
    try {
      const ch = await runCliAsync(['app', 'create', '--name', 'in-clickhouse', '--store', url, '--data', data]);
      expect(ch.code, ch.err).toBe(0);
      const { appid } = JSON.parse(ch.out) as { appid: string };
      expect((await runCliAsync(['app', 'list', '--data', data])).out).not.toContain(appid);
      expect((await runCliAsync(['app', 'list', '--store', url, '--data', data])).out).toContain(appid);
    } finally {
      await server.stop();
    }
    const chServer = await startServe(join(dir, 'ch2'), ['--store', url]);
    try {
      const local = await runCliAsync(['app', 'create', '--name', 'in-duckdb', '--store', 'duckdb', '--data', join(dir, 'ch2')]);
      expect(local.code, local.err).toBe(0);
      const { appid } = JSON.parse(local.out) as { appid: string };
      expect((await runCliAsync(['app', 'list', '--data', join(dir, 'ch2')])).out).not.toContain(appid); // through the server: ClickHouse
      expect((await runCliAsync(['app', 'list', '--store', url, '--data', join(dir, 'ch2')])).out).not.toContain(appid);
    } finally {
      await chServer.stop();
    }
    expect(runCli(['app', 'list', '--data', join(dir, 'ch2'), '--store', 'duckdb']).out).toContain('in-duckdb');
  }, 180_000);
});
