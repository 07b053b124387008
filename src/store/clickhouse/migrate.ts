import type { Connection } from './connection.ts';
import { BOOTSTRAP, MIGRATIONS, type Migration } from './schema.ts';
import { sql } from './sql.ts';

/**
 * Creates the database and `schema_migrations` if needed, then applies, in order, every migration not yet
 * recorded. Returns the versions it applied. Safe to run from several servers at once: statements are
 * idempotent, and a version recorded twice is harmless (the table collapses it).
 */
export async function migrate(c: Connection, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  // Distributed DDL takes a round through ZooKeeper per statement: skip the bootstrap when it is done.
  const have = await c.rows<{ n: string }>(
    sql`SELECT count() AS n FROM system.tables WHERE database = ${c.target.database} AND name = 'schema_migrations'`,
  );
  if (Number(have[0]?.n ?? 0) === 0) for (const stmt of BOOTSTRAP(c)) await c.exec(stmt);
  const done = new Set(
    (await c.rows<{ version: number }>(sql`SELECT version FROM ${c.table('schema_migrations')} GROUP BY version`)).map((r) =>
      Number(r.version),
    ),
  );
  const applied: number[] = [];
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (done.has(m.version)) continue;
    for (const stmt of m.statements(c)) await c.exec(stmt);
    await c.insert('schema_migrations', [{ version: m.version, name: m.name }]);
    applied.push(m.version);
  }
  return applied;
}
