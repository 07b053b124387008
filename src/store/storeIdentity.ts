import { join, resolve } from 'node:path';
import { parseClickHouseUrl } from './clickhouse/url.ts';

/**
 * What a store setting points at, without its password, so two settings can be compared and the result shown:
 * `duckdb /abs/data/datacube.duckdb`, or `clickhouse default@http://127.0.0.1:8123/datacube?cluster=c`.
 * Throws for a setting that names no store (as `openStore` would).
 */
export function storeIdentity(spec: string, dataDir: string): string {
  if (spec === 'duckdb' || spec === '') return `duckdb ${resolve(join(dataDir, 'datacube.duckdb'))}`;
  if (spec.startsWith('clickhouse://') || spec.startsWith('clickhouses://')) {
    const t = parseClickHouseUrl(spec);
    return `clickhouse ${t.username}@${t.http}/${t.database}${t.cluster ? `?cluster=${t.cluster}` : ''}`;
  }
  throw new Error(`unknown store "${spec}": use "duckdb" or clickhouse://USER:PASS@HOST:8123/DB[?cluster=NAME]`);
}
