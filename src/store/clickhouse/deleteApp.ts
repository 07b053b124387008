import type { Connection } from './connection.ts';
import { getApp } from './meta.ts';
import { ident, sql } from './sql.ts';

/** How long a removal may take before `deleteApp` gives up waiting for it (the mutations go on regardless). */
const MUTATION_WAIT_MS = 120_000;

/**
 * Removes an app's rows from every MergeTree-family table of the database that has an `appid` column (on every
 * shard in cluster mode: the `_local` tables, ON CLUSTER), so tables added by later migrations are covered too.
 * ClickHouse deletes with mutations, which run in the background; this waits until none of them is left pending,
 * on every server that holds the tables, so that no read sees the app afterwards.
 */
export async function deleteApp(c: Connection, appid: string): Promise<boolean> {
  const existed = (await getApp(c, appid)) !== undefined;
  const database = c.target.database;
  const tables = await c.rows<{ name: string }>(
    sql`SELECT name FROM system.tables
        WHERE database = ${database} AND engine LIKE '%MergeTree' AND name != 'schema_migrations'
          AND name IN (SELECT table FROM system.columns WHERE database = ${database} AND name = 'appid')
        ORDER BY name`,
  );
  for (const t of tables) {
    await c.exec(sql`ALTER TABLE ${c.db}.${ident(t.name)}${c.onCluster} DELETE WHERE appid = ${appid}`);
  }
  const pending = c.clustered
    ? sql`SELECT count() AS n FROM cluster(${c.cluster ?? sql``}, system, mutations) WHERE database = ${database} AND is_done = 0`
    : sql`SELECT count() AS n FROM system.mutations WHERE database = ${database} AND is_done = 0`;
  const deadline = Date.now() + MUTATION_WAIT_MS;
  for (let wait = 20; ; wait = Math.min(500, wait * 2)) {
    const rows = await c.rows<{ n: string }>(pending);
    if (Number(rows[0]?.n ?? 0) === 0) break;
    if (Date.now() > deadline) throw new Error(`the deletion of ${appid} is still running in ClickHouse after ${MUTATION_WAIT_MS / 1000} s`);
    await new Promise((r) => setTimeout(r, wait));
  }
  return existed;
}
