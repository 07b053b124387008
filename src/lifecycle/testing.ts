/**
 * Test support for personal data (not used in production): finding bytes in every file of a data directory.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Every regular file under `dir`, recursively. */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    let st;
    try {
      st = statSync(p);
    } catch {
      continue; // removed meanwhile (a temporary file)
    }
    if (st.isDirectory()) out.push(...filesUnder(p));
    else if (st.isFile()) out.push(p);
  }
  return out;
}

/** For each needle, the files under `dir` whose bytes contain it (as UTF-8), with the number of occurrences. */
export function findBytes(dir: string, needles: readonly string[]): Map<string, string[]> {
  const found = new Map<string, string[]>(needles.map((n) => [n, []]));
  for (const file of filesUnder(dir)) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(file);
    } catch {
      continue;
    }
    for (const n of needles) {
      let count = 0;
      for (let i = bytes.indexOf(n); i >= 0; i = bytes.indexOf(n, i + 1)) count++;
      if (count > 0) found.get(n)?.push(`${file} (${count}×)`);
    }
  }
  return found;
}
