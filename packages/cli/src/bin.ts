#!/usr/bin/env node
import { main } from './main.js';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`crnn-cli: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
