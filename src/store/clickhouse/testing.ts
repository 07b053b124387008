/**
 * Helpers for the tests that need a real ClickHouse. Not used in production.
 *
 * `npm test` starts private ClickHouse servers for the run (test/globalSetup.ts) when Debian's clickhouse-server is
 * installed, or uses the servers the DATACUBE_TEST_CLICKHOUSE* variables name. A test file calls
 * `describeWithClickHouse(VARS, name, body)`:
 * - every variable in VARS set (store URLs): `body(url of the first)` registers the real tests;
 * - otherwise, outside CI: the suite is reported skipped, its name saying why and how to run it (the run prints
 *   the same once, from the global setup);
 * - otherwise with CI set: one test that fails, saying why: CI must run every suite.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type Connection, HttpConnection } from './connection.ts';
import { dropStoreDatabases } from './migrate.ts';
import { parseClickHouseUrl, withDatabase } from './url.ts';

export const START_HINT = 'install Debian\'s clickhouse-server and zookeeper (sudo .ci/clickhouse.sh install) and run npm test again';

/** Why the ClickHouse tests cannot run, or undefined when they can (every variable named is set). */
export function clickHouseMissing(envVars: readonly string[]): string | undefined {
  const unset = envVars.filter((v) => !process.env[v]);
  if (unset.length === 0) return undefined;
  if (process.env.DATACUBE_SKIP_CLICKHOUSE === '1') return 'DATACUBE_SKIP_CLICKHOUSE=1 turns them off';
  return process.env.DATACUBE_TEST_CLICKHOUSE_MISSING ?? `${unset.join(' and ')} ${unset.length > 1 ? 'are' : 'is'} not set`;
}

export function describeWithClickHouse(envVars: string | readonly string[], name: string, body: (url: string) => void): void {
  const vars = typeof envVars === 'string' ? [envVars] : envVars;
  const why = clickHouseMissing(vars);
  if (why === undefined) {
    describe(name, () => body(process.env[vars[0] ?? ''] ?? ''));
    return;
  }
  if (process.env.CI && process.env.CI !== 'false') {
    it(`${name}: needs ClickHouse`, () => {
      expect.fail(`CI is set, so the ClickHouse tests must run, but ${why}: ${START_HINT}`);
    });
    return;
  }
  describe.skip(`${name} — skipped: ${why}; to run it, ${START_HINT}`, () => {
    it('runs against a real ClickHouse server', () => undefined);
  });
}

/** The URL with a fresh database name `<db>_<random>`, so test files never see each other's data. */
export function freshDatabaseUrl(url: string): string {
  const t = parseClickHouseUrl(url);
  return withDatabase(url, `${t.database}_${randomBytes(4).toString('hex')}`);
}

/** Drops the URL's database (ON CLUSTER in cluster mode). */
export async function dropDatabase(url: string): Promise<void> {
  const c = HttpConnection.open(parseClickHouseUrl(url));
  try {
    await dropStoreDatabases(c);
  } finally {
    await c.close();
  }
}

/** `http://host:port` of each shard, for reading a shard's local tables directly. */
export function shardEndpoints(): string[] {
  const v = process.env.DATACUBE_TEST_CLICKHOUSE_SHARDS;
  if (!v) throw new Error(`DATACUBE_TEST_CLICKHOUSE_SHARDS is not set: ${START_HINT}`);
  return v.split(',').map((s) => s.trim()).filter(Boolean);
}

/** A connection to one server (no cluster), same credentials and database as `url`. */
export function connectTo(url: string, http: string): Connection {
  return HttpConnection.open({ ...parseClickHouseUrl(url), http, cluster: undefined });
}
