/**
 * The analysis family's contract on the two-shard ClickHouse cluster (DATACUBE_TEST_CLICKHOUSE_CLUSTER), in a fresh
 * database, against the in-memory reference: every shard answers for its own users and the counts add up.
 */
import { afterAll } from 'vitest';
import { describeAnalysisContract } from '../analysis.contract.suite.ts';
import { registerAnalysisBackfill, registerAnalysisFolds, registerAnalysisTypeCase } from './analysisScenarios.ts';
import { openClickHouseStore } from './index.ts';
import { describeWithClickHouse, dropDatabase, freshDatabaseUrl } from './testing.ts';

describeWithClickHouse('DATACUBE_TEST_CLICKHOUSE_CLUSTER', 'ClickHouse analysis (two-shard cluster)', (baseUrl) => {
  const url = freshDatabaseUrl(baseUrl);
  afterAll(() => dropDatabase(url));
  describeAnalysisContract('ClickHouse cluster', () => openClickHouseStore(url), 6);
  registerAnalysisBackfill(baseUrl);
  registerAnalysisFolds(baseUrl);
  registerAnalysisTypeCase(baseUrl);
});
