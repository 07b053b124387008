/**
 * The analysis family's contract on ClickHouse 26.x, in-process through chdb (as chdb.test.ts does for the store
 * contract): the analysis tables' SQL, written for 18.16, runs on a current ClickHouse too. Outside CI this file skips
 * itself when chdb is missing and says how to get it; in CI a missing chdb fails (chdb.suite.ts).
 */
import { describeAnalysisContract } from '../analysis.contract.suite.ts';
import { describeOnChdb } from './chdb.suite.ts';
import { ClickHouseStore } from './ClickHouseStore.ts';

describeOnChdb('analysis family', 'datacube_chdb_analysis', (connection) => {
  describeAnalysisContract('chdb single server', () => ClickHouseStore.over(connection), 8);
});
