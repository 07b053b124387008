/**
 * P8: fairness between apps. The uncached 1-day portrait of app X while 4 clients ingest into app Y at full speed
 * (batches of 1,000 events, POST /v1/events, as fast as answers come back), divided by the same portrait's latency
 * with nothing else going on; medians over several runs. The server runs in a child process without its answer
 * cache (DATACUBE_CACHE_ENTRIES=0), so every portrait is computed by the store.
 *
 * P8b (reported): the same portrait of app X while the 4 clients ingest into X itself — what its own backlog costs
 * (bounded by DATACUBE_MAX_DERIVE_BACKLOG, see src/store/duckdb/DuckDBStore.ts).
 */
import { systemClock, yesterday } from '../src/domain/clock.ts';
import { formatDay } from '../src/domain/day.ts';
import { generateDemoEvents } from '../src/demo/index.ts';
import { startChildServer } from './child.ts';
import { type Figure, QUICK, RUNS, log, median, percentile, ratioAtMost, round } from './lib.ts';

const CLIENTS = 4;
const BATCH = 1_000;
/** Users of app X (its portrait is measured). */
const X_USERS = QUICK ? 2_000 : 20_000;
/** Users whose demo visits make the load's bodies (sent round and round: repeats are stored again, no event ids). */
const LOAD_USERS = QUICK ? 2_000 : 10_000;
/** Portraits timed per phase of a run. */
const SAMPLES = QUICK ? 3 : 15;
/** The load runs this long before portraits are timed, so the other app's backlog is there. */
const WARMUP_MS = QUICK ? 500 : 3_000;
const GAP_MS = 150;

async function portraitMs(url: string, token: string, day: string): Promise<number> {
  const t = performance.now();
  const r = await fetch(`${url}/datacube/getweanalysisappiduserportrait?access_token=${token}`, {
    method: 'POST',
    body: JSON.stringify({ begin_date: day, end_date: day }),
  });
  const j = (await r.json()) as { ref_date?: string; errcode?: number };
  if (j.ref_date !== day) throw new Error(`portrait answered ${JSON.stringify(j).slice(0, 200)}`);
  return performance.now() - t;
}

async function samples(url: string, token: string, day: string): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    out.push(await portraitMs(url, token, day));
    await new Promise((r) => setTimeout(r, GAP_MS));
  }
  return out;
}

/** 4 clients sending `bodies` round and round to `url` until `stop()`; counts acknowledged events. */
function load(url: string, bodies: readonly string[]): { stop: () => Promise<{ events: number; busy: number }> } {
  let running = true;
  let events = 0;
  let busy = 0;
  let next = 0;
  const client = async () => {
    while (running) {
      const body = bodies[next++ % bodies.length] ?? '[]';
      const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      const j = (await r.json()) as { errcode?: number; accepted?: number };
      if (r.status === 429) {
        busy++;
        await new Promise((res) => setTimeout(res, 20));
      } else if (j.errcode !== 0) throw new Error(`ingest answered ${JSON.stringify(j).slice(0, 200)}`);
      else events += j.accepted ?? 0;
    }
  };
  const all = Promise.all(Array.from({ length: CLIENTS }, client));
  return {
    async stop() {
      running = false;
      await all;
      return { events, busy };
    },
  };
}

export async function fairnessBench(dir: string): Promise<Figure[]> {
  const day = formatDay(yesterday(systemClock));
  const records: Record<string, unknown>[] = [];
  for (const b of generateDemoEvents({ users: LOAD_USERS, days: 30, endDay: yesterday(systemClock), seed: 99 })) records.push(...b);
  const bodies: string[] = [];
  for (let i = 0; i < records.length; i += BATCH) bodies.push(JSON.stringify(records.slice(i, i + BATCH).map(({ event_id: _drop, ...r }) => r)));
  log(`P8: app X with ${X_USERS} demo users; load: ${CLIENTS} clients × ${BATCH}-event batches`);

  const idle: number[] = [];
  const busyOther: number[] = [];
  const busyOwn: number[] = [];
  const rates: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const server = await startChildServer(['fair', `${dir}/fair-${run}`, String(X_USERS)]);
    try {
      const x = { token: server.token ?? '' };
      const y = server.other;
      if (!y) throw new Error('the bench server gave no second app');
      await portraitMs(server.url, x.token, day); // warm: the first query of a fresh store
      const a = median(await samples(server.url, x.token, day));
      const l = load(`${server.url}/v1/events?access_token=${y.token}`, bodies);
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, WARMUP_MS));
      const b = await samples(server.url, x.token, day);
      const done = await l.stop();
      rates.push((done.events / (performance.now() - t0)) * 1000);
      // P8b: the load goes to X itself.
      const own = load(`${server.url}/v1/events?access_token=${x.token}`, bodies);
      await new Promise((r) => setTimeout(r, WARMUP_MS));
      const c = await samples(server.url, x.token, day);
      await own.stop();
      idle.push(a);
      busyOther.push(median(b));
      busyOwn.push(median(c));
      log(
        `P8 run ${run + 1}: idle ${a.toFixed(1)} ms; while Y ingests ${median(b).toFixed(1)} ms (p90 ${percentile(b, 90).toFixed(1)}), ` +
          `Y at ${Math.round(rates[run] ?? 0)} events/s; while X ingests ${median(c).toFixed(1)} ms (max ${Math.max(...c).toFixed(1)})`,
      );
    } finally {
      await server.stop();
    }
  }
  return [
    ratioAtMost(
      {
        id: 'P8',
        what: `uncached 1-day portrait of app X (${X_USERS.toLocaleString('en-US')} users) while ${CLIENTS} clients ingest into app Y at full speed (vs the same portrait idle)`,
        value: round(median(busyOther), 1) ?? 0,
        baseline: round(median(idle), 1) ?? 0,
        unit: 'ms',
        detail: { idleMs: idle.map((v) => round(v, 1)), underLoadMs: busyOther.map((v) => round(v, 1)), loadEventsPerSec: rates.map(Math.round) },
      },
      3,
    ),
    {
      id: 'P8b',
      what: `the same portrait while the ${CLIENTS} clients ingest into app X itself (bounded by its own derive backlog)`,
      value: round(median(busyOwn), 1),
      baseline: round(median(idle), 1),
      ratio: round(median(busyOwn) / median(idle), 3),
      unit: 'ms',
      goal: '(reported)',
      met: null,
      detail: { underOwnLoadMs: busyOwn.map((v) => round(v, 1)) },
    },
  ];
}
