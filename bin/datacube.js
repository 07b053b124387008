#!/usr/bin/env node
// The `datacube` command. The sources are TypeScript; tsx (a runtime dependency) loads them
// directly, so there is no build step between a clone and a working CLI.
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv);
