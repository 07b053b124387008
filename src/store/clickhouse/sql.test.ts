import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseDay } from '../../domain/day.ts';
import { date, ident, isoDay, join, list, lit, Sql, sql } from './sql.ts';

/** Reads a ClickHouse single-quoted string literal the way the server does (the escapes `lit` emits). */
function readLiteral(text: string): string {
  expect(text.startsWith("'") && text.endsWith("'")).toBe(true);
  const body = text.slice(1, -1);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const ch = body[i] ?? '';
    if (ch === "'") throw new Error(`unescaped quote at ${i} in ${text}`);
    if (ch !== '\\') {
      out += ch;
      continue;
    }
    const e = body[++i];
    if (e === 'x') {
      out += String.fromCharCode(parseInt(body.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      const map: Record<string, string> = { '\\': '\\', "'": "'", '0': '\0', n: '\n', r: '\r', t: '\t' };
      const v = e === undefined ? undefined : map[e];
      if (v === undefined) throw new Error(`unknown escape \\${String(e)}`);
      out += v;
    }
  }
  return out;
}

describe('lit: strings', () => {
  it('quotes and escapes quotes and backslashes', () => {
    expect(lit("it's")).toBe("'it\\'s'");
    expect(lit('a\\b')).toBe("'a\\\\b'");
    expect(lit("\\'")).toBe("'\\\\\\''");
    expect(lit('')).toBe("''");
  });

  it('escapes NUL, newlines, tabs and every other control character', () => {
    expect(lit('a\0b')).toBe("'a\\0b'");
    expect(lit('l1\nl2\r\n\t')).toBe("'l1\\nl2\\r\\n\\t'");
    expect(lit('\u0001\u001f\u007f')).toBe("'\\x01\\x1f\\x7f'");
    // No raw control character survives.
    // eslint-disable-next-line no-control-regex
    expect(/[\u0000-\u001f\u007f]/.test(lit(String.fromCharCode(...Array.from({ length: 32 }, (_, i) => i))))).toBe(false);
  });

  it('keeps non-ASCII text as it is', () => {
    expect(lit('广东省 é 😀 \u2028')).toBe("'广东省 é 😀 \u2028'");
  });

  it('refuses a lone surrogate, which UTF-8 cannot carry', () => {
    expect(() => lit('a\uD800b')).toThrow(/surrogate/);
    expect(() => lit('\uDC00')).toThrow(/surrogate/);
    expect(lit('\uD83D\uDE00')).toBe("'😀'");
  });

  it('cannot be broken out of', () => {
    const evil = "x' OR 1=1 -- \\' ; DROP TABLE t; '";
    const q = sql`SELECT 1 WHERE a = ${evil}`.text;
    expect(q.startsWith("SELECT 1 WHERE a = '")).toBe(true);
    expect(readLiteral(q.slice('SELECT 1 WHERE a = '.length))).toBe(evil);
  });

  it('round-trips any well-formed string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        expect(readLiteral(lit(s))).toBe(s);
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom("'", '\\', '\0', '\n', '\r', '\t', 'a', '\u007f', '"', '`') }), (s) => {
        expect(readLiteral(lit(s))).toBe(s);
      }),
      { numRuns: 500 },
    );
  });
});

describe('lit: numbers, dates and the rest', () => {
  it('writes numbers exactly and refuses the inexact', () => {
    expect(lit(0)).toBe('0');
    expect(lit(-0)).toBe('0');
    expect(lit(42)).toBe('42');
    expect(lit(12.5)).toBe('12.5');
    expect(lit(-7)).toBe('(-7)');
    expect(sql`x -${-7}`.text).toBe('x -(-7)'); // never `x --7`, a comment
    expect(lit(1e-7)).toBe('1e-7');
    expect(lit(Number.MAX_SAFE_INTEGER)).toBe('9007199254740991');
    expect(lit(2.2250738585072014e-308)).toBe('2.2250738585072014e-308');
    expect(() => lit(5e-324)).toThrow(RangeError); // subnormal: a syntax error in 18.16
    expect(() => lit(Number.NaN)).toThrow(RangeError);
    expect(() => lit(Infinity)).toThrow(RangeError);
    expect(() => lit(2 ** 60)).toThrow(RangeError);
    expect(lit(2n ** 63n)).toBe('9223372036854775808');
    expect(lit(-5n)).toBe('(-5)');
    expect(() => lit(2n ** 64n)).toThrow(RangeError);
  });

  it('writes booleans, NULL, arrays and dates', () => {
    expect(lit(true)).toBe('1');
    expect(lit(false)).toBe('0');
    expect(lit(null)).toBe('NULL');
    expect(lit(['a', 1, null])).toBe("['a', 1, NULL]");
    expect(lit(date(0))).toBe("toDate('1970-01-01')");
    expect(lit(date(20_393))).toBe("toDate('2025-11-01')");
    expect(isoDay(parseDay('20251031') ?? -1)).toBe('2025-10-31');
    expect(() => date(-1)).toThrow(RangeError);
    expect(() => date(1.5)).toThrow(RangeError);
    expect(() => date(65_536)).toThrow(RangeError);
  });

  it('refuses what is not a value', () => {
    expect(() => lit({} as unknown as string)).toThrow(TypeError);
    expect(() => lit(undefined as unknown as string)).toThrow(TypeError);
  });
});

describe('sql, ident, list', () => {
  it('inserts fragments as they are and values through lit', () => {
    const t = ident('events');
    const q = sql`SELECT * FROM ${ident('db')}.${t} WHERE appid = ${"a'b"} AND id IN ${list(['x', 'y'])}`;
    expect(q).toBeInstanceOf(Sql);
    expect(q.text).toBe("SELECT * FROM db.events WHERE appid = 'a\\'b' AND id IN ('x', 'y')");
    expect(join([sql`a`, sql`${1}`], sql` + `).text).toBe('a + 1');
  });

  it('accepts only plain identifiers', () => {
    expect(ident('datacube_test1').text).toBe('datacube_test1');
    for (const bad of ['', '1abc', 'a-b', 'a.b', 'a b', 'a`', "a'", 'ы']) expect(() => ident(bad), bad).toThrow(TypeError);
  });

  it('refuses an empty IN list', () => {
    expect(() => list([])).toThrow(RangeError);
  });
});
