import { join } from 'node:path';
import type { Store } from './store.ts';
import { DuckDBStore, type DuckDBStoreOptions } from './duckdb/index.ts';

/** The DuckDB file inside a data directory. */
export function duckdbPath(dataDir: string): string {
  return join(dataDir, 'datacube.duckdb');
}

/**
 * Opens the store a setting names: `duckdb` (the embedded file in the data directory) or
 * `clickhouse://USER:PASS@HOST:PORT/DB[?cluster=NAME]`.
 */
export async function openStore(spec: string, dataDir: string, opts: DuckDBStoreOptions = {}): Promise<Store> {
  if (spec === 'duckdb' || spec === '') {
    try {
      return await DuckDBStore.create(duckdbPath(dataDir), opts);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      if (/lock/i.test(msg)) {
        throw new Error(`${duckdbPath(dataDir)} is in use by another process (is a datacube server running on this data directory?)`);
      }
      throw e;
    }
  }
  if (spec.startsWith('clickhouse://')) {
    const { openClickHouseStore } = await import('./clickhouse/index.ts');
    return openClickHouseStore(spec, { maxDeviceNames: opts.maxDeviceNames });
  }
  throw new Error(`unknown store "${spec}": use "duckdb" or clickhouse://USER:PASS@HOST:8123/DB[?cluster=NAME]`);
}
