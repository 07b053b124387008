/**
 * Exit codes of the `datacube` command:
 * - 0: done;
 * - 1: the command failed, or did its work but something was refused (an ingest with rejected lines);
 * - 2: an input could not be read at all (a missing file, a file that is not UTF-8 text).
 */
export const EXIT = { OK: 0, FAILED: 1, UNREADABLE: 2 } as const;

/** A failure to report to the user as it is, without a stack trace: bad input, a refused request, a missing store. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.FAILED,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
