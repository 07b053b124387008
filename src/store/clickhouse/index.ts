import type { Store } from '../store.ts';
import { ClickHouseStore, type ClickHouseStoreOptions } from './ClickHouseStore.ts';

export { ClickHouseStore, type ClickHouseStoreOptions } from './ClickHouseStore.ts';
export { parseClickHouseUrl, withDatabase, type ClickHouseTarget } from './url.ts';
export { hasDatacubeStore } from './migrate.ts';

/**
 * Opens the ClickHouse store named by `clickhouse://USER:PASS@HOST:8123/DB[?cluster=NAME]` (`clickhouses://` for
 * HTTPS), creating the database and tables on first use. Works with ClickHouse 18.16 and current versions.
 * With `?cluster=NAME` the tables are created ON CLUSTER (which needs the servers' ZooKeeper/Keeper for
 * distributed DDL) and read and written through Distributed tables.
 */
export async function openClickHouseStore(url: string, opts?: ClickHouseStoreOptions): Promise<Store> {
  return ClickHouseStore.open(url, opts);
}
