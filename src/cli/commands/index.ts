import type { CliCommand } from '../command.ts';
import { analysisCommand } from './analysis.ts';
import { appCommand } from './app.ts';
import { backupCommand, restoreCommand } from './backup.ts';
import { demoCommand } from './demo.ts';
import { ingestCommand } from './ingest.ts';
import { portraitCommand } from './portrait.ts';
import { pruneCommand } from './prune.ts';
import { serveCommand } from './serve.ts';
import { testCommand } from './test.ts';
import { exportCommand, importCommand } from './transfer.ts';
import { userCommand } from './user.ts';

/**
 * Every `datacube` command, in the order `datacube --help` lists them. A new command is a file in this folder
 * exporting a {@link CliCommand}, added here. Command files import only light modules at the top (commander, node
 * built-ins, src/domain); the store, the server and the rest load inside the action.
 */
export const COMMANDS: readonly CliCommand[] = [
  serveCommand,
  appCommand,
  ingestCommand,
  portraitCommand,
  analysisCommand,
  demoCommand,
  exportCommand,
  importCommand,
  userCommand,
  pruneCommand,
  backupCommand,
  restoreCommand,
  testCommand,
];
