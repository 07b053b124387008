/**
 * The real `datacube` command (issue 10): a fatal error after `serve` started listening exits non-zero and frees
 * the port; the data directory is private (0700) and datacube's files in it 0600.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const BIN = resolve(import.meta.dirname, '../../bin/datacube.js');
const dir = mkdtempSync(join(tmpdir(), 'datacube-serve-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const env = { ...process.env, DATACUBE_LOG_LEVEL: 'silent' };

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolvePort(port));
    });
  });
}

function canListen(port: number): Promise<boolean> {
  return new Promise((r) => {
    const s = createServer();
    s.once('error', () => r(false));
    s.listen(port, '127.0.0.1', () => s.close(() => r(true)));
  });
}

const mode = (p: string) => statSync(p).mode & 0o777;

describe('datacube serve', () => {
  it('exits non-zero and frees its port when it cannot write server.json after it started listening', async () => {
    const data = join(dir, 'full');
    mkdirSync(data, { recursive: true });
    // server.json cannot be written: a directory (not empty) stands where it goes, as a full disk would refuse it.
    mkdirSync(join(data, 'server.json'));
    writeFileSync(join(data, 'server.json', 'x'), 'x');
    const port = await freePort();
    const child = spawn(process.execPath, [BIN, 'serve', '--port', String(port), '--data', data], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((r) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        r(null);
      }, 60_000);
      child.once('exit', (c) => {
        clearTimeout(timer);
        r(c);
      });
    });
    expect(code, stderr).not.toBe(0);
    expect(code).not.toBeNull();
    expect(stderr).toMatch(/server\.json/);
    expect(await canListen(port)).toBe(true);
    // The temporary file it wrote first holds the admin key: not left behind.
    expect(readdirSync(data).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  }, 90_000);

  it('keeps the data directory 0700 and its files 0600, also those an older version left open', () => {
    const data = join(dir, 'private');
    const create = spawnSync(process.execPath, [BIN, 'app', 'create', '--data', data], { env, encoding: 'utf8', timeout: 120_000 });
    expect(create.status, create.stderr).toBe(0);
    expect(mode(data)).toBe(0o700);
    const files = readdirSync(data);
    expect(files).toEqual(expect.arrayContaining(['datacube.duckdb', 'master.key']));
    for (const f of files) expect(mode(join(data, f)), f).toBe(0o600);
    // As an older version left it: open to everyone.
    chmodSync(data, 0o755);
    for (const f of files) chmodSync(join(data, f), 0o644);
    const list = spawnSync(process.execPath, [BIN, 'app', 'list', '--data', data], { env, encoding: 'utf8', timeout: 120_000 });
    expect(list.status, list.stderr).toBe(0);
    expect(mode(data)).toBe(0o700);
    for (const f of readdirSync(data)) expect(mode(join(data, f)), f).toBe(0o600);
  }, 120_000);
});
