import { loadConfig } from '../../config.ts';
import { liveServer } from '../serverFile.ts';
import { TestModeClientError } from './testOptions.ts';

/**
 * How `datacube test clock|faults` reach a server in test mode: `--url`, or the server that owns the data directory
 * (its address is in DATA/server.json). Test mode's routes need no key: the server listens on loopback.
 */
export interface TestTarget {
  url?: string;
  data?: string;
}

async function baseUrl(t: TestTarget): Promise<string> {
  if (t.url) {
    let u: URL;
    try {
      u = new URL(t.url);
    } catch {
      throw new TestModeClientError(`--url ${t.url} is not a URL (e.g. http://127.0.0.1:8080)`);
    }
    return u.origin + u.pathname.replace(/\/+$/, '');
  }
  const dataDir = loadConfig(process.env, { dataDir: t.data }).dataDir;
  const live = await liveServer(dataDir);
  if (!live) {
    throw new TestModeClientError(`no datacube server runs on ${dataDir}; start one with: datacube serve --test-mode --data ${dataDir} (or give --url)`);
  }
  return live.url;
}

/** Calls a test-mode route; resolves to its JSON answer, or throws a message for the user. */
export async function testModeCall(t: TestTarget, method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<unknown> {
  const url = `${await baseUrl(t)}/__datacube${path}`;
  let r: Response;
  try {
    r = await fetch(url, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new TestModeClientError(`cannot reach ${url}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const text = await r.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new TestModeClientError(`${url} answered HTTP ${r.status} with something that is not JSON`);
  }
  if (r.status === 404 && typeof (json as { errcode?: unknown }).errcode === 'number') {
    throw new TestModeClientError(`the server at ${url.slice(0, url.indexOf('/__datacube'))} is not in test mode (start it with: datacube serve --test-mode)`);
  }
  if (r.status !== 200) {
    const error = (json as { error?: unknown }).error;
    throw new TestModeClientError(typeof error === 'string' ? error : `${url} answered HTTP ${r.status}`);
  }
  return json;
}
