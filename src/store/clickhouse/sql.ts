/**
 * SQL text for ClickHouse, built so that no value is ever pasted into a query unescaped.
 *
 * ClickHouse 18.16 has no query parameters (`{name:Type}` came later), so values are written as literals, and
 * every value goes through ONE function, {@link lit}, which validates and escapes it. Queries are written with
 * the {@link sql} tag: each `${value}` becomes `lit(value)`; nested {@link Sql} fragments (other `sql` results,
 * {@link ident} names, {@link list}s) are inserted as they are, having been built the same way.
 *
 * The literal forms are the ones both ClickHouse 18.16 and current versions parse.
 */

/** A piece of SQL text that is safe to insert as it is: built by `sql`, `ident`, `list` or `join`. */
export class Sql {
  /** @internal Use the helpers below; the constructor does not check anything. */
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

/** A Shanghai `Day` to be written as a ClickHouse `Date` (days since 1970-01-01). Make it with {@link date}. */
export class SqlDate {
  /** @internal */
  constructor(readonly day: number) {}
}

export type SqlScalar = string | number | bigint | boolean | null | SqlDate;
export type SqlValue = SqlScalar | readonly SqlScalar[];

/** Largest `Date` ClickHouse stores (UInt16 days: 2149-06-06). */
export const MAX_DATE_DAY = 65_535;

/** A `Date` value for {@link lit}: `day` must be a whole number of days in ClickHouse's `Date` range. */
export function date(day: number): SqlDate {
  if (!Number.isInteger(day) || day < 0 || day > MAX_DATE_DAY) {
    throw new RangeError(`not a ClickHouse Date day number: ${String(day)}`);
  }
  return new SqlDate(day);
}

/** `yyyy-mm-dd` of a day number (UTC calendar, which is how `Day` numbers map to dates). */
export function isoDay(day: number): string {
  const d = new Date(day * 86_400_000);
  return `${d.getUTCFullYear().toString().padStart(4, '0')}-${(d.getUTCMonth() + 1).toString().padStart(2, '0')}-${d
    .getUTCDate()
    .toString()
    .padStart(2, '0')}`;
}

function escapeChar(ch: string): string {
  switch (ch) {
    case '\\':
      return '\\\\';
    case "'":
      return "\\'";
    case '\0':
      return '\\0';
    case '\n':
      return '\\n';
    case '\r':
      return '\\r';
    case '\t':
      return '\\t';
    default:
      return `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`;
  }
}

// Backslash, quote, and every ASCII control character (C0 and DEL). Everything else, including all non-ASCII
// text, is sent as UTF-8 as it is.
// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /[\\'\u0000-\u001f\u007f]/g;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function number(v: number): string {
  if (!Number.isFinite(v)) throw new RangeError(`not a finite number: ${String(v)}`);
  if (Number.isInteger(v) && !Number.isSafeInteger(v)) throw new RangeError(`integer outside the exact range: ${String(v)}`);
  if (v === 0) return '0'; // also -0
  // 18.16's parser rejects subnormal literals (5e-324 is a syntax error there).
  if (Math.abs(v) < 2.2250738585072014e-308) throw new RangeError(`subnormal number: ${String(v)}`);
  const s = String(v); // shortest round-trip form, e.g. 12.5, 1e-7, 1.5e+300: all valid ClickHouse literals
  return v < 0 ? `(${s})` : s; // parenthesised so that `x -${v}` can never become a `--` comment
}

function scalar(v: SqlScalar): string {
  if (v === null) return 'NULL';
  switch (typeof v) {
    case 'string':
      if (LONE_SURROGATE.test(v)) throw new TypeError('string holds a lone UTF-16 surrogate, which UTF-8 cannot carry');
      return `'${v.replace(NEEDS_ESCAPE, escapeChar)}'`;
    case 'number':
      return number(v);
    case 'bigint':
      if (v > 2n ** 64n - 1n || v < -(2n ** 63n)) throw new RangeError(`integer outside 64 bits: ${v}`);
      return v < 0n ? `(${v.toString()})` : v.toString();
    case 'boolean':
      return v ? '1' : '0';
    default:
      if (v instanceof SqlDate) return `toDate('${isoDay(date(v.day).day)}')`;
      throw new TypeError(`not a SQL value: ${Object.prototype.toString.call(v)}`);
  }
}

/**
 * THE function that turns a value into SQL text: a quoted, escaped string; a number (finite; integers exact);
 * a bigint (64 bits); a boolean as 1/0; `NULL`; a {@link date} as `toDate('yyyy-mm-dd')`; an array as an
 * array literal `[…]`. Anything else throws.
 */
export function lit(v: SqlValue): string {
  if (Array.isArray(v)) return `[${(v as readonly SqlScalar[]).map(scalar).join(', ')}]`;
  return scalar(v as SqlScalar);
}

/** Tagged template: `sql\`SELECT … WHERE appid = ${appid}\`` with every value written by {@link lit}. */
export function sql(strings: TemplateStringsArray, ...values: readonly (SqlValue | Sql)[]): Sql {
  let text = strings[0] ?? '';
  values.forEach((v, i) => {
    text += v instanceof Sql ? v.text : lit(v);
    text += strings[i + 1] ?? '';
  });
  return new Sql(text);
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A database, table, column or cluster name; only `[A-Za-z_][A-Za-z0-9_]*` is accepted (no quoting needed). */
export function ident(name: string): Sql {
  if (!IDENT.test(name)) throw new TypeError(`not a plain identifier: ${JSON.stringify(name)}`);
  return new Sql(name);
}

export function isIdent(name: string): boolean {
  return IDENT.test(name);
}

/** `(v1, v2, …)` for `IN`; an empty list is not valid SQL, so it throws. */
export function list(values: readonly SqlScalar[]): Sql {
  if (values.length === 0) throw new RangeError('empty IN list');
  return new Sql(`(${values.map(scalar).join(', ')})`);
}

/** Fragments joined by a separator (itself SQL text chosen by the caller, e.g. `sql\`, \``). */
export function join(parts: readonly Sql[], separator: Sql = new Sql(', ')): Sql {
  return new Sql(parts.map((p) => p.text).join(separator.text));
}
