/**
 * Runs a describe block against ClickHouse 26.x in-process through chdb (chdb.ts), in a fresh session directory that
 * is removed afterwards. chdb is installed by CI only (.ci/run; about 570 MB): outside CI the block is reported as
 * skipped with how to get chdb; in CI a missing chdb fails.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, it } from 'vitest';
import { CHDB_HINT, ChdbConnection, type ChdbSession, loadChdb } from './chdb.ts';

export function describeOnChdb(what: string, database: string, body: (connection: ChdbConnection) => void): void {
  const chdb = loadChdb();
  if (!chdb) {
    if (process.env.CI) {
      it(`chdb (ClickHouse 26.x) is installed in CI, for the ${what}`, () => {
        throw new Error(`chdb is not installed: ${CHDB_HINT}`);
      });
    } else {
      it.skip(`${what} on chdb (ClickHouse 26.x): chdb is not installed; ${CHDB_HINT}`, () => undefined);
    }
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), `${database.replace(/_/g, '-')}-`));
  const session: ChdbSession = new chdb.Session(dir);
  const connection = new ChdbConnection(session, database);
  afterAll(() => {
    session.close();
    rmSync(dir, { recursive: true, force: true });
  });
  describe(`${what} on chdb (ClickHouse 26.x, in-process)`, () => body(connection));
}
