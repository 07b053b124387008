/**
 * ClickHouse for `npm test`, so that every test runs from a clean clone:
 * - DATACUBE_TEST_CLICKHOUSE (and _CLUSTER, _SHARDS) set: the tests use the servers they name, nothing is started;
 * - otherwise, when Debian's clickhouse-server is installed: private servers for this run only — a single server,
 *   and the two-shard cluster when ZooKeeper is installed too — on free loopback ports, in a temporary directory,
 *   stopped and removed when the run ends (.ci/clickhouse.sh with its ports moved);
 * - otherwise (or with DATACUBE_SKIP_CLICKHOUSE=1): the ClickHouse suites report themselves skipped, and this prints
 *   one line saying why and how to run them. With CI set they fail instead: CI runs every suite.
 *
 * DATACUBE_CLICKHOUSE_SERVER names the clickhouse-server binary to use (a path that does not exist = not installed).
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { findClickHouseServer } from './clickhouseServer.ts';
import { promisify } from 'node:util';

const run = promisify(execFile);
const script = resolve(import.meta.dirname, '../.ci/clickhouse.sh');
const inCi = () => Boolean(process.env.CI) && process.env.CI !== 'false';
let started: { env: NodeJS.ProcessEnv; work: string; watchdog?: import('node:child_process').ChildProcess } | undefined;

function zookeeperInstalled(): boolean {
  const java = (process.env.PATH ?? '').split(delimiter).some((d) => d && existsSync(join(d, 'java')));
  return java && existsSync('/usr/share/java/zookeeper.jar');
}

/** `n` distinct free TCP ports on loopback (held open together while chosen, so they differ). */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<import('node:net').Server>((ok, fail) => {
          const s = createServer();
          s.once('error', fail);
          s.listen(0, '127.0.0.1', () => ok(s));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const a = s.address();
    return typeof a === 'object' && a ? a.port : 0;
  });
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

function skipped(why: string): void {
  process.env.DATACUBE_TEST_CLICKHOUSE_MISSING = why;
  const what = inCi() ? 'ClickHouse tests will FAIL (CI is set)' : 'ClickHouse tests skipped';
  process.stderr.write(`[datacube] ${what}: ${why}; to run them, install Debian's clickhouse-server and zookeeper (sudo .ci/clickhouse.sh install) and run npm test again\n`);
}

export async function setup(): Promise<void> {
  if (process.env.DATACUBE_TEST_CLICKHOUSE) return;
  if (process.env.DATACUBE_SKIP_CLICKHOUSE === '1') return skipped('DATACUBE_SKIP_CLICKHOUSE=1 turns them off');
  const server = findClickHouseServer();
  if (!server) {
    return skipped(
      process.env.DATACUBE_CLICKHOUSE_SERVER !== undefined
        ? `DATACUBE_CLICKHOUSE_SERVER=${process.env.DATACUBE_CLICKHOUSE_SERVER} does not exist`
        : 'clickhouse-server is not installed',
    );
  }
  const cluster = zookeeperInstalled();
  const [sh, st, s1h, s1t, s2h, s2t, zk] = await freePorts(7);
  const work = mkdtempSync(join(tmpdir(), 'datacube-ch-'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CH_WORK: work,
    CH_SERVER_BIN: server,
    CH_NODES: cluster ? 'single shard1 shard2' : 'single',
    CH_SINGLE_HTTP: String(sh),
    CH_SINGLE_TCP: String(st),
    CH_SHARD1_HTTP: String(s1h),
    CH_SHARD1_TCP: String(s1t),
    CH_SHARD2_HTTP: String(s2h),
    CH_SHARD2_TCP: String(s2t),
    CH_ZK_PORT: String(zk),
  };
  // Should this process die without its teardown (SIGKILL), a watchdog stops the servers and removes the directory.
  const watchdog = spawn(
    'bash',
    ['-c', 'while kill -0 "$1" 2>/dev/null; do sleep 2; done; bash "$2" stop >/dev/null 2>&1; rm -rf "$3"', 'watchdog', String(process.pid), script, work],
    { env, detached: true, stdio: 'ignore' },
  );
  watchdog.unref();
  started = { env, work, watchdog };
  try {
    await run('bash', [script, 'start'], { env, encoding: 'utf8' });
  } catch (e) {
    const out = e as { stderr?: string; message?: string };
    await teardown();
    const why = `the ClickHouse servers did not start (${(out.stderr ?? out.message ?? '').trim().split('\n').slice(-3).join(' / ')})`;
    if (inCi()) throw new Error(why);
    return skipped(why);
  }
  const { stdout } = await run('bash', [script, 'env'], { env, encoding: 'utf8' });
  for (const line of stdout.split('\n')) {
    const m = /^export ([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m?.[1] && m[2] !== undefined) process.env[m[1]] = m[2];
  }
  if (!cluster) process.env.DATACUBE_TEST_CLICKHOUSE_MISSING = 'ZooKeeper (for the cluster) is not installed';
  process.stderr.write(
    `[datacube] ClickHouse for this run: single server :${sh}${cluster ? `, cluster :${s1h} :${s2h}, ZooKeeper :${zk}` : ' (no ZooKeeper: cluster tests skipped)'}, in ${work}\n`,
  );
}

export async function teardown(): Promise<void> {
  if (!started) return;
  const { env, work, watchdog } = started;
  started = undefined;
  watchdog?.kill();
  await run('bash', [script, 'stop'], { env, encoding: 'utf8' }).catch(() => undefined);
  rmSync(work, { recursive: true, force: true });
}
