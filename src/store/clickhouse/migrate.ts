import { type Connection, HttpConnection } from './connection.ts';
import { Leases, leasesDb, leasesDbName } from './lease.ts';
import { BOOTSTRAP, MIGRATIONS, type Migration } from './schema.ts';
import { sql } from './sql.ts';
import { parseClickHouseUrl } from './url.ts';

async function applied(c: Connection): Promise<Set<number>> {
  const rows = await c.rows<{ version: number }>(sql`SELECT version FROM ${c.table('schema_migrations')} GROUP BY version`);
  return new Set(rows.map((r) => Number(r.version)));
}

/**
 * Creates the database and `schema_migrations` if needed, then applies, in order, every migration not yet
 * recorded. Returns the versions it applied. Safe to run from several servers at once: the bootstrap statements are
 * idempotent, and the migrations run under the writer lease `schema` (lease.ts), so one server applies them while
 * the others wait and then find them recorded.
 */
export async function migrate(c: Connection, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  // Distributed DDL takes a round through ZooKeeper per statement: skip the bootstrap when it is done.
  const have = await c.rows<{ n: string }>(
    sql`SELECT count() AS n FROM system.tables WHERE database = ${c.target.database} AND name = 'schema_migrations'`,
  );
  if (Number(have[0]?.n ?? 0) === 0) for (const stmt of BOOTSTRAP(c)) await c.exec(stmt);
  const leaseDb = await c.rows<{ n: string }>(sql`SELECT count() AS n FROM system.databases WHERE name = ${leasesDbName(c)}`);
  if (Number(leaseDb[0]?.n ?? 0) === 0) await c.exec(sql`CREATE DATABASE IF NOT EXISTS ${leasesDb(c)}${c.onCluster}`);
  const pending = (done: Set<number>) => [...migrations].sort((a, b) => a.version - b.version).filter((m) => !done.has(m.version));
  if (pending(await applied(c)).length === 0) return [];
  const leases = new Leases(c, { lingerMs: 0, waitMs: 600_000 });
  try {
    return await leases.run('schema', async (keepAlive) => {
      const out: number[] = [];
      for (const m of pending(await applied(c))) {
        for (const stmt of m.statements(c)) {
          try {
            await c.exec(stmt);
          } catch (e) {
            // An ADD COLUMN that another server (or a run cut short) already applied: 18.16 has no IF NOT EXISTS.
            if (!(e instanceof Error && /column with this name already exists/.test(e.message))) throw e;
          }
        }
        if (m.run) await m.run(c, keepAlive);
        await c.insert('schema_migrations', [{ version: m.version, name: m.name }]);
        out.push(m.version);
      }
      return out;
    });
  } finally {
    await leases.close();
  }
}

/** Drops the store's database and its leases database (tests and benchmarks). */
export async function dropStoreDatabases(c: Connection): Promise<void> {
  await c.exec(sql`DROP DATABASE IF EXISTS ${leasesDb(c)}${c.onCluster}`);
  await c.exec(sql`DROP DATABASE IF EXISTS ${c.db}${c.onCluster}`);
}

/**
 * Whether the database named by `url` holds a datacube store (its `schema_migrations` table), without creating
 * anything: commands that only read refuse a database that does not, as they refuse an empty data directory.
 */
export async function hasDatacubeStore(url: string): Promise<boolean> {
  const c = HttpConnection.open(parseClickHouseUrl(url), { requestTimeoutMs: 30_000 });
  try {
    const have = await c.rows<{ n: string }>(
      sql`SELECT count() AS n FROM system.tables WHERE database = ${c.target.database} AND name = 'schema_migrations'`,
    );
    return Number(have[0]?.n ?? 0) > 0;
  } finally {
    await c.close().catch(() => undefined);
  }
}
