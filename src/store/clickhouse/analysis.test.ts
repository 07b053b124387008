/**
 * The analysis family's contract on a single ClickHouse server (DATACUBE_TEST_CLICKHOUSE), in a fresh database,
 * against the in-memory reference. The cluster: analysis.cluster.test.ts.
 */
import { afterAll } from 'vitest';
import { describeAnalysisContract } from '../analysis.contract.suite.ts';
import { registerAnalysisBackfill, registerAnalysisFolds, registerAnalysisTypeCase } from './analysisScenarios.ts';
import { openClickHouseStore } from './index.ts';
import { describeWithClickHouse, dropDatabase, freshDatabaseUrl } from './testing.ts';

describeWithClickHouse('DATACUBE_TEST_CLICKHOUSE', 'ClickHouse analysis (single server)', (baseUrl) => {
  const url = freshDatabaseUrl(baseUrl);
  afterAll(() => dropDatabase(url));
  describeAnalysisContract('ClickHouse single server', () => openClickHouseStore(url), 8);
  registerAnalysisBackfill(baseUrl);
  registerAnalysisFolds(baseUrl);
  registerAnalysisTypeCase(baseUrl);
});
