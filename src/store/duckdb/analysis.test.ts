import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { describeAnalysisContract } from '../analysis.contract.suite.ts';
import { DuckDBStore } from './DuckDBStore.ts';

const dir = mkdtempSync(join(tmpdir(), 'datacube-duckdb-analysis-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeAnalysisContract('DuckDB', () => DuckDBStore.create(join(dir, 'analysis.duckdb')));
