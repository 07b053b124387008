import { LineSplitter } from './lineSplitter.ts';
import type { ReadItem, TextParser } from './readItem.ts';

/**
 * NDJSON: one JSON value per line. Blank lines are skipped; a line that is not JSON becomes a {@link RecordError}
 * and reading goes on. Any JSON value passes (ingest rejects what is not an object, with its own reason).
 */
export class NdjsonParser implements TextParser {
  private readonly lines: LineSplitter;

  constructor(private readonly maxLineChars: number) {
    this.lines = new LineSplitter(maxLineChars);
  }

  *feed(text: string): Generator<ReadItem> {
    for (const l of this.lines.feed(text)) yield* this.parse(l);
  }

  *end(): Generator<ReadItem> {
    for (const l of this.lines.end()) yield* this.parse(l);
  }

  private *parse(l: { line: number; text: string } | { line: number; tooLong: true }): Generator<ReadItem> {
    if (!('text' in l)) {
      yield { line: l.line, reason: `line longer than ${this.maxLineChars} characters` };
      return;
    }
    const text = l.text;
    if (isBlank(text)) return;
    try {
      yield { line: l.line, record: JSON.parse(text) as unknown };
    } catch (err) {
      yield { line: l.line, reason: `invalid JSON: ${errorMessage(err)}` };
    }
  }
}

/** True for an empty or all-whitespace string, without allocating a trimmed copy. */
export function isBlank(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== 13 && c !== 10 && c !== 0xfeff) return false;
  }
  return true;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
