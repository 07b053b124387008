/**
 * Starts the real server (real DuckDB file in a temporary data directory, port 0 on loopback) for integration
 * tests, with an injectable clock. Test support only.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../config.ts';
import type { Clock } from '../domain/clock.ts';
import { openServices, type Services } from '../services.ts';
import type { Store } from '../store/store.ts';
import { createServer, type ServerOptions } from './createServer.ts';

export interface TestServer {
  url: string;
  services: Services;
  dataDir: string;
  /** Creates an app and returns its credentials. */
  newApp(opts?: { env?: string; dailyQuota?: number }): Promise<{ appid: string; secret: string }>;
  /** A fresh /cgi-bin/token token for the app. */
  token(appid: string, secret: string): Promise<string>;
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }>;
  get(path: string): Promise<{ status: number; json: Record<string, unknown> }>;
  /** Stops the server and closes the store; keeps the data directory unless `remove`. */
  stop(remove?: boolean): Promise<void>;
}

export const TEST_ADMIN_KEY = 'test-admin-key';

/** `server` overrides createServer's options, e.g. `{ logger: { level: 'info', stream } }` to capture log lines. */
/** `store`: a store opened by the test (default: the one the configuration names, a DuckDB file in `dataDir`). */
export async function startTestServer(opts: { clock: Clock; dataDir?: string; config?: Partial<Config>; server?: ServerOptions; store?: Store }): Promise<TestServer> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'datacube-api-'));
  const config = loadConfig({}, { dataDir, port: 0, logLevel: 'silent', ...opts.config });
  const services = await openServices(config, opts.clock, opts.store);
  const app = await createServer(services, { logger: false, adminKey: TEST_ADMIN_KEY, ...opts.server });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  const parse = async (r: Response) => {
    const text = await r.text();
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new Error(`not JSON (HTTP ${r.status}): ${text.slice(0, 200)}`);
    }
    return json;
  };
  const t: TestServer = {
    url,
    services,
    dataDir,
    async newApp(o = {}) {
      const { app: a, secret } = await services.auth.createApp(o);
      return { appid: a.appid, secret };
    },
    async token(appid, secret) {
      const r = await t.get(`/cgi-bin/token?grant_type=client_credential&appid=${appid}&secret=${secret}`);
      if (typeof r.json.access_token !== 'string') throw new Error(`no token: ${JSON.stringify(r.json)}`);
      return r.json.access_token;
    },
    async post(path, body, headers = {}) {
      const r = await fetch(url + path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: typeof body === 'string' ? body : body instanceof Uint8Array ? new Blob([new Uint8Array(body)]) : JSON.stringify(body),
      });
      return { status: r.status, json: await parse(r), headers: r.headers };
    },
    async get(path) {
      const r = await fetch(url + path);
      return { status: r.status, json: await parse(r) };
    },
    async stop(remove = false) {
      await app.close();
      await services.close();
      if (remove) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return t;
}
