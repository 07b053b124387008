/**
 * P5: P1 on the ClickHouse backend, when `DATACUBE_BENCH_CLICKHOUSE` names a server (clickhouse://…) and the
 * backend exists. Without a server it is recorded as skipped, which is not a failure.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './child.ts';
import type { Figure } from './lib.ts';

export async function clickhouseBench(_dir: string): Promise<Figure[]> {
  const url = process.env.DATACUBE_BENCH_CLICKHOUSE;
  const skipped = (why: string): Figure[] => [
    { id: 'P5', what: 'P1 on ClickHouse', value: null, baseline: null, ratio: null, goal: '≤ 1.0', met: null, skipped: why },
  ];
  if (!url || !url.startsWith('clickhouse')) return skipped('no ClickHouse server');
  if (!existsSync(join(ROOT, 'src', 'store', 'clickhouse', 'index.ts'))) return skipped('no ClickHouse backend in this tree');
  return skipped('not measured yet: the ClickHouse half of the synthetic generator is still to be written (see bench/README.md)');
}
