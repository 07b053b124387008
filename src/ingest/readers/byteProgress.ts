import { statSync } from 'node:fs';

/**
 * Bytes read so far against the input's size, for a progress bar. Pass it to `readRecords` (`opts.progress`); the
 * reader adds every chunk it takes from the input, and the caller reads `bytesRead` after each batch:
 *
 * ```ts
 * const progress = byteProgress({ path });
 * bar.start(progress.total ?? 0, 0);
 * for await (const items of readRecords({ path }, { progress })) { …; bar.update(progress.bytesRead); }
 * ```
 */
export interface ByteProgress {
  /** The file's size in bytes; `undefined` for standard input or a file that cannot be stat'ed (yet). */
  readonly total: number | undefined;
  bytesRead: number;
  /** `bytesRead / total` clamped to [0, 1]; `undefined` without a total. */
  fraction(): number | undefined;
}

/** A progress counter for a file (its size from `stat`) or standard input (no size). */
export function byteProgress(source: { path: string } | { stdin: NodeJS.ReadableStream }): ByteProgress {
  let total: number | undefined;
  if ('path' in source) {
    const st = statSync(source.path, { throwIfNoEntry: false });
    if (st?.isFile()) total = st.size;
  }
  return {
    total,
    bytesRead: 0,
    fraction() {
      if (this.total === undefined) return undefined;
      if (this.total === 0) return 1;
      return Math.min(1, Math.max(0, this.bytesRead / this.total));
    },
  };
}
