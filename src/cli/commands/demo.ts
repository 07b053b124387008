import type { Command } from 'commander';
import { type CliCommand, type Io, positiveInt, storeOptions } from '../command.ts';
import { configFrom, withBackend } from '../openBackend.ts';

export const demoCommand: CliCommand = {
  register(program: Command, io: Io): void {
    program
      .command('demo')
      .description('create or reuse the demo app and fill it with synthetic visits ending yesterday; prints {"appid","secret"} last')
      .option('--users <n>', 'number of users', positiveInt('--users'), 5000)
      .option('--days <n>', 'number of days', positiveInt('--days'), 30)
      .action(async (o: { users: number; days: number }, cmd: Command) => {
        const config = await configFrom(storeOptions(cmd));
        const [{ fillDemo }, { systemClock }] = await Promise.all([import('../fillDemo.ts'), import('../../domain/clock.ts')]);
        await withBackend(storeOptions(cmd), {}, async (b) => {
          const r = await fillDemo(b, config.dataDir, systemClock, { users: o.users, days: o.days });
          io.err(`demo: ${r.accepted} events stored, ${r.duplicates} already there`);
          io.out(JSON.stringify(r.credentials));
        });
      });
  },
};
