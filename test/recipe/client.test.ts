// datacube.test.ts: your WeChat analytics client, tested against datacube in test mode (Vitest; for Jest, import
// describe/it/expect/beforeAll/afterAll/beforeEach from '@jest/globals' instead).
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

// ---- The client under test (in your project: import your own) ----------------------------------------------------
interface WeChatAnswer {
  errcode?: number;
  errmsg?: string;
  access_token?: string;
  ref_date?: string;
  visit_uv?: { genders: { id: number; name: string; value: number }[] };
}

class WeChatError extends Error {
  constructor(readonly errcode: number, errmsg: string) {
    super(errmsg);
  }
}

class AnalysisClient {
  private token: string | undefined;
  tokenFetches = 0;
  constructor(private readonly baseUrl: string, private readonly appid: string, private readonly secret: string) {}

  private async accessToken(): Promise<string> {
    if (this.token) return this.token;
    this.tokenFetches++;
    const q = `grant_type=client_credential&appid=${this.appid}&secret=${this.secret}`;
    const a = (await (await fetch(`${this.baseUrl}/cgi-bin/token?${q}`)).json()) as WeChatAnswer;
    if (!a.access_token) throw new WeChatError(a.errcode ?? -1, a.errmsg ?? '');
    return (this.token = a.access_token);
  }

  /** analysis.getUserPortrait; on 40001/42001 (token replaced or expired) it gets a new token and retries once. */
  async userPortrait(begin: string, end: string): Promise<WeChatAnswer> {
    for (let attempt = 1; ; attempt++) {
      const url = `${this.baseUrl}/datacube/getweanalysisappiduserportrait?access_token=${await this.accessToken()}`;
      const body = JSON.stringify({ begin_date: begin, end_date: end });
      const a = (await (await fetch(url, { method: 'POST', body })).json()) as WeChatAnswer;
      if (!a.errcode) return a;
      if ((a.errcode === 40001 || a.errcode === 42001) && attempt === 1) {
        this.token = undefined;
        continue;
      }
      throw new WeChatError(a.errcode, a.errmsg ?? '');
    }
  }
}

// ---- datacube in test mode: port 0, a frozen clock, seeded data -------------------------------------------------
const CLOCK = '2026-06-15T10:00:00+08:00'; // China time: "yesterday" is 20260614 until a test moves the clock
let server: ChildProcess;
let dataDir: string;
let baseUrl: string;
let demo: { appid: string; secret: string };
let client: AnalysisClient;

/** datacube's test-mode routes: /__datacube (status), /__datacube/clock, /__datacube/faults. */
async function testMode<T = unknown>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const r = await fetch(`${baseUrl}/__datacube${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  if (r.status !== 200) throw new Error(`${method} /__datacube${path}: ${await r.text()}`);
  return (await r.json()) as T;
}
type FaultRules = { route: string; fired: number }[];

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'datacube-'));
  const args = ['serve', '--test-mode', '--port', '0', '--data', dataDir, '--clock', CLOCK, '--demo', '--seed', '42', '--demo-users', '500'];
  // The `datacube` command of the datacube your project installed.
  const bin = join(dirname(createRequire(import.meta.url).resolve('datacube/package.json')), 'bin/datacube.js');
  server = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DATACUBE_LOG_LEVEL: 'warn' } });
  // Once it listens, datacube writes its address (port 0: a free port) to DATA/server.json.
  const serverFile = join(dataDir, 'server.json');
  while (!existsSync(serverFile)) {
    if (server.exitCode !== null) throw new Error(`datacube exited with ${server.exitCode}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  baseUrl = (JSON.parse(readFileSync(serverFile, 'utf8')) as { url: string }).url;
  demo = (await testMode<{ demo: typeof demo }>('GET', '')).demo; // seed 42's app: the same appid and secret on every machine
}, 180_000);

afterAll(async () => {
  const exited = new Promise((r) => server.once('exit', r));
  server.kill('SIGTERM'); // datacube stops gracefully
  await exited;
  rmSync(dataDir, { recursive: true, force: true });
});

beforeEach(async () => {
  await testMode('POST', '/clock', { set: CLOCK });
  await testMode('DELETE', '/faults');
  client = new AnalysisClient(baseUrl, demo.appid, demo.secret);
});

// ---- the tests ---------------------------------------------------------------------------------------------------
describe('AnalysisClient against datacube', () => {
  it('reads the seeded portrait: the same numbers on every run', async () => {
    const p = await client.userPortrait('20260608', '20260614');
    expect(p.ref_date).toBe('20260608-20260614');
    // Seed 42 with 500 users has 246 active users in the week to 20260614, on every machine, every day.
    expect(p.visit_uv?.genders.reduce((n, g) => n + g.value, 0)).toBe(246);
  });

  it('gets a new token and retries once on 40001', async () => {
    await testMode('POST', '/faults', { route: 'getUserPortrait', errcode: 40001, times: 1 });
    const p = await client.userPortrait('20260614', '20260614');
    expect(p.ref_date).toBe('20260614');
    expect(client.tokenFetches).toBe(2);
    expect((await testMode<FaultRules>('GET', '/faults'))[0]?.fired).toBe(1);
  });

  it('gives up on 45009 (daily quota) at once, without retrying', async () => {
    await testMode('POST', '/faults', { route: 'getUserPortrait', errcode: 45009 });
    await expect(client.userPortrait('20260614', '20260614')).rejects.toMatchObject({ errcode: 45009 });
    expect((await testMode<FaultRules>('GET', '/faults'))[0]?.fired).toBe(1);
  });

  it('renews its token when the clock passes the token lifetime (2 hours)', async () => {
    await client.userPortrait('20260614', '20260614');
    await testMode('POST', '/clock', { advance: '2h' });
    const p = await client.userPortrait('20260614', '20260614');
    expect(p.ref_date).toBe('20260614');
    expect(client.tokenFetches).toBe(2);
  });
});
