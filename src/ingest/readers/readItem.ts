/** One parsed input record and where it came from. */
export interface RawRecord {
  /**
   * 1-based line of the input where the record starts: the line itself for NDJSON, the first line of the row for
   * CSV (a quoted cell may span lines), the line holding the element's first character for a JSON array.
   */
  line: number;
  /** Whatever the input held, untouched apart from CSV's cell conversions; ingest validates it. */
  record: unknown;
}

/** Input that could not be parsed at `line` (1-based). Reading goes on after it unless the reason says otherwise. */
export interface RecordError {
  line: number;
  reason: string;
}

/** Tell the two apart with `'reason' in item` (or {@link isRecordError}). */
export type ReadItem = RawRecord | RecordError;

export function isRecordError(item: ReadItem): item is RecordError {
  return 'reason' in item;
}

/** A push parser for one input format: fed decoded text in any slices, it yields items as they complete. */
export interface TextParser {
  feed(text: string): Iterable<ReadItem>;
  /** No more text; yields whatever the end of the input completes or leaves broken. */
  end(): Iterable<ReadItem>;
}
