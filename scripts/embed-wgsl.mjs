// Turns every `X.wgsl` under the given folders into a sibling `X.wgsl.ts` that default-exports
// the source text, so kernels `import code from './conv2d-forward.wgsl.js'` the same way under
// Node, Vitest and any bundler. Files are rewritten only when their text changes.
import { readdirSync, readFileSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

function* walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* walk(p);
    else if (name.endsWith('.wgsl')) yield p;
  }
}

let written = 0;
for (const root of process.argv.slice(2)) {
  for (const file of walk(root)) {
    const text = `// Generated from ${file.split('/').pop()} by scripts/embed-wgsl.mjs; edit the .wgsl file.\n` +
      `const source: string = ${JSON.stringify(readFileSync(file, 'utf8'))};\nexport default source;\n`;
    const out = `${file}.ts`;
    if (!existsSync(out) || readFileSync(out, 'utf8') !== text) {
      writeFileSync(out, text);
      written++;
    }
  }
}
if (written && process.env.EMBED_WGSL_VERBOSE) console.log(`embed-wgsl: ${written} file(s) written`);
