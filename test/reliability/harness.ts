/**
 * Test support for the reliability suite: the real `datacube serve` in a child process, a plain keep-alive HTTP
 * client that reports network failures as values, and the durations of the short (npm test) and long
 * (npm run test:reliability) variants.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from '../../src/demo/prng.ts';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** `npm run test:reliability` sets DATACUBE_RELIABILITY=long; `npm test` runs the short variants. */
export const LONG = process.env.DATACUBE_RELIABILITY === 'long';

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `datacube-${prefix}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---- HTTP

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text: string;
}

/** Network failures (refused, reset, timed out) are an answer of their own, not an exception. */
export type Outcome = { ok: true; answer: Answer } | { ok: false; error: string };

export interface RequestSpec {
  method?: string;
  path: string;
  headers?: Record<string, string | string[]>;
  body?: string | Uint8Array;
  timeoutMs?: number;
}

export function request(base: string, spec: RequestSpec, agent?: http.Agent): Promise<Outcome> {
  const url = new URL(base);
  return new Promise((resolvePromise) => {
    let settled = false;
    const done = (o: Outcome) => {
      if (settled) return;
      settled = true;
      resolvePromise(o);
    };
    const headers: Record<string, string | string[]> = { ...(spec.headers ?? {}) };
    if (spec.body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-length' || h.toLowerCase() === 'transfer-encoding')) {
      headers['content-length'] = String(typeof spec.body === 'string' ? Buffer.byteLength(spec.body) : spec.body.byteLength);
    }
    let req: http.ClientRequest;
    try {
      req = http.request({
        host: url.hostname,
        port: url.port,
        method: spec.method ?? 'GET',
        path: spec.path,
        headers,
        agent: agent ?? false,
        timeout: spec.timeoutMs ?? 30_000,
      });
    } catch (e) {
      done({ ok: false, error: `client refused to build the request: ${e instanceof Error ? e.message : String(e)}` });
      return;
    }
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        done({ ok: true, answer: { status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString('utf8') } });
      });
      res.on('error', (e) => done({ ok: false, error: e.message }));
      res.on('aborted', () => done({ ok: false, error: 'response aborted' }));
    });
    req.on('timeout', () => {
      req.destroy(new Error('timed out'));
    });
    req.on('error', (e) => done({ ok: false, error: (e as NodeJS.ErrnoException).code ?? e.message }));
    if (spec.body !== undefined) req.end(spec.body);
    else req.end();
  });
}

export function json(a: Answer): Record<string, unknown> {
  return JSON.parse(a.text) as Record<string, unknown>;
}

/** POST JSON and parse the JSON answer; throws on a network failure or a non-JSON answer. */
export async function postJson(base: string, path: string, body: unknown, headers: Record<string, string> = {}, agent?: http.Agent) {
  const o = await request(base, { method: 'POST', path, body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } }, agent);
  if (!o.ok) throw new Error(`POST ${path}: ${o.error}`);
  return { status: o.answer.status, headers: o.answer.headers, json: json(o.answer) };
}

export async function getJson(base: string, path: string, agent?: http.Agent) {
  const o = await request(base, { path }, agent);
  if (!o.ok) throw new Error(`GET ${path}: ${o.error}`);
  return { status: o.answer.status, json: json(o.answer) };
}

// ---- the server in a child process

export interface ChildServer {
  url: string;
  adminKey: string;
  pid: number;
  child: ChildProcess;
  /** Resolves when the process has exited (and been reaped). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** stdout and stderr so far. */
  output(): string;
}

function readServerJson(dataDir: string): { url: string; pid: number; adminKey: string } | undefined {
  const p = join(dataDir, 'server.json');
  if (!existsSync(p)) return undefined;
  try {
    return JSON.parse(readFileSync(p, 'utf8')) as { url: string; pid: number; adminKey: string };
  } catch {
    return undefined;
  }
}

/**
 * Runs `node bin/datacube.js serve --port 0 --data DIR` (or `opts.port`, to come back where clients expect it) and waits until the server.json it writes names this
 * process and its /healthz answers. Output goes to a file in `logDir` (a pipe nobody reads would stall it).
 */
export async function startChildServer(dataDir: string, opts: { logDir: string; env?: Record<string, string>; name?: string; port?: number }): Promise<ChildServer> {
  const logPath = join(opts.logDir, `${opts.name ?? 'server'}-${Date.now()}-${Math.random().toString(16).slice(2, 8)}.log`);
  const fd = openSync(logPath, 'w');
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'datacube.js'), 'serve', '--port', String(opts.port ?? 0), '--data', dataDir], {
    cwd: ROOT,
    env: { ...process.env, DATACUBE_LOG_LEVEL: 'warn', ...opts.env },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  const output = () => (existsSync(logPath) ? readFileSync(logPath, 'utf8') : '');
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (gone) throw new Error(`the server exited during start:\n${output()}`);
    const f = readServerJson(dataDir);
    if (f && f.pid === child.pid) {
      const h = await request(f.url, { path: '/healthz', timeoutMs: 2000 });
      if (h.ok && h.answer.status === 200) return { url: f.url, adminKey: f.adminKey, pid: f.pid, child, exited, output };
    }
    await sleep(25);
  }
  child.kill('SIGKILL');
  throw new Error(`the server did not start within 60 s:\n${output()}`);
}

/** Waits for the process to exit, at most `ms`; undefined if it is still running. */
export async function waitExit(s: ChildServer, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null } | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const r = await Promise.race([s.exited, new Promise<undefined>((res) => (timer = setTimeout(() => res(undefined), ms)))]);
  if (timer) clearTimeout(timer);
  return r;
}

/** Resident set size of a Linux process, bytes (undefined once it is gone). */
export function rssOf(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Creates an app through the admin routes of a running server. */
export async function adminCreateApp(s: { url: string; adminKey: string }, opts: { dailyQuota?: number } = {}): Promise<{ appid: string; secret: string }> {
  const r = await postJson(s.url, '/admin/apps', { name: 'reliability', ...opts }, { authorization: `Bearer ${s.adminKey}` });
  if (r.status !== 200 || typeof r.json.appid !== 'string' || typeof r.json.secret !== 'string') throw new Error(`app create: ${JSON.stringify(r.json)}`);
  return { appid: r.json.appid, secret: r.json.secret };
}

export async function fetchToken(base: string, appid: string, secret: string): Promise<string> {
  const r = await getJson(base, `/cgi-bin/token?grant_type=client_credential&appid=${appid}&secret=${secret}`);
  if (typeof r.json.access_token !== 'string') throw new Error(`no token: ${JSON.stringify(r.json)}`);
  return r.json.access_token;
}

/** A small deterministic PRNG, so a failing run can be repeated from its seed. */
export const rng = mulberry32;
