// `npm run golden`'s runner over every case in ../shared/golden (or GOLDEN_DIR): one line
// per case, a closing 'N passed, M failed', exit code 0 only when all pass.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KNOWN_FAILURES } from './known-failures.js';

const root = resolve(import.meta.dirname, '..');
const dir = process.env.GOLDEN_DIR ?? resolve(root, '../shared/golden');

describe('golden runner (crnn-cli golden)', () => {
  it('runs every case file and every one passes', () => {
    const r = spawnSync('node', [resolve(root, 'packages/cli/dist/bin.js'), 'golden', dir], { encoding: 'utf8' });
    const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
    const lines = r.stdout.split('\n').filter((l) => /^(PASS|FAIL) /.test(l));
    expect(lines).toHaveLength(files.length);
    const failed = lines.filter((l) => l.startsWith('FAIL') && !Object.keys(KNOWN_FAILURES).some((k) => l.includes(k)));
    expect(failed, failed.join('\n')).toEqual([]);
    expect(r.stdout).toMatch(new RegExp(`^${files.length} passed, 0 failed$`, 'm'));
    expect(r.status).toBe(0);
  });

  it('reports an unknown op as a failure and exits non-zero', async () => {
    const { mkdtempSync, writeFileSync, copyFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const d = mkdtempSync(resolve(tmpdir(), 'golden-'));
    copyFileSync(resolve(dir, 'linear_dev_0.json'), resolve(d, 'linear_dev_0.json'));
    writeFileSync(resolve(d, 'zz_unknown.json'), JSON.stringify({ op: 'frobnicate', inputs: {}, outputs: {} }));
    const r = spawnSync('node', [resolve(root, 'packages/cli/dist/bin.js'), 'golden', d], { encoding: 'utf8' });
    expect(r.stdout).toMatch(/FAIL zz_unknown\.json \(frobnicate\): unknown op 'frobnicate'/);
    expect(r.stdout).toMatch(/^1 passed, 1 failed$/m);
    expect(r.status).toBe(1);
  });
});
