/**
 * Streaming readers for bulk ingest: NDJSON (`.ndjson`, `.jsonl`, standard input), a JSON array (`.json`) and CSV
 * (`.csv`), read in batches with memory that does not grow with the input.
 */
export type { RawRecord, RecordError, ReadItem } from './readItem.ts';
export { isRecordError } from './readItem.ts';
export { type InputFormat, INPUT_FORMATS, formatOf } from './formatOf.ts';
export { type ByteProgress, byteProgress } from './byteProgress.ts';
export {
  type ReadOptions,
  type RecordSource,
  DEFAULT_CHUNK_SIZE,
  DEFAULT_MAX_RECORD_CHARS,
  InputEncodingError,
  readRecords,
  textDecoder,
} from './readRecords.ts';
export { CSV_MAX_ROW_LINES, CSV_NUMERIC_FIELDS } from './csv.ts';
