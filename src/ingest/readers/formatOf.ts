export const INPUT_FORMATS = ['ndjson', 'json', 'csv'] as const;
export type InputFormat = (typeof INPUT_FORMATS)[number];

/**
 * The input format a file name implies, by extension (any case): `.ndjson`/`.jsonl` NDJSON, `.json` a JSON array,
 * `.csv` CSV; `-` (standard input) is NDJSON. `undefined` for anything else.
 */
export function formatOf(path: string): InputFormat | undefined {
  if (path === '-') return 'ndjson';
  const dot = path.lastIndexOf('.');
  const slash = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  if (dot <= slash + 1) return undefined; // no extension, or a dot file such as `.csv`
  switch (path.slice(dot + 1).toLowerCase()) {
    case 'ndjson':
    case 'jsonl':
      return 'ndjson';
    case 'json':
      return 'json';
    case 'csv':
      return 'csv';
    default:
      return undefined;
  }
}
