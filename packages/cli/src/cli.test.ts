import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const bin = resolve(import.meta.dirname, '../dist/bin.js');
const cli = (...args: string[]) => spawnSync('node', [bin, ...args], { encoding: 'utf8' });

describe('crnn-cli', () => {
  it('prints help and exits 0', () => {
    const r = cli('--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Usage: crnn-cli <command>/);
  });

  it('fails with a one-line reason on an unknown command', () => {
    const r = cli('frobnicate');
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toMatch(/^crnn-cli: unknown command 'frobnicate'/);
  });

  it('info names the adapter and runs a kernel', () => {
    const r = cli('info');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/adapter: /);
    expect(r.stdout).toMatch(/relu\(\[-2, -1, 0, 1, 2\]\) on the GPU = \[0, 0, 0, 1, 2\]/);
  });
});
