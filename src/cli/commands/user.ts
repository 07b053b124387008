import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { OPENID_PATTERN } from '../../domain/event.ts';
import { MAX_DELETE_OPENIDS } from '../../store/lifecycle.ts';
import { type CliCommand, type Io, storeOptions } from '../command.ts';
import { CliError, EXIT } from '../errors.ts';
import { withBackend } from '../openBackend.ts';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/**
 * `datacube user delete --appid APPID --openid OPENID [--openid …] [--file FILE]`: removes users of an app (their
 * raw events and every derived row) and prints `{"appid","users","events"}`. Longer lists go 1,000 at a time.
 */
export const userCommand: CliCommand = {
  register(program: Command, io: Io): void {
    const user = program.command('user').description("personal data: remove a user's data on request");
    user
      .command('delete')
      .description('delete users of an app: their events and everything derived from them; every answer is as if they had never been seen')
      .requiredOption('--appid <appid>', 'the app')
      .option('--openid <openid>', 'an openid to delete (repeat the option for several)', collect, [])
      .option('--file <file>', 'a file of openids to delete, one a line')
      .action(async (o: { appid: string; openid: string[]; file?: string }, cmd: Command) => {
        const openids = [...o.openid];
        /** Index in `openids` → line of `--file` it came from. */
        const fileLines = new Map<number, number>();
        if (o.file) {
          let text: string;
          try {
            text = readFileSync(o.file, 'utf8');
          } catch (e) {
            throw new CliError(`cannot read ${o.file}: ${e instanceof Error ? e.message : String(e)}`, EXIT.UNREADABLE);
          }
          text.split(/\r?\n/).forEach((l, i) => {
            const id = l.trim();
            if (id === '') return;
            openids.push(id);
            fileLines.set(openids.length - 1, i + 1);
          });
        }
        if (openids.length === 0) throw new CliError('name the users to delete: --openid OPENID (repeatable) or --file FILE');
        // Every openid is checked before the first batch goes, so a bad one further down deletes nothing.
        const bad = openids.findIndex((id) => !OPENID_PATTERN.test(id));
        if (bad >= 0) {
          const line = fileLines.get(bad);
          const where = line === undefined ? '' : `, line ${line} of ${o.file ?? ''}`;
          throw new CliError(
            `openids[${bad}] is not an openid (1-128 characters of [A-Za-z0-9_-]): ${JSON.stringify(openids[bad])}${where}; nothing was deleted`,
          );
        }
        await withBackend(storeOptions(cmd), { needsData: true }, async (b) => {
          if (!(await b.hasApp(o.appid))) throw new CliError(`no app ${o.appid} (see: datacube app list); nothing was deleted`);
          const total = { appid: o.appid, users: 0, events: 0 };
          for (let i = 0; i < openids.length; i += MAX_DELETE_OPENIDS) {
            const r = await b.deleteUsers(o.appid, openids.slice(i, i + MAX_DELETE_OPENIDS));
            total.users += r.users;
            total.events += r.events;
          }
          io.out(JSON.stringify(total));
        });
      });
  },
};
