export type { Store, AppendResult, EventStats } from './store.ts';
export type { AppRecord, AppPatch, TokenRecord, TokenKind } from './records.ts';
export * from './lifecycle.ts';
export { openStore, duckdbPath } from './openStore.ts';
export { DuckDBStore } from './duckdb/index.ts';
export { VALUE_BITS, VALUE_MASK } from './packing.ts';
