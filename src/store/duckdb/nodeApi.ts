import { createRequire } from 'node:module';

/**
 * `@duckdb/node-api`, loaded with `require` rather than `import`. The package is CommonJS (about 120 files): imported
 * from ESM, Node runs its CommonJS export scanner over every one of them, which was a third of a CLI `portrait`
 * start (≈0.45 s of 1.6 s on the bench machine). Types still come from `import type`.
 */
export const duckdb = createRequire(import.meta.url)('@duckdb/node-api') as typeof import('@duckdb/node-api');
