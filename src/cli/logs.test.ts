import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, cliEnv, startServe } from './testing.ts';

// What `datacube serve` prints: the banner whatever the log level, then one line per request — JSON when the log
// is not a terminal (or DATACUBE_LOG_FORMAT=json), a readable line on a terminal (or DATACUBE_LOG_FORMAT=pretty).

const dir = mkdtempSync(join(tmpdir(), 'datacube-logs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function requests(url: string): Promise<void> {
  await fetch(`${url}/healthz`);
  await fetch(`${url}/healthz`);
  await fetch(`${url}/datacube/getweanalysisappiduserportrait?access_token=sekrit-token-value`, { method: 'POST', body: '{}' });
  await fetch(`${url}/nowhere`);
  await wait(300); // the log is written after the answer
}

describe('datacube serve output', { timeout: 180_000 }, () => {
  it('logs one JSON line per request when the output is not a terminal, health checks only at debug', async () => {
    const data = join(dir, 'json');
    const server = await startServe(data, [], { DATACUBE_LOG_LEVEL: 'info' });
    try {
      await requests(server.url);
    } finally {
      await server.stop();
    }
    const lines = server.stdout().split('\n').filter(Boolean);
    // The banner (plain text) and pino's JSON lines share standard output, in no fixed order.
    expect(lines.filter((l) => /^datacube is listening on http:\/\/127\.0\.0\.1:\d+ \(data: .*, store: duckdb\)$/.test(l))).toHaveLength(1);
    const json = lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const answered = json.filter((o) => o.msg === 'request answered');
    // Secrets are redacted: query values, and path segments no route has (a secret put in the path by mistake).
    expect(answered.map((o) => (o.req as { url: string }).url)).toEqual(['/datacube/getweanalysisappiduserportrait?access_token=[redacted]', '/*']);
    expect(answered[0]).toMatchObject({ level: 30, res: { statusCode: 200 }, errcode: 40001, req: { method: 'POST' } });
    expect(answered[1]).toMatchObject({ res: { statusCode: 404 }, errcode: 40066 });
    for (const a of answered) expect(String(a.reqId)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$/);
    expect(server.stdout()).not.toContain('sekrit');
    expect(server.stdout()).not.toContain('healthz');
    expect(json.some((o) => o.msg === 'incoming request')).toBe(false);

    const debug = await startServe(data, [], { DATACUBE_LOG_LEVEL: 'debug' });
    try {
      await requests(debug.url);
    } finally {
      await debug.stop();
    }
    const health = debug.stdout().split('\n').filter((l) => l.includes('"url":"/healthz"'));
    expect(health.length).toBeGreaterThanOrEqual(2);
    for (const h of health) expect((JSON.parse(h) as { level: number }).level).toBe(20);
  });

  it('prints readable lines with DATACUBE_LOG_FORMAT=pretty, and on a terminal by default', async () => {
    const pretty = await startServe(join(dir, 'pretty'), [], { DATACUBE_LOG_LEVEL: 'info', DATACUBE_LOG_FORMAT: 'pretty' });
    try {
      await requests(pretty.url);
    } finally {
      await pretty.stop();
    }
    const line = /^\d{2}:\d{2}:\d{2}\.\d{3} POST \/datacube\/getweanalysisappiduserportrait\?access_token=\[redacted\] 200 errcode 40001 [\d.]+ ms .*rid [0-9a-f-]{26}$/m;
    expect(pretty.stdout()).toMatch(line);
    expect(pretty.stdout()).toMatch(/^\d{2}:\d{2}:\d{2}\.\d{3} GET \/\* 404 errcode 40066 /m);
    expect(pretty.stdout()).not.toMatch(/^\{/m);

    // On a terminal (`script` gives it one): readable without being asked; JSON when asked.
    const onTty = async (env: Record<string, string>) => {
      const data = join(dir, `tty-${Object.keys(env).length}`);
      const child = spawn('script', ['-qec', `${process.execPath} ${BIN} serve --port 0 --data ${data}`, '/dev/null'], {
        env: cliEnv({ DATACUBE_LOG_LEVEL: 'info', NO_COLOR: '1', ...env }),
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
      const file = join(data, 'server.json');
      for (let i = 0; i < 600 && !existsSync(file); i++) await wait(100);
      const { url, pid } = JSON.parse(readFileSync(file, 'utf8')) as { url: string; pid: number };
      await requests(url);
      process.kill(pid, 'SIGTERM');
      await new Promise((r) => child.once('exit', r));
      return out.replace(/\r/g, '');
    };
    expect(await onTty({})).toMatch(line);
    const asked = await onTty({ DATACUBE_LOG_FORMAT: 'json' });
    expect(asked).toMatch(/^\{"level":30,.*"msg":"request answered"/m);
    expect(asked).not.toMatch(line);
  });

  it('prints the banner whatever the log level, with the demo app and its curl lines when there is one', async () => {
    const data = join(dir, 'banner');
    const demo = await startServe(data, ['--demo'], { DATACUBE_LOG_LEVEL: 'silent' });
    await demo.stop();
    expect(demo.stdout()).toMatch(/^datacube is listening on http:\/\/127\.0\.0\.1:\d+/m);
    expect(demo.stdout()).toMatch(/Demo app: appid wx[0-9a-f]{16} {2}secret [0-9a-f]{32}/);
    expect(demo.stdout()).toMatch(/^ {2}TOKEN=\$\(curl /m);
    for (const level of ['error', 'fatal', 'warn']) {
      // A plain `serve` (no --demo) on a data directory that has the demo app prints it too.
      const s = await startServe(data, [], { DATACUBE_LOG_LEVEL: level });
      await s.stop();
      expect(s.stdout(), level).toMatch(/^datacube is listening on /m);
      expect(s.stdout(), level).toMatch(/Demo app: appid wx[0-9a-f]{16}/);
      expect(s.stdout(), level).toMatch(/^ {2}curl -s -X POST /m);
    }
  });
});
