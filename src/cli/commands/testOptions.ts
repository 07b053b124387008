import { parseInstant, TimeFormatError } from '../../testmode/time.ts';
import { CliError } from '../errors.ts';

// Parsers of the flags that seeded data and test mode add to `serve`, `demo` and `test`. Light on purpose (no zod, no
// store): `datacube --help` loads this file.

/** A refusal to report as it is: a bad flag, a server that is not there or not in test mode. */
export class TestModeClientError extends CliError {}

/** `--seed N`: a whole number 0 … 4294967295 (the demo generator's seed is 32 bits). */
export function parseSeed(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n > 0xffff_ffff) {
    throw new TestModeClientError(`--seed must be a whole number from 0 to 4294967295, not "${v}"`);
  }
  return n;
}

/** `--clock 2026-06-15T10:00:00+08:00`: epoch milliseconds. */
export function parseClock(v: string): number {
  try {
    return parseInstant(v);
  } catch (e) {
    if (e instanceof TimeFormatError) throw new TestModeClientError(`--clock: ${e.message}`);
    throw e;
  }
}
