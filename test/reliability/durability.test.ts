import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// "Acknowledged means durable" down to the disk: between the start of an append and its return, DuckDB writes the
// batch to its write-ahead log and fsyncs that file. strace (Debian's package, installed by .ci/run) watches the
// system calls of a real append in a child process.

const ROOT = resolve(import.meta.dirname, '../..');

describe('durability of an acknowledged append', () => {
  it('writes and fsyncs the DuckDB write-ahead log before append() returns', () => {
    const dir = mkdtempSync(join(tmpdir(), 'datacube-fsync-'));
    try {
      const trace = join(dir, 'strace.out');
      const r = spawnSync(
        'strace',
        ['-f', '-y', '-e', 'trace=write,pwrite64,fsync,fdatasync', '-o', trace, process.execPath, join(ROOT, 'bin/run-ts.js'), join(ROOT, 'test/reliability/fixtures/appendOnce.ts'), join(dir, 'x.duckdb')],
        { encoding: 'utf8', timeout: 60_000 },
      );
      expect(r.error, 'strace must be installed (apt-get install strace)').toBeUndefined();
      expect(r.status, r.stderr).toBe(0);
      const lines = readFileSync(trace, 'utf8').split('\n');
      const begin = lines.findIndex((l) => l.includes('MARK-BEFORE-APPEND'));
      const end = lines.findIndex((l) => l.includes('MARK-AFTER-APPEND'));
      expect(begin).toBeGreaterThan(-1);
      expect(end).toBeGreaterThan(begin);
      const during = lines.slice(begin, end);
      const walWrite = during.findIndex((l) => /(write|pwrite64)\(\d+<[^>]*\.duckdb\.wal>/.test(l));
      const walSync = during.findIndex((l) => /f(data)?sync\(\d+<[^>]*\.duckdb\.wal>\) = 0/.test(l));
      expect(walWrite, 'a write to the WAL during append').toBeGreaterThan(-1);
      expect(walSync, 'an fsync of the WAL after the write, before append returned').toBeGreaterThan(walWrite);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
