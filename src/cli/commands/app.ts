import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { envIdProblem } from '../../auth/crypto.ts';
import { type CliCommand, type Io, positiveInt, storeOptions } from '../command.ts';
import { CliError } from '../errors.ts';
import { withBackend } from '../openBackend.ts';

function onOff(name: string) {
  return (v: string): boolean => {
    const t = v.trim().toLowerCase();
    if (t === 'on' || t === 'true' || t === 'yes') return true;
    if (t === 'off' || t === 'false' || t === 'no') return false;
    throw new CliError(`${name} must be on or off, not "${v}"`);
  };
}

/**
 * `--retain-days N` (whole days; at least 31, checked where apps are changed) or `forever` (keep everything), given
 * as -1 (commander does not keep a null).
 */
function retainDays(v: string): number {
  if (/^(forever|none|off)$/i.test(v.trim())) return -1;
  if (!/^\d+$/.test(v.trim())) throw new CliError(`--retain-days must be a whole number of days (at least 31) or "forever", not "${v}"`);
  return Number(v);
}

function envId(v: string): string {
  const why = envIdProblem(v);
  if (why) throw new CliError(`--env: ${why}`);
  return v;
}

/** On a terminal, asks for the appid to be typed again; scripts (no terminal) and --yes skip the question. */
async function confirmDelete(appid: string, events: number, io: Io): Promise<boolean> {
  if (!process.stdin.isTTY || !io.interactive) return true;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`Delete app ${appid} and its ${events} events, tokens and counters? Type the appid to confirm: `);
    return answer.trim() === appid;
  } finally {
    rl.close();
  }
}

export const appCommand: CliCommand = {
  register(program: Command, io: Io): void {
    const app = program.command('app').description('manage apps (mini-programs): create, list, update, reset-secret, delete');

    app
      .command('create')
      .description('create an app; prints {"appid","secret"} (the secret is shown only once)')
      .option('--name <name>', 'a name to recognise it by')
      .option('--env <env>', 'its cloud env id for wx-server-sdk, like prod-1g2h3j4k (default: the appid)', envId)
      .option('--quota <calls>', 'calls a day per API (default: DATACUBE_DAILY_QUOTA, 100000)', positiveInt('--quota'))
      .action(async (o: { name?: string; env?: string; quota?: number }, cmd: Command) => {
        await withBackend(storeOptions(cmd), {}, async (b) => {
          const a = await b.createApp({ name: o.name, env: o.env, dailyQuota: o.quota });
          io.out(JSON.stringify({ appid: a.appid, secret: a.secret }));
        });
      });

    app
      .command('list')
      .description('list apps, one JSON object a line, with their stored events and the time of the latest (never their secrets)')
      .action(async (_o: unknown, cmd: Command) => {
        await withBackend(storeOptions(cmd), { readOnly: true }, async (b) => {
          for (const a of await b.listApps()) io.out(JSON.stringify(a));
        });
      });

    app
      .command('update')
      .description("change an app's name, cloud env, daily quota, whether /v1/collect takes its events, or how long its events are kept")
      .argument('<appid>')
      .option('--name <name>')
      .option('--env <env>', 'cloud env id for wx-server-sdk, like prod-1g2h3j4k', envId)
      .option('--quota <calls>', 'calls a day per API', positiveInt('--quota'))
      .option('--collect <on|off>', 'whether the public POST /v1/collect takes events for this app (the tracker); on by default', onOff('--collect'))
      .option('--retain-days <days|forever>', 'keep events this many Shanghai days (at least 31), dropped daily; forever (the default) keeps them all', retainDays)
      .action(async (appid: string, o: { name?: string; env?: string; quota?: number; collect?: boolean; retainDays?: number }, cmd: Command) => {
        const retain = o.retainDays === undefined ? undefined : o.retainDays === -1 ? null : o.retainDays;
        await withBackend(storeOptions(cmd), { needsData: true }, async (b) => {
          io.out(JSON.stringify(await b.updateApp(appid, { name: o.name, env: o.env, dailyQuota: o.quota, collect: o.collect, retainDays: retain })));
        });
      });

    app
      .command('reset-secret')
      .description('give an app a new secret, printed once as {"appid","secret"}; tokens issued with the old one stop working')
      .argument('<appid>')
      .action(async (appid: string, _o: unknown, cmd: Command) => {
        await withBackend(storeOptions(cmd), { needsData: true }, async (b) => {
          if (!(await b.hasApp(appid))) throw new CliError(`no app ${appid} (see: datacube app list)`);
          io.out(JSON.stringify(await b.resetSecret(appid)));
        });
      });

    app
      .command('delete')
      .description('delete an app with all its events, tokens and counters (asks first on a terminal); prints {"appid","events"}')
      .argument('<appid>')
      .option('--yes', 'do not ask')
      .action(async (appid: string, o: { yes?: boolean }, cmd: Command) => {
        await withBackend(storeOptions(cmd), { needsData: true }, async (b) => {
          if (!(await b.hasApp(appid))) throw new CliError(`no app ${appid} (see: datacube app list)`);
          if (!o.yes && !(await confirmDelete(appid, await b.countEvents(appid), io))) throw new CliError('not deleted');
          io.out(JSON.stringify(await b.deleteApp(appid)));
        });
      });
  },
};
