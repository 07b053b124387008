import { createReadStream } from 'node:fs';
import type { ByteProgress } from './byteProgress.ts';
import { CsvParser } from './csv.ts';
import { type InputFormat, formatOf } from './formatOf.ts';
import { JsonArraySplitter } from './jsonArray.ts';
import { NdjsonParser } from './ndjson.ts';
import { BadUtf8, countNewlines, firstBadUtf8, NdjsonBytes } from './ndjsonBytes.ts';
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
  /**
   * The input's text encoding, any WHATWG label (`utf-8`, `gbk`, `gb18030`, `utf-16le`, …); default UTF-8. Bytes
   * that are not text in it stop the reading with an {@link InputEncodingError}.
   */
  encoding?: string;
}

/** The input is not text in the expected encoding (a GBK CSV read as UTF-8, say); nothing after `line` was read. */
export class InputEncodingError extends Error {
  constructor(
    readonly source: string,
    readonly encoding: string,
    /** 1-based line holding the first byte that is not text. */
    readonly line: number,
    /** 0-based offset of that byte in the input. */
    readonly byteOffset: number,
    readonly utf16: boolean,
  ) {
    const name = source === '-' ? 'standard input' : source;
    const hint =
      encoding === 'utf-8'
        ? utf16
          ? 'it is UTF-16 text (Excel\'s "Unicode Text"): save it as UTF-8, or pass --encoding utf-16le'
          : 'it may be GBK/GB18030 (what Excel on Chinese Windows saves): pass --encoding gbk, or convert it with iconv -f GBK -t UTF-8'
        : `check the file's encoding`;
    super(`${name} is not ${encoding === 'utf-8' ? 'UTF-8' : encoding} text (line ${line}, byte ${byteOffset}): ${hint}`);
    this.name = 'InputEncodingError';
  }
}

/** A decoder for `label`, or a clear error for a label no decoder knows. */
export function textDecoder(label: string): TextDecoder {
  try {
    return new TextDecoder(label, { fatal: true });
  } catch {
    throw new Error(`unknown text encoding "${label}" (try utf-8, gbk, gb18030, big5, utf-16le)`);
  }
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
  const decoder = textDecoder(opts.encoding ?? 'utf-8');
  // The file is opened when iteration starts, so an unread source never leaves an open stream (or its error) behind.
  const open = (): NodeJS.ReadableStream =>
    'path' in source ? createReadStream(source.path, { highWaterMark: READ_BUFFER_BYTES }) : source.stdin;
  const name = 'path' in source ? source.path : '-';
  // UTF-8 NDJSON (bulk imports, standard input) is cut into lines before it is decoded: see NdjsonBytes.
  if (format === 'ndjson' && decoder.encoding === 'utf-8') return ndjsonBatches(open, maxChars, chunkSize, opts.progress, name);
  return batches(open, parserFor(format, maxChars), chunkSize, opts.progress, decoder, name);
}

async function* ndjsonBatches(
  open: () => NodeJS.ReadableStream,
  maxChars: number,
  chunkSize: number,
  progress: ByteProgress | undefined,
  source: string,
): AsyncGenerator<ReadItem[]> {
  const lines = new NdjsonBytes(maxChars);
  let batch: ReadItem[] = [];
  let bytes = 0;
  const notText = (e: unknown, chunk: Uint8Array | undefined): unknown => {
    if (!(e instanceof BadUtf8)) return e;
    const utf16 = e.byteOffset === 0 && chunk !== undefined && chunk.length >= 2 && ((chunk[0] === 0xff && chunk[1] === 0xfe) || (chunk[0] === 0xfe && chunk[1] === 0xff));
    return new InputEncodingError(source, 'utf-8', e.line, e.byteOffset, utf16);
  };
  for await (const read of open()) {
    const chunk = typeof read === 'string' ? Buffer.from(read, 'utf8') : (read as Buffer);
    if (progress) progress.bytesRead += chunk.length;
    try {
      // The chunk is checked whole before its first line comes out.
      for (const item of lines.feed(chunk)) {
        batch.push(item);
        if (batch.length >= chunkSize) {
          yield batch;
          batch = [];
        }
      }
    } catch (e) {
      throw notText(e, bytes === 0 ? chunk : undefined);
    }
    bytes += chunk.length;
  }
  try {
    for (const item of lines.end()) batch.push(item);
  } catch (e) {
    throw notText(e, undefined);
  }
  if (batch.length > 0) yield batch;
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
  decoder: TextDecoder,
  source: string,
): AsyncGenerator<ReadItem[]> {
  let batch: ReadItem[] = [];
  let first = true;
  let bytes = 0;
  let newlines = 0;
  const notText = (chunk: Uint8Array): InputEncodingError => {
    const utf16 = bytes === 0 && chunk.length >= 2 && ((chunk[0] === 0xff && chunk[1] === 0xfe) || (chunk[0] === 0xfe && chunk[1] === 0xff));
    const at = decoder.encoding === 'utf-8' ? Math.min(firstBadUtf8(chunk), chunk.length) : 0;
    return new InputEncodingError(source, decoder.encoding, newlines + countNewlines(chunk, at) + 1, bytes + at, utf16);
  };
  for await (const chunk of open()) {
    let text: string;
    if (typeof chunk === 'string') {
      text = chunk;
      if (progress) progress.bytesRead += Buffer.byteLength(chunk);
    } else {
      try {
        text = decoder.decode(chunk, { stream: true });
      } catch {
        throw notText(chunk);
      }
      if (progress) progress.bytesRead += chunk.length;
      bytes += chunk.length;
      newlines += countNewlines(chunk, chunk.length);
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
  let rest: string;
  try {
    rest = decoder.decode();
  } catch {
    throw new InputEncodingError(source, decoder.encoding, newlines + 1, bytes, false);
  }
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
