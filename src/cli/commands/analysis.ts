import { type Command, Option } from 'commander';
import { type AnalysisKind, analysisApi } from '../../analysis/analysisApis.ts';
import { yesterday } from '../../domain/clock.ts';
import { formatDay, parseDay } from '../../domain/day.ts';
import { type Granularity, type Period, latestPeriod, monthOf, periodRefDate, shiftPeriod, weekday } from '../../domain/period.ts';
import { type CliCommand, type Io, positiveInt, storeOptions } from '../command.ts';
import { CliError } from '../errors.ts';
import { withBackend } from '../openBackend.ts';

/**
 * `datacube summary|trend|distribution|pages|retain`: the analysis family (getDailySummary, get*VisitTrend,
 * getVisitDistribution, getVisitPage, get*Retain) as readable tables, or WeChat's JSON with `--json`.
 *
 * Dates: `--begin`/`--end` as in the API (one day; Monday–Sunday of a week; first–last day of a month: the
 * granularity follows from them), or `--date` for one day; without dates, the latest finished period of
 * `--granularity` (default: yesterday).
 */
interface Options {
  appid: string;
  begin?: string;
  end?: string;
  date?: string;
  granularity?: Granularity;
  json?: boolean;
  top?: number;
}

const GRANULARITIES: readonly Granularity[] = ['day', 'week', 'month'];

/** The granularity a begin/end pair names, if any (the API still checks the dates). */
export function granularityOf(begin: string, end: string): Granularity | undefined {
  const b = parseDay(begin);
  const e = parseDay(end);
  if (b === undefined || e === undefined) return undefined;
  if (b === e) return 'day';
  if (weekday(b) === 1 && e === b + 6) return 'week';
  const m = monthOf(b);
  if (b === m.begin && e === m.end) return 'month';
  return undefined;
}

/** Refuses options that name no dates before anything is opened. */
function checkDates(o: Options): void {
  if (o.date !== undefined && (o.begin !== undefined || o.end !== undefined)) throw new CliError('give either --date or --begin/--end');
  if ((o.begin === undefined) !== (o.end === undefined)) throw new CliError('give both --begin and --end (or --date for one day)');
}

/**
 * The API and the dates to ask for. Without dates, the latest whole period ending at most yesterday (China time) by
 * the store owner's clock (`now`: the server's, which a test-mode server may have frozen; else this machine's).
 */
async function resolve(
  kind: AnalysisKind,
  o: Options,
  granularities: readonly Granularity[],
  now: () => Promise<number>,
): Promise<{ api: string; granularity: Granularity; begin: string; end: string }> {
  checkDates(o);
  let begin = o.date ?? o.begin;
  let end = o.date ?? o.end;
  let granularity = o.granularity;
  if (begin !== undefined && end !== undefined) {
    // Dates that name no period go to the daily API, which answers WeChat's 61500/61501 for them.
    granularity ??= granularityOf(begin, end) ?? 'day';
  } else {
    granularity ??= 'day';
    const nowMs = await now();
    const p = latestPeriod(granularity, yesterday({ now: () => nowMs }));
    begin = formatDay(p.begin);
    end = formatDay(p.end);
  }
  if (!granularities.includes(granularity)) throw new CliError(`--granularity ${granularity}: this command is ${granularities.join(' or ')} only`);
  const api = analysisApi(kind, granularity);
  if (!api) throw new CliError(`no ${granularity} API for ${kind}`);
  return { api: api.name, granularity, begin, end };
}

type Tables = typeof import('./analysisTables.ts');

export const analysisCommand: CliCommand = {
  register(program: Command, io: Io): void {
    const define = (name: string, description: string, granularities: readonly Granularity[]) => {
      const cmd = program
        .command(name)
        .description(description)
        .requiredOption('--appid <appid>')
        .option('--begin <yyyymmdd>', 'first day of the period (with --end)')
        .option('--end <yyyymmdd>', 'last day of the period (with --begin)')
        .option('--date <yyyymmdd>', 'one day (default: yesterday, China time)')
        .option('--json', "WeChat's JSON instead of tables");
      if (granularities.length > 1) {
        cmd.addOption(
          new Option('--granularity <g>', 'day, week (Monday–Sunday) or month; default: what --begin/--end name, else day').choices([...granularities]),
        );
      }
      return cmd;
    };

    const run =
      (kind: AnalysisKind, granularities: readonly Granularity[], print: (t: Tables, answer: Record<string, unknown>, g: Granularity, o: Options) => string) =>
      async (o: Options, cmd: Command) => {
        checkDates(o);
        await withBackend(storeOptions(cmd), { readOnly: true }, async (b) => {
          const r = await resolve(kind, o, granularities, () => b.now());
          if (!(await b.hasApp(o.appid))) throw new CliError(`no app ${o.appid} (see: datacube app list)`);
          const a = await b.analysis(o.appid, r.api, r.begin, r.end);
          if (!a.ok) throw new CliError(`errcode ${a.errcode}: ${a.errmsg}`);
          io.out(o.json ? JSON.stringify(a.answer, null, 2) : print(await import('./analysisTables.ts'), a.answer, r.granularity, o));
        });
      };

    define('summary', 'daily summary: users ever, shares (getDailySummary)', ['day']).action(run('summary', ['day'], (t, a) => t.formatSummary(a)));
    define('trend', 'visit trend of a day, week or month: sessions, views, visitors, stay, depth (get*VisitTrend)', GRANULARITIES).action(
      run('trend', GRANULARITIES, (t, a, g) => t.formatTrend(a, g)),
    );
    define('distribution', "a day's sessions by access source, stay time and depth (getVisitDistribution)", ['day']).action(
      run('distribution', ['day'], (t, a) => t.formatDistribution(a)),
    );
    define('pages', "a day's pages: views, visitors, stay, entries, exits, shares (getVisitPage)", ['day'])
      .option('--top <n>', 'rows to show', positiveInt('--top'), 20)
      .action(run('pages', ['day'], (t, a, _g, o) => t.formatPages(a, o.top ?? 20)));
    define('retain', 'retention of the new and active users of a day, week or month (get*Retain)', GRANULARITIES).action(
      run('retain', GRANULARITIES, (t, a, g) => {
        const ref = String(a.ref_date ?? '');
        const first = parseDay(ref.slice(0, 8).padEnd(8, '01')) ?? 0;
        const base: Period =
          g === 'day' ? { granularity: g, begin: first, end: first } : g === 'week' ? { granularity: g, begin: first, end: first + 6 } : { granularity: g, ...monthOf(first) };
        return t.formatRetain(a, g, (k) => periodRefDate(shiftPeriod(base, k)));
      }),
    );
  },
};
