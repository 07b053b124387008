import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dayOf, startOfDay } from '../domain/day.ts';
import { runCli, runCliAsync, startServe } from './testing.ts';

// `datacube app …` with the real command in child processes: on the DuckDB file directly, and through a server.

const dir = mkdtempSync(join(tmpdir(), 'datacube-apps-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const Y = dayOf(Date.now()) - 1;
const at = (d: number, h: number) => startOfDay(d) + h * 3_600_000;

interface Listed {
  appid: string;
  name: string;
  env: string;
  dailyQuota: number;
  events: number;
  lastEventTime: string | null;
}
const listOf = (out: string) => out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Listed);

describe('datacube app', { timeout: 180_000 }, () => {
  it('creates with --quota and a valid --env, lists event counts and the last event time, deletes', () => {
    const data = join(dir, 'local');
    const c = runCli(['app', 'create', '--name', 'shop', '--quota', '250', '--env', 'prod-1g2h3j4k', '--data', data]);
    expect(c.code, c.err).toBe(0);
    const { appid } = JSON.parse(c.out) as { appid: string };
    const other = (JSON.parse(runCli(['app', 'create', '--data', data]).out) as { appid: string }).appid;

    const events = join(dir, 'e.ndjson');
    writeFileSync(events, [at(Y, 9), at(Y, 11), at(Y - 3, 8)].map((t, i) => JSON.stringify({ openid: `u${i}`, time: t })).join('\n'));
    expect(runCli(['ingest', '--appid', appid, '--data', data, events]).code).toBe(0);

    const list = runCli(['app', 'list', '--data', data]);
    expect(list.code, list.err).toBe(0);
    const apps = listOf(list.out);
    expect(apps.find((a) => a.appid === appid)).toMatchObject({ name: 'shop', env: 'prod-1g2h3j4k', dailyQuota: 250, events: 3, lastEventTime: new Date(at(Y, 11)).toISOString() });
    expect(apps.find((a) => a.appid === other)).toMatchObject({ events: 0, lastEventTime: null });

    for (const env of ['Prod', 'a b', 'env_1', 'x']) {
      const bad = runCli(['app', 'create', '--env', env, '--data', data]);
      expect(bad.code, env).toBe(1);
      expect(bad.err, env).toMatch(/--env: env .* is not a cloud env id/);
      const upd = runCli(['app', 'update', appid, '--env', env, '--data', data]);
      expect(upd.code, env).toBe(1);
    }
    expect(runCli(['app', 'create', '--quota', '0', '--data', data]).err).toMatch(/--quota must be a positive whole number/);

    const del = runCli(['app', 'delete', appid, '--data', data]);
    expect(del.code, del.err).toBe(0);
    expect(JSON.parse(del.out)).toEqual({ appid, events: 3 });
    expect(listOf(runCli(['app', 'list', '--data', data]).out).map((a) => a.appid)).toEqual([other]);
    const again = runCli(['app', 'delete', appid, '--data', data]);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/no app/);
    // Its events are gone: a new portrait of it is refused, the other app is untouched.
    expect(runCli(['portrait', '--appid', appid, '--last', '7', '--data', data]).err).toMatch(/no app/);
  }, 180_000);

  it('resets a secret through a running server: printed once, old tokens stop working at once', async () => {
    const data = join(dir, 'served');
    const server = await startServe(data);
    try {
      const created = await runCliAsync(['app', 'create', '--quota', '5', '--data', data]);
      expect(created.code, created.err).toBe(0);
      const { appid, secret } = JSON.parse(created.out) as { appid: string; secret: string };
      const token = async (s: string) =>
        (await (await fetch(`${server.url}/cgi-bin/token?grant_type=client_credential&appid=${appid}&secret=${s}`)).json()) as { access_token?: string; errcode?: number };
      const old = await token(secret);
      const portrait = async (tok: string) =>
        (await (
          await fetch(`${server.url}/datacube/getweanalysisappiduserportrait?access_token=${tok}`, {
            method: 'POST',
            body: JSON.stringify({ begin_date: String(Y), end_date: String(Y) }),
          })
        ).json()) as { errcode?: number };
      expect((await portrait(String(old.access_token))).errcode).not.toBe(40001);

      const reset = await runCliAsync(['app', 'reset-secret', appid, '--data', data]);
      expect(reset.code, reset.err).toBe(0);
      const fresh = JSON.parse(reset.out) as { appid: string; secret: string };
      expect(fresh.appid).toBe(appid);
      expect(fresh.secret).toMatch(/^[0-9a-f]{32}$/);
      expect(fresh.secret).not.toBe(secret);
      expect((await portrait(String(old.access_token))).errcode).toBe(40001);
      expect((await token(secret)).errcode).toBe(40125);
      expect(typeof (await token(fresh.secret)).access_token).toBe('string');
      // The secret is shown once: it is in no listing.
      const list = await runCliAsync(['app', 'list', '--data', data]);
      expect(list.out).toContain(appid);
      expect(list.out).not.toContain(fresh.secret);
      expect(listOf(list.out)[0]).toMatchObject({ dailyQuota: 5, events: 0, lastEventTime: null });

      const del = await runCliAsync(['app', 'delete', appid, '--data', data]);
      expect(del.code, del.err).toBe(0);
      expect((await token(fresh.secret)).errcode).toBe(40013);
      expect(listOf((await runCliAsync(['app', 'list', '--data', data])).out)).toEqual([]);
    } finally {
      await server.stop();
    }
  }, 180_000);
});
