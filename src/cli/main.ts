import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import type { Io } from './command.ts';
import { COMMANDS } from './commands/index.ts';
import { CliError, EXIT } from './errors.ts';

// The entry point of `datacube` (bin/datacube.js). It loads commander and the command declarations only, so
// `datacube --help` and `--version` start about as fast as Node itself; each command loads what it needs.

/** The version in package.json (src/ and dist/ sit at the same depth below the package root). */
export function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

const stdio: Io = {
  out: (line) => void process.stdout.write(`${line}\n`),
  err: (line) => void process.stderr.write(`${line}\n`),
  get interactive() {
    return process.stderr.isTTY === true;
  },
};

export function buildProgram(io: Io = stdio): Command {
  const program = new Command('datacube')
    .description('Self-hosted WeChat mini-program user portraits (analysis.getUserPortrait)')
    .version(version(), '-V, --version', 'print the version')
    .addOption(new Option('--data <dir>', 'data directory (env DATACUBE_DATA, default ./data)'))
    .addOption(new Option('--store <url>', 'duckdb (default) or clickhouse://USER:PASS@HOST:8123/DB[?cluster=NAME] (env DATACUBE_STORE)'))
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError()
    .exitOverride();
  for (const c of COMMANDS) c.register(program, io);
  // Sub-commands report their usage errors the same way (exit code, not an exception escaping to the shell).
  const all = (cmd: Command): void => {
    for (const sub of cmd.commands) {
      sub.exitOverride().showHelpAfterError();
      all(sub);
    }
  };
  all(program);
  return program;
}

/** Runs the CLI; resolves to the exit code (0 done, 1 failed, 2 an input could not be read; see errors.ts). */
export async function main(argv: string[], io: Io = stdio): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv);
    return EXIT.OK;
  } catch (e) {
    // Commander printed the message (or the help) already: 0 for --help and --version, 1 for a usage error or a
    // missing command (`datacube app` shows the app commands and exits 1).
    if (e instanceof CommanderError) return e.exitCode;
    io.err(`datacube: ${e instanceof Error ? e.message : String(e)}`);
    return e instanceof CliError ? e.exitCode : EXIT.FAILED;
  }
}
