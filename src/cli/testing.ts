/**
 * Test support for the CLI: runs the real `datacube` command (bin/datacube.js, the compiled dist/) in a child
 * process, and starts `datacube serve` for tests that need a server owning a data directory. Not used in production.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const BIN = resolve(import.meta.dirname, '../../bin/datacube.js');

export interface CliResult {
  code: number | null;
  out: string;
  err: string;
}

/** The environment of a CLI run: the test's own, quiet, without a store named by the caller's shell. */
export function cliEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, DATACUBE_LOG_LEVEL: 'silent', ...extra };
  delete env.DATACUBE_STORE;
  delete env.DATACUBE_DATA;
  for (const [k, v] of Object.entries(extra)) if (v === undefined) delete env[k];
  else env[k] = v;
  return env;
}

/** Runs `datacube ARGS` to the end (blocking); for tests that have no server in this process. */
export function runCli(args: string[], opts: { input?: string | Buffer; env?: Record<string, string | undefined>; nodeArgs?: string[] } = {}): CliResult {
  const r = spawnSync(process.execPath, [...(opts.nodeArgs ?? []), BIN, ...args], {
    input: opts.input,
    encoding: 'utf8',
    timeout: 120_000,
    env: cliEnv(opts.env),
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Runs `datacube ARGS` without blocking this process (so a server running in it can answer). */
export function runCliAsync(args: string[], opts: { input?: string; env?: Record<string, string | undefined> } = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: cliEnv(opts.env), stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, out, err }));
    child.stdin.end(opts.input ?? '');
  });
}

export interface ServeProcess {
  url: string;
  pid: number;
  /** Everything it printed on standard output so far. */
  stdout(): string;
  stderr(): string;
  /** SIGTERM, then waits for the exit; resolves to the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `datacube serve --port 0 --data DIR ARGS` and waits until its server.json names a live URL. */
export async function startServe(dataDir: string, args: string[] = [], env: Record<string, string | undefined> = {}): Promise<ServeProcess> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--data', dataDir, ...args], {
    env: cliEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const file = join(dataDir, 'server.json');
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`datacube serve exited (${child.exitCode}): ${err}`);
    if (existsSync(file)) {
      try {
        const f = JSON.parse(readFileSync(file, 'utf8')) as { url: string; pid: number };
        if (f.pid === child.pid) return { url: f.url, pid: f.pid, stdout: () => out, stderr: () => err, stop };
      } catch {
        // being written
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`datacube serve did not start: ${err}`);

  async function stop(): Promise<number | null> {
    if (child.exitCode === null) child.kill('SIGTERM');
    return exited;
  }
}
