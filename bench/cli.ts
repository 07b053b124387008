/**
 * P7: how fast the `datacube` command starts. `datacube --help` and `datacube --version` against a bare
 * `node -e 0` started the same way (child processes, alternating, same run): goal ≤ 3×. `datacube portrait` on the
 * demo data (no server running, so the command opens the DuckDB file itself): goal ≤ 1 s.
 */
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './child.ts';
import { type Figure, QUICK, log, median, ratioAtMost, round } from './lib.ts';

const BIN = join(ROOT, 'bin', 'datacube.js');
/** Start-ups are short and noisy: more runs than the other sections (the median is reported). */
const STARTS = QUICK ? 3 : 15;
const PORTRAITS = QUICK ? 2 : 9;

function timeRun(args: string[], env: NodeJS.ProcessEnv = process.env): number {
  const t = performance.now();
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = performance.now() - t;
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${String(r.status)}: ${r.stderr}`);
  return ms;
}

export async function cliBench(dir: string): Promise<Figure[]> {
  // Start-up times are absolute figures for the portrait: record how busy the machine was.
  const load = [loadavg()];
  const env: NodeJS.ProcessEnv = { ...process.env, DATACUBE_LOG_LEVEL: 'silent' };
  delete env.DATACUBE_STORE;
  const bare: number[] = [];
  const help: number[] = [];
  const version: number[] = [];
  timeRun(['-e', '0']); // warm the file cache for both
  timeRun([BIN, '--help'], env);
  for (let i = 0; i < STARTS; i++) {
    bare.push(timeRun(['-e', '0']));
    help.push(timeRun([BIN, '--help'], env));
    version.push(timeRun([BIN, '--version'], env));
  }
  log(`P7: node -e 0 ${median(bare).toFixed(0)} ms, --help ${median(help).toFixed(0)} ms, --version ${median(version).toFixed(0)} ms`);

  // The demo data `npm start` makes (5,000 users, 30 days), in a data directory no server owns.
  const data = join(dir, 'data');
  const demo = spawnSync(process.execPath, [BIN, 'demo', '--data', data], { encoding: 'utf8', env });
  if (demo.status !== 0) throw new Error(`datacube demo failed: ${demo.stderr}`);
  const { appid } = JSON.parse(demo.stdout.trim().split('\n').pop() ?? '{}') as { appid: string };
  const portrait: Record<string, number[]> = { '7': [], '30': [] };
  for (let i = 0; i < PORTRAITS; i++) {
    for (const last of ['7', '30'] as const) portrait[last]?.push(timeRun([BIN, 'portrait', '--appid', appid, '--last', last, '--data', data], env));
  }
  const p7 = median(portrait['7'] ?? []);
  const p30 = median(portrait['30'] ?? []);
  log(`P7: portrait --last 7 ${p7.toFixed(0)} ms, --last 30 ${p30.toFixed(0)} ms`);

  load.push(loadavg());
  const base = median(bare);
  const machineLoad = load.map((l) => l.map((x) => round(x, 2)));
  const portraitFigure = (last: '7' | '30', ms: number, id: string): Figure => ({
    id,
    what: `\`datacube portrait --last ${last}\` on the demo data (5,000 users, 30 days), no server: the whole command, child process`,
    value: round(ms, 0),
    baseline: 1000,
    ratio: round(ms / 1000, 3),
    unit: 'ms',
    goal: '≤ 1 s',
    met: ms <= 1000,
    detail: { ms: (portrait[last] ?? []).map((x) => round(x, 0)), nodeMs: round(base, 0), loadavgBeforeAfter: machineLoad },
  });
  return [
    ratioAtMost(
      { id: 'P7', what: '`datacube --help`, child process (vs bare `node -e 0`)', value: round(median(help), 0) ?? 0, baseline: round(base, 0) ?? 0, unit: 'ms', detail: { helpMs: help.map((x) => round(x, 0)), nodeMs: bare.map((x) => round(x, 0)), loadavgBeforeAfter: machineLoad } },
      3,
    ),
    ratioAtMost(
      { id: 'P7.version', what: '`datacube --version`, child process (vs bare `node -e 0`)', value: round(median(version), 0) ?? 0, baseline: round(base, 0) ?? 0, unit: 'ms', detail: { versionMs: version.map((x) => round(x, 0)) } },
      3,
    ),
    portraitFigure('7', p7, 'P7.portrait'),
    portraitFigure('30', p30, 'P7.portrait30'),
  ];
}
