import { errorMessage } from './ndjson.ts';
import type { ReadItem, TextParser } from './readItem.ts';

const NL = 10;
const QUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;
const OPEN_BRACKET = 91;
const CLOSE_BRACKET = 93;

function isSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

type State =
  | 'start' // before the opening `[`
  | 'expect' // inside the array, before an element (or the closing `]`)
  | 'element' // inside an element
  | 'after' // after the closing `]`
  | 'stopped'; // the input is not an array, or has something after it: nothing more is read

/**
 * A streaming splitter for a JSON document whose top level is an array: it finds where each element begins and ends
 * (tracking strings, escapes and bracket depth), and `JSON.parse`s each element's text on its own, so memory holds
 * one element, never the document. A broken element becomes a {@link RecordError} at the line where it starts and
 * the next element is read as usual; a document that is not an array yields one error and nothing else.
 */
export class JsonArraySplitter implements TextParser {
  private state: State = 'start';
  private line = 1;
  /** Index (0-based) of the element being read, for messages. */
  private index = 0;
  private elementLine = 1;
  private parts: string[] = [];
  private partsChars = 0;
  private tooLong = false;
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** A comma was the last thing seen, so a `]` now closes `[…,]`. */
  private afterComma = false;

  constructor(private readonly maxElementChars: number) {}

  *feed(text: string): Generator<ReadItem> {
    const n = text.length;
    let i = 0;
    let segStart = 0; // where the current element's text starts in `text`, while state is 'element'
    while (i < n) {
      const c = text.charCodeAt(i);
      switch (this.state) {
        case 'stopped':
          return;
        case 'start':
          if (c === NL) this.line += 1;
          if (c === OPEN_BRACKET) this.state = 'expect';
          else if (!isSpace(c)) {
            this.state = 'stopped';
            yield { line: this.line, reason: 'the top level of the document is not a JSON array' };
            return;
          }
          i += 1;
          break;
        case 'after':
          if (c === NL) this.line += 1;
          else if (!isSpace(c)) {
            this.state = 'stopped';
            yield { line: this.line, reason: 'unexpected text after the end of the top-level array' };
            return;
          }
          i += 1;
          break;
        case 'expect':
          if (c === NL) this.line += 1;
          if (isSpace(c)) {
            i += 1;
          } else if (c === CLOSE_BRACKET) {
            if (this.afterComma) yield { line: this.line, reason: 'trailing comma before the end of the array' };
            this.state = 'after';
            i += 1;
          } else if (c === COMMA) {
            yield { line: this.line, reason: `array element ${this.index + 1} is empty` };
            this.index += 1;
            this.afterComma = true;
            i += 1;
          } else {
            this.state = 'element';
            this.elementLine = this.line;
            this.depth = 0;
            this.inString = false;
            this.escaped = false;
            this.parts = [];
            this.partsChars = 0;
            this.tooLong = false;
            segStart = i; // the character is examined again in 'element'
          }
          break;
        case 'element': {
          // The hot loop: scan within this element without going back through the switch.
          let end = -1; // index of the `,` or `]` that ends the element
          for (; i < n; i++) {
            const d = text.charCodeAt(i);
            if (d === NL) {
              this.line += 1;
            } else if (this.inString) {
              if (this.escaped) this.escaped = false;
              else if (d === BACKSLASH) this.escaped = true;
              else if (d === QUOTE) this.inString = false;
            } else if (d === QUOTE) {
              this.inString = true;
            } else if (d === OPEN_BRACE || d === OPEN_BRACKET) {
              this.depth += 1;
            } else if (d === CLOSE_BRACE || d === CLOSE_BRACKET) {
              if (this.depth > 0) this.depth -= 1;
              else if (d === CLOSE_BRACKET) {
                end = i;
                break;
              }
              // a stray `}` at depth 0 stays in the text, and JSON.parse reports it
            } else if (d === COMMA && this.depth === 0) {
              end = i;
              break;
            }
          }
          if (end === -1) {
            this.keep(text.slice(segStart, n));
            break;
          }
          this.keep(text.slice(segStart, end));
          yield this.finish();
          const closing = text.charCodeAt(end) === CLOSE_BRACKET;
          this.state = closing ? 'after' : 'expect';
          this.afterComma = !closing;
          i = end + 1;
          break;
        }
      }
    }
  }

  *end(): Generator<ReadItem> {
    switch (this.state) {
      case 'start':
        yield { line: this.line, reason: 'the input is empty: expected a JSON array' };
        break;
      case 'expect':
        yield { line: this.line, reason: 'unexpected end of input: the array is not closed' };
        break;
      case 'element':
        yield {
          line: this.elementLine,
          reason: `unexpected end of input inside array element ${this.index + 1}: the array is not closed`,
        };
        break;
      default:
        break;
    }
    this.parts = [];
    this.state = 'stopped';
  }

  private keep(slice: string): void {
    if (this.tooLong) return;
    this.partsChars += slice.length;
    if (this.partsChars > this.maxElementChars) {
      this.tooLong = true;
      this.parts = [];
    } else {
      this.parts.push(slice);
    }
  }

  private finish(): ReadItem {
    const line = this.elementLine;
    const number = this.index + 1;
    this.index += 1;
    if (this.tooLong) {
      this.tooLong = false;
      return { line, reason: `array element ${number} is longer than ${this.maxElementChars} characters` };
    }
    const text = this.parts.length === 1 ? (this.parts[0] ?? '') : this.parts.join('');
    this.parts = [];
    try {
      return { line, record: JSON.parse(text) as unknown };
    } catch (err) {
      return { line, reason: `invalid JSON in array element ${number}: ${errorMessage(err)}` };
    }
  }
}
