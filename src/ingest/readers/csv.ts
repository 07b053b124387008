import { type Line, LineSplitter } from './lineSplitter.ts';
import { isBlank } from './ndjson.ts';
import type { ReadItem, TextParser } from './readItem.ts';

const QUOTE = 34;
const COMMA = 44;

/** Columns whose numeric-looking cells become numbers; every other cell stays a string. */
export const CSV_NUMERIC_FIELDS: ReadonlySet<string> = new Set(['time', 'gender', 'age', 'scene', 'stay']);
const NUMERIC = /^-?\d+(\.\d+)?$/;

/** A row may span at most this many lines (a quoted cell holding line breaks); past it the row is reported broken. */
export const CSV_MAX_ROW_LINES = 100;

/** A row being read: the cells so far, and its raw lines so the lines after a broken row's first can be reread. */
interface OpenRow {
  line: number;
  cells: string[];
  /** The quoted cell still open at the end of the last line. */
  cell: string;
  lines: string[];
  chars: number;
}

type Step = { done: true } | { more: true } | { error: string };

/**
 * CSV (RFC 4180: `,` between cells, `"` around cells holding `,`, `"` or line breaks, `""` for a quote inside one).
 * The first non-blank row names the fields (the same names as the JSON input). For every later row:
 * - an empty or all-whitespace cell is an absent field (its key is left out), and so is a column without a name;
 * - cells are strings, except that a numeric-looking cell (`-?digits[.digits]`) in `time`, `gender`, `age`, `scene`
 *   or `stay` becomes a number (so `time` may be epoch milliseconds or an ISO 8601 string);
 * - blank lines are skipped;
 * - a row with another number of cells than the header, or with bad quoting, becomes a {@link RecordError} at the
 *   row's first line, and reading goes on with the next line (a row opened by a stray quote is given up after
 *   {@link CSV_MAX_ROW_LINES} lines or at the end of the input, and the lines it swallowed are read again).
 * A header naming a field twice is one error, and nothing else is read.
 */
export class CsvParser implements TextParser {
  private readonly lines: LineSplitter;
  private header: string[] | undefined;
  private row: OpenRow | undefined;
  private stopped = false;

  constructor(private readonly maxRowChars: number) {
    this.lines = new LineSplitter(maxRowChars);
  }

  *feed(text: string): Generator<ReadItem> {
    for (const l of this.lines.feed(text)) yield* this.take(l);
  }

  *end(): Generator<ReadItem> {
    for (const l of this.lines.end()) yield* this.take(l);
    while (this.row && !this.stopped) {
      const row = this.row;
      this.row = undefined;
      yield { line: row.line, reason: 'unexpected end of input inside a quoted cell' };
      yield* this.reread(row);
    }
  }

  private *take(l: Line): Generator<ReadItem> {
    if (this.stopped) return;
    if (!('text' in l)) {
      if (this.row) {
        const row = this.row;
        this.row = undefined;
        yield { line: row.line, reason: `row longer than ${this.maxRowChars} characters` };
        yield* this.reread(row);
      }
      yield { line: l.line, reason: `line longer than ${this.maxRowChars} characters` };
      return;
    }
    yield* this.line(l.line, l.text);
  }

  /** One physical line: starts a row, or continues the open one. */
  private *line(lineNo: number, text: string): Generator<ReadItem> {
    let row = this.row;
    if (!row) {
      if (isBlank(text)) return;
      row = { line: lineNo, cells: [], cell: '', lines: [], chars: 0 };
    }
    row.lines.push(text);
    row.chars += text.length + 1;
    const step = continueRow(row, text);
    if ('more' in step) {
      if (row.lines.length < CSV_MAX_ROW_LINES && row.chars <= this.maxRowChars) {
        this.row = row;
        return;
      }
      this.row = undefined;
      yield { line: row.line, reason: `quoted cell not closed within ${row.lines.length} lines` };
      yield* this.reread(row);
      return;
    }
    this.row = undefined;
    if ('error' in step) {
      yield { line: row.line, reason: step.error };
      yield* this.reread(row);
      return;
    }
    if (this.header === undefined) {
      yield* this.setHeader(row);
      return;
    }
    if (row.cells.length !== this.header.length) {
      yield { line: row.line, reason: `expected ${this.header.length} cells as in the header, found ${row.cells.length}` };
      return;
    }
    yield { line: row.line, record: this.toRecord(row.cells) };
  }

  /** A broken row spanning several lines: its first line is spent, the others are read again as fresh lines. */
  private *reread(row: OpenRow): Generator<ReadItem> {
    for (let k = 1; k < row.lines.length && !this.stopped; k++) {
      yield* this.line(row.line + k, row.lines[k] ?? '');
    }
  }

  private *setHeader(row: OpenRow): Generator<ReadItem> {
    const names = row.cells.map((c) => c.trim());
    const seen = new Set<string>();
    for (const name of names) {
      if (name !== '' && seen.has(name)) {
        this.stopped = true;
        yield { line: row.line, reason: `the header names the column ${JSON.stringify(name)} twice` };
        return;
      }
      seen.add(name);
    }
    this.header = names;
  }

  private toRecord(cells: string[]): Record<string, string | number> {
    const header = this.header ?? [];
    // No prototype: a column named "__proto__" (or "constructor") is a field like any other, not the object's prototype.
    const record = Object.create(null) as Record<string, string | number>;
    for (let i = 0; i < cells.length; i++) {
      const name = header[i];
      const value = cells[i];
      if (!name || value === undefined || isBlank(value)) continue;
      if (CSV_NUMERIC_FIELDS.has(name)) {
        const t = value.trim();
        if (NUMERIC.test(t)) {
          record[name] = Number(t);
          continue;
        }
      }
      record[name] = value;
    }
    return record;
  }
}

/** Reads the cells of one line into `row`; `more` when the line ends inside a quoted cell. */
function continueRow(row: OpenRow, text: string): Step {
  const n = text.length;
  let i = 0;
  let quoted = row.lines.length > 1; // a row continues onto a new line only from inside a quoted cell
  for (;;) {
    if (!quoted) {
      if (text.charCodeAt(i) === QUOTE) {
        quoted = true;
        row.cell = '';
        i += 1;
      } else {
        const comma = text.indexOf(',', i);
        const end = comma === -1 ? n : comma;
        const cell = text.slice(i, end);
        if (cell.includes('"')) return { error: `a quote inside an unquoted cell (cell ${row.cells.length + 1})` };
        row.cells.push(cell);
        if (comma === -1) return { done: true };
        i = comma + 1;
        continue;
      }
    }
    // inside a quoted cell
    for (;;) {
      const q = text.indexOf('"', i);
      if (q === -1) {
        row.cell += text.slice(i) + '\n';
        return { more: true };
      }
      row.cell += text.slice(i, q);
      if (text.charCodeAt(q + 1) === QUOTE) {
        row.cell += '"';
        i = q + 2;
        continue;
      }
      // the closing quote: the cell ends here, and the next character must end it
      row.cells.push(row.cell);
      row.cell = '';
      quoted = false;
      if (q + 1 === n) return { done: true };
      if (text.charCodeAt(q + 1) !== COMMA) {
        return { error: `unexpected text after the closing quote of cell ${row.cells.length}` };
      }
      i = q + 2;
      break;
    }
  }
}
