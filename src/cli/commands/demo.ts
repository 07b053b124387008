import type { Command } from 'commander';
import { type CliCommand, type Io, positiveInt, storeOptions } from '../command.ts';
import { configFrom, withBackend } from '../openBackend.ts';
import { parseClock, parseSeed } from './testOptions.ts';

export const demoCommand: CliCommand = {
  register(program: Command, io: Io): void {
    program
      .command('demo')
      .description('create or reuse the demo app and fill it with synthetic visits ending yesterday; prints {"appid","secret"} last')
      .option('--users <n>', 'number of users', positiveInt('--users'), 5000)
      .option('--days <n>', 'number of days', positiveInt('--days'), 30)
      .option('--seed <n>', 'the seeded demo app (same appid and secret) and data: same seed and clock, same answers on any machine', parseSeed)
      .option('--clock <time>', "end the visits on this time's yesterday (default: now, or a test-mode server's clock)", parseClock)
      .action(async (o: { users: number; days: number; seed?: number; clock?: number }, cmd: Command) => {
        const config = await configFrom(storeOptions(cmd));
        const { fillDemo } = await import('../fillDemo.ts');
        await withBackend(storeOptions(cmd), {}, async (b) => {
          // Yesterday by the clock of whoever owns the store: a test-mode server's clock when one serves it.
          const nowMs = o.clock ?? (await b.now());
          const r = await fillDemo(b, config.dataDir, { now: () => nowMs }, { users: o.users, days: o.days, seed: o.seed });
          io.err(`demo: ${r.accepted} events stored, ${r.duplicates} already there`);
          io.out(JSON.stringify(r.credentials));
        });
      });
  },
};
