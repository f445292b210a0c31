#!/usr/bin/env node
import { main } from '../dist/cli/main.js';

// a reader that stops early (`cot --help | head -1`) closes the pipe: end quietly, as other command-line tools do
for (const stream of [process.stdout, process.stderr])
  stream.on('error', (e) => {
    if (e.code !== 'EPIPE') throw e;
    process.exit(process.exitCode ?? 0);
  });

process.exitCode = await main(process.argv);
