import { OpInputError, Rng, Runtime } from '@crnn/core';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCase, runCase } from '../golden/golden.js';
import { asF32, assertClose, dot, finiteDiff, randomArray } from '../testing.js';
import { crossEntropy, crossEntropyBackward, type Reduction } from './cross-entropy.js';
import { crossEntropyGolden } from './cross-entropy.golden.js';
import { crossEntropyBackwardRef, crossEntropyRef, type CeDims } from './cross-entropy.ref.js';

let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt.destroy());

const GOLDEN = process.env.GOLDEN_DIR ?? join(import.meta.dirname, '../../../../../shared/golden');
const TOL = { rtol: 1e-4, atol: 1e-5 };
const REDUCTIONS: Reduction[] = ['mean', 'sum', 'none'];

function ceDims(shape: number[], classDim: number): CeDims {
  const d = classDim < 0 ? classDim + shape.length : classDim;
  const prod = (s: number[]) => s.reduce((p, q) => p * q, 1);
  return { outer: prod(shape.slice(0, d)), classes: shape[d]!, inner: prod(shape.slice(d + 1)) };
}

/** Random targets in [0, C), about a quarter replaced by `ignore`. */
function randomTargets(rng: Rng, n: number, classes: number, ignore: number): number[] {
  return Array.from({ length: n }, () => (rng.uniform() < 0.25 ? ignore : rng.int(classes)));
}

describe('cross_entropy', () => {
  it('GPU matches the float64 reference over shapes, class dims, reductions and ignore_index', async () => {
    const rng = new Rng(31);
    const cases: Array<[number[], number, number]> = [
      [[5], 0, -100],
      [[4, 6], 1, -100],
      [[3, 7, 5], 1, -1],
      [[8, 37, 5], 1, -1],
      [[2, 5, 37], -1, 3],
      [[8, 37, 40], 1, -100], // 320 rows: more than one stride of the reduction workgroup
      [[300, 2], 1, -100],
      [[2, 3, 4, 5], 2, -1],
    ];
    for (const [shape, classDim, ignore] of cases) {
      const d = ceDims(shape, classDim);
      const n = shape.reduce((a, b) => a * b, 1);
      const rows = d.outer * d.inner;
      const targetShape = shape.filter((_, i) => i !== (classDim < 0 ? classDim + shape.length : classDim));
      const x = asF32(randomArray(rng, n, -5, 5));
      const t = randomTargets(rng, rows, d.classes, ignore);
      for (const reduction of REDUCTIONS) {
        for (const asTensor of [true, false]) {
          const o = { classDim, ignoreIndex: ignore, reduction };
          const tx = rt.upload(x, shape);
          const tt = asTensor ? rt.upload(t, targetShape, 'i32') : t;
          const loss = crossEntropy(rt, tx, tt, o);
          expect(loss.shape).toEqual(reduction === 'none' ? targetShape : []);
          const up = reduction === 'none' ? asF32(randomArray(rng, rows)) : Float64Array.of(0.7);
          const tup = rt.upload(up, loss.shape);
          const dx = crossEntropyBackward(rt, tup, tx, tt, o);
          const [l, g] = await rt.readMany([loss, dx]);
          const label = `[${shape}] dim ${classDim} ignore ${ignore} ${reduction} ${asTensor ? 'tensor' : 'array'}`;
          assertClose(l!, crossEntropyRef(x, t, d, ignore, reduction), TOL, `loss ${label}`);
          assertClose(g!, crossEntropyBackwardRef(up, x, t, d, ignore, reduction), TOL, `dlogits ${label}`);
          for (const z of [tx, loss, tup, dx]) z.dispose();
          if (typeof tt === 'object' && 'dispose' in tt) tt.dispose();
        }
      }
    }
  });

  it('backward matches finite differences (reference and GPU)', async () => {
    const rng = new Rng(32);
    const shape = [2, 4, 3];
    const d = ceDims(shape, 1);
    const t = [0, -1, 3, 2, 1, -1];
    for (const reduction of REDUCTIONS) {
      const x = randomArray(rng, 24, -2, 2);
      const up = reduction === 'none' ? randomArray(rng, 6) : Float64Array.of(1.3);
      const f = (xx: Float64Array) => dot(crossEntropyRef(xx, t, d, -1, reduction), up);
      const fd = finiteDiff(f, Float64Array.from(x));
      assertClose(crossEntropyBackwardRef(up, x, t, d, -1, reduction), fd, { rtol: 1e-6, atol: 1e-7 }, `ref vs fd ${reduction}`);
      const o = { ignoreIndex: -1, reduction };
      const g = await rt.read(crossEntropyBackward(rt, rt.upload(up, reduction === 'none' ? [2, 3] : []), rt.upload(x, shape), t, o));
      assertClose(g, fd, { rtol: 1e-3, atol: 1e-4 }, `gpu vs fd ${reduction}`);
    }
  });

  it('matches the PyTorch golden case', async () => {
    const r = await runCase(rt, loadCase(join(GOLDEN, 'cross_entropy_dev_0.json')), { cross_entropy: crossEntropyGolden });
    expect(r.ok, r.message).toBe(true);
  });

  it('all-ignored mean is NaN (as in PyTorch) with zero gradient; sum is 0', async () => {
    const x = rt.upload(new Float32Array(12).fill(0.5), [3, 4]);
    const t = [-100, -100, -100];
    const [mean, sum, g] = await rt.readMany([
      crossEntropy(rt, x, t),
      crossEntropy(rt, x, t, { reduction: 'sum' }),
      crossEntropyBackward(rt, rt.upload([1], [1]), x, t),
    ]);
    expect(Number.isNaN(mean![0])).toBe(true);
    expect(sum![0]).toBe(0);
    expect(Array.from(g!)).toEqual(new Array(12).fill(0));
  });

  it('an out-of-range target in a tensor gives NaN loss and a NaN gradient row (documented)', async () => {
    const x = rt.upload(asF32(randomArray(new Rng(33), 12)), [3, 4]);
    const t = rt.upload([1, 7, 2], [3], 'i32');
    const [mean, none, g] = await rt.readMany([
      crossEntropy(rt, x, t),
      crossEntropy(rt, x, t, { reduction: 'none' }),
      crossEntropyBackward(rt, rt.upload([1], []), x, t),
    ]);
    expect(Number.isNaN(mean![0])).toBe(true);
    expect(Number.isFinite(none![0]) && Number.isNaN(none![1]) && Number.isFinite(none![2])).toBe(true);
    for (let c = 0; c < 4; c++) {
      expect(Number.isNaN(g![4 + c])).toBe(true);
      expect(Number.isFinite(g![c]) && Number.isFinite(g![8 + c])).toBe(true);
    }
  });

  it('NaN logits propagate to the loss and the gradient row and never hang', async () => {
    const xs = new Float32Array(8).fill(0.25);
    xs[5] = NaN; // row 1 of [2, 4]
    const x = rt.upload(xs, [2, 4]);
    const [none, mean, g] = await rt.readMany([
      crossEntropy(rt, x, [0, 1], { reduction: 'none' }),
      crossEntropy(rt, x, [0, 1]),
      crossEntropyBackward(rt, rt.upload([1], []), x, [0, 1]),
    ]);
    expect(Number.isFinite(none![0]) && Number.isNaN(none![1])).toBe(true);
    expect(Number.isNaN(mean![0])).toBe(true);
    expect(Array.from(g!.slice(4)).every(Number.isNaN)).toBe(true);
    expect(Array.from(g!.slice(0, 4)).every(Number.isFinite)).toBe(true);
  });

  it('rejects hostile inputs with OpInputError naming the op, before any dispatch', () => {
    const before = rt.stats().dispatches;
    const x = rt.zeros([2, 5, 3]);
    const t = rt.zeros([2, 3], 'i32');
    expect(() => crossEntropy(rt, x, rt.zeros([2, 5], 'i32'))).toThrow(/cross_entropy: expected targets of shape \[2, 3\], found \[2, 5\]/);
    expect(() => crossEntropy(rt, x, rt.zeros([2, 3]))).toThrow(/cross_entropy: expected targets of dtype i32/);
    expect(() => crossEntropy(rt, x, t, { classDim: 3 })).toThrow(/cross_entropy: expected classDim an integer in \[-3, 3\)/);
    expect(() => crossEntropy(rt, rt.zeros([]), [])).toThrow(/cross_entropy: expected logits of rank >= 1/);
    expect(() => crossEntropy(rt, rt.zeros([2, 0]), [0, 0])).toThrow(/cross_entropy: expected logits with at least one element/);
    expect(() => crossEntropy(rt, x, [0, 1, 2, 3, 4])).toThrow(/cross_entropy: expected 6 targets/);
    expect(() => crossEntropy(rt, x, [0, 1, 2, 3, 4, 5])).toThrow(/cross_entropy: expected targets in \[0, 5\) or ignoreIndex -100, found targets\[5\] = 5/);
    expect(() => crossEntropy(rt, x, [0, 1, 2, 3, 4, -1])).toThrow(/found targets\[5\] = -1/);
    expect(() => crossEntropy(rt, x, [0, 1, 2, 3, 4, 0.5])).toThrow(OpInputError);
    expect(() => crossEntropy(rt, x, t, { reduction: 'max' as Reduction })).toThrow(/cross_entropy: expected reduction/);
    expect(() => crossEntropy(rt, x, t, { ignoreIndex: 0.5 })).toThrow(/cross_entropy: expected ignoreIndex an i32 integer/);
    expect(() => crossEntropyBackward(rt, rt.zeros([2]), x, t)).toThrow(/cross_entropy_backward: expected a one-element dloss/);
    expect(() => crossEntropyBackward(rt, rt.zeros([]), x, t, { reduction: 'none' })).toThrow(/cross_entropy_backward: expected dloss of shape \[2, 3\]/);
    expect(() => crossEntropyBackward(rt, rt.zeros([]), x, [9, 0, 0, 0, 0, 0])).toThrow(/cross_entropy_backward: expected targets in/);
    expect(rt.stats().dispatches).toBe(before);
  });
});
