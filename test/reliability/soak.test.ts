/**
 * Soak: concurrent ingest (with deliberate resends), portraits and token calls against the real server for
 * 10 s (npm test) or 60 s (npm run test:reliability). Zero errors of any kind, no error in the server's log, and
 * answers consistent with the data: while ingest runs, the 1-day portrait's active users lie between the distinct
 * openids acknowledged before the question and those sent by the answer; at the end, active and new users of the
 * 1- and 7-day windows equal what the acknowledged events imply, exactly.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../src/api/testing.ts';
import type { Clock } from '../../src/domain/clock.ts';
import { dayOf, formatDay, startOfDay } from '../../src/domain/day.ts';
import { describeWithClickHouse, dropDatabase, freshDatabaseUrl } from '../../src/store/clickhouse/testing.ts';
import { json, LONG, request, rng } from './harness.ts';
import { LogCapture } from './logCapture.ts';

const SOAK_MS = Number(process.env.DATACUBE_SOAK_MS ?? (LONG ? 60_000 : 10_000));
const PORTRAIT = '/datacube/getweanalysisappiduserportrait';

interface Ev {
  event_id: string;
  openid: string;
  time: number;
  gender: number;
  platform: string;
}

type Group = Record<string, { id?: number; name: string; value: number }[]>;
interface Portrait {
  ref_date: string;
  visit_uv: Group;
  visit_uv_new: Group;
}

const total = (g: Group) => (g.genders ?? []).reduce((s, x) => s + x.value, 0);

describe(`soak: ${SOAK_MS / 1000} s of concurrent ingest, portraits and tokens (DuckDB)`, () => soak(() => undefined));

describeWithClickHouse('DATACUBE_TEST_CLICKHOUSE', `soak: ${SOAK_MS / 1000} s of concurrent ingest, portraits and tokens (ClickHouse)`, (base) => {
  const url = freshDatabaseUrl(base);
  afterAll(() => dropDatabase(url));
  soak(() => url);
});

function soak(store: () => string | undefined): void {
  // Real time, pinned to start at noon in Shanghai so the run never crosses a day.
  const t0 = Date.now();
  const base = startOfDay(dayOf(t0)) + 12 * 3_600_000;
  const clock: Clock = { now: () => base + (Date.now() - t0) };
  const D = dayOf(base) - 1;
  const logs = new LogCapture();
  let t: TestServer;
  let app: { appid: string; secret: string };

  beforeAll(async () => {
    const s = store();
    t = await startTestServer({ clock, server: { logger: { level: 'info', stream: logs } }, ...(s ? { config: { store: s } } : {}) });
    const { app: a, secret } = await t.services.auth.createApp({ dailyQuota: 1_000_000_000 });
    app = { appid: a.appid, secret };
  });
  afterAll(async () => {
    await t.stop(true);
  });

  it('has zero errors and answers that match the data', { timeout: SOAK_MS + 120_000 }, async () => {
    const seed = Number(process.env.DATACUBE_SEED ?? Math.floor(Math.random() * 2 ** 31));
    const rand = rng(seed);
    const errors: string[] = [];
    const sent = new Map<string, Ev>();
    const acked = new Map<string, Ev>();
    const counts = { batches: 0, resends: 0, portraits: 0, tokens: 0, stable: 0, checked: 0 };
    const deadline = Date.now() + SOAK_MS;
    const agentFor = () => new http.Agent({ keepAlive: true, maxSockets: 1 });

    const getToken = async (agent: http.Agent): Promise<string | undefined> => {
      const r = await request(t.url, { path: `/cgi-bin/token?grant_type=client_credential&appid=${app.appid}&secret=${app.secret}` }, agent);
      counts.tokens++;
      if (!r.ok) return void errors.push(`token: ${r.error}`);
      const j = json(r.answer);
      if (typeof j.access_token !== 'string' || j.expires_in !== 7200) return void errors.push(`token: ${r.answer.text}`);
      return j.access_token;
    };
    const portrait = async (agent: http.Agent, token: string, begin: number, end: number): Promise<Portrait | undefined> => {
      const r = await request(
        t.url,
        { method: 'POST', path: `${PORTRAIT}?access_token=${token}`, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ begin_date: formatDay(begin), end_date: formatDay(end) }) },
        agent,
      );
      counts.portraits++;
      if (!r.ok) return void errors.push(`portrait: ${r.error}`);
      const j = json(r.answer) as unknown as Portrait & { errcode?: number };
      if (r.answer.status !== 200 || j.errcode !== undefined || typeof j.ref_date !== 'string') return void errors.push(`portrait: ${r.answer.text.slice(0, 300)}`);
      return j;
    };
    const distinctOn = (events: Iterable<Ev>, day: number) => {
      const s = new Set<string>();
      for (const e of events) if (dayOf(e.time) === day) s.add(e.openid);
      return s.size;
    };

    const ingester = async (c: number) => {
      const agent = agentFor();
      const token = await getToken(agent);
      if (!token) return;
      let n = 0;
      let last: Ev[] | undefined;
      while (Date.now() < deadline) {
        // Now and then the previous batch again, as a client that timed out would: stored once.
        // (At least one resend happens, however few batches a slow machine gets through.)
        const resend = last !== undefined && (rand() < 0.1 || counts.resends === 0);
        const batch: Ev[] = resend && last ? last : [];
        if (!resend) {
          const size = 1 + Math.floor(rand() * 200);
          for (let i = 0; i < size; i++, n++) {
            const e = {
              event_id: `s${c}-${n}`,
              openid: `o${Math.floor(rand() * 3000)}`,
              time: startOfDay(D - Math.floor(rand() * 7)) + Math.floor(rand() * 86_400_000),
              gender: Math.floor(rand() * 3),
              platform: rand() < 0.5 ? 'iOS' : 'Android',
            };
            sent.set(e.event_id, e);
            batch.push(e);
          }
        }
        const r = await request(t.url, { method: 'POST', path: `/v1/events?access_token=${token}`, headers: { 'content-type': 'application/json' }, body: JSON.stringify(batch) }, agent);
        counts.batches++;
        if (resend) counts.resends++;
        if (!r.ok) {
          errors.push(`ingest: ${r.error}`);
          continue;
        }
        const j = json(r.answer);
        const expectAccepted = resend ? 0 : batch.length;
        if (r.answer.status !== 200 || j.errcode !== 0 || j.accepted !== expectAccepted || j.duplicates !== batch.length - expectAccepted) {
          errors.push(`ingest${resend ? ' (resend)' : ''}: ${r.answer.text.slice(0, 300)}`);
          continue;
        }
        for (const e of batch) acked.set(e.event_id, e);
        last = batch;
      }
      agent.destroy();
    };

    const asker = async () => {
      const agent = agentFor();
      const token = await getToken(agent);
      if (!token) return;
      while (Date.now() < deadline) {
        const lower = distinctOn(acked.values(), D);
        const p = await portrait(agent, token, D, D);
        if (!p) continue;
        const upper = distinctOn(sent.values(), D);
        const active = total(p.visit_uv);
        if (active < lower || active > upper) errors.push(`1-day active users ${active} outside [${lower}, ${upper}]`);
        // Every user has one gender and one platform: the groups agree with each other.
        const platforms = (p.visit_uv.platforms ?? []).reduce((s, x) => s + x.value, 0);
        if (platforms !== active) errors.push(`platforms ${platforms} != genders ${active}`);
        counts.checked++;
        if (!(await portrait(agent, token, D - 6, D))) continue;
      }
      agent.destroy();
    };

    const tokens = async () => {
      const agent = agentFor();
      let stable: string | undefined;
      while (Date.now() < deadline) {
        // A fresh token works at once.
        const tok = await getToken(agent);
        if (tok && !(await portrait(agent, tok, D, D))) errors.push('a fresh token did not work');
        // The stable token stays the same while it is valid.
        const r = await request(
          t.url,
          { method: 'POST', path: '/cgi-bin/stable_token', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ grant_type: 'client_credential', appid: app.appid, secret: app.secret }) },
          agent,
        );
        counts.stable++;
        if (!r.ok) {
          errors.push(`stable_token: ${r.error}`);
          continue;
        }
        const j = json(r.answer);
        if (typeof j.access_token !== 'string') errors.push(`stable_token: ${r.answer.text}`);
        else if (stable !== undefined && j.access_token !== stable) errors.push('stable_token changed without force_refresh');
        else stable = j.access_token;
      }
      agent.destroy();
    };

    await Promise.all([...[0, 1, 2, 3].map(ingester), asker(), asker(), tokens()]);
    console.info(`soak: seed ${seed}; ${JSON.stringify(counts)}; ${acked.size} events acknowledged`);
    expect(errors.slice(0, 10)).toEqual([]);
    expect(acked.size).toBe(sent.size);
    expect(counts.checked).toBeGreaterThan(0);
    expect(counts.resends).toBeGreaterThan(0);

    // At rest: exact answers. Active = distinct openids in the window; new = those whose first day is in it.
    const firstDay = new Map<string, number>();
    for (const e of acked.values()) firstDay.set(e.openid, Math.min(firstDay.get(e.openid) ?? Infinity, dayOf(e.time)));
    const agent = agentFor();
    const token = await getToken(agent);
    expect(token).toBeDefined();
    const one = await portrait(agent, token ?? '', D, D);
    const week = await portrait(agent, token ?? '', D - 6, D);
    agent.destroy();
    expect(one && total(one.visit_uv)).toBe(distinctOn(acked.values(), D));
    expect(one && total(one.visit_uv_new)).toBe([...firstDay.values()].filter((d) => d === D).length);
    expect(week && total(week.visit_uv)).toBe(firstDay.size);
    expect(week && total(week.visit_uv_new)).toBe(firstDay.size);
    expect(await t.services.store.countEvents(app.appid)).toBe(acked.size);
    expect(logs.atLeast(40)).toEqual([]);
  });
}
