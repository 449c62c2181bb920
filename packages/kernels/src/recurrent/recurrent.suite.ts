/**
 * Test blocks shared by lstm.test.ts and gru.test.ts (not compiled into dist: tsconfig
 * excludes *.suite.ts). Each cell runs the same reference sweep (over its own cases), dropout
 * check, finite-difference check of every gradient (reference and GPU, every kernel
 * variant) and its golden cases.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Rng, type Runtime } from '@crnn/core';
import { describe, expect, it } from 'vitest';
import { loadCase, runCase, type GoldenHandler } from '../golden/golden.js';
import { compareClose } from '../testing.js';
import { caseName, compareResults, fdGrads, gpuRun, gradByKey, makeData, refRun, type Case, type RnnApi, variantsOf } from './rnn-testing.js';

const goldenDir = process.env.GOLDEN_DIR ?? resolve(import.meta.dirname, '../../../../../shared/golden');

export function recurrentGradientAndGoldenSuite(getRt: () => Runtime, api: RnnApi, goldenFiles: string[], golden: GoldenHandler): void {
  const cell = api.cell;
  const lstm = cell === 'lstm';
  describe(`${cell} gradients vs finite differences (T=3, N=2, I=3, H=2)`, () => {
    const c: Case = { T: 3, N: 2, I: 3, H: 2, L: 2, dirs: 2, h0: true, dhN: true, ...(lstm ? { c0: true, dcN: true } : {}) };
    it('reference backward and GPU backward match central differences of the reference', async () => {
      const rt = getRt();
      const data = makeData(new Rng(3), cell, c, 0.9);
      const ref = refRun(cell, c, data);
      const fd = fdGrads(cell, c, data);
      const keys = Object.keys(fd);
      // dx, 16 parameters (2 layers x 2 directions x 4), dh0 (and dc0 for the LSTM).
      expect(keys.length).toBe(1 + 16 + (lstm ? 2 : 1));
      for (const key of keys) {
        const r = compareClose(gradByKey(ref, key)!, fd[key]!, { rtol: 1e-6, atol: 1e-8 }, `ref ${key} vs fd`);
        expect(r.ok, r.message).toBe(true);
      }
      for (const variant of variantsOf(rt)) {
        const got = await gpuRun(rt, api, { ...c, variant }, data);
        for (const key of keys) {
          const g = compareClose(gradByKey(got, key)!, fd[key]!, { rtol: 1e-3, atol: 1e-4 }, `gpu ${variant} ${key} vs fd`);
          expect(g.ok, g.message).toBe(true);
        }
      }
    });
  });

  describe(`${cell} golden cases`, () => {
    for (const file of goldenFiles) {
      it(file, async () => {
        const path = resolve(goldenDir, file);
        expect(existsSync(path), `missing ${path}`).toBe(true);
        const r = await runCase(getRt(), loadCase(path), { [cell]: golden });
        expect(r.ok, r.message).toBe(true);
      });
    }
  });
}

/**
 * GPU forward and backward against the float64 reference over `cases` (every step-kernel
 * variant the adapter has), and the seeded dropout between layers (training draws the
 * masks of the reference, eval applies none, and the masks change the output).
 */
export function recurrentReferenceSuite(getRt: () => Runtime, api: RnnApi, cases: Case[], tol: { rtol: number; atol: number }): void {
  const cell = api.cell;
  describe(`${cell} forward and backward vs the float64 reference`, () => {
    for (const c of cases) {
      it(caseName(c), async () => {
        const rt = getRt();
        const data = makeData(new Rng(100 + c.T * 7 + c.H), cell, c);
        const want = refRun(cell, c, data);
        // Both step kernel variants (the subgroup one where the adapter has it).
        for (const variant of variantsOf(rt)) {
          const got = await gpuRun(rt, api, { ...c, variant }, data);
          const bad = compareResults(cell, { ...c, variant }, got, want, tol);
          expect(bad, bad.join('\n')).toEqual([]);
        }
      });
    }

    it('dropout between layers: training draws the seeded masks, eval applies none', async () => {
      const rt = getRt();
      const base: Case = { T: 4, N: 3, I: 5, H: 6, L: 3, dirs: 2, dropout: 0.4, seed: 7 };
      for (const c of [{ ...base, training: true }, { ...base, training: false }, { ...base, training: true, seed: 8 }]) {
        const data = makeData(new Rng(5), cell, c);
        const got = await gpuRun(rt, api, c, data);
        const bad = compareResults(cell, c, got, refRun(cell, c, data), tol);
        expect(bad, bad.join('\n')).toEqual([]);
      }
      // The masks matter: training and eval outputs differ.
      const data = makeData(new Rng(5), cell, base);
      const a = await gpuRun(rt, api, { ...base, training: true }, data);
      const b = await gpuRun(rt, api, { ...base, training: false }, data);
      expect(compareClose(a.y, b.y, tol).ok).toBe(false);
    });
  });
}
