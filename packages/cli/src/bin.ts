#!/usr/bin/env node
import { main } from './main.js';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    // One line: multi-line reasons (every weight mismatch) are joined.
    console.error(`crnn-cli: ${(err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, '; ')}`);
    process.exit(1);
  },
);
