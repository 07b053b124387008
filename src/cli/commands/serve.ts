import type { Command } from 'commander';
import { type CliCommand, positiveInt, storeOptions } from '../command.ts';
import { CliError } from '../errors.ts';
import { configFrom } from '../openBackend.ts';
import { parseClock, parseSeed } from './testOptions.ts';

interface ServeFlags {
  port?: string;
  host?: string;
  demo?: boolean;
  seed?: number;
  demoUsers?: number;
  demoDays?: number;
  testMode?: boolean;
  testModeAnywhere?: boolean;
  clock?: number;
}

export const serveCommand: CliCommand = {
  register(program: Command): void {
    program
      .command('serve')
      .description('run the HTTP server (WeChat API, ingest, cloud calls)')
      .option('--port <port>', 'port (env DATACUBE_PORT, default 8080; 0 = any free port)')
      .option('--host <host>', 'address to listen on (env DATACUBE_HOST, default 127.0.0.1)')
      .option('--demo', 'on an empty store, create the demo app with demo data')
      .option('--seed <n>', 'with --demo: the seeded demo app and data (same seed and clock, same answers on any machine)', parseSeed)
      .option('--demo-users <n>', 'with --demo: users in the demo data (default 5000)', positiveInt('--demo-users'))
      .option('--demo-days <n>', 'with --demo: days of demo data (default 30)', positiveInt('--demo-days'))
      .option('--test-mode', 'a clock that stands still until moved, and fault rules (POST /__datacube/clock, /__datacube/faults)')
      .option('--test-mode-anywhere', 'test mode on a --host other than loopback (implies --test-mode)')
      .option('--clock <time>', 'test mode: start the clock here, e.g. 2026-06-15T10:00:00+08:00 (default: now)', parseClock)
      .addHelpText('after', '\nPrints where it listens (and, with a demo app, its credentials and two curl lines), then logs one line per\nrequest: readable on a terminal, JSON lines otherwise (DATACUBE_LOG_FORMAT=json|pretty to choose).')
      .action(async (o: ServeFlags, cmd: Command) => {
        const testMode = o.testMode === true || o.testModeAnywhere === true;
        if (o.clock !== undefined && !testMode) throw new CliError('--clock needs --test-mode');
        if (!o.demo && (o.demoUsers !== undefined || o.demoDays !== undefined)) throw new CliError('--demo-users and --demo-days need --demo');
        if (o.seed !== undefined && !o.demo && !testMode) throw new CliError('--seed needs --demo (or --test-mode, where it seeds ratio faults)');
        const config = await configFrom(storeOptions(cmd));
        if (o.port !== undefined) {
          const p = Number(o.port);
          if (!/^\d+$/.test(o.port) || p > 65535) throw new CliError(`--port must be 0-65535, not "${o.port}"`);
          config.port = p;
        }
        if (o.host !== undefined) config.host = o.host;
        const { serveUntilSignalled } = await import('../serve.ts');
        await serveUntilSignalled(config, {
          demo: o.demo,
          seed: o.seed,
          demoUsers: o.demoUsers,
          demoDays: o.demoDays,
          testMode: testMode ? { clockMs: o.clock, anywhere: o.testModeAnywhere } : undefined,
        });
      });
  },
};
