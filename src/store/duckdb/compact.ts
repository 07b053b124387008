/**
 * Compaction: the DuckDB file written afresh, so that deleted rows are gone from it. DuckDB marks deleted rows and
 * reuses freed blocks later, but never overwrites them at once: a deleted openid stays readable in the file (in its
 * row group, or in free blocks) until then. A fresh copy holds only live rows; it replaces the file by a rename.
 *
 * The copy is taken from a snapshot while the store goes on appending and deriving (`copyLive`); then, with every
 * connection held (`catchUp`), what changed since the snapshot is brought over: events appended since (they only
 * grow, by `seq`), and every table that is neither `events` nor derived, copied whole (apps, tokens, usage, …).
 * Derived tables stay as the snapshot had them: each family's tables are consistent with its derive position, so
 * the store's derive folds in the newer events after the swap, as it does after a restart.
 *
 * The swap is safe against a crash at any point (see `swapFiles` and `recoverCompaction`): a copy becomes "ready" only
 * once it holds everything, and from then on it is the store's truth until it has taken the file's place.
 */
import { existsSync, renameSync, rmSync } from 'node:fs';
import type { DuckDBConnection } from '@duckdb/node-api';
import { DERIVED_FAMILIES } from './personal.ts';

export const COMPACT_ALIAS = 'datacube_compact';

function quoted(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/** The file a compaction writes before it replaces `path` with it. */
export function compactPath(path: string): string {
  return `${path}.compact`;
}
/** The copy once complete (caught up, checkpointed, detached): from then on it holds everything. */
function readyPath(path: string): string {
  return `${path}.compact-ready`;
}
/** The old file's write-ahead log, moved aside during the swap (its content is in the ready copy). */
function staleWalPath(path: string): string {
  return `${path}.wal-stale`;
}

/** Removes a copy still being written (the store's own file and log are untouched until the copy is ready). */
export function removeCompactLeftovers(path: string): void {
  for (const p of [compactPath(path), `${compactPath(path)}.wal`]) if (existsSync(p)) rmSync(p, { force: true });
}

/**
 * Before the store opens its file: finishes a swap that a crash interrupted once the copy was ready (the copy holds
 * every acknowledged write; the old file and log are dropped), and removes a copy that was not ready yet.
 */
export function recoverCompaction(path: string): void {
  if (existsSync(readyPath(path))) {
    rmSync(`${path}.wal`, { force: true });
    renameSync(readyPath(path), path);
  }
  rmSync(staleWalPath(path), { force: true });
  removeCompactLeftovers(path);
}

/** Marks the detached, checkpointed copy ready (it is the truth from now on, should the process die). */
export function markReady(path: string): void {
  renameSync(compactPath(path), readyPath(path));
}

/**
 * With the old instance closed without a checkpoint (its log kept): moves the old log aside, puts the ready copy in
 * the file's place, drops the old log. If this fails, puts things back as they were (the old file and log, no ready
 * copy), so that reopening the file finds the old database whole.
 */
export function swapFiles(path: string): void {
  const wal = `${path}.wal`;
  try {
    if (existsSync(wal)) renameSync(wal, staleWalPath(path));
    renameSync(readyPath(path), path);
  } catch (e) {
    if (existsSync(staleWalPath(path)) && !existsSync(wal)) renameSync(staleWalPath(path), wal);
    rmSync(readyPath(path), { force: true });
    throw e;
  }
  rmSync(staleWalPath(path), { force: true });
}

/** Copies the whole database into a new file attached as COMPACT_ALIAS, from one snapshot. */
export async function copyLive(conn: DuckDBConnection, path: string): Promise<void> {
  removeCompactLeftovers(path);
  const db = String((await conn.runAndReadAll('SELECT current_database()')).getRows()[0]?.[0] ?? '');
  await conn.run(`ATTACH ${literal(compactPath(path))} AS ${COMPACT_ALIAS}`);
  await conn.run(`COPY FROM DATABASE ${quoted(db)} TO ${COMPACT_ALIAS}`);
}

/**
 * Brings the copy up to date (see the file comment) and detaches it, checkpointed. The caller holds every
 * connection of the store, so nothing changes meanwhile.
 */
export async function catchUp(conn: DuckDBConnection): Promise<void> {
  const db = String((await conn.runAndReadAll('SELECT current_database()')).getRows()[0]?.[0] ?? '');
  const derived = new Set(DERIVED_FAMILIES.flatMap((f) => f.tables));
  const tables = (
    await conn.runAndReadAll(
      `SELECT table_name FROM duckdb_tables() WHERE database_name = $1 AND schema_name = 'main' AND NOT temporary ORDER BY table_name`,
      [db],
    )
  )
    .getRows()
    .map((r) => String(r[0]));
  await conn.run('BEGIN TRANSACTION');
  try {
    const target = (t: string) => `${COMPACT_ALIAS}.main.${quoted(t)}`;
    for (const t of tables) {
      if (derived.has(t)) continue;
      if (t === 'events') {
        await conn.run(
          `INSERT INTO ${target(t)} SELECT * FROM ${quoted(db)}.main.events
           WHERE seq > (SELECT coalesce(max(seq), 0) FROM ${target(t)}) ORDER BY seq`,
        );
      } else {
        await conn.run(`DELETE FROM ${target(t)}`);
        await conn.run(`INSERT INTO ${target(t)} SELECT * FROM ${quoted(db)}.main.${quoted(t)}`);
      }
    }
    await conn.run('COMMIT');
  } catch (e) {
    await conn.run('ROLLBACK').catch(() => undefined);
    throw e;
  }
  await conn.run(`CHECKPOINT ${COMPACT_ALIAS}`);
  await conn.run(`DETACH ${COMPACT_ALIAS}`);
}

/** Gives up a copy (after a failure): detaches it if attached and removes its file. */
export async function abandonCopy(conn: DuckDBConnection, path: string): Promise<void> {
  await conn.run(`DETACH DATABASE IF EXISTS ${COMPACT_ALIAS}`).catch(() => undefined);
  removeCompactLeftovers(path);
}
