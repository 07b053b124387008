export { DuckDBStore, type DuckDBStoreOptions } from './DuckDBStore.ts';
