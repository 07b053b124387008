export { DuckDBStore } from './DuckDBStore.ts';
