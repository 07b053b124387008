/**
 * The analysis family's contract on ClickHouse 26.x, in-process through chdb (as chdb.test.ts does for the store
 * contract): the analysis tables' SQL, written for 18.16, runs on a current ClickHouse too. chdb is installed by CI
 * only; outside CI this file skips itself when chdb is missing and says how to get it; in CI a missing chdb fails.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, it } from 'vitest';
import { describeAnalysisContract } from '../analysis.contract.suite.ts';
import { CHDB_HINT, ChdbConnection, type ChdbSession, loadChdb } from './chdb.ts';
import { ClickHouseStore } from './ClickHouseStore.ts';

const chdb = loadChdb();

if (!chdb) {
  if (process.env.CI) {
    it('chdb (ClickHouse 26.x) is installed in CI', () => {
      throw new Error(`chdb is not installed: ${CHDB_HINT}`);
    });
  } else {
    it.skip(`analysis contract on chdb (ClickHouse 26.x): chdb is not installed; ${CHDB_HINT}`, () => undefined);
  }
} else {
  const dir = mkdtempSync(join(tmpdir(), 'datacube-chdb-analysis-'));
  const session: ChdbSession = new chdb.Session(dir);
  const connection = new ChdbConnection(session, 'datacube_chdb_analysis');
  afterAll(() => {
    session.close();
    rmSync(dir, { recursive: true, force: true });
  });
  describe('analysis family on chdb (ClickHouse 26.x, in-process)', () => {
    describeAnalysisContract('chdb single server', () => ClickHouseStore.over(connection), 8);
  });
}
