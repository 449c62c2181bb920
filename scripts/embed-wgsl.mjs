// Turns every `X.wgsl` under the given folders into a sibling `X.wgsl.ts` that default-exports
// the source text, so kernels `import code from './conv2d-forward.wgsl.js'` the same way under
// Node, Vitest and any bundler. Files are rewritten only when their text changes.
//
// Includes: WGSL has no module system, so shared code lives in fragments named `*.inc.wgsl`
// and a line of exactly the form (from its first column)
//
//   //!include "../recurrent/step-forward.inc.wgsl"
//
// (the path relative to the file the line is in) is replaced by that file's text, itself with
// its includes resolved. Each included text is preceded by a comment line
// `// ---- included from recurrent/step-forward.inc.wgsl` and followed by
// `// ---- end of recurrent/step-forward.inc.wgsl` (paths relative to the folder given on the
// command line), so the generated source says where every part came from; compile errors
// report line numbers of that full text. Inclusion is textual: a fragment included twice is
// there twice, and an include cycle or a missing file stops the script with an error naming
// the chain or the including file and line. `*.inc.wgsl` files get no `.wgsl.ts` of their own;
// a change to one rewrites every `.wgsl.ts` whose text it is part of.
import { readdirSync, readFileSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const INCLUDE = /^\/\/!include "([^"]+)"\s*$/;

function* walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* walk(p);
    else if (name.endsWith('.wgsl') && !name.endsWith('.inc.wgsl')) yield p;
  }
}

/**
 * The text of `file` with its `//!include` lines replaced, recursively. `chain` lists the files
 * whose expansion is under way (outermost first), for the cycle check; paths in messages and
 * marker comments are relative to `root`.
 */
function expand(file, root, chain = []) {
  const rel = (p) => relative(root, p).split('\\').join('/');
  const abs = resolve(file);
  const lines = readFileSync(abs, 'utf8').split('\n');
  const out = [];
  lines.forEach((line, i) => {
    if (!line.startsWith('//!include')) {
      out.push(line);
      return;
    }
    const where = `${rel(abs)}:${i + 1}`;
    const m = INCLUDE.exec(line);
    if (!m) throw new Error(`${where}: malformed include, want //!include "relative/path.wgsl": ${line.trim()}`);
    const target = resolve(dirname(abs), m[1]);
    if (!existsSync(target) || !statSync(target).isFile()) {
      throw new Error(`${where}: cannot include "${m[1]}": no file ${rel(target)}`);
    }
    const inner = [...chain, abs];
    if (inner.includes(target)) throw new Error(`${where}: include cycle: ${[...inner, target].map(rel).join(' -> ')}`);
    const body = expand(target, root, inner);
    out.push(`// ---- included from ${rel(target)}`, ...body.replace(/\n$/, '').split('\n'), `// ---- end of ${rel(target)}`);
  });
  return out.join('\n');
}

let written = 0;
try {
  for (const root of process.argv.slice(2)) {
    for (const file of walk(root)) {
      const text = `// Generated from ${file.split('/').pop()} by scripts/embed-wgsl.mjs; edit the .wgsl file.\n` +
        `const source: string = ${JSON.stringify(expand(file, resolve(root)))};\nexport default source;\n`;
      const out = `${file}.ts`;
      if (!existsSync(out) || readFileSync(out, 'utf8') !== text) {
        writeFileSync(out, text);
        written++;
      }
    }
  }
} catch (e) {
  console.error(`embed-wgsl: ${e.message}`);
  process.exit(1);
}
if (written && process.env.EMBED_WGSL_VERBOSE) console.log(`embed-wgsl: ${written} file(s) written`);
