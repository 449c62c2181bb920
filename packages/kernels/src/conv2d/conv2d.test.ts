import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { OpInputError, Rng, Runtime } from '@crnn/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCase, runCase } from '../golden/golden.js';
import { asF32, assertClose, dot, finiteDiff, randomArray } from '../testing.js';
import { conv2d, conv2dBackward } from './conv2d.js';
import { conv2dGolden } from './conv2d.golden.js';
import { conv2dBackwardRef, conv2dRef, outSize } from './conv2d.ref.js';
import { checkAgainstRef, geom, hasFastKernels, optsOf, SWEEP, TOL, type G } from './conv2d.testing.js';

// The reference, the direct kernels, gradients, accumulation, hostile inputs, NaN and the
// golden cases. conv2d-fast.test.ts sweeps the fast (subgroup) kernels.
const goldenDir = process.env.GOLDEN_DIR ?? resolve(import.meta.dirname, '../../../../../shared/golden');

let rt: Runtime;
let fastAvailable = false;
beforeAll(async () => {
  rt = await Runtime.create();
  fastAvailable = hasFastKernels(rt);
});
afterAll(() => rt.destroy());


describe('conv2d reference', () => {
  it('backward matches finite differences of the forward', () => {
    const rng = new Rng(1);
    for (const gg of [[2, 2, 4, 5, 3, 3, 3, 1, 1, 1, 1], [1, 2, 5, 5, 2, 2, 3, 2, 1, 0, 2], [1, 1, 3, 4, 2, 1, 1, 1, 1, 1, 0]] as G[]) {
      const g = geom(gg);
      const [oh, ow] = outSize(g);
      const x = randomArray(rng, g.n * g.c * g.h * g.w);
      const w = randomArray(rng, g.o * g.c * g.kh * g.kw);
      const b = randomArray(rng, g.o);
      const dy = randomArray(rng, g.n * g.o * oh * ow);
      const ref = conv2dBackwardRef(dy, x, w, g);
      const tol = { rtol: 1e-6, atol: 1e-7 };
      assertClose(ref.dx, finiteDiff((xx) => dot(conv2dRef(xx, w, b, g), dy), Float64Array.from(x)), tol, 'ref dx vs fd');
      assertClose(ref.dw, finiteDiff((ww) => dot(conv2dRef(x, ww, b, g), dy), Float64Array.from(w)), tol, 'ref dw vs fd');
      assertClose(ref.db, finiteDiff((bb) => dot(conv2dRef(x, w, bb, g), dy), Float64Array.from(b)), tol, 'ref db vs fd');
    }
  });
});

describe('conv2d', () => {
  it('direct kernels match the reference over the sweep', async () => {
    for (const [i, gg] of SWEEP.entries()) await checkAgainstRef(rt, geom(gg), 'direct', 100 + i);
  });

  it('GPU backward matches finite differences of the GPU-checked reference on tiny shapes', async () => {
    // dL/dx and dL/dw of L = sum(y * dy) by central differences of the float64 forward,
    // compared with what the GPU computed (f32), for the kernel families that run dw.
    const rng = new Rng(7);
    for (const kernel of ['direct', 'fast', 'gemm'] as const) {
      if (kernel === 'fast' && !fastAvailable) continue;
      for (const gg of [[2, 2, 4, 5, 3, 3, 3, 1, 1, 1, 1], [1, 3, 5, 6, 2, 3, 3, 2, 2, 0, 1]] as G[]) {
        const g = geom(gg);
        const [oh, ow] = outSize(g);
        const x = asF32(randomArray(rng, g.n * g.c * g.h * g.w));
        const w = asF32(randomArray(rng, g.o * g.c * g.kh * g.kw));
        const b = asF32(randomArray(rng, g.o));
        const dy = asF32(randomArray(rng, g.n * g.o * oh * ow));
        const [tx, tw, tdy] = [rt.upload(x, [g.n, g.c, g.h, g.w]), rt.upload(w, [g.o, g.c, g.kh, g.kw]), rt.upload(dy, [g.n, g.o, oh, ow])];
        const gr = conv2dBackward(rt, tdy, tx, tw, optsOf(g, kernel));
        const [dx, dw, db] = await rt.readMany([gr.dx!, gr.dw!, gr.db!]);
        const tol = { rtol: 1e-3, atol: 1e-4 };
        assertClose(dx!, finiteDiff((xx) => dot(conv2dRef(xx, w, b, g), dy), Float64Array.from(x)), tol, `${kernel} gpu dx vs fd`);
        assertClose(dw!, finiteDiff((ww) => dot(conv2dRef(x, ww, b, g), dy), Float64Array.from(w)), tol, `${kernel} gpu dw vs fd`);
        assertClose(db!, finiteDiff((bb) => dot(conv2dRef(x, w, bb, g), dy), Float64Array.from(b)), tol, `${kernel} gpu db vs fd`);
      }
    }
  });

  it('accumulates dw and db into existing gradients (with and without a split dw reduction)', async () => {
    const rng = new Rng(9);
    for (const kernel of ['direct', 'fast', 'gemm'] as const) {
      if (kernel === 'fast' && !fastAvailable) continue;
      // The first shape has few input channels (conv2d-dw-small) and splits the batch over
      // workgroups; the second (conv2d-dw-fast) does not split.
      for (const gg of [[4, 3, 6, 7, 5, 3, 3, 1, 1, 1, 1], [1, 24, 4, 9, 20, 3, 3, 1, 1, 1, 1]] as G[]) {
        const g = geom(gg);
        const [oh, ow] = outSize(g);
        const x = asF32(randomArray(rng, g.n * g.c * g.h * g.w));
        const w = asF32(randomArray(rng, g.o * g.c * g.kh * g.kw));
        const dy = asF32(randomArray(rng, g.n * g.o * oh * ow));
        const dw0 = asF32(randomArray(rng, w.length));
        const db0 = asF32(randomArray(rng, g.o));
        const accDw = rt.upload(dw0, [g.o, g.c, g.kh, g.kw]);
        const accDb = rt.upload(db0, [g.o]);
        const gr = conv2dBackward(rt, rt.upload(dy, [g.n, g.o, oh, ow]), rt.upload(x, [g.n, g.c, g.h, g.w]), rt.upload(w, [g.o, g.c, g.kh, g.kw]), optsOf(g, kernel), { w: true, b: true }, { dw: accDw, db: accDb });
        expect(gr.dw).toBe(accDw);
        expect(gr.db).toBe(accDb);
        expect(gr.dx).toBeUndefined();
        const [dw, db] = await rt.readMany([accDw, accDb]);
        const ref = conv2dBackwardRef(dy, x, w, g);
        assertClose(dw!, ref.dw.map((v, i) => v + dw0[i]!), TOL, `${kernel} accumulated dw`);
        assertClose(db!, ref.db.map((v, i) => v + db0[i]!), TOL, `${kernel} accumulated db`);
      }
    }
  });

  it('computes only the gradients asked for', async () => {
    const g = geom([1, 2, 4, 4, 3, 3, 3, 1, 1, 1, 1]);
    const [x, w, dy] = [rt.zeros([1, 2, 4, 4]), rt.zeros([3, 2, 3, 3]), rt.zeros([1, 3, 4, 4])];
    const gr = conv2dBackward(rt, dy, x, w, optsOf(g, 'auto'), { x: true });
    expect(gr.dx?.shape).toEqual([1, 2, 4, 4]);
    expect(gr.dw).toBeUndefined();
    expect(gr.db).toBeUndefined();
    await rt.sync();
  });

  it('rejects bad inputs with OpInputError naming the op, before any dispatch', () => {
    const x = rt.zeros([2, 3, 8, 8]);
    const w = rt.zeros([4, 3, 3, 3]);
    const dy = rt.zeros([2, 4, 8, 8]);
    const before = rt.stats().dispatches;
    const cases: Array<[() => unknown, RegExp]> = [
      [() => conv2d(rt, rt.zeros([3, 8, 8]), w, undefined), /conv2d: expected x of rank 4/],
      [() => conv2d(rt, x, rt.zeros([4, 3, 3]), undefined), /conv2d: expected weight of rank 4/],
      [() => conv2d(rt, x, rt.zeros([4, 2, 3, 3]), undefined), /conv2d: expected weight of shape \[O, 3, kh, kw\]/],
      [() => conv2d(rt, x, w, rt.zeros([5])), /conv2d: expected bias of shape \[4\]/],
      [() => conv2d(rt, x, w, undefined, { stride: 0 }), /conv2d: expected stride of positive integers/],
      [() => conv2d(rt, x, w, undefined, { stride: [1, 1.5] }), /conv2d: expected stride of positive integers/],
      [() => conv2d(rt, x, w, undefined, { padding: -1 }), /conv2d: expected padding of non-negative integers/],
      [() => conv2d(rt, rt.zeros([0, 3, 8, 8]), w, undefined), /conv2d: expected x dimensions of positive integers/],
      [() => conv2d(rt, x, rt.zeros([0, 3, 3, 3]), undefined), /conv2d: expected weight dimensions of positive integers/],
      [() => conv2d(rt, x, rt.zeros([4, 3, 9, 3]), undefined), /conv2d: expected a kernel that fits the padded input/],
      [() => conv2d(rt, rt.zeros([2, 3, 8, 8], 'i32'), w, undefined), /conv2d: expected x of dtype f32/],
      [() => conv2dBackward(rt, rt.zeros([2, 4, 7, 8]), x, w, { padding: 1 }), /conv2d_backward: expected dy of shape \[2, 4, 8, 8\]/],
      [() => conv2dBackward(rt, dy, x, rt.zeros([4, 5, 3, 3]), { padding: 1 }), /conv2d_backward: expected weight of shape/],
      [() => conv2dBackward(rt, dy, x, w, { padding: 1 }, { w: true }, { dw: rt.zeros([4, 3, 3, 2]) }), /conv2d_backward: expected accumulate.dw of shape \[4, 3, 3, 3\]/],
      [() => conv2dBackward(rt, dy, x, w, { padding: 1 }, { b: true }, { db: rt.zeros([3]) }), /conv2d_backward: expected accumulate.db of shape \[4\]/],
      [() => conv2d(rt, x, rt.zeros([4, 3, 3, 17]), undefined, { padding: [1, 8], kernel: 'fast' }), /conv2d: expected kernel 'fast' to apply/],
    ];
    for (const [f, re] of cases) {
      expect(f).toThrow(OpInputError);
      expect(f).toThrow(re);
    }
    const disposed = rt.zeros([2, 3, 8, 8]);
    disposed.dispose();
    expect(() => conv2d(rt, disposed, w, undefined)).toThrow(OpInputError);
    expect(rt.stats().dispatches).toBe(before);
  });

  it('NaN inputs propagate and never hang', async () => {
    for (const kernel of ['direct', 'fast'] as const) {
      if (kernel === 'fast' && !fastAvailable) continue;
      const g = geom([1, 2, 5, 6, 3, 3, 3, 1, 1, 1, 1]);
      const x = new Float32Array(g.n * g.c * g.h * g.w).fill(0.5);
      x[2 * g.w + 3] = Number.NaN; // channel 0, row 2, column 3
      const w = new Float32Array(g.o * g.c * 9).fill(0.25);
      const dy = new Float32Array(g.n * g.o * g.h * g.w).fill(1);
      const tx = rt.upload(x, [1, 2, 5, 6]);
      const tw = rt.upload(w, [3, 2, 3, 3]);
      const y = conv2d(rt, tx, tw, undefined, optsOf(g, kernel));
      const gr = conv2dBackward(rt, rt.upload(dy, [1, 3, 5, 6]), tx, tw, optsOf(g, kernel));
      const [yh, dx, dw] = await rt.readMany([y, gr.dx!, gr.dw!]);
      // Outputs whose 3x3 window covers (2, 3) are NaN; the one at (0, 0) is not.
      expect(Number.isNaN(yh![2 * 6 + 3]), `${kernel} y at the NaN`).toBe(true);
      expect(Number.isNaN(yh![0]), `${kernel} y far from the NaN`).toBe(false);
      // Every weight of channel 0 saw the NaN in some window; dx stays finite (dy and w are).
      expect(Number.isNaN(dw![0]), `${kernel} dw`).toBe(true);
      expect(Array.from(dx!).every(Number.isFinite), `${kernel} dx finite`).toBe(true);
      // NaN in the weights reaches every output.
      const wn = w.slice();
      wn[4] = Number.NaN;
      const y2 = await rt.read(conv2d(rt, tx, rt.upload(wn, [3, 2, 3, 3]), undefined, optsOf(g, kernel)));
      expect(Number.isNaN(y2[7]), `${kernel} y with a NaN weight`).toBe(true);
    }
  });

  for (const name of ['conv2d_dev_0.json', 'conv2d_dev_1.json', 'conv2d_dev_2.json', 'conv2d_dev_3.json']) {
    it(`golden ${name}`, async () => {
      const path = join(goldenDir, name);
      expect(existsSync(path), `missing golden case ${path}`).toBe(true);
      const r = await runCase(rt, loadCase(path), { conv2d: conv2dGolden });
      expect(r.ok, r.message).toBe(true);
    });
  }
});
