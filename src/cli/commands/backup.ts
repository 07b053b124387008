import { closeSync, constants, createReadStream, createWriteStream, openSync, renameSync, rmSync, statSync, type WriteStream } from 'node:fs';
import type { Command } from 'commander';
import { type CliCommand, type Io, storeOptions } from '../command.ts';
import { CliError, EXIT } from '../errors.ts';
import { withBackend } from '../openBackend.ts';

/**
 * `datacube backup --out FILE`: a consistent snapshot of the whole store (apps with their hashed and sealed
 * secrets, live tokens, usage counters, kept first days, events) while the server runs; written to a temporary file,
 * read back whole, then renamed to FILE, so FILE is never half a backup.
 */
export const backupCommand: CliCommand = {
  register(program: Command, io: Io): void {
    program
      .command('backup')
      .description('write a consistent backup of the whole store (apps, sealed secrets, tokens, events) while it runs')
      .requiredOption('--out <file>', 'the backup file to write (gzip)')
      .action(async (o: { out: string }, cmd: Command) => {
        const { BackupError, readBackup } = await import('../../lifecycle/backupFile.ts');
        const tmp = `${o.out}.partial-${process.pid}`;
        // The destination is opened before the store is read, so a path that cannot be written fails at once, by name.
        let out: WriteStream;
        try {
          out = createWriteStream(tmp, { fd: openSync(tmp, 'w', 0o600) });
        } catch (e) {
          throw new CliError(`cannot write the backup to ${o.out}: ${fsReason(e)}; nothing was written`);
        }
        try {
          await withBackend(storeOptions(cmd), { needsData: true }, (b) => b.backup(out));
          const { header, counts } = await readBackup(createReadStream(tmp));
          renameSync(tmp, o.out);
          io.out(JSON.stringify({ file: o.out, created_at: header.created_at, ...counts, bytes: statSync(o.out).size }));
        } catch (e) {
          out.destroy();
          rmSync(tmp, { force: true });
          if (e instanceof BackupError) throw new CliError(`the backup came out damaged, nothing was written to ${o.out}: ${e.message}`);
          throw e;
        }
      });
  },
};

/**
 * `datacube restore FILE`: loads a backup into an empty data directory or ClickHouse database (derived tables are
 * rebuilt); a store that holds anything is refused.
 */
export const restoreCommand: CliCommand = {
  register(program: Command, io: Io): void {
    program
      .command('restore')
      .description('load a backup into an empty data directory or ClickHouse database (derived tables are rebuilt)')
      .argument('<file>', 'a file written by datacube backup')
      .action(async (file: string, _o: unknown, cmd: Command) => {
        const { readBackup } = await import('../../lifecycle/backupFile.ts');
        // Checked whole before anything is opened or written.
        try {
          closeSync(openSync(file, constants.O_RDONLY));
        } catch (e) {
          throw new CliError(`${file}: cannot be read (${fsReason(e)}); nothing was restored`, EXIT.UNREADABLE);
        }
        try {
          await readBackup(createReadStream(file));
        } catch (e) {
          const unreadable = (e as { code?: unknown }).code === 'ENOENT' || (e as { code?: unknown }).code === 'EACCES';
          throw new CliError(`${file}: ${e instanceof Error ? e.message : String(e)}`, unreadable ? EXIT.UNREADABLE : EXIT.FAILED);
        }
        await withBackend(storeOptions(cmd), {}, async (b) => {
          const r = await b.restore(file);
          io.out(JSON.stringify(r));
          if (!r.secrets_readable) {
            io.err(
              "warning: the backup's app secrets were sealed with another master key: copy master.key from the data directory the backup came from (or set DATACUBE_MASTER_KEY to it) before serving, or cloud calls and stable tokens will fail",
            );
          }
        });
      });
  },
};

/** A file-system error in words: "no such file or directory", "permission denied", …, else its message. */
function fsReason(e: unknown): string {
  const code = (e as { code?: unknown }).code;
  if (code === 'ENOENT') return 'no such file or directory';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory';
  if (code === 'ENOTDIR') return 'a part of the path is not a directory';
  return e instanceof Error ? e.message : String(e);
}
