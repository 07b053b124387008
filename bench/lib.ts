/** Small helpers shared by the benchmark sections: timing, medians, the results table. */
import { cpus, platform, release, totalmem } from 'node:os';

export const QUICK = process.env.BENCH_QUICK === '1';
/** Runs per figure (the median is reported): 5, or 1 in quick mode. */
export const RUNS = QUICK ? 1 : 5;

export interface Figure {
  id: string;
  what: string;
  value: number | null;
  baseline: number | null;
  ratio: number | null;
  unit?: string;
  goal: string;
  met: boolean | null;
  /** Set instead of a value when the figure could not be measured here (not a failure). */
  skipped?: string;
  /** Per-run values and anything else worth keeping. */
  detail?: Record<string, unknown>;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? Number.NaN) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

/** The p-th percentile (0–100) of a sample, nearest-rank. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[rank] ?? Number.NaN;
}

export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; result: T }> {
  const t = performance.now();
  const result = await fn();
  return { ms: performance.now() - t, result };
}

/** Least-squares slope of log(y) against log(x): the exponent k in y ∝ x^k. */
export function powerLawExponent(points: readonly { x: number; y: number }[]): number {
  const lx = points.map((p) => Math.log(p.x));
  const ly = points.map((p) => Math.log(p.y));
  const mx = lx.reduce((s, v) => s + v, 0) / lx.length;
  const my = ly.reduce((s, v) => s + v, 0) / ly.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < lx.length; i++) {
    num += ((lx[i] ?? 0) - mx) * ((ly[i] ?? 0) - my);
    den += ((lx[i] ?? 0) - mx) ** 2;
  }
  return den === 0 ? Number.NaN : num / den;
}

export function round(n: number | null, digits = 2): number | null {
  if (n === null || !Number.isFinite(n)) return n;
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** A figure whose goal is `ratio ≤ limit` (lower is better). */
export function ratioAtMost(f: Omit<Figure, 'ratio' | 'goal' | 'met'> & { value: number; baseline: number }, limit: number): Figure {
  const ratio = f.value / f.baseline;
  return { ...f, ratio: round(ratio, 3), goal: `≤ ${limit.toFixed(1)}`, met: ratio <= limit };
}

/** A figure whose goal is `ratio ≥ limit` (higher is better). */
export function ratioAtLeast(f: Omit<Figure, 'ratio' | 'goal' | 'met'> & { value: number; baseline: number }, limit: number): Figure {
  const ratio = f.value / f.baseline;
  return { ...f, ratio: round(ratio, 3), goal: `≥ ${limit.toFixed(1)}`, met: ratio >= limit };
}

export function machine(duckdbVersion: string): string {
  const cpu = cpus();
  const model = cpu[0]?.model.trim() ?? 'unknown CPU';
  return `${model} × ${cpu.length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, ${platform()} ${release()}, Node ${process.version}, DuckDB ${duckdbVersion}`;
}

function cell(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined) return '–';
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toLocaleString('en-US');
  if (a >= 100) return v.toFixed(1);
  return v.toFixed(digits).replace(/\.?0+$/, '') || '0';
}

/** The figures as a Markdown table (also readable in a terminal). */
export function table(figures: readonly Figure[]): string {
  const head = '| id | what | value | baseline | ratio | goal | met |';
  const sep = '|---|---|---:|---:|---:|---|---|';
  const rows = figures.map((f) => {
    const unit = f.unit ? ` ${f.unit}` : '';
    const met = f.skipped ? `skipped: ${f.skipped}` : f.met === null ? '–' : f.met ? 'yes' : '**NO**';
    return `| ${f.id} | ${f.what} | ${f.value === null ? '–' : cell(f.value) + unit} | ${f.baseline === null ? '–' : cell(f.baseline) + unit} | ${cell(f.ratio)} | ${f.goal} | ${met} |`;
  });
  return [head, sep, ...rows].join('\n');
}

export function log(line: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}
