/**
 * The variant table (variants.ts): which variants it lists for each shape, that the one marked
 * auto is what the ops pick, and that a case runs and is timed. Never how fast anything is.
 */
import { Runtime } from '@crnn/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conv2dKernelFor } from '../conv2d/conv2d.js';
import { sumAxesPlan } from '../elementwise/elementwise.js';
import { matmulVariants } from '../matmul/matmul.js';
import { BENCH_DAWN_FLAGS } from './harness.js';
import { timeCase, variantCases, type VariantCase } from './variants.js';

let rt: Runtime;
let cases: VariantCase[];
beforeAll(async () => {
  // As run-variants.js: unquantized timestamps, else a GPU's 0.05 ms kernel can read 0.
  rt = await Runtime.create({ dawnFlags: BENCH_DAWN_FLAGS });
  cases = variantCases(rt);
});
afterAll(() => rt.destroy());

const byRow = () => {
  const rows = new Map<string, VariantCase[]>();
  for (const c of cases) rows.set(`${c.group} | ${c.shape}`, [...(rows.get(`${c.group} | ${c.shape}`) ?? []), c]);
  return rows;
};

describe('variant table', () => {
  it("lists every conv2d part of the 7 CRNN layers with exactly one variant marked auto, the one conv2dKernelFor picks", () => {
    const rows = [...byRow()].filter(([k]) => k.startsWith('conv2d'));
    // Forward and dw of 7 layers, dx of the 6 that take a gradient for their input.
    expect(rows.length).toBe(20);
    for (const [row, cs] of rows) {
      const autos = cs.filter((c) => c.auto);
      expect(autos.length, `${row}: ${cs.map((c) => c.variant).join(', ')}`).toBe(1);
      const m = /^conv2d (\w+) \| N(\d+) C(\d+)->(\d+) (\d+)x(\d+) k(\d+)x\d+ p(\d+)$/.exec(row);
      expect(m, row).not.toBeNull();
      const [, part, n, c, o, h, w, k, p] = m!;
      const x = rt.zeros([+n!, +c!, +h!, +w!]);
      const wt = rt.zeros([+o!, +c!, +k!, +k!]);
      expect(autos[0]!.variant, row).toBe(conv2dKernelFor(rt, x, wt, { padding: +p! }, part as 'forward' | 'dx' | 'dw'));
      x.dispose();
      wt.dispose();
    }
  });

  it("lists 'auto' and every matmul variant of this adapter for each matmul shape", () => {
    const rows = [...byRow()].filter(([k]) => k.startsWith('matmul'));
    expect(rows.length).toBe(6);
    for (const [row, cs] of rows) expect(cs.map((c) => c.variant), row).toEqual(['auto', ...matmulVariants(rt)]);
  });

  it("lists sum_axes in one pass and split (where it has two chunks), the one sumAxesPlan picks marked auto", () => {
    const rows = [...byRow()].filter(([k]) => k.startsWith('sum_axes'));
    expect(rows.length).toBe(8);
    for (const [row, cs] of rows) {
      const dims = JSON.parse(row.split(' | ')[1]!) as [number, number, number];
      expect(cs.map((c) => c.variant), row).toEqual(sumAxesPlan(rt, dims, 'split') ? ['single', 'split'] : ['single']);
      expect(cs.filter((c) => c.auto).map((c) => c.variant), row).toEqual([sumAxesPlan(rt, dims, 'auto') ? 'split' : 'single']);
    }
  });

  it('times a case: a positive median where the adapter has timestamp queries, else null', async () => {
    const c = cases.find((x) => x.group === 'matmul' && x.shape === '192x512x37 Bᵀ' && x.variant === 'auto');
    expect(c).toBeDefined();
    const ms = await timeCase(rt, c!, 3);
    if (rt.canTime) expect(ms).toBeGreaterThan(0);
    else expect(ms).toBeNull();
  });
});
