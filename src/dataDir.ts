import { chmodSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** The data directory is readable by its owner only (it holds the store, the master key and the admin key). */
export const DATA_DIR_MODE = 0o700;
/** And so is every file in it. */
export const DATA_FILE_MODE = 0o600;

/** The files datacube keeps in a data directory (and their temporary and write-ahead companions). */
const OWN_FILE = /^(datacube\.duckdb(\.wal|\.tmp)?|master\.key|server\.json(\.\d+\.tmp)?|demo\.json)$/;

/**
 * Creates the data directory if needed and makes it and datacube's files in it private to the owner: the directory
 * 0700, the files 0600 (also those an older version left 0644), and the process umask 077, so that the files DuckDB
 * creates later (the write-ahead log, temporary files) are 0600 too. The umask is the process's: datacube owns its
 * process, and every file it writes belongs in a private place. A directory that also holds other people's files
 * (`--data .`) keeps its own mode, and only datacube's files in it are changed.
 */
export function secureDataDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: DATA_DIR_MODE });
  try {
    process.umask(process.umask() | 0o077);
  } catch {
    // Worker threads may not change the umask; the files below are still made private.
  }
  const names = readdirSync(dir);
  if (names.every((n) => OWN_FILE.test(n) || n === 'datacube.duckdb.tmp')) tighten(dir, DATA_DIR_MODE);
  for (const name of names) {
    if (!OWN_FILE.test(name)) continue;
    const path = join(dir, name);
    const st = lstatSync(path);
    if (st.isFile()) tighten(path, DATA_FILE_MODE);
    else if (st.isDirectory()) tighten(path, DATA_DIR_MODE);
  }
}

function tighten(path: string, mode: number): void {
  try {
    if ((lstatSync(path).mode & 0o777) !== mode) chmodSync(path, mode);
  } catch {
    // Not ours to change (another owner, a read-only mount): leave it as it is.
  }
}
