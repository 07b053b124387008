/**
 * Makes `npm test` run every test from a clean clone: when the ClickHouse test URLs are not set and Debian's
 * clickhouse-server is installed, start the loopback servers of .ci/clickhouse.sh for the run (and stop them after,
 * unless they were already up). Without clickhouse-server, the ClickHouse tests fail and say how to install it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

const script = resolve(import.meta.dirname, '../.ci/clickhouse.sh');
let startedHere = false;

function installed(): boolean {
  return ['/usr/bin/clickhouse-server', '/usr/sbin/clickhouse-server', '/usr/bin/clickhouse'].some((p) => existsSync(p));
}

function sh(arg: string): string {
  return execFileSync('bash', [script, arg], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function setup(): void {
  if (process.env.DATACUBE_TEST_CLICKHOUSE || process.env.DATACUBE_SKIP_CLICKHOUSE === '1' || !installed()) return;
  let up = false;
  try {
    sh('status');
    up = true;
  } catch {
    up = false;
  }
  if (!up) {
    process.stderr.write('[globalSetup] starting ClickHouse servers on loopback (.ci/clickhouse.sh start)\n');
    sh('start');
    startedHere = true;
  }
  for (const line of sh('env').split('\n')) {
    const m = /^export ([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m?.[1] && m[2] !== undefined) process.env[m[1]] = m[2];
  }
}

export function teardown(): void {
  if (startedHere) sh('stop');
}
