import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { UploadWatch } from './uploadWatch.ts';

/** A Node HTTP server whose requests are all watched; `early` paths are answered before their body is read. */
async function serve(watch: UploadWatch, cuts: number[]): Promise<{ server: Server; port: number }> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    watch.watch(req, (received) => {
      cuts.push(received);
      req.socket.destroy();
    });
    if (req.url === '/early') return void res.end('early');
    req.resume();
    req.on('end', () => res.end('read'));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}

/** Sends raw bytes, resolves with everything the server answered once it closes or `until` shows up. */
function raw(port: number, parts: { text: string; afterMs: number }[], until: string) {
  const socket = connect(port, '127.0.0.1');
  let text = '';
  const answer = new Promise<string>((resolve) => {
    socket.on('data', (d) => {
      text += d.toString('utf8');
      if (text.includes(until)) resolve(text);
    });
    socket.on('close', () => resolve(text));
  });
  socket.on('error', () => undefined);
  for (const p of parts) setTimeout(() => socket.writable && socket.write(p.text), p.afterMs);
  return { socket, answer };
}

describe('UploadWatch', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  });

  it('keeps one slot per connection, not one per request (requests held for a tick kept the GC busy)', async () => {
    const watch = new UploadWatch(16 * 1024);
    const { server, port } = await serve(watch, []);
    servers.push(server);
    // 50 requests on one keep-alive connection; the answer to the last one ends with its body "read".
    const request = 'POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc';
    const socket = connect(port, '127.0.0.1', () => socket.write(request.repeat(50)));
    let text = '';
    await new Promise<void>((resolve) =>
      socket.on('data', (d) => {
        text += d.toString('utf8');
        if (text.split('HTTP/1.1 200').length - 1 === 50 && text.endsWith('read')) resolve();
      }),
    );
    // No check has run (the first is 500 ms away), yet no body is watched and one slot holds the connection's last request.
    expect(watch.watching).toBe(0);
    expect(watch.connections).toBe(1);
    socket.destroy();
    while (watch.connections > 0) await new Promise((r) => setTimeout(r, 5));
    watch.close();
  });

  it('keeps watching a body that still arrives after an early answer, until it has arrived', async () => {
    const watch = new UploadWatch(16 * 1024);
    const { server, port } = await serve(watch, []);
    servers.push(server);
    const c = raw(
      port,
      [
        { text: 'POST /early HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nabc', afterMs: 0 },
        { text: 'def', afterMs: 300 },
      ],
      'early',
    );
    expect(await c.answer).toContain('early');
    expect(watch.watching).toBe(1);
    await new Promise((r) => setTimeout(r, 500));
    expect(watch.watching).toBe(0);
    c.socket.destroy();
    watch.close();
  });

  it('cuts a sender that stops, once the grace and the minimum rate are behind it', async () => {
    const cuts: number[] = [];
    let t = 0;
    const watch = new UploadWatch(16 * 1024, () => t);
    const { server, port } = await serve(watch, cuts);
    servers.push(server);
    const c = raw(port, [{ text: 'POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nab', afterMs: 0 }], '\u0000');
    while (watch.watching === 0) await new Promise((r) => setTimeout(r, 5));
    watch.check(); // first check: the body is still arriving, so its bytes are counted from now on
    // Checks a second apart (a longer gap would read as the server having stalled, which the client is not blamed for).
    for (let s = 1; s <= 5; s++) {
      t += 1_000;
      watch.check();
    }
    expect(cuts).toEqual([]); // 5 s: still within the grace
    t += 1_000;
    watch.check();
    expect(cuts).toEqual([0]); // 6 s, nothing received
    await c.answer;
    expect(watch.watching).toBe(0);
    watch.close();
  });
});
