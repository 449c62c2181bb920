#!/usr/bin/env node
/** Entry point of a worker process: `node worker-main.js --connect ws://HOST:PORT` (token in CRNN_TOKEN). */
import { workerMain } from './worker.js';

// A worker forked by `train --workers N` ends with its parent (it has nothing to reconnect to).
if (process.send) process.on('disconnect', () => process.exit(0));

workerMain(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`worker: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
