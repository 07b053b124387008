import type { Command } from 'commander';
import { CliError } from './errors.ts';
import type { StoreOptions } from './openBackend.ts';

/** Where a command writes: results to `out` (standard output), messages and progress to `err` (standard error). */
export interface Io {
  out(line: string): void;
  err(line: string): void;
  /** Standard error is a terminal: progress bars are shown. */
  readonly interactive: boolean;
}

/**
 * One `datacube` command (or group of commands): a file in `src/cli/commands/`, listed in `commands/index.ts`.
 * `register` only declares the command's options; what it does is loaded when it runs, so `datacube --help`
 * stays fast however many commands there are.
 */
export interface CliCommand {
  register(program: Command, io: Io): void;
}

/** `--data` and `--store`, given before the command (`datacube --data X app list`) or after it. */
export function storeOptions(cmd: Command): StoreOptions {
  const o = cmd.optsWithGlobals() as StoreOptions;
  return { data: o.data, store: o.store };
}

export function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < 1) throw new CliError(`${name} must be a positive whole number, not "${v}"`);
    return n;
  };
}
