import { Command, CommanderError, Option } from 'commander';
import { systemClock } from '../domain/clock.ts';
import type { Backend } from './backend.ts';
import { ingestFiles } from './commands/ingest.ts';
import { exportApp, importFile } from './commands/transfer.ts';
import { openServices } from '../services.ts';
import { liveServer } from './serverFile.ts';
import { fillDemo } from './fillDemo.ts';
import { configFrom, openBackend, type StoreOptions } from './openBackend.ts';
import { formatPortrait } from './printPortrait.ts';
import { serveUntilSignalled } from './serve.ts';

/** A failure to report to the user as it is (no stack): bad input, a refused request. */
class UserError extends Error {}

function storeOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--data <dir>', 'data directory (env DATACUBE_DATA, default ./data)'))
    .addOption(new Option('--store <url>', 'duckdb (default) or clickhouse://USER:PASS@HOST:8123/DB[?cluster=NAME] (env DATACUBE_STORE)'));
}

function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new UserError(`${name} must be a positive integer, not "${v}"`);
    return n;
  };
}

async function withBackend<T>(opts: StoreOptions, fn: (b: Backend) => Promise<T>): Promise<T> {
  const backend = await openBackend(opts);
  try {
    return await fn(backend);
  } finally {
    await backend.close();
  }
}

function onOff(name: string) {
  return (v: string): boolean => {
    const t = v.trim().toLowerCase();
    if (t === 'on' || t === 'true' || t === 'yes') return true;
    if (t === 'off' || t === 'false' || t === 'no') return false;
    throw new UserError(`${name} must be on or off, not "${v}"`);
  };
}

const out = (s: string) => process.stdout.write(`${s}\n`);

export function buildProgram(): Command {
  const program = new Command('datacube')
    .description('Self-hosted WeChat mini-program user portraits (analysis.getUserPortrait)')
    .showHelpAfterError()
    .exitOverride();

  storeOptions(program.command('serve').description('run the HTTP server (WeChat API, ingest, cloud calls)'))
    .option('--port <port>', 'port (env DATACUBE_PORT, default 8080; 0 = any free port)')
    .option('--host <host>', 'address to listen on (env DATACUBE_HOST, default 127.0.0.1)')
    .option('--demo', 'on an empty store, create the demo app with demo data; print how to call it')
    .action(async (o: StoreOptions & { port?: string; host?: string; demo?: boolean }) => {
      const config = configFrom(o);
      if (o.port !== undefined) {
        const p = Number(o.port);
        if (!Number.isInteger(p) || p < 0 || p > 65535) throw new UserError(`--port must be 0-65535, not "${o.port}"`);
        config.port = p;
      }
      if (o.host !== undefined) config.host = o.host;
      await serveUntilSignalled(config, { demo: o.demo });
    });

  const app = program.command('app').description('manage apps (mini-programs)');
  storeOptions(app.command('create').description('create an app; prints {"appid","secret"} (the secret is shown only once)'))
    .option('--name <name>', 'a name to recognise it by')
    .option('--env <env>', 'its cloud env id for wx-server-sdk (default: the appid)')
    .action(async (o: StoreOptions & { name?: string; env?: string }) => {
      await withBackend(o, async (b) => {
        const a = await b.createApp({ name: o.name, env: o.env });
        out(JSON.stringify({ appid: a.appid, secret: a.secret }));
      });
    });
  storeOptions(app.command('list').description('list apps (never their secrets)')).action(async (o: StoreOptions) => {
    await withBackend(o, async (b) => {
      for (const a of await b.listApps()) out(JSON.stringify(a));
    });
  });
  storeOptions(app.command('update').description("change an app's name, cloud env, daily quota or whether /v1/collect takes its events").argument('<appid>'))
    .option('--name <name>')
    .option('--env <env>', 'cloud env id for wx-server-sdk')
    .option('--quota <calls>', 'calls a day per API', positiveInt('--quota'))
    .option('--collect <on|off>', 'whether the public POST /v1/collect takes events for this app (the tracker); on by default', onOff('--collect'))
    .action(async (appid: string, o: StoreOptions & { name?: string; env?: string; quota?: number; collect?: boolean }) => {
      await withBackend(o, async (b) => {
        out(JSON.stringify(await b.updateApp(appid, { name: o.name, env: o.env, dailyQuota: o.quota, collect: o.collect })));
      });
    });

  storeOptions(
    program
      .command('ingest')
      .description('store events from NDJSON (.ndjson/.jsonl), JSON array (.json) or CSV (.csv) files; "-" reads NDJSON from stdin')
      .requiredOption('--appid <appid>', 'the app the events belong to')
      .argument('<files...>'),
  ).action(async (files: string[], o: StoreOptions & { appid: string }) => {
    await withBackend(o, async (b) => {
      if (!(await b.hasApp(o.appid))) throw new UserError(`no app ${o.appid} (see: datacube app list)`);
      const sum = await ingestFiles(b, o.appid, files, { progress: process.stderr.isTTY === true });
      out(JSON.stringify(sum));
    });
  });

  storeOptions(
    program
      .command('portrait')
      .description('print the user portrait of a 1-, 7- or 30-day window')
      .requiredOption('--appid <appid>')
      .requiredOption('--begin <yyyymmdd>')
      .requiredOption('--end <yyyymmdd>')
      .option('--json', "WeChat's JSON instead of tables")
      .option('--top <n>', 'rows per table', positiveInt('--top'), 10),
  ).action(async (o: StoreOptions & { appid: string; begin: string; end: string; json?: boolean; top: number }) => {
    await withBackend(o, async (b) => {
      if (!(await b.hasApp(o.appid))) throw new UserError(`no app ${o.appid} (see: datacube app list)`);
      const r = await b.portrait(o.appid, o.begin, o.end);
      if (!r.ok) throw new UserError(`errcode ${r.errcode}: ${r.errmsg}`);
      out(o.json ? JSON.stringify(r.portrait, null, 2) : formatPortrait(r.portrait, { top: o.top }));
    });
  });

  storeOptions(
    program
      .command('demo')
      .description('create or reuse the demo app and fill it with synthetic visits ending yesterday; prints {"appid","secret"} last')
      .option('--users <n>', 'number of users', positiveInt('--users'), 5000)
      .option('--days <n>', 'number of days', positiveInt('--days'), 30),
  ).action(async (o: StoreOptions & { users: number; days: number }) => {
    const config = configFrom(o);
    await withBackend(o, async (b) => {
      const r = await fillDemo(b, config.dataDir, systemClock, { users: o.users, days: o.days });
      process.stderr.write(`demo: ${r.accepted} events stored, ${r.duplicates} already there\n`);
      out(JSON.stringify(r.credentials));
    });
  });

  storeOptions(
    program
      .command('export')
      .description("write an app and all its stored events to an export file (NDJSON), e.g. to move a DuckDB store to ClickHouse")
      .requiredOption('--appid <appid>')
      .option('--out <file>', 'the file to write ("-" or none: standard output)'),
  ).action(async (o: StoreOptions & { appid: string; out?: string }) => {
    await withServices(o, async (s) => {
      const n = await exportApp(s, o.appid, o.out);
      process.stderr.write(`exported ${n} events of ${o.appid}\n`);
    });
  });

  storeOptions(
    program
      .command('import')
      .description('load an export file into the store (creates the app if absent; events are appended unchanged, duplicates skipped)')
      .argument('<file>', 'an export file, or "-" for standard input'),
  ).action(async (file: string, o: StoreOptions) => {
    await withServices(o, async (s) => {
      const r = await importFile(s, file);
      out(JSON.stringify(r));
      if (!r.secretReadable) {
        process.stderr.write(
          'warning: the app secret was sealed with another master key; copy the source data directory\'s master.key or set DATACUBE_MASTER_KEY, or cloud calls will be refused\n',
        );
      }
    });
  });

  return program;
}

/** Export and import work on the store directly: refuse while a server owns an embedded store. */
async function withServices<T>(opts: StoreOptions, fn: (s: Awaited<ReturnType<typeof openServices>>) => Promise<T>): Promise<T> {
  const config = configFrom(opts);
  const live = await liveServer(config.dataDir);
  if (live && config.store === 'duckdb') {
    throw new UserError(`a datacube server (pid ${live.pid}) owns ${config.dataDir}; stop it first (export and import open the store directly)`);
  }
  const s = await openServices({ ...config, logLevel: 'silent' });
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

/** Runs the CLI; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.exitCode === 0 || e.code === 'commander.helpDisplayed' || e.code === 'commander.version' ? 0 : e.exitCode || 1;
    }
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`datacube: ${msg}\n`);
    return 1;
  }
}
