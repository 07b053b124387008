/**
 * P6: ingest through the public `POST /v1/collect` with enrichment (events carry only `ip` — the client address, via
 * a trusted proxy's X-Forwarded-For — and `ua`) against `POST /v1/events` with the same events' region and device
 * already filled, same batches of 100, same clients, same run. Also the enrichment's own cost per event.
 * P6b: the shape real trackers produce — 200 concurrent clients each sending 20-event batches to /v1/collect — against
 * 4 clients sending 1,000-event batches to /v1/events; every acknowledgement durable, commits shared across requests.
 */
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { DEMO_NETWORKS, UA_ANDROID, UA_IOS, UA_OTHER, type UaDevice } from '../src/demo/clients.ts';
import { Enricher, marketingName, prepareBatch } from '../src/ingest/index.ts';
import { DuckDBStore } from '../src/store/index.ts';
import { type ChildServer, startChildServer } from './child.ts';
import { type Figure, QUICK, RUNS, log, median, ratioAtLeast, round } from './lib.ts';

/** Users and events per user: every event of the run is new (no duplicates), spread over the last 7 days. */
const USERS = QUICK ? 1_000 : 10_000;
const EVENTS_PER_USER = 10;
const P6_BATCH = 100;
const P6_CLIENTS = 16;
const P6B_SMALL = 20;
const P6B_SMALL_CLIENTS = 200;
const P6B_LARGE = 1_000;
const P6B_LARGE_CLIENTS = 4;

interface Client {
  ip: string;
  device: UaDevice;
  province: string;
  city: string;
}

/** A rough mix of phones: 30 % iPhone, 65 % Android, 5 % other. */
function clientOf(u: number): Client {
  const nets = [...DEMO_NETWORKS];
  const [place = '北京/北京', net = '1.2.8'] = nets[(u * 7919) % nets.length] ?? [];
  const r = (u * 2654435761) % 100;
  const table = r < 30 ? UA_IOS : r < 95 ? UA_ANDROID : UA_OTHER;
  const device = table[u % table.length]?.[0] ?? UA_IOS[0]![0];
  const [province = '', city = ''] = place.split('/');
  return { ip: `${net}.${2 + (u % 250)}`, device, province, city };
}

interface Batches {
  /** Request bodies for /v1/collect (events with `ua` only) and for /v1/events (region and device filled). */
  collect: string[];
  events: string[];
  /** X-Forwarded-For of each collect request (the first event's client) and how many events each holds. */
  ips: string[];
  sizes: number[];
  /** The records themselves, for the in-process enrichment measurement. */
  collectRecords: Record<string, unknown>[][];
  filledRecords: Record<string, unknown>[][];
}

export function makeBatches(size: number, runTag: string): Batches {
  const now = Date.now();
  const all: { client: Client; base: Record<string, unknown> }[] = [];
  for (let u = 0; u < USERS; u++) {
    const client = clientOf(u);
    for (let k = 0; k < EVENTS_PER_USER; k++) {
      all.push({
        client,
        base: {
          event_id: `${runTag}-${u}-${k}`,
          openid: `oBench${u.toString(36).padStart(6, '0')}`,
          time: now - (k + 1) * 3_600_000 * 7,
          type: 'visit',
          page: 'pages/index/index',
          session: `s${u}-${k >> 2}`,
          stay: 5 + k,
          scene: 1001,
        },
      });
    }
  }
  const out: Batches = { collect: [], events: [], ips: [], sizes: [], collectRecords: [], filledRecords: [] };
  for (let i = 0; i < all.length; i += size) {
    const part = all.slice(i, i + size);
    const collect = part.map(({ client, base }) => ({ ...base, ua: client.device.ua }));
    const filled = part.map(({ client, base }) => {
      const m = client.device.platform === 'android' ? marketingName(client.device.brand, client.device.model) : undefined;
      return {
        ...base,
        province: client.province,
        city: client.city,
        platform: client.device.platform,
        brand: m?.brand ?? client.device.brand,
        model: m?.model ?? client.device.model,
      };
    });
    out.collect.push(JSON.stringify(collect));
    out.events.push(JSON.stringify(filled));
    out.ips.push(part[0]?.client.ip ?? '1.2.8.9');
    out.sizes.push(part.length);
    out.collectRecords.push(collect);
    out.filledRecords.push(filled);
  }
  return out;
}

/**
 * A POST over a keep-alive connection of `agent` (node:http: lighter than fetch, so the load generator, which shares
 * the 2 cores with the server, takes less from it; the same for both routes).
 */
function post(agent: Agent, url: string, headers: Record<string, string>, body: string): Promise<{ status: number; json: { errcode?: number; accepted?: number } }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) as { errcode?: number; accepted?: number } });
        } catch (e) {
          reject(e instanceof Error ? e : new Error(String(e)));
        }
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

interface Run {
  eventsPerSec: number;
  requests: number;
  retries: number;
  /** Appended batches per commit on the server (group commit). */
  batchesPerCommit: number | null;
  /** Events found in the store after the server stopped, = acknowledged. */
  durable: boolean;
}

/**
 * Sends every body with `clients` concurrent clients to a fresh server; checks each answer, and afterwards that the
 * store holds exactly the acknowledged events.
 */
export async function runLoad(dir: string, kind: 'collect' | 'events', bodies: readonly string[], ips: readonly string[], sizes: readonly number[], clients: number): Promise<Run> {
  const data = join(dir, `${kind}-${Math.random().toString(36).slice(2)}`);
  const server: ChildServer = await startChildServer(['real', data, '0']);
  const appid = server.appid ?? '';
  let accepted = 0;
  let retries = 0;
  let next = 0;
  let t = performance.now();
  let stats: { batches: number; commits: number } | null = null;
  let warmed = 0;
  try {
    const url = kind === 'collect' ? `${server.url}/v1/collect?appid=${appid}` : `${server.url}/v1/events?access_token=${server.token ?? ''}`;
    // Untimed warm-up, as a server that has been up a while: one event per kind of client, so the IP database, the
    // model-name table and the per-client caches are loaded (their one-time cost is in P6.enrich's detail).
    warmed = await warmUp(url, kind, appid);
    t = performance.now();
    const agent = new Agent({ keepAlive: true, maxSockets: clients });
    const client = async () => {
      for (;;) {
        const i = next++;
        const body = bodies[i];
        if (body === undefined) return;
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (kind === 'collect') {
          headers.referer = `https://servicewechat.com/${appid}/7/page-frame.html`;
          headers['x-forwarded-for'] = ips[i] ?? '1.2.8.9';
        }
        for (;;) {
          const { status, json } = await post(agent, url, headers, body);
          if (status === 429) {
            retries++;
            await new Promise((res) => setTimeout(res, 20));
            continue;
          }
          if (json.errcode !== 0 || json.accepted !== sizes[i]) throw new Error(`${kind} answered ${JSON.stringify(json).slice(0, 300)}`);
          accepted += json.accepted ?? 0;
          break;
        }
      }
    };
    await Promise.all(Array.from({ length: clients }, client));
    agent.destroy();
    stats = await server.stats();
  } finally {
    await server.stop();
  }
  const ms = performance.now() - t;
  // Every acknowledged event is in the file the stopped server left.
  const store = await DuckDBStore.create(join(data, 'datacube.duckdb'));
  const stored = (await store.countEvents(appid)) - warmed;
  await store.close();
  return {
    eventsPerSec: (accepted / ms) * 1000,
    requests: bodies.length,
    retries,
    batchesPerCommit: stats && stats.commits > 0 ? stats.batches / stats.commits : null,
    durable: stored === accepted,
  };
}

/** Sends one event per kind of bench client (each User-Agent, each network) through `url`; returns how many were stored. */
async function warmUp(url: string, kind: 'collect' | 'events', appid: string): Promise<number> {
  const seen = new Map<string, Client>();
  for (let u = 0; u < Math.min(USERS, 2_000); u++) {
    const c = clientOf(u);
    if (!seen.has(c.device.ua)) seen.set(c.device.ua, c);
  }
  const now = Date.now();
  const events = [...seen.values()].map((c, i) =>
    kind === 'collect'
      ? { openid: 'oWarmUp', time: now - 1000, event_id: `warm-${i}`, ua: c.device.ua }
      : { openid: 'oWarmUp', time: now - 1000, event_id: `warm-${i}`, province: c.province, city: c.city, platform: c.device.platform, brand: c.device.brand, model: c.device.model },
  );
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (kind === 'collect') {
    headers.referer = `https://servicewechat.com/${appid}/7/page-frame.html`;
    headers['x-forwarded-for'] = clientOf(0).ip;
  }
  const r = await fetch(url, { method: 'POST', headers, body: JSON.stringify(events) });
  const json = (await r.json()) as { errcode?: number; accepted?: number };
  if (json.errcode !== 0) throw new Error(`warm-up answered ${JSON.stringify(json).slice(0, 300)}`);
  return json.accepted ?? 0;
}

/** Microseconds per event the ingest steps take on `records` (prepared in batches as a route would). */
function stepMicros(batches: readonly Record<string, unknown>[][], ips: readonly string[] | null, enricher: Enricher): number {
  const now = Date.now();
  let n = 0;
  const t = performance.now();
  batches.forEach((records, i) => {
    n += prepareBatch(records, ips ? { now, enricher, clientIp: ips[i] } : { now, enricher }).events.length;
  });
  return ((performance.now() - t) * 1000) / n;
}

export async function collectBench(dir: string): Promise<Figure[]> {
  const figures: Figure[] = [];

  // ---- enrichment cost, in process
  const p6 = makeBatches(P6_BATCH, 'p6');
  // Warm: caches filled (one pass first), as on a server that has seen these clients.
  const warm = new Enricher();
  stepMicros(p6.collectRecords, p6.ips, warm);
  stepMicros(p6.filledRecords, null, warm);
  const enrichWarm: number[] = [];
  const enrichCold: number[] = [];
  // Absolute costs, warm: all ingest steps on records with only ip and ua, and on records with the fields filled.
  const stepsEnriched: number[] = [];
  const stepsFilled: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const enriched = stepMicros(p6.collectRecords, p6.ips, warm);
    const filled = stepMicros(p6.filledRecords, null, warm);
    stepsEnriched.push(enriched);
    stepsFilled.push(filled);
    enrichWarm.push(enriched - filled);
    // Cold: a fresh enricher whose per-address and per-User-Agent caches are empty (the IP database and the model
    // table stay loaded: their one-time load is reported apart).
    const cold = new Enricher();
    const c = stepMicros(p6.collectRecords, p6.ips, cold);
    enrichCold.push(c - stepMicros(p6.filledRecords, null, cold));
  }
  const loadStart = performance.now();
  new Enricher().regionOf('202.96.134.133');
  const geoLoadMs = performance.now() - loadStart;
  figures.push({
    id: 'P6.enrich',
    what: 'all ingest steps per event in process, caches warm: records with only ip and ua (region and device enriched) vs records with the fields filled (detail: the difference, warm and cold)',
    value: round(median(stepsEnriched), 2),
    baseline: round(median(stepsFilled), 2),
    ratio: round(median(stepsEnriched) / median(stepsFilled), 3),
    unit: 'µs',
    goal: '(reported)',
    met: null,
    detail: {
      enrichedMinusFilledWarmMicros: enrichWarm.map((v) => round(v, 2)),
      enrichedMinusFilledColdMicros: enrichCold.map((v) => round(v, 2)),
      ipDatabaseLoadMs: round(geoLoadMs, 0),
    },
  });
  log(`P6 ingest steps: ${median(stepsEnriched).toFixed(2)} µs/event enriched vs ${median(stepsFilled).toFixed(2)} filled (difference ${median(enrichWarm).toFixed(2)} warm, ${median(enrichCold).toFixed(2)} cold)`);

  // ---- P6: same 100-event batches, 16 clients, both routes
  const collectRuns: Run[] = [];
  const eventRuns: Run[] = [];
  for (let i = 0; i < RUNS; i++) {
    collectRuns.push(await runLoad(dir, 'collect', p6.collect, p6.ips, p6.sizes, P6_CLIENTS));
    eventRuns.push(await runLoad(dir, 'events', p6.events, p6.ips, p6.sizes, P6_CLIENTS));
    log(`P6 run ${i + 1}: /v1/collect ${Math.round(collectRuns[i]?.eventsPerSec ?? 0)} events/s, /v1/events ${Math.round(eventRuns[i]?.eventsPerSec ?? 0)} events/s`);
  }
  const total = p6.sizes.reduce((a, b) => a + b, 0);
  figures.push(
    ratioAtLeast(
      {
        id: 'P6',
        what: `/v1/collect with enrichment (only ip and ua) vs /v1/events with the fields filled: ${total.toLocaleString('en-US')} events, batches of ${P6_BATCH}, ${P6_CLIENTS} clients`,
        value: Math.round(median(collectRuns.map((r) => r.eventsPerSec))),
        baseline: Math.round(median(eventRuns.map((r) => r.eventsPerSec))),
        unit: 'events/s',
        detail: {
          collectEventsPerSec: collectRuns.map((r) => Math.round(r.eventsPerSec)),
          eventsEventsPerSec: eventRuns.map((r) => Math.round(r.eventsPerSec)),
          durable: [...collectRuns, ...eventRuns].every((r) => r.durable),
        },
      },
      0.7,
    ),
  );

  // ---- P6b: 200 clients × 20 events on /v1/collect vs 4 clients × 1,000 events on /v1/events
  const small = makeBatches(P6B_SMALL, 'p6b');
  const large = makeBatches(P6B_LARGE, 'p6b');
  const smallRuns: Run[] = [];
  const largeRuns: Run[] = [];
  for (let i = 0; i < RUNS; i++) {
    smallRuns.push(await runLoad(dir, 'collect', small.collect, small.ips, small.sizes, P6B_SMALL_CLIENTS));
    largeRuns.push(await runLoad(dir, 'events', large.events, large.ips, large.sizes, P6B_LARGE_CLIENTS));
    log(
      `P6b run ${i + 1}: ${P6B_SMALL_CLIENTS}×${P6B_SMALL} collect ${Math.round(smallRuns[i]?.eventsPerSec ?? 0)} events/s (${(smallRuns[i]?.batchesPerCommit ?? 0).toFixed(1)} batches/commit), ${P6B_LARGE_CLIENTS}×${P6B_LARGE} events ${Math.round(largeRuns[i]?.eventsPerSec ?? 0)} events/s`,
    );
  }
  const durable = [...smallRuns, ...largeRuns].every((r) => r.durable);
  const f = ratioAtLeast(
    {
      id: 'P6b',
      what: `${P6B_SMALL_CLIENTS} clients × ${P6B_SMALL}-event batches to /v1/collect vs ${P6B_LARGE_CLIENTS} clients × ${P6B_LARGE.toLocaleString('en-US')}-event batches to /v1/events (${(USERS * EVENTS_PER_USER).toLocaleString('en-US')} events; every ack durable)`,
      value: Math.round(median(smallRuns.map((r) => r.eventsPerSec))),
      baseline: Math.round(median(largeRuns.map((r) => r.eventsPerSec))),
      unit: 'events/s',
      detail: {
        collectEventsPerSec: smallRuns.map((r) => Math.round(r.eventsPerSec)),
        eventsEventsPerSec: largeRuns.map((r) => Math.round(r.eventsPerSec)),
        collectBatchesPerCommit: smallRuns.map((r) => round(r.batchesPerCommit, 1)),
        eventsBatchesPerCommit: largeRuns.map((r) => round(r.batchesPerCommit, 1)),
        busyRetries: smallRuns.map((r) => r.retries),
        durable,
      },
    },
    0.5,
  );
  // Throughput bought by acknowledging before durability would not count.
  figures.push(durable ? f : { ...f, met: false });
  return figures;
}
