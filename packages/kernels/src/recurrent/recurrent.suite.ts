/**
 * Test blocks shared by lstm.test.ts and gru.test.ts (not compiled into dist: tsconfig
 * excludes *.suite.ts). Each cell runs the same finite-difference check of every gradient
 * (reference and GPU, every kernel variant) and its golden cases.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Rng, type Runtime } from '@crnn/core';
import { describe, expect, it } from 'vitest';
import { loadCase, runCase, type GoldenHandler } from '../golden/golden.js';
import { compareClose } from '../testing.js';
import { fdGrads, gpuRun, gradByKey, makeData, refRun, type Case, type RnnApi, variantsOf } from './rnn-testing.js';

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
