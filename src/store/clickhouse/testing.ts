/**
 * Helpers for the tests that need a real ClickHouse (started by `.ci/clickhouse.sh start`). Not used in production.
 *
 * A test file calls `describeWithClickHouse(VAR, name, body)`:
 * - VAR set (a store URL): `body(url)` registers the real tests, against a fresh database per file;
 * - VAR unset: one test that fails, saying how to start the servers;
 * - VAR unset and DATACUBE_SKIP_CLICKHOUSE=1: one test stating that the ClickHouse tests are turned off, which
 *   fails when CI is set (CI must run them). It is a test, not a skip: a green run never contains skipped tests,
 *   and vitest fails a file that registers none.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type Connection, HttpConnection } from './connection.ts';
import { dropStoreDatabases } from './migrate.ts';
import { parseClickHouseUrl, withDatabase } from './url.ts';

export const START_HINT = 'start ClickHouse with `.ci/clickhouse.sh install && .ci/clickhouse.sh start && eval "$(.ci/clickhouse.sh env)"`';

export function describeWithClickHouse(envVar: string, name: string, body: (url: string) => void): void {
  const url = process.env[envVar];
  if (url) {
    describe(name, () => body(url));
    return;
  }
  if (process.env.DATACUBE_SKIP_CLICKHOUSE === '1') {
    it(`${name}: turned off by DATACUBE_SKIP_CLICKHOUSE=1 (never allowed in CI)`, () => {
      expect(process.env.CI ?? '', `CI is set, so the ClickHouse tests must run: ${START_HINT}`).toBe('');
    });
    return;
  }
  it(`${name}: needs ${envVar}`, () => {
    throw new Error(`${envVar} is not set: ${START_HINT} (or set DATACUBE_SKIP_CLICKHOUSE=1 to leave them out locally)`);
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
