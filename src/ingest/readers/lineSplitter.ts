/** A line, or the place of a line too long to keep. */
export type Line = { line: number; text: string } | { line: number; tooLong: true };

/**
 * Cuts decoded text, fed in arbitrary slices, into lines ending in `\n` or `\r\n` (the terminator is dropped) and
 * numbers them from 1. A line longer than `maxChars` is not kept: only its number comes out, so one endless line cannot
 * exhaust memory.
 */
export class LineSplitter {
  private pending = '';
  private overflow = false;
  private lineNo = 0;

  constructor(private readonly maxChars: number) {}

  *feed(text: string): Generator<Line> {
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl === -1) {
        this.keep(text.slice(start));
        return;
      }
      this.lineNo += 1;
      if (this.overflow || this.pending.length + (nl - start) > this.maxChars + 1) {
        yield { line: this.lineNo, tooLong: true };
      } else {
        let line = this.pending.length === 0 ? text.slice(start, nl) : this.pending + text.slice(start, nl);
        if (line.charCodeAt(line.length - 1) === 13) line = line.slice(0, -1);
        yield { line: this.lineNo, text: line };
      }
      this.pending = '';
      this.overflow = false;
      start = nl + 1;
    }
  }

  /** The last line when the input does not end with a line break. */
  *end(): Generator<Line> {
    if (this.overflow) {
      this.lineNo += 1;
      yield { line: this.lineNo, tooLong: true };
    } else if (this.pending.length > 0) {
      this.lineNo += 1;
      const line = this.pending.endsWith('\r') ? this.pending.slice(0, -1) : this.pending;
      yield { line: this.lineNo, text: line };
    }
    this.pending = '';
    this.overflow = false;
  }

  private keep(rest: string): void {
    if (this.overflow || rest.length === 0) return;
    if (this.pending.length + rest.length > this.maxChars + 1) {
      this.pending = '';
      this.overflow = true;
    } else {
      this.pending += rest;
    }
  }
}
