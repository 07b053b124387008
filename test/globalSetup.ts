/**
 * Makes `npm test` run every test from a clean clone: when the ClickHouse test URLs are not set and Debian's
 * clickhouse-server is installed, start the loopback servers of .ci/clickhouse.sh for the run. Several test runs
 * may share them: each registers its pid in the work directory, and the last one out stops the servers — only if
 * a test run started them. Without clickhouse-server, the ClickHouse tests fail and say how to install it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const script = resolve(import.meta.dirname, '../.ci/clickhouse.sh');
const work = process.env.CH_WORK ?? '/tmp/datacube-ch';
const usersFile = join(work, 'test-runs');
const startedMarker = join(work, 'started-by-tests');
let registered = false;

function installed(): boolean {
  return ['/usr/bin/clickhouse-server', '/usr/sbin/clickhouse-server', '/usr/bin/clickhouse'].some((p) => existsSync(p));
}

function sh(arg: string): string {
  return execFileSync('bash', [script, arg], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function users(): number[] {
  if (!existsSync(usersFile)) return [];
  return readFileSync(usersFile, 'utf8').split('\n').map(Number).filter((p) => p > 0 && alive(p));
}

function saveUsers(pids: number[]): void {
  writeFileSync(usersFile, pids.join('\n'));
}

export function setup(): void {
  if (process.env.DATACUBE_TEST_CLICKHOUSE || process.env.DATACUBE_SKIP_CLICKHOUSE === '1' || !installed()) return;
  mkdirSync(work, { recursive: true });
  saveUsers([...users(), process.pid]);
  registered = true;
  let up = true;
  try {
    sh('status');
  } catch {
    up = false;
  }
  if (!up) {
    process.stderr.write('[globalSetup] starting ClickHouse servers on loopback (.ci/clickhouse.sh start)\n');
    sh('start');
    writeFileSync(startedMarker, String(process.pid));
  }
  for (const line of sh('env').split('\n')) {
    const m = /^export ([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m?.[1] && m[2] !== undefined) process.env[m[1]] = m[2];
  }
}

export function teardown(): void {
  if (!registered) return;
  const rest = users().filter((p) => p !== process.pid);
  saveUsers(rest);
  if (rest.length === 0 && existsSync(startedMarker)) {
    sh('stop');
    rmSync(startedMarker, { force: true });
  }
}
