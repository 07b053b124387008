/**
 * `npm run bench`: datacube's speed as ratios against baselines measured in the same run (see bench/README.md).
 * Prints a table and writes bench/results.json. `BENCH_QUICK=1`: small sizes, one run each (a smoke test).
 * `BENCH_ONLY=P1,P3`: only those sections (P1 includes P4, P6 includes P6b; P10 is the analysis family); results.json keeps the other sections'
 * figures from their last run, each with the date it was measured. `BENCH_ONLY=P5.ingest`: P5's ingest figure alone (no
 * 2M-user generation). `BENCH_KEEP=1`: keep the scratch directory.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { cliBench } from './cli.ts';
import { analysisBench } from './analysis.ts';
import { clickhouseBench } from './clickhouse.ts';
import { collectBench } from './collect.ts';
import { fairnessBench } from './fairness.ts';
import { ingestBench } from './ingest.ts';
import { personalBench } from './personal.ts';
import { type Figure, QUICK, RUNS, log, machine, table } from './lib.ts';
import { portraitBench } from './portrait.ts';
import { warmApiBench } from './warmApi.ts';

const here = dirname(fileURLToPath(import.meta.url));
const only = (process.env.BENCH_ONLY ?? '')
  .split(',')
  .map((s) => s.trim().toUpperCase())
  .filter(Boolean);
/** Single figures that can be run without the rest of their section (`BENCH_ONLY=P5.ingest`). */
const PARTS = ['P5.INGEST'];
/** Whether section `id` runs: named itself, or one of its parts named. */
const wanted = (id: string) => only.length === 0 || only.includes(id) || only.some((o) => PARTS.includes(o) && o.startsWith(`${id}.`));
/** Whether only part `part` of its section runs (its section is not named). */
const onlyPart = (part: string) => only.includes(part.toUpperCase()) && !only.includes(part.toUpperCase().split('.')[0] ?? '');

async function duckdbVersion(): Promise<string> {
  const inst = await DuckDBInstance.create(':memory:');
  const c = await inst.connect();
  const v = String((await c.runAndReadAll('SELECT version()')).getRows()[0]?.[0] ?? '?');
  c.closeSync();
  inst.closeSync();
  return v;
}

const started = Date.now();
const scratch = mkdtempSync(join(tmpdir(), 'datacube-bench-'));
const figures: Figure[] = [];
const results = {
  machine: machine(await duckdbVersion()),
  date: new Date().toISOString(),
  mode: QUICK ? 'quick (BENCH_QUICK=1: small sizes, 1 run; not comparable with full runs)' : `full (median of ${RUNS} runs)`,
  figures,
  seconds: 0,
};

let keptFigures: (Figure & { measured?: string })[] | undefined;

/** The section a figure belongs to (`P1.7d` → P1; P4 is measured by P1; P3b, P6b, P9b by P3, P6, P9). */
const sectionOf = (id: string) => (id === 'P4' ? 'P1' : (id.split('.')[0] ?? id).replace(/[a-z]+$/, ''));

/**
 * With BENCH_ONLY, the figures of the sections not run are kept from the results file as it was, with the date of
 * the run that measured them, so running one section never drops the others.
 */
function kept(path: string): (Figure & { measured?: string })[] {
  if (only.length === 0 || !existsSync(path)) return [];
  try {
    const old = JSON.parse(readFileSync(path, 'utf8')) as { date?: string; figures?: (Figure & { measured?: string })[] };
    const rerun = (f: Figure) => only.includes(sectionOf(f.id)) || only.includes(f.id.toUpperCase());
    return (old.figures ?? []).filter((f) => !rerun(f)).map((f) => ({ ...f, measured: f.measured ?? old.date }));
  } catch {
    return [];
  }
}

function save(): void {
  results.seconds = Math.round((Date.now() - started) / 1000);
  // A quick run writes beside the real results, so a smoke test never overwrites them.
  const path = join(here, QUICK ? 'results.quick.json' : 'results.json');
  const previous = keptFigures ?? (keptFigures = kept(path));
  writeFileSync(path, `${JSON.stringify({ ...results, figures: [...previous, ...figures] }, null, 2)}\n`);
}

const sections: [string, (dir: string) => Promise<Figure[]>][] = [
  ['P1', portraitBench],
  ['P2', warmApiBench],
  ['P3', ingestBench],
  ['P5', (dir) => clickhouseBench(dir, { ingestOnly: onlyPart('P5.ingest') })],
  ['P6', collectBench],
  ['P7', cliBench],
  ['P8', fairnessBench],
  ['P10', analysisBench],
  ['P9', personalBench],
];

let failed = false;
try {
  for (const [id, run] of sections) {
    if (!wanted(id)) continue;
    const dir = join(scratch, id);
    mkdirSync(dir, { recursive: true });
    try {
      figures.push(...(await run(dir)));
    } catch (e) {
      failed = true;
      const msg = e instanceof Error ? (e.stack ?? e.message) : String(e);
      log(`${id} failed: ${msg}`);
      figures.push({ id, what: `${id} did not complete`, value: null, baseline: null, ratio: null, goal: '–', met: false, detail: { error: msg } });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    save();
  }
} finally {
  if (process.env.BENCH_KEEP !== '1') rmSync(scratch, { recursive: true, force: true });
}
save();

process.stdout.write(`\ndatacube bench — ${results.machine}\n${results.date}, ${results.mode}, ${results.seconds} s\n\n${table(figures)}\n\n`);
const missed = figures.filter((f) => f.met === false);
if (missed.length > 0) process.stdout.write(`Goals missed: ${missed.map((f) => f.id).join(', ')}\n`);
process.exitCode = failed ? 1 : 0;
