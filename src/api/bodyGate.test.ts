/**
 * Issue 10, point 3 (bodies): a request's body bytes are reserved only after its token is checked; one client's
 * share is capped; a body must keep arriving at a minimum rate, so idle senders are cut off in seconds.
 */
import { connect, type Socket } from 'node:net';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../domain/clock.ts';
import { dayOf, formatDay, startOfDay } from '../domain/day.ts';
import { startTestServer, type TestServer } from './testing.ts';

const NOW = Date.UTC(2026, 10, 28, 2, 0, 0);
const DAY = dayOf(NOW) - 1;
const PORTRAIT = '/datacube/getweanalysisappiduserportrait';
const TEN_MB = 10 * 1024 * 1024;

/** A raw connection that sends a request's headers and `first` bytes of its body, then nothing. */
function stall(url: string, path: string, contentLength: number, first = 'x', localAddress = '127.0.0.1'): Promise<{ socket: Socket; answer: Promise<string>; closed: Promise<number> }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port), localAddress }, () => {
      socket.write(`POST ${path} HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\nContent-Length: ${contentLength}\r\n\r\n${first}`);
      let text = '';
      const start = Date.now();
      const answer = new Promise<string>((res) => {
        socket.on('data', (d) => {
          text += d.toString('utf8');
          res(text);
        });
        socket.on('close', () => res(text));
      });
      const closed = new Promise<number>((res) => socket.on('close', () => res(Date.now() - start)));
      socket.on('error', () => undefined);
      resolve({ socket, answer, closed });
    });
    socket.once('error', reject);
  });
}

function events(n: number, tag: string) {
  return Array.from({ length: n }, (_, i) => ({ openid: `${tag}${i}`, time: startOfDay(DAY) + i * 1000 }));
}

/** POST from a chosen source address, the body sent in `chunks` pieces `gapMs` apart. */
function slowPost(url: string, path: string, body: Buffer, chunks: number, gapMs: number, localAddress = '127.0.0.1'): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { method: 'POST', localAddress, agent: false, headers: { 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown> }));
    });
    req.on('error', reject);
    const size = Math.ceil(body.length / chunks);
    let i = 0;
    const next = () => {
      if (i >= body.length) return void req.end();
      req.write(body.subarray(i, i + size));
      i += size;
      setTimeout(next, gapMs);
    };
    next();
  });
}

describe('request bodies: reserved after the token, per-client share, minimum upload rate', () => {
  const clock = new ManualClock(NOW);
  let t: TestServer;
  let app: { appid: string; secret: string };
  let token: string;
  beforeAll(async () => {
    t = await startTestServer({ clock });
    app = await t.newApp();
    token = await t.token(app.appid, app.secret);
  });
  afterAll(async () => {
    await t.stop(true);
  });

  it('answers 4 idle 10 MB uploads without a token at once (41001), and legitimate ingest goes on', async () => {
    const held = await Promise.all(Array.from({ length: 4 }, () => stall(t.url, '/v1/events', TEN_MB)));
    for (const h of held) expect(await h.answer).toMatch(/"errcode":41001/);
    const r = await t.post(`/v1/events?access_token=${token}`, events(10, 'a'));
    expect(r.status).toBe(200);
    expect(r.json.accepted).toBe(10);
    // The idle senders are cut off within seconds.
    for (const h of held) expect(await h.closed).toBeLessThan(15_000);
  }, 30_000);

  it('answers 257 idle uploads to the portrait without a token at once, and portraits go on', async () => {
    const held = await Promise.all(Array.from({ length: 257 }, () => stall(t.url, `${PORTRAIT}?access_token=nope`, 65_536)));
    for (const h of held.slice(0, 5)) expect(await h.answer).toMatch(/"errcode":40001/);
    const r = await t.post(`${PORTRAIT}?access_token=${token}`, { begin_date: formatDay(DAY), end_date: formatDay(DAY) });
    expect(r.json.ref_date).toBe(formatDay(DAY));
    for (const h of held) h.socket.destroy();
  }, 30_000);

  // Routes added after issue 10: the deletion of users (token) and the dashboard's data (session cookie) check who
  // is asking before they reserve a body. 200 idle 250 KB deletions from 5 addresses held the whole large budget.
  it('answers idle uploads to /v1/users/delete without a token at once, and legitimate ingest goes on', async () => {
    const held = await Promise.all(Array.from({ length: 200 }, (_, i) => stall(t.url, '/v1/users/delete?access_token=nope', 250_000, '{', `127.0.2.${10 + (i % 5)}`)));
    for (const h of held) expect(await h.answer).toMatch(/"errcode":40001/);
    const body = JSON.stringify(events(10, 'u')) + ' '.repeat(200_000);
    const r = await slowPost(t.url, `/v1/events?access_token=${token}`, Buffer.from(body), 1, 0);
    expect(r.json.accepted).toBe(10);
    for (const h of held) h.socket.destroy();
  }, 30_000);

  it('answers idle uploads to the dashboard data route without a session at once, and portraits go on', async () => {
    const held = await Promise.all(Array.from({ length: 320 }, (_, i) => stall(t.url, '/dashboard/datacube/getweanalysisappiduserportrait', 65_536, '{', `127.0.3.${10 + (i % 5)}`)));
    for (const h of held) expect(await h.answer).toMatch(/^HTTP\/1.1 401[\s\S]*"errcode":41001/);
    const r = await slowPost(t.url, `${PORTRAIT}?access_token=${token}`, Buffer.from(JSON.stringify({ begin_date: formatDay(DAY), end_date: formatDay(DAY) }) + ' '.repeat(60_000)), 1, 0);
    expect(r.json.ref_date).toBe(formatDay(DAY));
    for (const h of held) h.socket.destroy();
  }, 30_000);

  it('caps what one client holds: a second big body from it is refused while another client is served', async () => {
    const path = `/v1/events?access_token=${token}`;
    const one = await stall(t.url, path, TEN_MB, '[', '127.0.0.5');
    await new Promise((r) => setTimeout(r, 200));
    const same = await slowPost(t.url, path, Buffer.from(JSON.stringify(events(5, 'b'))), 1, 0, '127.0.0.5');
    expect([same.status, same.json.errcode]).toEqual([429, 45011]);
    const other = await slowPost(t.url, path, Buffer.from(JSON.stringify(events(5, 'c'))), 1, 0, '127.0.0.6');
    expect(other.json.accepted).toBe(5);
    // The idle holder is cut off (and its share freed) within seconds.
    expect(await one.closed).toBeLessThan(15_000);
    expect(await one.answer).toMatch(/^HTTP\/1.1 408/);
    const again = await slowPost(t.url, path, Buffer.from(JSON.stringify(events(5, 'd'))), 1, 0, '127.0.0.5');
    expect(again.json.accepted).toBe(5);
  }, 30_000);

  it('lets a slow but steady upload through, past the grace period', async () => {
    const body = Buffer.from(JSON.stringify(events(5_000, 'e')));
    expect(body.length).toBeGreaterThan(190_000);
    // 6 KiB every 250 ms (24 KiB/s, above the default minimum of 16 KiB/s), for about 8 s.
    const t0 = Date.now();
    const r = await slowPost(t.url, `/v1/events?access_token=${token}`, body, Math.ceil(body.length / 6144), 250);
    expect(r.json.accepted).toBe(5_000);
    expect(Date.now() - t0).toBeGreaterThan(6_000); // it did take longer than the grace period
  }, 30_000);

  it('cuts off a body that trickles in below the minimum rate', async () => {
    const { hostname, port } = new URL(t.url);
    const socket = connect({ host: hostname, port: Number(port) });
    await new Promise<void>((r) => socket.once('connect', () => r()));
    socket.on('error', () => undefined);
    let text = '';
    socket.on('data', (d) => (text += d.toString()));
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.write(`POST /v1/events?access_token=${token} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n`);
    // About 1 KiB/s.
    const timer = setInterval(() => socket.writable && socket.write('x'.repeat(100)), 100);
    await closed;
    clearInterval(timer);
    expect(text).toMatch(/^HTTP\/1.1 408[\s\S]*too slowly/);
  }, 30_000);

  it('answers a body sent to an unknown route 404 without reading it', async () => {
    const h = await stall(t.url, '/nowhere', TEN_MB);
    expect(await h.answer).toMatch(/^HTTP\/1.1 404[\s\S]*"errcode":40066/);
    h.socket.destroy();
  });
});
