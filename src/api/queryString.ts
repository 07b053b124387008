import { parse } from 'node:querystring';

/**
 * The query-string parser of every route. A parameter given twice with the same value (`?access_token=T&access_token=T`,
 * as a client that appends the token to a URL that already has it sends) counts once; given twice with different
 * values it stays a list, which no route takes (a token route answers it as an invalid value). Keys past the first
 * 1,000 are dropped (node:querystring's limit), so a huge query cannot become a huge object.
 */
export function parseQuery(text: string): Record<string, string | string[]> {
  const parsed = parse(text);
  const out: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  for (const key of Object.keys(parsed)) {
    const value = parsed[key];
    if (value === undefined) continue;
    out[key] = Array.isArray(value) && value.every((v) => v === value[0]) ? (value[0] ?? '') : value;
  }
  return out;
}
