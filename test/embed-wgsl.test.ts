// scripts/embed-wgsl.mjs: `//!include` of `*.inc.wgsl` fragments (nested, relative paths),
// the errors for a cycle and a missing file, and no `.wgsl.ts` for the fragments themselves.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');
const script = join(root, 'scripts/embed-wgsl.mjs');

/** A temp folder holding `files` (path relative to it -> text). */
function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'embed-wgsl-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

function embed(dir: string) {
  const r = spawnSync('node', [script, dir], { encoding: 'utf8' });
  return { code: r.status, err: r.stderr };
}

/** The source text a generated `.wgsl.ts` exports. */
function embedded(file: string): string {
  const m = /const source: string = (.*);\nexport default source;\n$/s.exec(readFileSync(`${file}.ts`, 'utf8'));
  expect(m, `${file}.ts`).not.toBeNull();
  return JSON.parse(m![1]!) as string;
}

describe('scripts/embed-wgsl.mjs includes', () => {
  it('replaces include lines with the fragments, nested, and writes no .ts for fragments', () => {
    const dir = tree({
      'shared/util.inc.wgsl': '// util\n//!include "deeper/consts.inc.wgsl"\nfn twice(v: f32) -> f32 { return K * v; }\n',
      'shared/deeper/consts.inc.wgsl': 'const K: f32 = 2.0;\n',
      'op/kernel.wgsl': '// kernel\n//!include "../shared/util.inc.wgsl"\n\nfn main() {}\n',
      'plain.wgsl': 'fn f() {}\n// //!include "not/a/directive.wgsl"\n',
    });
    const r = embed(dir);
    expect(r.code, r.err).toBe(0);
    expect(embedded(join(dir, 'op/kernel.wgsl'))).toBe(
      [
        '// kernel',
        '// ---- included from shared/util.inc.wgsl',
        '// util',
        '// ---- included from shared/deeper/consts.inc.wgsl',
        'const K: f32 = 2.0;',
        '// ---- end of shared/deeper/consts.inc.wgsl',
        'fn twice(v: f32) -> f32 { return K * v; }',
        '// ---- end of shared/util.inc.wgsl',
        '',
        'fn main() {}',
        '',
      ].join('\n'),
    );
    // A file without includes is embedded as it is.
    expect(embedded(join(dir, 'plain.wgsl'))).toBe('fn f() {}\n// //!include "not/a/directive.wgsl"\n');
    expect(existsSync(join(dir, 'shared/util.inc.wgsl.ts'))).toBe(false);
    expect(existsSync(join(dir, 'shared/deeper/consts.inc.wgsl.ts'))).toBe(false);
  });

  it('rewrites a .ts only when its text changes, including a change in a fragment', () => {
    const dir = tree({ 'a.inc.wgsl': 'const A = 1;\n', 'k.wgsl': '//!include "a.inc.wgsl"\n' });
    expect(embed(dir).code).toBe(0);
    // Back-date the output: an unchanged run must leave it alone.
    const out = join(dir, 'k.wgsl.ts');
    const past = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
    utimesSync(out, past, past);
    expect(embed(dir).code).toBe(0);
    expect(statSync(out).mtimeMs).toBe(past.getTime());
    writeFileSync(join(dir, 'a.inc.wgsl'), 'const A = 2;\n');
    expect(embed(dir).code).toBe(0);
    expect(embedded(join(dir, 'k.wgsl'))).toContain('const A = 2;');
  });

  it('stops on an include cycle, naming the chain', () => {
    const dir = tree({
      'k.wgsl': '//!include "a.inc.wgsl"\n',
      'a.inc.wgsl': '// a\n//!include "sub/b.inc.wgsl"\n',
      'sub/b.inc.wgsl': '// b\n\n//!include "../a.inc.wgsl"\n',
    });
    const r = embed(dir);
    expect(r.code).not.toBe(0);
    expect(r.err).toContain('sub/b.inc.wgsl:3: include cycle: k.wgsl -> a.inc.wgsl -> sub/b.inc.wgsl -> a.inc.wgsl');
    expect(existsSync(join(dir, 'k.wgsl.ts'))).toBe(false);
  });

  it('stops on a file including itself', () => {
    const r = embed(tree({ 'k.wgsl': '//!include "k.wgsl"\n' }));
    expect(r.code).not.toBe(0);
    expect(r.err).toContain('k.wgsl:1: include cycle: k.wgsl -> k.wgsl');
  });

  it('stops on a missing file, naming the including file and line', () => {
    const dir = tree({ 'op/k.wgsl': 'fn f() {}\n\n//!include "../shared/gone.inc.wgsl"\n' });
    const r = embed(dir);
    expect(r.code).not.toBe(0);
    expect(r.err).toContain('op/k.wgsl:3: cannot include "../shared/gone.inc.wgsl": no file shared/gone.inc.wgsl');
  });

  it('stops on a malformed include line', () => {
    const r = embed(tree({ 'k.wgsl': '// k\n//!include a.inc.wgsl\n' }));
    expect(r.code).not.toBe(0);
    expect(r.err).toContain('k.wgsl:2: malformed include');
  });
});
