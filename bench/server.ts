/**
 * A server for the HTTP benchmarks, run as a child process (`node bin/run-ts.js bench/server.ts MODE …`) so that the
 * load generator in the parent does not share its event loop. Talks to the parent over the IPC channel:
 * sends `{ ready: … }` once listening, and stops (closing the store) on `{ stop: true }`.
 *
 * - `real DATA_DIR DEMO_USERS [STORE]`: the real server (src/api/createServer.ts, real DuckDB store in DATA_DIR — or
 *   the store URL STORE —, no request logging) with one app (quota high enough for the run) holding DEMO_USERS users'
 *   demo visits (0: none). Loopback is a trusted proxy and the /v1/collect rates are out of the way, so a load
 *   generator can speak for many clients. `{ stats: true }` asks for the store's append statistics
 *   (`{ stats: { batches, commits } }`, or null).
 * - `bare BODY_FILE`: a bare Fastify route, POST /datacube/:path, answering the bytes of BODY_FILE.
 * - `fair DATA_DIR DEMO_USERS`: the real server without its answer cache (every portrait is computed), with app X
 *   holding DEMO_USERS users' demo visits and an empty app Y (`other`), for P8.
 */
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';
import { createServer } from '../src/api/index.ts';
import { loadConfig } from '../src/config.ts';
import { systemClock, yesterday } from '../src/domain/clock.ts';
import { generateDemoEvents } from '../src/demo/index.ts';
import { openServices } from '../src/services.ts';

export interface ServerReady {
  url: string;
  appid?: string;
  token?: string;
  events?: number;
  /** `fair` mode: the second app, which the load goes to. */
  other?: { appid: string; token: string };
}

function send(msg: { ready: ServerReady } | { error: string } | { stats: unknown }): void {
  if (!process.send) throw new Error('bench/server.ts must be started with an IPC channel (child_process.fork)');
  process.send(msg);
}

async function main(): Promise<void> {
  const [mode, arg1, arg2, arg3] = process.argv.slice(2);
  let stop: () => Promise<void>;
  let stats: () => unknown = () => undefined;
  if (mode === 'real' || mode === 'fair') {
    if (!arg1) throw new Error(`usage: ${mode} DATA_DIR DEMO_USERS`);
    const config = loadConfig(
      {},
      {
        dataDir: arg1,
        port: 0,
        logLevel: 'silent',
        trustedProxies: ['127.0.0.1'],
        collectIpRate: 1e9,
        collectAppRate: 1e9,
        ...(arg3 ? { store: arg3 } : {}),
        ...(mode === 'fair' ? { cacheEntries: 0 } : {}),
      },
    );
    const services = await openServices(config);
    const { app, secret } = await services.auth.createApp({ name: 'bench', dailyQuota: 1_000_000_000 });
    let events = 0;
    const users = Number(arg2 ?? 0);
    if (users > 0) {
      for (const batch of generateDemoEvents({ users, days: 30, endDay: yesterday(systemClock) })) {
        const r = await services.ingest.ingest(app.appid, batch);
        events += r.accepted;
      }
      await services.store.portrait(app.appid, { begin: yesterday(systemClock), end: yesterday(systemClock) });
    }
    const token = await services.auth.token('client_credential', app.appid, secret);
    let other: ServerReady['other'];
    if (mode === 'fair') {
      const y = await services.auth.createApp({ name: 'bench-load', dailyQuota: 1_000_000_000 });
      other = { appid: y.app.appid, token: (await services.auth.token('client_credential', y.app.appid, y.secret)).access_token };
    }
    const server = await createServer(services, { logger: false });
    const url = await server.listen({ port: 0, host: '127.0.0.1' });
    stop = async () => {
      await server.close();
      await services.close();
    };
    stats = () => {
      const st = services.store as { appendStats?: () => { batches: number; commits: number } };
      return st.appendStats ? st.appendStats() : undefined;
    };
    send({ ready: { url, appid: app.appid, token: token.access_token, events, other } });
  } else if (mode === 'bare') {
    if (!arg1) throw new Error('usage: bare BODY_FILE');
    const body = readFileSync(arg1);
    const server = Fastify();
    server.post('/datacube/:path', async (_req, reply) => reply.type('application/json; charset=utf-8').send(body));
    const url = await server.listen({ port: 0, host: '127.0.0.1' });
    stop = () => server.close();
    send({ ready: { url } });
  } else {
    throw new Error(`unknown mode ${String(mode)}`);
  }
  process.on('message', (m: unknown) => {
    if (typeof m === 'object' && m !== null && 'stats' in m) process.send?.({ stats: stats() ?? null });
    if (typeof m === 'object' && m !== null && 'stop' in m) {
      void stop().then(
        () => process.exit(0),
        (e: unknown) => {
          process.stderr.write(`bench server: ${String(e)}\n`);
          process.exit(1);
        },
      );
    }
  });
}

main().catch((e: unknown) => {
  const msg = e instanceof Error ? (e.stack ?? e.message) : String(e);
  try {
    send({ error: msg });
  } finally {
    process.stderr.write(`bench server: ${msg}\n`);
    process.exit(1);
  }
});
