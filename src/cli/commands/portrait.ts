import { type Command, Option } from 'commander';
import { yesterday } from '../../domain/clock.ts';
import { formatDay } from '../../domain/day.ts';
import { type CliCommand, type Io, positiveInt, storeOptions } from '../command.ts';
import { CliError } from '../errors.ts';
import { withBackend } from '../openBackend.ts';

interface PortraitOptions {
  appid: string;
  begin?: string;
  end?: string;
  last?: string;
  json?: boolean;
  top: number;
}

/**
 * `--last N`: the N days ending yesterday (China time) by the store owner's clock (the server's, which a test-mode
 * server may have frozen; else this machine's); otherwise `--begin`/`--end` as given.
 */
async function windowOf(o: PortraitOptions, now: () => Promise<number>): Promise<{ begin: string; end: string }> {
  if (o.last !== undefined) {
    const nowMs = await now();
    const end = yesterday({ now: () => nowMs });
    return { begin: formatDay(end - Number(o.last) + 1), end: formatDay(end) };
  }
  if (o.begin === undefined || o.end === undefined) throw new CliError('give --last 1|7|30, or --begin yyyymmdd and --end yyyymmdd');
  return { begin: o.begin, end: o.end };
}

export const portraitCommand: CliCommand = {
  register(program: Command, io: Io): void {
    program
      .command('portrait')
      .description('print the user portrait of a 1-, 7- or 30-day window')
      .requiredOption('--appid <appid>')
      .addOption(new Option('--last <days>', 'the last 1, 7 or 30 days, ending yesterday (China time)').choices(['1', '7', '30']).conflicts(['begin', 'end']))
      .option('--begin <yyyymmdd>', 'first day of the window')
      .option('--end <yyyymmdd>', 'last day of the window (at most yesterday, China time)')
      .option('--json', "WeChat's JSON instead of tables")
      .option('--top <n>', 'rows per table', positiveInt('--top'), 10)
      .action(async (o: PortraitOptions, cmd: Command) => {
        if (o.last === undefined && (o.begin === undefined || o.end === undefined)) throw new CliError('give --last 1|7|30, or --begin yyyymmdd and --end yyyymmdd');
        await withBackend(storeOptions(cmd), { readOnly: true }, async (b) => {
          const w = await windowOf(o, () => b.now());
          if (!(await b.hasApp(o.appid))) throw new CliError(`no app ${o.appid} (see: datacube app list)`);
          const r = await b.portrait(o.appid, w.begin, w.end);
          if (!r.ok) throw new CliError(`errcode ${r.errcode}: ${r.errmsg}${r.detail ? ` (${r.detail})` : ''}`);
          const { formatPortrait } = await import('../printPortrait.ts');
          io.out(o.json ? JSON.stringify(r.portrait, null, 2) : formatPortrait(r.portrait, { top: o.top }));
        });
      });
  },
};
