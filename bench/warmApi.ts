/**
 * P2: the warm getUserPortrait route (answer cached) under load, against a bare Fastify route answering the same
 * bytes. Both servers run in a child process of their own (bench/server.ts); autocannon runs here. On 2 cores the
 * load generator takes about one of them, so both servers get the same conditions: one core each.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { systemClock, yesterday } from '../src/domain/clock.ts';
import { formatDay } from '../src/domain/day.ts';
import { startChildServer } from './child.ts';
import { type Figure, QUICK, RUNS, log, median, round } from './lib.ts';

const CONNECTIONS = 50;
const SECONDS = QUICK ? 2 : 10;
const DEMO_USERS = QUICK ? 500 : 5_000;
const PATH = '/datacube/getweanalysisappiduserportrait';

interface Load {
  rps: number;
  p99: number;
  p50: number;
  bad: number;
}

async function load(url: string, body: string, expectBody: string, seconds: number): Promise<Load> {
  const r = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: seconds,
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json' },
    expectBody,
  });
  return { rps: r.requests.average, p99: r.latency.p99, p50: r.latency.p50, bad: r.errors + r.timeouts + r.non2xx + r.mismatches };
}

export async function warmApiBench(dir: string): Promise<Figure[]> {
  log(`P2: starting the real server with ${DEMO_USERS} demo users…`);
  const real = await startChildServer(['real', join(dir, 'data'), String(DEMO_USERS)]);
  let bare: Awaited<ReturnType<typeof startChildServer>> | undefined;
  try {
    const end = yesterday(systemClock);
    const body = JSON.stringify({ begin_date: formatDay(end - 29), end_date: formatDay(end) });
    const url = `${real.url}${PATH}?access_token=${real.token ?? ''}`;
    const first = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const answer = await first.text();
    if (!answer.includes('"visit_uv"')) throw new Error(`unexpected portrait answer: ${answer.slice(0, 200)}`);
    const answerFile = join(dir, 'answer.json');
    writeFileSync(answerFile, answer);
    bare = await startChildServer(['bare', answerFile]);
    const bareUrl = `${bare.url}${PATH}?access_token=x`;

    // Warm both (JIT, connection pools), then alternate runs so that noise hits both alike.
    await load(url, body, answer, QUICK ? 1 : 2);
    await load(bareUrl, body, answer, QUICK ? 1 : 2);
    const reals: Load[] = [];
    const bares: Load[] = [];
    for (let i = 0; i < RUNS; i++) {
      reals.push(await load(url, body, answer, SECONDS));
      bares.push(await load(bareUrl, body, answer, SECONDS));
      log(`P2 run ${i + 1}: real ${Math.round(reals[i]?.rps ?? 0)} req/s p99 ${reals[i]?.p99} ms; bare ${Math.round(bares[i]?.rps ?? 0)} req/s p99 ${bares[i]?.p99} ms`);
    }
    const bad = [...reals, ...bares].reduce((s, l) => s + l.bad, 0);
    if (bad > 0) throw new Error(`${bad} failed or unexpected answers during the load`);
    const detail = {
      connections: CONNECTIONS,
      seconds: SECONDS,
      answerBytes: Buffer.byteLength(answer),
      demoEvents: real.events,
      realReqPerSec: reals.map((l) => Math.round(l.rps)),
      bareReqPerSec: bares.map((l) => Math.round(l.rps)),
      realP99Ms: reals.map((l) => l.p99),
      bareP99Ms: bares.map((l) => l.p99),
      realP50Ms: reals.map((l) => l.p50),
    };
    const p99 = median(reals.map((l) => l.p99));
    // Each run of the real server is paired with the bare run right after it, so that both saw the same machine: the
    // figure's ratio is the median of the pairs' ratios (on a shared machine the medians of each side alone can come
    // from different conditions). value and baseline are each side's median, for reading.
    const pairs = reals.map((r, i) => r.rps / (bares[i]?.rps ?? Number.NaN));
    const ratio = median(pairs);
    return [
      {
        id: 'P2',
        what: `warm getUserPortrait (cached), ${CONNECTIONS} connections × ${SECONDS} s (vs bare Fastify route, same bytes; ratio: median of ${pairs.length} paired runs)`,
        value: Math.round(median(reals.map((l) => l.rps))),
        baseline: Math.round(median(bares.map((l) => l.rps))),
        ratio,
        unit: 'req/s',
        goal: '≥ 0.9',
        met: ratio >= 0.9,
        detail: { ...detail, pairRatios: pairs.map((x) => round(x, 3)), ratioOfMedians: round(median(reals.map((l) => l.rps)) / median(bares.map((l) => l.rps)), 3) },
      },
      {
        id: 'P2.p99',
        what: 'warm getUserPortrait p99 latency under that load (baseline: the bare route’s)',
        value: p99,
        baseline: median(bares.map((l) => l.p99)),
        ratio: null,
        unit: 'ms',
        goal: '≤ 3 ms',
        met: p99 <= 3,
        detail: { realP99Ms: detail.realP99Ms, bareP99Ms: detail.bareP99Ms, note: 'autocannon latencies have 1 ms resolution' },
      },
    ].map((f) => ({ ...f, ratio: round(f.ratio, 3) }));
  } finally {
    await bare?.stop();
    await real.stop();
  }
}
