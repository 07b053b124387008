import { Command, Option } from 'commander';
import type { CliCommand, Io } from '../command.ts';
import type { TestTarget } from './testClient.ts';
import { TestModeClientError } from './testOptions.ts';

// `datacube test clock|faults …`: the command-line face of a test-mode server's /__datacube/clock and
// /__datacube/faults (start one with `datacube serve --test-mode`).

type Out = (line: string) => void;

function number(name: string, integer: boolean) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
      throw new TestModeClientError(`${name} must be ${integer ? 'a whole number' : 'a number'}, not "${v}"`);
    }
    return n;
  };
}

/** `--url` on a `test` command; `--data` is the program's own (before or after the command). */
function target(cmd: Command): Command {
  return cmd.addOption(new Option('--url <url>', 'the test-mode server (default: the one serving --data)'));
}

/** The server a `test` command talks to: its `--url`, or the one serving `--data`. */
function where(cmd: Command): TestTarget {
  const o = cmd.optsWithGlobals<{ url?: string; data?: string }>();
  return { url: o.url, data: o.data };
}

const print = (out: Out, v: unknown) => out(JSON.stringify(v, null, 2));

/** The HTTP client is loaded when a `test` command runs, not when the CLI starts. */
async function testModeCall(t: TestTarget, method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<unknown> {
  const client = await import('./testClient.ts');
  return client.testModeCall(t, method, path, body);
}

interface FaultFlags {
  route?: string;
  appid?: string;
  errcode?: number;
  errmsg?: string;
  httpStatus?: number;
  delayMs?: number;
  times?: number;
  ratio?: number;
}

/** The rules `datacube test faults add` sends: JSON arguments, or one rule from the flags. */
export function rulesFromArgs(json: string[], f: FaultFlags): unknown[] {
  const fromFlags = f.route !== undefined;
  const flagOnly = [f.appid, f.errcode, f.errmsg, f.httpStatus, f.delayMs, f.times, f.ratio].some((v) => v !== undefined);
  if (json.length > 0 && (fromFlags || flagOnly)) throw new TestModeClientError('give the rules either as JSON arguments or as flags, not both');
  if (json.length > 0) {
    const rules: unknown[] = [];
    for (const [i, text] of json.entries()) {
      let v: unknown;
      try {
        v = JSON.parse(text);
      } catch {
        throw new TestModeClientError(`argument ${i + 1} is not JSON: ${text.slice(0, 80)}`);
      }
      if (Array.isArray(v)) rules.push(...(v as unknown[]));
      else if (v !== null && typeof v === 'object' && Array.isArray((v as { rules?: unknown }).rules)) rules.push(...(v as { rules: unknown[] }).rules);
      else rules.push(v);
    }
    return rules;
  }
  if (!fromFlags) throw new TestModeClientError('say which route: --route token|stable_token|events|collect|tcb|<analysis API>, or give rules as JSON');
  const rule: Record<string, unknown> = { route: f.route };
  for (const k of ['appid', 'errcode', 'errmsg', 'httpStatus', 'delayMs', 'times', 'ratio'] as const) {
    if (f[k] !== undefined) rule[k] = f[k];
  }
  return [rule];
}

/** Declares `datacube test …` on the program. */
export function registerTestCommands(program: Command, out: Out): void {
  const test = program
    .command('test')
    .description("drive a server started with --test-mode: its clock and fault rules")
    .addHelpText(
      'after',
      '\nThe server is the one serving --data (from DATA/server.json) or --url. Start one with:\n  datacube serve --test-mode --clock 2026-06-15T10:00:00+08:00 --demo --seed 42',
    );

  const clock = test.command('clock').description("show or move the server's clock (it stands still until moved)");
  target(clock.command('show', { isDefault: true }).description('print the time: {"now","nowMs","today","yesterday"}')).action(
    async (_o: unknown, cmd: Command) => print(out, await testModeCall(where(cmd), 'GET', '/clock')),
  );
  target(clock.command('advance').description('move the clock forward: 2h, 30m, 1h30m, 1d, 90s, 500ms or PT2H').argument('<duration>')).action(
    async (duration: string, _o: unknown, cmd: Command) => print(out, await testModeCall(where(cmd), 'POST', '/clock', { advance: duration })),
  );
  target(clock.command('set').description('set the clock: 2026-06-15T10:00:00+08:00 (no offset: China time)').argument('<time>')).action(
    async (time: string, _o: unknown, cmd: Command) => print(out, await testModeCall(where(cmd), 'POST', '/clock', { set: time })),
  );

  const faults = test.command('faults').description('add, list and clear fault rules');
  target(faults.command('list', { isDefault: true }).description('print the rules and how often each fired')).action(async (_o: unknown, cmd: Command) =>
    print(out, await testModeCall(where(cmd), 'GET', '/faults')),
  );
  target(
    faults
      .command('add')
      .description('add rules: JSON arguments (a rule, a list or {"rules":[…]}), or one rule from the flags')
      .argument('[rules...]', 'e.g. \'{"route":"getUserPortrait","errcode":45009,"times":2}\'')
      .option('--route <route>', 'token, stable_token, events, collect, tcb, or an analysis API (getUserPortrait, analysis.getUserPortrait)')
      .option('--appid <appid>', 'only calls of this app')
      .option('--errcode <n>', "answer this errcode (with WeChat's errmsg and a rid)", number('--errcode', true))
      .option('--errmsg <text>', 'the errmsg for an errcode datacube has no text for')
      .option('--http-status <n>', 'answer this HTTP status', number('--http-status', true))
      .option('--delay-ms <n>', 'answer this much later', number('--delay-ms', true))
      .option('--times <n>', 'fire on this many calls, then stop (default: until cleared)', number('--times', true))
      .option('--ratio <r>', 'fire on this share of matching calls (0 < r ≤ 1; seeded draws)', number('--ratio', false))
      .addHelpText('after', '\nExample: datacube test faults add --route getUserPortrait --errcode 40001 --times 1'),
  ).action(async (rules: string[], o: FaultFlags, cmd: Command) =>
    print(out, await testModeCall(where(cmd), 'POST', '/faults', rulesFromArgs(rules, o))),
  );
  target(faults.command('clear').description('remove every rule, or the rule with this id').argument('[id]')).action(
    async (id: string | undefined, _o: unknown, cmd: Command) => {
      if (id !== undefined && !/^\d+$/.test(id)) throw new TestModeClientError(`a rule id is a whole number, not "${id}"`);
      print(out, await testModeCall(where(cmd), 'DELETE', id === undefined ? '/faults' : `/faults/${id}`));
    },
  );
}

/** `datacube test …`, listed in commands/index.ts. */
export const testCommand: CliCommand = {
  register(program: Command, io: Io): void {
    registerTestCommands(program, (line) => io.out(line));
  },
};
