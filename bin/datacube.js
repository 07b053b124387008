#!/usr/bin/env node
// The `datacube` command: runs the JavaScript that `npm run build` compiles from src/ into dist/
// (`npm install` and `npm ci` run the build through the `prepare` script).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('datacube: the compiled program is missing (dist/cli/main.js); run `npm run build` (npm install runs it)\n');
  process.exit(2);
}
// A reader that stops early (`datacube ingest --help | head`) closes the pipe: stop quietly, as Unix tools do.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv);
