import type { Command } from 'commander';
import { type CliCommand, storeOptions } from '../command.ts';
import { CliError } from '../errors.ts';
import { configFrom } from '../openBackend.ts';

export const serveCommand: CliCommand = {
  register(program: Command): void {
    program
      .command('serve')
      .description('run the HTTP server (WeChat API, ingest, cloud calls)')
      .option('--port <port>', 'port (env DATACUBE_PORT, default 8080; 0 = any free port)')
      .option('--host <host>', 'address to listen on (env DATACUBE_HOST, default 127.0.0.1)')
      .option('--demo', 'on an empty store, create the demo app with demo data')
      .addHelpText('after', '\nPrints where it listens (and, with a demo app, its credentials and two curl lines), then logs one line per\nrequest: readable on a terminal, JSON lines otherwise (DATACUBE_LOG_FORMAT=json|pretty to choose).')
      .action(async (o: { port?: string; host?: string; demo?: boolean }, cmd: Command) => {
        const config = await configFrom(storeOptions(cmd));
        if (o.port !== undefined) {
          const p = Number(o.port);
          if (!/^\d+$/.test(o.port) || p > 65535) throw new CliError(`--port must be 0-65535, not "${o.port}"`);
          config.port = p;
        }
        if (o.host !== undefined) config.host = o.host;
        const { serveUntilSignalled } = await import('../serve.ts');
        await serveUntilSignalled(config, { demo: o.demo });
      });
  },
};
