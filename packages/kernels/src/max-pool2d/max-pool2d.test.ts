import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { OpInputError, Rng, Runtime } from '@crnn/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCase, runCase } from '../golden/golden.js';
import { asF32, assertClose, dot, finiteDiff, randomArray } from '../testing.js';
import { maxPool2dGolden } from './max-pool2d.golden.js';
import { backwardVariant, forwardVariant, maxPool2d, maxPool2dBackward, maxPool2dValues, poolGeometry, type MaxPool2dOptions } from './max-pool2d.js';
import { maxPool2dBackwardRef, maxPool2dRef } from './max-pool2d.ref.js';

let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt.destroy());

const TOL = { rtol: 1e-6, atol: 1e-7 };
const goldenDir = process.env.GOLDEN_DIR ?? resolve(import.meta.dirname, '../../../../../shared/golden');

type Case = [number[], MaxPool2dOptions];
const CASES: Case[] = [
  [[2, 3, 8, 10], { kernel: 2 }],
  [[1, 2, 7, 9], { kernel: 2, stride: 2 }], // odd sizes: floor mode drops the last row/column
  [[2, 2, 8, 5], { kernel: [2, 1], stride: [2, 1] }],
  [[1, 3, 9, 12], { kernel: 3 }],
  [[2, 2, 7, 7], { kernel: 3, stride: 2 }], // overlapping windows
  [[1, 2, 6, 7], { kernel: 3, stride: 1, padding: 1 }], // overlapping and padded
  [[1, 1, 5, 6], { kernel: [3, 2], stride: [1, 2], padding: [1, 1] }],
  [[2, 4, 4, 25], { kernel: 2, stride: [2, 1], padding: [0, 1] }], // CRNN's (2,2)/(2,1)/(0,1)
  [[1, 2, 9, 11], { kernel: 2, stride: 3, padding: 1 }], // gaps between windows, padded
  [[2, 1, 8, 7], { kernel: 2, stride: [3, 2], padding: [1, 0] }],
  [[1, 2, 5, 13], { kernel: [1, 3], stride: [2, 3] }], // remainder rows and columns in no window
  [[1, 1, 1, 1], { kernel: 1 }],
  [[3, 1, 2, 2], { kernel: 2 }],
  [[2, 8, 32, 100], { kernel: 2 }],
  // The vec4 backward kernels (see backwardVariant) with three-row windows.
  [[1, 2, 9, 8], { kernel: [3, 1], stride: [3, 1] }], // columns4, KH 3
  [[2, 2, 6, 12], { kernel: [3, 2], stride: [3, 2] }], // pairs4, KH 3
  // The specialised forward kernels (see forwardVariant), with row padding and odd heights.
  [[2, 2, 7, 6], { kernel: [3, 2], stride: [2, 2], padding: [1, 0] }], // pairs
  [[1, 2, 5, 14], { kernel: 2, stride: [1, 2] }], // rows, 2x2 windows, overlapping rows
  [[2, 2, 8, 12], { kernel: [2, 1] }], // columns4 (CRNN's (2, 1) pool)
  [[1, 3, 7, 8], { kernel: [3, 1], stride: [2, 1], padding: [1, 0] }], // columns4, padded rows
  [[1, 2, 4, 10], { kernel: [2, 1] }], // width not divisible by 4: rows
  [[2, 3, 8, 25], { kernel: [2, 1], stride: [2, 1] }], // rows (CRNN's (2, 1) pool at W = 25)
  [[1, 2, 7, 9], { kernel: [3, 1], stride: [2, 1] }], // rows, KH 3, odd height: last row in no window
  [[2, 1, 5, 3], { kernel: [2, 1], stride: [1, 1] }], // rows, overlapping windows
  // rows with 512+ output rows: on a software adapter one invocation per whole output row.
  [[2, 64, 8, 25], { kernel: [2, 1] }],
  [[2, 32, 16, 50], { kernel: 2 }],
  [[1, 128, 9, 11], { kernel: 3, stride: 2 }], // 512 rows of 5, overlapping 3x3 windows
  [[1, 2, 6, 7], { kernel: [2, 1], stride: [2, 1], padding: [1, 0] }], // row padding: generic
  // rows2 / rows4: windows 2 wide on stride 2 over an even width / a width divisible by 4.
  [[1, 2, 7, 8], { kernel: [3, 2], stride: 2 }], // rows4, KH 3, odd height
  [[2, 1, 5, 12], { kernel: 2, stride: [1, 2] }], // rows4, overlapping rows, a last block of 2 columns
  [[1, 64, 16, 20], { kernel: 2 }], // rows4, whole rows
  [[1, 2, 9, 6], { kernel: [3, 2], stride: [2, 2] }], // rows2, KH 3
];


async function runBoth(x: Float64Array, shape: number[], opts: MaxPool2dOptions, dy: Float64Array) {
  const tx = rt.upload(x, shape);
  const { y, argmax } = maxPool2d(rt, tx, opts);
  const tdy = rt.upload(dy, y.shape);
  // Leave a NaN-filled buffer of dx's size in the pool, so that a dx element the kernel
  // forgets to write shows up instead of reading as a fresh buffer's zero.
  rt.upload(new Float32Array(x.length).fill(NaN), shape).dispose();
  const tdx = maxPool2dBackward(rt, tdy, argmax, shape, opts);
  // The inference forward (no argmax) through the same kernel variant.
  const yv = maxPool2dValues(rt, tx, opts);
  const [hy, ha, hdx, hyv] = await rt.readMany([y, argmax, tdx, yv]);
  for (const t of [tx, y, argmax, tdy, tdx, yv]) t.dispose();
  return { y: hy!, argmax: ha!, dx: hdx!, values: hyv! };
}

describe('max_pool2d', () => {
  it('forward, argmax and backward match the float64 reference over shapes and attributes', async () => {
    const rng = new Rng(21);
    for (const [shape, opts] of CASES) {
      const g = poolGeometry('test', shape, opts);
      const x = asF32(randomArray(rng, shape.reduce((a, b) => a * b, 1), -3, 3));
      const dy = asF32(randomArray(rng, g.n * g.c * g.ho * g.wo));
      const got = await runBoth(x, shape, opts, dy);
      const ref = maxPool2dRef(x, g);
      const label = `[${shape}] ${JSON.stringify(opts)}`;
      assertClose(got.y, ref.y, TOL, `y ${label}`);
      // Same kernel without the argmax stores: the same bits.
      assertClose(got.values, got.y, { rtol: 0, atol: 0 }, `maxPool2dValues ${label}`);
      assertClose(got.argmax, ref.argmax, { rtol: 0, atol: 0 }, `argmax ${label}`);
      assertClose(got.dx, maxPool2dBackwardRef(dy, ref.argmax, g), TOL, `dx ${label}`);
    }
  });

  it('covers each forward kernel variant', () => {
    const seen = new Set(CASES.map(([shape, opts]) => forwardVariant(poolGeometry('test', shape, opts))));
    expect([...seen].sort()).toEqual(['columns4', 'generic', 'pairs', 'rows', 'rows2', 'rows4']);
  });

  it('covers each backward kernel variant', () => {
    const seen = new Set(CASES.map(([shape, opts]) => backwardVariant(poolGeometry('test', shape, opts))));
    expect([...seen].sort()).toEqual(['cells', 'columns4', 'gather', 'pairs4']);
  });

  it('rows: output rows past the per-dimension workgroup limit fold into z', async () => {
    // 600,000 output rows of one column: 75,000 row groups of 8, more than 65,535.
    const shape = [1, 600_000, 2, 1];
    const opts: MaxPool2dOptions = { kernel: [2, 1] };
    const g = poolGeometry('test', shape, opts);
    expect(forwardVariant(g)).toBe('rows');
    const x = asF32(randomArray(new Rng(5), 1_200_000, -3, 3));
    const tx = rt.upload(x, shape);
    const { y, argmax } = maxPool2d(rt, tx, opts);
    const [hy, ha] = await rt.readMany([y, argmax]);
    for (const t of [tx, y, argmax]) t.dispose();
    const ref = maxPool2dRef(x, g);
    assertClose(hy!, ref.y, TOL, 'y, folded rows');
    assertClose(ha!, ref.argmax, { rtol: 0, atol: 0 }, 'argmax, folded rows');
  });

  it('output shape follows floor mode', () => {
    const x = rt.zeros([1, 1, 7, 9]);
    const { y, argmax } = maxPool2d(rt, x, { kernel: 2 });
    expect(y.shape).toEqual([1, 1, 3, 4]);
    expect(argmax.shape).toEqual([1, 1, 3, 4]);
    expect(argmax.dtype).toBe('i32');
    const p = maxPool2d(rt, x, { kernel: 3, stride: 2, padding: 1 });
    expect(p.y.shape).toEqual([1, 1, 4, 5]);
    for (const t of [x, y, argmax, p.y, p.argmax]) t.dispose();
  });

  it('breaks ties like PyTorch (first in the window) and sums overlapping gradients', async () => {
    const rng = new Rng(22);
    for (const [shape, opts] of [
      [[1, 2, 6, 6], { kernel: 3, stride: 1, padding: 1 }],
      [[2, 1, 5, 8], { kernel: 2, stride: 1 }],
      [[1, 1, 4, 4], { kernel: 2 }],
      [[1, 2, 7, 7], { kernel: 3, stride: 3, padding: 1 }],
      [[1, 2, 6, 8], { kernel: [2, 1] }],
      [[1, 2, 6, 8], { kernel: [3, 2], stride: [1, 2] }],
    ] as Case[]) {
      const g = poolGeometry('test', shape, opts);
      const n = shape.reduce((a, b) => a * b, 1);
      // Few distinct values: many ties inside windows.
      for (const x of [new Float64Array(n).fill(0.5), Float64Array.from({ length: n }, () => Math.floor(rng.uniform(0, 3)))]) {
        const dy = asF32(randomArray(rng, g.n * g.c * g.ho * g.wo));
        const got = await runBoth(x, shape, opts, dy);
        const ref = maxPool2dRef(x, g);
        assertClose(got.argmax, ref.argmax, { rtol: 0, atol: 0 }, `tie argmax [${shape}]`);
        assertClose(got.y, ref.y, TOL, `tie y [${shape}]`);
        assertClose(got.dx, maxPool2dBackwardRef(dy, ref.argmax, g), { rtol: 1e-6, atol: 1e-6 }, `tie dx [${shape}]`);
      }
    }
  });

  it('backward matches finite differences (reference and GPU)', async () => {
    const rng = new Rng(23);
    for (const [shape, opts] of [
      [[1, 2, 4, 5], { kernel: 2 }],
      [[1, 1, 5, 5], { kernel: 3, stride: 1, padding: 1 }],
      [[2, 1, 4, 3], { kernel: [2, 1], stride: [2, 1] }],
    ] as Case[]) {
      const g = poolGeometry('test', shape, opts);
      const n = shape.reduce((a, b) => a * b, 1);
      // Distinct values at least 1e-3 apart, far beyond the finite-difference step.
      const perm = Array.from({ length: n }, (_, i) => i);
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(rng.uniform(0, i + 1));
        [perm[i], perm[j]] = [perm[j]!, perm[i]!];
      }
      const x = asF32(perm.map((v) => v * 0.01 - 0.3));
      const dy = asF32(randomArray(rng, g.n * g.c * g.ho * g.wo));
      const fd = finiteDiff((xx) => dot(maxPool2dRef(xx, g).y, dy), Float64Array.from(x));
      const ref = maxPool2dRef(x, g);
      assertClose(maxPool2dBackwardRef(dy, ref.argmax, g), fd, { rtol: 1e-6, atol: 1e-7 }, `ref dx vs fd [${shape}]`);
      const got = await runBoth(x, shape, opts, dy);
      assertClose(got.dx, fd, { rtol: 1e-4, atol: 1e-5 }, `gpu dx vs fd [${shape}]`);
    }
  });

  it('propagates NaN (the last NaN of a window wins) and handles -inf, without hanging', async () => {
    const shape = [1, 1, 4, 4];
    const x = Float64Array.from({ length: 16 }, (_, i) => i * 0.1);
    x[0] = NaN; // window (0,0): NaN at its first element
    x[6] = NaN; // window (0,1): two NaNs, the last (index 7) wins
    x[7] = NaN;
    for (const i of [8, 9, 12, 13]) x[i] = -Infinity; // window (1,0): all -inf
    const dy = Float64Array.from([1, 2, 3, 4]);
    const got = await runBoth(x, shape, { kernel: 2 }, dy);
    const g = poolGeometry('test', shape, { kernel: 2 });
    const ref = maxPool2dRef(x, g);
    expect(Number.isNaN(got.y[0]!)).toBe(true);
    expect(Number.isNaN(got.y[1]!)).toBe(true);
    expect(got.y[2]).toBe(-Infinity);
    assertClose(got.argmax, ref.argmax, { rtol: 0, atol: 0 }, 'NaN argmax');
    expect(Array.from(got.argmax)).toEqual([0, 7, 8, 15]);
    assertClose(got.dx, maxPool2dBackwardRef(dy, ref.argmax, g), TOL, 'NaN dx');
    // The same input through the (2, 1) pool (columns4 kernel): rows 0-1 and 2-3 per column.
    const g21 = poolGeometry('test', shape, { kernel: [2, 1] });
    expect(forwardVariant(g21)).toBe('columns4');
    const got21 = await runBoth(x, shape, { kernel: [2, 1] }, Float64Array.from({ length: 8 }, (_, i) => i));
    assertClose(got21.argmax, maxPool2dRef(x, g21).argmax, { rtol: 0, atol: 0 }, 'NaN argmax (2, 1)');
    expect(Array.from(got21.y.slice(0, 4), (v) => Number.isNaN(v))).toEqual([true, false, true, true]);
    // And through the `rows` kernel: the same 16 values as 8 rows of 2, (2, 1) pool.
    const g82 = poolGeometry('test', [1, 1, 8, 2], { kernel: [2, 1] });
    expect(forwardVariant(g82)).toBe('rows');
    const got82 = await runBoth(x, [1, 1, 8, 2], { kernel: [2, 1] }, Float64Array.from({ length: 8 }, (_, i) => i));
    assertClose(got82.argmax, maxPool2dRef(x, g82).argmax, { rtol: 0, atol: 0 }, 'NaN argmax (rows)');
    expect(Array.from(got82.y, (v) => Number.isNaN(v))).toEqual([true, false, true, true, false, false, false, false]);
    // The (2, 2) pool above ran `rows4`; the same 16 values as 8 rows of 2 run `rows2`.
    expect(forwardVariant(g)).toBe('rows4');
    const g82b = poolGeometry('test', [1, 1, 8, 2], { kernel: 2 });
    expect(forwardVariant(g82b)).toBe('rows2');
    const got82b = await runBoth(x, [1, 1, 8, 2], { kernel: 2 }, Float64Array.from({ length: 4 }, (_, i) => i));
    assertClose(got82b.argmax, maxPool2dRef(x, g82b).argmax, { rtol: 0, atol: 0 }, 'NaN argmax (rows2)');
    expect(Array.from(got82b.y, (v) => Number.isNaN(v))).toEqual([true, true, false, false]);
    // The inference forward propagates NaN the same way in each of these kernels.
    for (const r of [got, got21, got82, got82b]) expect(Array.from(r.values, (v) => Number.isNaN(v))).toEqual(Array.from(r.y, (v) => Number.isNaN(v)));
    // A NaN upstream gradient reaches only its argmax position.
    const got2 = await runBoth(Float64Array.from({ length: 16 }, (_, i) => i), shape, { kernel: 2 }, Float64Array.from([NaN, 1, 1, 1]));
    expect(Number.isNaN(got2.dx[5]!)).toBe(true);
    expect(got2.dx.filter((v) => Number.isNaN(v)).length).toBe(1);
  });

  it('rejects hostile inputs before any dispatch', () => {
    const before = rt.stats().dispatches;
    const x = rt.zeros([1, 2, 4, 4]);
    const bad: Array<[() => unknown, RegExp]> = [
      [() => maxPool2d(rt, rt.zeros([2, 4, 4]), { kernel: 2 }), /max_pool2d: expected x of rank 4/],
      [() => maxPool2d(rt, rt.zeros([1, 1, 4, 4], 'i32'), { kernel: 2 }), /max_pool2d: expected x of dtype f32/],
      [() => maxPool2d(rt, rt.zeros([1, 0, 4, 4]), { kernel: 2 }), /max_pool2d: expected x with at least one element/],
      [() => maxPool2d(rt, x, { kernel: 0 }), /max_pool2d: expected kernel of positive integers/],
      [() => maxPool2d(rt, x, { kernel: [2, -1] }), /max_pool2d: expected kernel of positive integers/],
      [() => maxPool2d(rt, x, { kernel: 2, stride: 0 }), /max_pool2d: expected stride of positive integers/],
      [() => maxPool2d(rt, x, { kernel: 1.5 }), /max_pool2d: expected kernel of positive integers/],
      [() => maxPool2d(rt, x, { kernel: 2, padding: -1 }), /max_pool2d: expected padding of non-negative integers/],
      [() => maxPool2d(rt, x, { kernel: 2, padding: 2 }), /max_pool2d: expected padding at most half the kernel/],
      [() => maxPool2d(rt, x, { kernel: 5 }), /max_pool2d: expected a padded input .* at least the kernel/],
      [() => maxPool2d(rt, x, { kernel: [1, 7], padding: [0, 1] }), /max_pool2d: expected a padded input/],
      [() => maxPool2dBackward(rt, rt.zeros([1, 2, 2, 2]), rt.zeros([1, 2, 2, 2], 'i32'), [1, 2, 4], { kernel: 2 }), /max_pool2d_backward: expected inputShape of rank 4/],
      [() => maxPool2dBackward(rt, rt.zeros([1, 2, 2, 2]), rt.zeros([1, 2, 2, 2], 'i32'), [1, 2, 0, 4], { kernel: 2 }), /max_pool2d_backward: expected inputShape dimensions of positive integers/],
      [() => maxPool2dBackward(rt, rt.zeros([1, 2, 2, 3]), rt.zeros([1, 2, 2, 2], 'i32'), [1, 2, 4, 4], { kernel: 2 }), /max_pool2d_backward: expected dy of shape \[1, 2, 2, 2\]/],
      [() => maxPool2dBackward(rt, rt.zeros([1, 2, 2, 2]), rt.zeros([1, 2, 2, 2]), [1, 2, 4, 4], { kernel: 2 }), /max_pool2d_backward: expected argmax of dtype i32/],
      [() => maxPool2dBackward(rt, rt.zeros([1, 2, 2, 2]), rt.zeros([2, 2, 2], 'i32'), [1, 2, 4, 4], { kernel: 2 }), /max_pool2d_backward: expected argmax of shape/],
      [() => maxPool2dBackward(rt, rt.zeros([1, 2, 2, 2], 'i32'), rt.zeros([1, 2, 2, 2], 'i32'), [1, 2, 4, 4], { kernel: 2 }), /max_pool2d_backward: expected dy of dtype f32/],
    ];
    bad.forEach(([f, re], i) => {
      expect(f, `hostile case ${i}`).toThrow(OpInputError);
      expect(f, `hostile case ${i}`).toThrow(re);
    });
    expect(rt.stats().dispatches).toBe(before);
  });

  it('a disposed input is rejected', () => {
    const x = rt.zeros([1, 1, 2, 2]);
    x.dispose();
    expect(() => maxPool2d(rt, x, { kernel: 2 })).toThrow(OpInputError);
  });

  for (const name of ['max_pool2d_dev_0.json', 'max_pool2d_dev_1.json', 'max_pool2d_dev_2.json']) {
    it(`golden ${name}`, async () => {
      const path = join(goldenDir, name);
      expect(existsSync(path), `missing golden case ${path}`).toBe(true);
      const r = await runCase(rt, loadCase(path), { max_pool2d: maxPool2dGolden });
      expect(r.ok, r.message).toBe(true);
    });
  }
});
