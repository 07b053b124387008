import { createReadStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import type { ByteProgress } from './byteProgress.ts';
import { CsvParser } from './csv.ts';
import { type InputFormat, formatOf } from './formatOf.ts';
import { JsonArraySplitter } from './jsonArray.ts';
import { NdjsonParser } from './ndjson.ts';
import type { ReadItem, TextParser } from './readItem.ts';

export type RecordSource = { path: string } | { stdin: NodeJS.ReadableStream };

export interface ReadOptions {
  /** Overrides the format implied by the file name; standard input is NDJSON unless told. */
  format?: InputFormat;
  /** Items per yielded batch (default 5,000). */
  chunkSize?: number;
  /** Updated with the bytes taken from the input; see `byteProgress`. */
  progress?: ByteProgress;
  /** Longest line (NDJSON), row (CSV) or array element (JSON) kept, in characters (default 16 MiB); longer ones become errors. */
  maxRecordChars?: number;
}

export const DEFAULT_CHUNK_SIZE = 5_000;
export const DEFAULT_MAX_RECORD_CHARS = 16 * 1024 * 1024;
const READ_BUFFER_BYTES = 256 * 1024;

/**
 * Streams the records of a file or of standard input, in batches of up to `chunkSize` items, each a parsed record or
 * a {@link RecordError} for input that could not be parsed (reading goes on after it). Memory holds one read buffer
 * and one batch, whatever the size of the input. A leading UTF-8 byte order mark is ignored.
 *
 * Throws at once for a path whose format is unknown; an input that cannot be read (a missing file, say) makes the
 * iteration throw. Stopping the iteration early closes the file.
 */
export function readRecords(source: RecordSource, opts: ReadOptions = {}): AsyncIterable<ReadItem[]> {
  const format = opts.format ?? ('path' in source ? formatOf(source.path) : 'ndjson');
  if (format === undefined) {
    const path = 'path' in source ? source.path : '-';
    throw new Error(`cannot tell the format of ${path}: expected .ndjson, .jsonl, .json or .csv`);
  }
  const chunkSize = Math.max(1, Math.floor(opts.chunkSize ?? DEFAULT_CHUNK_SIZE));
  const maxChars = opts.maxRecordChars ?? DEFAULT_MAX_RECORD_CHARS;
  const parser = parserFor(format, maxChars);
  // The file is opened when iteration starts, so an unread source never leaves an open stream (or its error) behind.
  const open = (): NodeJS.ReadableStream =>
    'path' in source ? createReadStream(source.path, { highWaterMark: READ_BUFFER_BYTES }) : source.stdin;
  return batches(open, parser, chunkSize, opts.progress);
}

function parserFor(format: InputFormat, maxChars: number): TextParser {
  switch (format) {
    case 'ndjson':
      return new NdjsonParser(maxChars);
    case 'json':
      return new JsonArraySplitter(maxChars);
    case 'csv':
      return new CsvParser(maxChars);
  }
}

async function* batches(
  open: () => NodeJS.ReadableStream,
  parser: TextParser,
  chunkSize: number,
  progress: ByteProgress | undefined,
): AsyncGenerator<ReadItem[]> {
  const decoder = new StringDecoder('utf8');
  let batch: ReadItem[] = [];
  let first = true;
  for await (const chunk of open()) {
    let text: string;
    if (typeof chunk === 'string') {
      text = chunk;
      if (progress) progress.bytesRead += Buffer.byteLength(chunk);
    } else {
      text = decoder.write(chunk);
      if (progress) progress.bytesRead += chunk.length;
    }
    if (first && text.length > 0) {
      first = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    for (const item of parser.feed(text)) {
      batch.push(item);
      if (batch.length >= chunkSize) {
        yield batch;
        batch = [];
      }
    }
  }
  const rest = decoder.end();
  const tail = first && rest.charCodeAt(0) === 0xfeff ? rest.slice(1) : rest;
  for (const item of [...parser.feed(tail), ...parser.end()]) {
    batch.push(item);
    if (batch.length >= chunkSize) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}
