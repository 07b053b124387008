/**
 * Ingest clients that keep a ledger: every event sent (each with a unique event_id and openid) and every event
 * acknowledged (an HTTP 200 answer with errcode 0 that accounts for the whole batch). A batch whose answer never
 * arrived is kept and sent again later, as a real client would, so in the end every event must be stored exactly
 * once.
 */
import http from 'node:http';
import { startOfDay } from '../../src/domain/day.ts';
import { json, request, sleep } from './harness.ts';

export interface LoadEvent {
  event_id: string;
  openid: string;
  time: number;
  gender: number;
}

export class Ledger {
  readonly sent = new Map<string, LoadEvent>();
  readonly acked = new Set<string>();
  /** Per client: batches sent without an answer, to send again. */
  readonly pending = new Map<number, LoadEvent[][]>();
  private seq = new Map<number, number>();

  constructor(readonly day: number) {}

  newBatch(client: number, size: number, rand: () => number): LoadEvent[] {
    const out: LoadEvent[] = [];
    let n = this.seq.get(client) ?? 0;
    for (let i = 0; i < size; i++, n++) {
      const e = {
        event_id: `c${client}-${n}`,
        openid: `u${client}_${n}`,
        time: startOfDay(this.day) + Math.floor(rand() * 86_400_000),
        gender: Math.floor(rand() * 3),
      };
      this.sent.set(e.event_id, e);
      out.push(e);
    }
    this.seq.set(client, n);
    return out;
  }

  unanswered(): number {
    let n = 0;
    for (const q of this.pending.values()) n += q.length;
    return n;
  }
}

export interface ClientResult {
  requests: number;
  acked: number;
  busy: number;
  /** Why the loop ended: 'stopped', or the network failure / 503 that ended it. */
  end: string;
}

/**
 * Sends batches until `stop()` says so or the server stops answering. Any answer other than a full
 * acknowledgement, 429 (45011, retry) or 503 (shutting down, retry) is a test failure.
 */
export async function runIngestClient(opts: {
  url: string;
  token: string;
  ledger: Ledger;
  client: number;
  rand: () => number;
  stop: () => boolean;
  maxBatch?: number;
  /** Errcodes (HTTP 200) that mean "not stored, send again later", e.g. -1 while the store is unreachable. */
  retryErrcodes?: readonly number[];
}): Promise<ClientResult> {
  const { ledger, client, rand } = opts;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const queue = ledger.pending.get(client) ?? [];
  ledger.pending.set(client, queue);
  const r: ClientResult = { requests: 0, acked: 0, busy: 0, end: 'stopped' };
  try {
    while (!opts.stop()) {
      const batch = queue.shift() ?? ledger.newBatch(client, 1 + Math.floor(rand() * (opts.maxBatch ?? 300)), rand);
      r.requests++;
      const o = await request(
        opts.url,
        {
          method: 'POST',
          path: `/v1/events?access_token=${encodeURIComponent(opts.token)}`,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(batch),
          timeoutMs: 30_000,
        },
        agent,
      );
      if (!o.ok) {
        queue.unshift(batch);
        r.end = o.error;
        return r;
      }
      const a = o.answer;
      if (a.status === 429) {
        queue.unshift(batch);
        r.busy++;
        if (a.headers['retry-after'] === undefined) throw new Error('429 without Retry-After');
        await sleep(20 + rand() * 50);
        continue;
      }
      if (a.status === 503) {
        queue.unshift(batch);
        r.end = `503 ${a.text}`;
        return r;
      }
      const j = json(a);
      if (a.status === 200 && typeof j.errcode === 'number' && opts.retryErrcodes?.includes(j.errcode)) {
        queue.unshift(batch);
        r.busy++;
        await sleep(50 + rand() * 100);
        continue;
      }
      if (a.status !== 200 || j.errcode !== 0 || Number(j.accepted) + Number(j.duplicates) !== batch.length || (j.rejected as unknown[]).length !== 0) {
        throw new Error(`unexpected ingest answer (HTTP ${a.status}): ${a.text.slice(0, 300)}`);
      }
      for (const e of batch) ledger.acked.add(e.event_id);
      r.acked += batch.length;
    }
    return r;
  } finally {
    agent.destroy();
  }
}

/** Sends every unanswered batch again until each is acknowledged (the server must be up). */
export async function drainPending(url: string, token: string, ledger: Ledger, rand: () => number): Promise<void> {
  for (const client of ledger.pending.keys()) {
    const queue = ledger.pending.get(client) ?? [];
    while (queue.length > 0) {
      const r = await runIngestClient({ url, token, ledger, client, rand, stop: () => queue.length === 0 });
      if (r.end !== 'stopped') throw new Error(`could not resend a batch: ${r.end}`);
    }
  }
}

/** Active users of the 1-day portrait (the sum over genders, where every user has exactly one entry). */
export async function activeUsers(url: string, token: string, day: string): Promise<number> {
  const o = await request(url, {
    method: 'POST',
    path: `/datacube/getweanalysisappiduserportrait?access_token=${encodeURIComponent(token)}`,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ begin_date: day, end_date: day }),
  });
  if (!o.ok) throw new Error(`portrait: ${o.error}`);
  const j = json(o.answer) as { visit_uv?: { genders: { value: number }[] }; errcode?: number };
  if (!j.visit_uv) throw new Error(`portrait: ${o.answer.text}`);
  return j.visit_uv.genders.reduce((s, g) => s + g.value, 0);
}

/** The day's visitors and visits from the analysis family (getweanalysisappiddailyvisittrend): its own tables. */
export async function dailyVisits(url: string, token: string, day: string): Promise<{ uv: number; pv: number }> {
  const o = await request(url, {
    method: 'POST',
    path: `/datacube/getweanalysisappiddailyvisittrend?access_token=${encodeURIComponent(token)}`,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ begin_date: day, end_date: day }),
  });
  if (!o.ok) throw new Error(`visit trend: ${o.error}`);
  const j = json(o.answer) as { list?: { visit_uv: number; visit_pv: number }[] };
  const row = j.list?.[0];
  if (!row) throw new Error(`visit trend: ${o.answer.text}`);
  return { uv: row.visit_uv, pv: row.visit_pv };
}
