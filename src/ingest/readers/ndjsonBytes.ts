import { isUtf8 } from 'node:buffer';
import { errorMessage, isBlank } from './ndjson.ts';
import type { ReadItem } from './readItem.ts';

/** Where UTF-8 input stops being text: the 0-based offset of the first bad byte and the line it is on. */
export class BadUtf8 extends Error {
  constructor(
    readonly byteOffset: number,
    readonly line: number,
  ) {
    super(`not UTF-8 at byte ${byteOffset} (line ${line})`);
  }
}

const NL = 10;

/** Offset of the first byte of `buf` that does not start a valid UTF-8 sequence (or `buf.length`). */
export function firstBadUtf8(buf: Uint8Array): number {
  for (let i = 0; i < buf.length; ) {
    const b = buf[i] ?? 0;
    const n = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    if (n === 0 || i + n > buf.length) return i;
    for (let k = 1; k < n; k++) if (((buf[i + k] ?? 0) & 0xc0) !== 0x80) return i;
    i += n;
  }
  return buf.length;
}

/** The length of `buf` without a UTF-8 sequence cut off at its end (the bytes of at most one character). */
function completeLength(buf: Uint8Array): number {
  for (let k = buf.length - 1; k >= 0 && k >= buf.length - 3; k--) {
    const b = buf[k] ?? 0;
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: look further back for its lead
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return k + need > buf.length ? k : buf.length;
  }
  return buf.length;
}

/** Line breaks among the first `end` bytes of `buf`. */
export function countNewlines(buf: Uint8Array, end: number): number {
  let n = 0;
  for (let i = buf.indexOf(NL); i !== -1 && i < end; i = buf.indexOf(NL, i + 1)) n++;
  return n;
}

/**
 * NDJSON read straight from UTF-8 bytes: lines are cut on the bytes (a `\n` byte is never part of a multi-byte
 * character) and each is decoded on its own. Decoding a whole read buffer into one string first made every line a
 * slice of that string, and the whole of it two-byte as soon as one Chinese character was in it: about five times
 * slower to decode and to parse than one string per line (bulk imports spent more time there than in the store).
 *
 * Every byte is checked as it arrives, in the order it arrives, so a byte that is not UTF-8 stops the reading
 * ({@link BadUtf8}) before any line of the buffer that holds it is given out, as a streaming decoder would.
 * Numbering, blank lines, `\r\n`, a leading byte-order mark and lines over `maxChars` characters are as for
 * {@link NdjsonParser}.
 */
export class NdjsonBytes {
  /** The bytes of the line not finished yet (empty while skipping an over-long line). */
  private pending: Buffer = Buffer.alloc(0);
  /** The unfinished line is longer than allowed: its bytes are dropped up to its end. */
  private overflow = false;
  /** Bytes of a character cut off at the end of the last chunk, not checked yet. */
  private tail: Buffer = Buffer.alloc(0);
  private lineNo = 0;
  /** Input bytes checked so far and the line breaks among them. */
  private checked = 0;
  private checkedNewlines = 0;

  constructor(private readonly maxChars: number) {}

  /** The items of every line `chunk` completes; throws {@link BadUtf8} when it holds a byte that is not UTF-8. */
  *feed(chunk: Buffer): Generator<ReadItem> {
    const data = this.check(chunk);
    let start = 0;
    for (let nl = data.indexOf(NL); nl !== -1; nl = data.indexOf(NL, start)) {
      this.lineNo += 1;
      if (this.overflow) {
        yield this.tooLong();
      } else {
        // Decoded straight from the read buffer (no Buffer object per line) unless the line began in an earlier one.
        const item =
          this.pending.length === 0 ? this.parse(data.toString('utf8', start, nl)) : this.parse(Buffer.concat([this.pending, data.subarray(start, nl)]).toString('utf8'));
        if (item) yield item;
      }
      this.pending = Buffer.alloc(0);
      this.overflow = false;
      start = nl + 1;
    }
    this.keep(data.subarray(start));
  }

  /** The last line when the input does not end with a line break; throws {@link BadUtf8} for a cut-off character. */
  *end(): Generator<ReadItem> {
    if (this.tail.length > 0) throw new BadUtf8(this.checked, this.checkedNewlines + 1);
    if (this.overflow) {
      this.lineNo += 1;
      yield this.tooLong();
    } else if (this.pending.length > 0) {
      this.lineNo += 1;
      const item = this.parse(this.pending.toString('utf8'));
      if (item) yield item;
    }
    this.pending = Buffer.alloc(0);
    this.overflow = false;
  }

  /** Checks the complete characters of `tail + chunk` and returns them; keeps a cut-off last character for later. */
  private check(chunk: Buffer): Buffer {
    const all = this.tail.length === 0 ? chunk : Buffer.concat([this.tail, chunk]);
    const n = completeLength(all);
    const data = all.subarray(0, n);
    if (!isUtf8(data)) {
      const bad = firstBadUtf8(data);
      throw new BadUtf8(this.checked + bad, this.checkedNewlines + countNewlines(data, bad) + 1);
    }
    this.tail = n === all.length ? Buffer.alloc(0) : Buffer.from(all.subarray(n));
    this.checked += n;
    this.checkedNewlines += countNewlines(data, n);
    return data;
  }

  private keep(rest: Buffer): void {
    if (this.overflow || rest.length === 0) return;
    // A UTF-16 code unit takes at most 3 bytes: past 3 × (maxChars + 1) bytes the line is certainly too long.
    if (this.pending.length + rest.length > 3 * (this.maxChars + 1)) {
      this.pending = Buffer.alloc(0);
      this.overflow = true;
    } else {
      // Copied: the read buffer it is part of is reused by the stream.
      this.pending = Buffer.concat([this.pending, rest]);
    }
  }

  private tooLong(): ReadItem {
    return { line: this.lineNo, reason: `line longer than ${this.maxChars} characters` };
  }

  /** The line's record or error; undefined for a blank line. */
  private parse(line: string): ReadItem | undefined {
    let text = line;
    if (this.lineNo === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    // As LineSplitter counts: the line with its `\r`, if any.
    if (text.length > this.maxChars + 1) return this.tooLong();
    if (text.charCodeAt(text.length - 1) === 13) text = text.slice(0, -1);
    if (isBlank(text)) return undefined;
    try {
      return { line: this.lineNo, record: JSON.parse(text) as unknown };
    } catch (err) {
      return { line: this.lineNo, reason: `invalid JSON: ${errorMessage(err)}` };
    }
  }
}
