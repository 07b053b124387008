import type { Command } from 'commander';
import { type CliCommand, type Io, storeOptions } from '../command.ts';
import { withBackend } from '../openBackend.ts';

/**
 * `datacube prune`: drops, for every app with a retention (`app update APPID --retain-days N`), the events older than
 * N Shanghai days and what depends only on them, as the server does once a day. Prints one JSON line per app.
 */
export const pruneCommand: CliCommand = {
  register(program: Command, io: Io): void {
    program
      .command('prune')
      .description("drop the events older than each app's retention (app update APPID --retain-days N); the server does it daily")
      .action(async (_o: unknown, cmd: Command) => {
        await withBackend(storeOptions(cmd), { needsData: true }, async (b) => {
          const pruned = await b.prune();
          if (pruned.length === 0) io.err('no app has a retention set (datacube app update APPID --retain-days N): nothing to prune');
          for (const p of pruned) io.out(JSON.stringify(p));
        });
      });
  },
};
