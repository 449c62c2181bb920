import { OpInputError, Rng, Runtime } from '@crnn/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adapterView, asF32, assertClose, dot, finiteDiff, randomArray } from '../testing.js';
import { binary, binaryBackward, dropout, dropoutBackward, sumAxes, sumAxesPlan, unary, unaryBackward, type UnaryOp } from './elementwise.js';
import { binaryRef, dropoutMaskRef, sumAxesRef, unaryBackwardRef, unaryRef } from './elementwise.ref.js';

let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt.destroy());

const TOL = { rtol: 1e-5, atol: 1e-6 };
const UNARY: UnaryOp[] = ['relu', 'tanh', 'sigmoid', 'scale'];

describe('unary', () => {
  for (const op of UNARY) {
    it(`${op}: GPU matches the float64 reference over shapes`, async () => {
      const rng = new Rng(1);
      // Sizes not divisible by 4 run unary.wgsl; the others unary-vec4.wgsl, with partial last
      // invocations (264 = 66 vec4s = 16.5 invocations of 4).
      for (const shape of [[1], [7], [3, 5], [2, 3, 17], [4, 4], [8, 33], [1000, 3]]) {
        const n = shape.reduce((a, b) => a * b, 1);
        const x = asF32(randomArray(rng, n, -6, 6));
        const dy = asF32(randomArray(rng, n));
        const tx = rt.upload(x, shape);
        const ty = unary(rt, op, tx, 0.7);
        const tdy = rt.upload(dy, shape);
        const tdx = unaryBackward(rt, op, tdy, ty, 0.7);
        const [y, dx] = await rt.readMany([ty, tdx]);
        const yRef = unaryRef(op, x, 0.7);
        assertClose(y!, yRef, TOL, `${op} y ${shape}`);
        assertClose(dx!, unaryBackwardRef(op, dy, y!, 0.7), TOL, `${op} dx ${shape}`);
        for (const t of [tx, ty, tdy, tdx]) t.dispose();
      }
    });

    it(`${op}: backward matches finite differences`, async () => {
      const rng = new Rng(2);
      // Keep relu's inputs away from its kink at 0.
      const x = Float64Array.from(randomArray(rng, 9, -2, 2), (v) => (Math.abs(v) < 0.1 ? v + 0.3 : v));
      const w = randomArray(rng, 9);
      const fd = finiteDiff((xx) => dot(unaryRef(op, xx, 0.7), w), x);
      const y = unaryRef(op, x, 0.7);
      assertClose(unaryBackwardRef(op, w, y, 0.7), fd, { rtol: 1e-6, atol: 1e-7 }, `${op} ref vs fd`);
      const ty = rt.upload(y, [9]);
      const tw = rt.upload(w, [9]);
      const tdx = unaryBackward(rt, op, tw, ty, 0.7);
      assertClose(await rt.read(tdx), fd, { rtol: 1e-4, atol: 1e-5 }, `${op} gpu vs fd`);
    });
  }

  it('propagates NaN', async () => {
    for (const op of UNARY) {
      for (const n of [2, 8]) {
        const x = new Float32Array(n).fill(1);
        x[n - 1] = NaN;
        const y = await rt.read(unary(rt, op, rt.upload(x, [n])));
        expect(Number.isNaN(y[n - 1]), `${op}(NaN), n=${n}`).toBe(true);
        expect(Number.isNaN(y[0]), `${op}(1), n=${n}`).toBe(false);
      }
    }
  });

  it('tanh at the edges: infinities, large and tiny values, signed zeros (scalar and vec4 kernels)', async () => {
    const edge = [-Infinity, -20, -9, -1e-4, -1e-30, -0, 0, 1e-30, 1e-7, 1e-4, 0.5, 9, 20, Infinity, 3.5, -3.5];
    for (const n of [15, 16]) {
      const x = Float32Array.from(edge.slice(0, n));
      const y = await rt.read(unary(rt, 'tanh', rt.upload(x, [n])));
      assertClose(y, Float64Array.from(x, Math.tanh), { rtol: 1e-5, atol: 1e-6 }, `tanh edges n=${n}`);
      expect(Object.is(y[5], -0), `tanh(-0) keeps the sign, n=${n}`).toBe(true);
      expect(Object.is(y[6], 0), `tanh(+0), n=${n}`).toBe(true);
      expect([y[0], y[13]], `tanh(-inf), tanh(inf), n=${n}`).toEqual([-1, 1]);
    }
  });
});

describe('binary', () => {
  it('add, mul, sub with full and trailing-broadcast operands, forward and backward', async () => {
    const rng = new Rng(3);
    for (const op of ['add', 'mul', 'sub'] as const) {
      for (const [sa, sb] of [
        [[4, 5], [4, 5]],
        [[4, 5], [5]],
        [[2, 3, 4], [3, 4]],
        [[1000], [1000]],
        [[6, 8], [8]],
        [[3, 3], [3, 3]],
        [[5, 7, 12], [7, 12]],
      ] as const) {
        const na = sa.reduce((a, b) => a * b, 1);
        const nb = sb.reduce((a, b) => a * b, 1);
        const a = asF32(randomArray(rng, na));
        const b = asF32(randomArray(rng, nb));
        const dc = asF32(randomArray(rng, na));
        const [ta, tb, tdc] = [rt.upload(a, sa), rt.upload(b, sb), rt.upload(dc, sa)];
        const tc = binary(rt, op, ta, tb);
        const { da, db } = binaryBackward(rt, op, tdc, ta, tb);
        const [c, gda, gdb] = await rt.readMany([tc, da!, db!]);
        assertClose(c!, binaryRef(op, a, b), TOL, `${op} ${sa}|${sb}`);
        const fa = finiteDiff((x) => dot(binaryRef(op, x, b), dc), Float64Array.from(a));
        const fb = finiteDiff((x) => dot(binaryRef(op, a, x), dc), Float64Array.from(b));
        assertClose(gda!, fa, { rtol: 1e-4, atol: 1e-5 }, `${op} da`);
        assertClose(gdb!, fb, { rtol: 1e-4, atol: 1e-4 }, `${op} db`);
      }
    }
  });

  it('rejects operands that do not broadcast', () => {
    const a = rt.zeros([4, 5]);
    expect(() => binary(rt, 'add', a, rt.zeros([4]))).toThrow(OpInputError);
    expect(() => binary(rt, 'add', a, rt.zeros([4]))).toThrow(/add: expected b of shape \[4, 5\] or a suffix/);
  });
});

describe('sum_axes', () => {
  it('matches the reference and accumulates, in one pass and split', async () => {
    const rng = new Rng(4);
    // [16384, 100, 1]: add's bias gradient in the bench; [8, 64, 3200]: the first conv's db.
    const shapes: [number, number, number][] = [[1, 1, 1], [3, 4, 5], [8, 64, 200], [1, 7, 1000], [500, 3, 1], [1000, 3, 7], [16384, 100, 1], [8, 64, 3200], [257, 65, 1], [0, 3, 2]];
    for (const dims of shapes) {
      const n = dims[0] * dims[1] * dims[2];
      const x = asF32(randomArray(rng, n));
      const tx = rt.upload(x, [n]);
      const want = sumAxesRef(x, dims);
      for (const variant of ['single', 'split', 'auto'] as const) {
        // Sums of up to 1.6 M terms in float32: the tolerance grows with the count's root.
        const tol = { rtol: 1e-4, atol: 1e-5 * Math.sqrt(dims[0] * dims[2]) + 1e-4 };
        assertClose(await rt.read(sumAxes(rt, tx, dims, undefined, variant)), want, tol, `sum ${dims} ${variant}`);
        const acc = rt.upload(new Float32Array(dims[1]).fill(1), [dims[1]]);
        sumAxes(rt, tx, dims, acc, variant);
        assertClose(await rt.read(acc), want.map((v) => v + 1), tol, `acc ${dims} ${variant}`);
        acc.dispose();
      }
      tx.dispose();
    }
    expect(() => sumAxes(rt, rt.zeros([10]), [3, 3, 1])).toThrow(/sum_axes/);
    expect(() => sumAxes(rt, rt.zeros([9]), [3, 3, 1], undefined, 'tree' as never)).toThrow(/sum_axes: expected variant 'auto', 'single' or 'split'/);
  });

  it("'auto' splits on GPUs from 2048 terms per output, never on software adapters", () => {
    for (const sw of [true, false]) {
      const r = adapterView(rt, sw);
      expect(sumAxesPlan(r, [16384, 100, 1], 'auto'), `isSoftware ${sw}`).toEqual(sw ? null : { chunkA: 64, chunks: 256 });
      expect(sumAxesPlan(r, [8, 64, 3200], 'auto'), `isSoftware ${sw}`).toEqual(sw ? null : { chunkA: 1, chunks: 8 });
      expect(sumAxesPlan(r, [2047, 100, 1], 'auto'), `isSoftware ${sw}`).toBeNull();
      // Forced, the split runs anywhere it has two chunks or more.
      expect(sumAxesPlan(r, [1000, 3, 7], 'split')).toEqual({ chunkA: 36, chunks: 28 });
      expect(sumAxesPlan(r, [64, 3, 1], 'split')).toBeNull();
    }
  });
});

describe('dropout', () => {
  it('draws the seeded mask of the reference, scales kept values, and repeats it in backward', async () => {
    const n = 10_000;
    const x = rt.upload(new Float32Array(n).fill(2), [n]);
    const y = await rt.read(dropout(rt, x, 0.25, 1234));
    const mask = dropoutMaskRef(n, 0.25, 1234);
    let kept = 0;
    for (let i = 0; i < n; i++) {
      const want = mask[i] ? 2 / 0.75 : 0;
      if (Math.abs(y[i]! - want) > 1e-6) throw new Error(`index ${i}: got ${y[i]}, want ${want}`);
      if (mask[i]) kept++;
    }
    expect(Math.abs(kept / n - 0.75)).toBeLessThan(0.02);
    const dx = await rt.read(dropoutBackward(rt, x, 0.25, 1234));
    expect(Array.from(dx)).toEqual(Array.from(y));
    const other = await rt.read(dropout(rt, x, 0.25, 99));
    expect(Array.from(other)).not.toEqual(Array.from(y));
    expect(() => dropout(rt, x, 1, 0)).toThrow(/dropout: expected p in \[0, 1\)/);
  });
});
