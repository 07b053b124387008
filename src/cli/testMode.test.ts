import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seededAppCredentials } from '../auth/index.ts';
import { formatDay, parseDay } from '../domain/day.ts';

// `datacube serve --test-mode`, `--demo --seed`, `datacube demo --seed` and `datacube test clock|faults`, each the
// real command in a child process on a real DuckDB file.

const BIN = resolve(import.meta.dirname, '../../bin/datacube.js');
const CLOCK = '2026-06-15T10:00:00+08:00';
const SEED = '7';
const USERS = '300';
const dir = mkdtempSync(join(tmpdir(), 'datacube-testmode-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const env = () => {
  const e: NodeJS.ProcessEnv = { ...process.env, DATACUBE_LOG_LEVEL: 'silent' };
  delete e.DATACUBE_DATA;
  delete e.DATACUBE_STORE;
  delete e.DATACUBE_HOST;
  return e;
};

function run(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 180_000, env: env() });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function runAsync(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((done, fail) => {
    const c = spawn(process.execPath, [BIN, ...args], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    c.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    c.on('error', fail);
    c.on('close', (code) => done({ code, out, err }));
  });
}

interface Served {
  url: string;
  data: string;
  out: () => string;
  stop: () => Promise<void>;
}

/** `datacube serve --port 0 --data DATA ARGS`, once its server.json names it. */
async function serve(name: string, args: string[]): Promise<Served> {
  const data = join(dir, name);
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--data', data, ...args], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const file = join(data, 'server.json');
  for (let i = 0; i < 1800; i++) {
    if (child.exitCode !== null) throw new Error(`datacube serve exited with ${child.exitCode}: ${err}`);
    if (existsSync(file)) {
      const f = JSON.parse(readFileSync(file, 'utf8')) as { url: string; pid: number };
      if (f.pid === child.pid) {
        return {
          url: f.url,
          data,
          out: () => out,
          stop: async () => {
            if (child.exitCode === null) child.kill('SIGTERM');
            await exited;
          },
        };
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`datacube serve did not start: ${err}`);
}

async function json(url: string, init?: RequestInit): Promise<{ status: number; text: string; body: Record<string, unknown> }> {
  const r = await fetch(url, init);
  const text = await r.text();
  return { status: r.status, text, body: JSON.parse(text) as Record<string, unknown> };
}

async function tokenOf(url: string, app: { appid: string; secret: string }): Promise<string> {
  const r = await json(`${url}/cgi-bin/token?grant_type=client_credential&appid=${app.appid}&secret=${app.secret}`);
  if (typeof r.body.access_token !== 'string') throw new Error(r.text);
  return r.body.access_token;
}

/** Every window the demo data can answer: 1, 7 and 30 days, ending on each of its 30 days. */
function everyWindow(): [string, string][] {
  const yesterday = parseDay('20260614') ?? 0;
  const out: [string, string][] = [];
  for (let end = yesterday - 29; end <= yesterday; end++) for (const len of [1, 7, 30]) out.push([formatDay(end - len + 1), formatDay(end)]);
  return out;
}

/** The portrait answers of every window, as the bytes the server sent. */
async function answers(url: string, app: { appid: string; secret: string }): Promise<string[]> {
  const tok = await tokenOf(url, app);
  const texts: string[] = [];
  for (const [b, e] of everyWindow()) {
    const r = await json(`${url}/datacube/getweanalysisappiduserportrait?access_token=${tok}`, { method: 'POST', body: JSON.stringify({ begin_date: b, end_date: e }) });
    texts.push(r.text);
  }
  return texts;
}

describe('seeded data', () => {
  let a: Served;
  let b: Served;
  let c: Served;
  beforeAll(async () => {
    const demo = ['--test-mode', '--clock', CLOCK, '--demo', '--seed', SEED, '--demo-users', USERS];
    [a, b] = await Promise.all([serve('a', demo), serve('b', demo)]);
    // The third gets the same data from `datacube demo --seed` run against it: the demo follows the server's clock.
    c = await serve('c', ['--test-mode', '--clock', CLOCK]);
  }, 300_000);
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop(), c?.stop()]);
  });

  it('gives the same app and secret for a seed on any machine (a pure function of the seed)', () => {
    expect(seededAppCredentials(7)).toEqual({ appid: 'wxfd0af3199e0f26ee', secret: '72877bed4085b6decc5cbcaa136e49a5' });
    expect(seededAppCredentials(42)).toEqual({ appid: 'wx00900b5e9b23fecc', secret: '7ba0849a591d5fe23a5e4821ee16f2c2' });
    expect(seededAppCredentials(8)).not.toEqual(seededAppCredentials(7));
    for (const s of [a, b]) {
      expect(JSON.parse(readFileSync(join(s.data, 'demo.json'), 'utf8'))).toEqual(seededAppCredentials(7));
      expect(s.out()).toContain(`Demo app: appid ${seededAppCredentials(7).appid}  secret ${seededAppCredentials(7).secret}`);
      expect(s.out()).toContain('Test mode: the clock stands at 2026-06-15T10:00:00+08:00');
    }
  });

  it('two servers with the same seed and clock give identical answers, byte for byte, for every window', async () => {
    const app = seededAppCredentials(7);
    const [fromA, fromB] = await Promise.all([answers(a.url, app), answers(b.url, app)]);
    expect(fromA).toHaveLength(90);
    expect(fromB).toEqual(fromA);
    // Real answers, not 90 copies of an error.
    const last30 = JSON.parse(fromA[fromA.length - 1] ?? '{}') as { ref_date: string; visit_uv: { genders: { value: number }[] } };
    expect(last30.ref_date).toBe('20260516-20260614');
    expect(last30.visit_uv.genders.reduce((s, g) => s + g.value, 0)).toBe(Number(USERS));
    expect(new Set(fromA).size).toBeGreaterThan(80);

    // `datacube demo --seed` through the third server (its clock, not this machine's) makes the same data.
    const r = await runAsync(['demo', '--seed', SEED, '--users', USERS, '--data', c.data]);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out.trim().split('\n').pop() ?? '{}')).toEqual(app);
    expect(await answers(c.url, app)).toEqual(fromA);
  }, 600_000);

  it('`datacube demo --seed N --clock T` without a server stores the same data', async () => {
    const data = join(dir, 'd');
    const r = run(['demo', '--seed', SEED, '--users', USERS, '--clock', CLOCK, '--data', data]);
    expect(r.code, r.err).toBe(0);
    const d = await serve('d', ['--test-mode', '--clock', CLOCK]);
    try {
      expect(d.data).toBe(data);
      const [fromD, fromA] = await Promise.all([answers(d.url, seededAppCredentials(7)), answers(a.url, seededAppCredentials(7))]);
      expect(fromD).toEqual(fromA);
    } finally {
      await d.stop();
    }
  }, 600_000);

  it('`--last` and dates left out follow the server\'s frozen clock, not this machine\'s', async () => {
    const appid = seededAppCredentials(7).appid;
    const portrait = await runAsync(['portrait', '--appid', appid, '--last', '7', '--json', '--data', b.data]);
    expect(portrait.code, portrait.err).toBe(0);
    expect(JSON.parse(portrait.out)).toMatchObject({ ref_date: '20260608-20260614' });
    const trend = await runAsync(['trend', '--appid', appid, '--json', '--data', b.data]);
    expect(trend.code, trend.err).toBe(0);
    expect(JSON.parse(trend.out)).toMatchObject({ list: [expect.objectContaining({ ref_date: '20260614' })] });
    const weekly = await runAsync(['trend', '--appid', appid, '--granularity', 'week', '--json', '--data', b.data]);
    expect(weekly.code, weekly.err).toBe(0);
    // 2026-06-14 is a Sunday: the week of Monday 8 June is the latest whole one.
    expect(JSON.parse(weekly.out)).toMatchObject({ list: [expect.objectContaining({ ref_date: '20260608-20260614' })] });
  }, 300_000);

  it('drives the clock and the faults from the command line: datacube test clock|faults', async () => {
    const data = ['--data', a.data];
    const shown = await runAsync(['test', 'clock', ...data]);
    expect(shown.code, shown.err).toBe(0);
    expect(JSON.parse(shown.out)).toMatchObject({ now: '2026-06-15T10:00:00+08:00', yesterday: '20260614' });
    const moved = await runAsync(['test', 'clock', 'advance', '2h', ...data]);
    expect(JSON.parse(moved.out)).toMatchObject({ now: '2026-06-15T12:00:00+08:00' });
    const set = await runAsync(['test', 'clock', 'set', '2026-06-20T09:30:00+08:00', '--url', a.url]);
    expect(JSON.parse(set.out)).toMatchObject({ now: '2026-06-20T09:30:00+08:00', today: '20260620' });
    expect((await json(`${a.url}/__datacube/clock`)).body.now).toBe('2026-06-20T09:30:00+08:00');

    const added = await runAsync(['test', 'faults', 'add', '--route', 'getUserPortrait', '--errcode', '-1', '--times', '2', ...data]);
    expect(added.code, added.err).toBe(0);
    const rule = (JSON.parse(added.out) as { id: number; errcode: number }[]).at(-1);
    expect(rule).toMatchObject({ errcode: -1, times: 2, route: 'getUserPortrait' });
    const viaJson = await runAsync(['test', 'faults', 'add', '[{"route":"token","errcode":40013,"times":1},{"route":"tcb","delayMs":5}]', ...data]);
    expect(viaJson.code, viaJson.err).toBe(0);

    const app = seededAppCredentials(7);
    expect((await json(`${a.url}/cgi-bin/token?grant_type=client_credential&appid=${app.appid}&secret=${app.secret}`)).body.errcode).toBe(40013);
    const tok = await tokenOf(a.url, app);
    const codes: unknown[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await json(`${a.url}/datacube/getweanalysisappiduserportrait?access_token=${tok}`, { method: 'POST', body: '{"begin_date":"20260619","end_date":"20260619"}' });
      codes.push(r.body.errcode ?? r.body.ref_date);
    }
    expect(codes).toEqual([-1, -1, '20260619']);

    const list = await runAsync(['test', 'faults', 'list', ...data]);
    const rules = JSON.parse(list.out) as { route: string; fired: number }[];
    expect(rules.map((r) => [r.route, r.fired])).toEqual([['getUserPortrait', 2], ['token', 1], ['tcb', 0]]);
    const one = await runAsync(['test', 'faults', 'clear', String(rule?.id), ...data]);
    expect((JSON.parse(one.out) as { route: string }[]).map((r) => r.route)).toEqual(['token', 'tcb']);
    const all = await runAsync(['test', 'faults', 'clear', ...data]);
    expect(JSON.parse(all.out)).toEqual([]);

    const bad = await runAsync(['test', 'faults', 'add', '--route', 'portrait', '--errcode', '-1', ...data]);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/unknown route "portrait"/);
    const badTime = await runAsync(['test', 'clock', 'advance', 'soon', ...data]);
    expect(badTime.code).toBe(1);
    expect(badTime.err).toMatch(/not a duration/);
  }, 600_000);
});

describe('serve and test mode', () => {
  it('refuses test mode on a non-loopback host unless --test-mode-anywhere, and --clock without test mode', async () => {
    const refused = run(['serve', '--test-mode', '--host', '0.0.0.0', '--port', '0', '--data', join(dir, 'e')]);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/--host 0\.0\.0\.0 needs --test-mode-anywhere/);
    const clockAlone = run(['serve', '--clock', CLOCK, '--port', '0', '--data', join(dir, 'e')]);
    expect(clockAlone.code).toBe(1);
    expect(clockAlone.err).toMatch(/--clock needs --test-mode/);
    const badClock = run(['serve', '--test-mode', '--clock', 'noon', '--port', '0', '--data', join(dir, 'e')]);
    expect(badClock.code).toBe(1);
    expect(badClock.err).toMatch(/--clock: "noon" is not a time/);

    const anywhere = await serve('f', ['--test-mode-anywhere', '--host', '0.0.0.0', '--clock', CLOCK]);
    try {
      const port = new URL(anywhere.url).port;
      expect((await json(`http://127.0.0.1:${port}/__datacube/clock`)).body.now).toBe('2026-06-15T10:00:00+08:00');
    } finally {
      await anywhere.stop();
    }
  }, 600_000);

  it('without --test-mode, /__datacube/* answers 404 (40066) and `datacube test` says the server is not in test mode', async () => {
    const plain = await serve('g', []);
    try {
      for (const [method, path] of [['GET', '/__datacube/clock'], ['POST', '/__datacube/clock'], ['POST', '/__datacube/faults'], ['DELETE', '/__datacube/faults']] as const) {
        const r = await json(`${plain.url}${path}`, { method, body: method === 'POST' ? '{"advance":"2h"}' : undefined });
        expect(r.status, path).toBe(404);
        expect(r.body.errcode).toBe(40066);
      }
      const r = await runAsync(['test', 'clock', '--data', plain.data]);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/is not in test mode \(start it with: datacube serve --test-mode\)/);
    } finally {
      await plain.stop();
    }
    const none = run(['test', 'faults', 'list', '--data', join(dir, 'nothing-here')]);
    expect(none.code).toBe(1);
    expect(none.err).toMatch(/no datacube server runs on/);
  }, 600_000);
});
