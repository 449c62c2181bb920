import { OpInputError, Rng, Runtime } from '@crnn/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asF32, assertClose, randomArray } from '../testing.js';
import { concat, inversePermutation, permute, permutePath, reducePermutation, split } from './permute.js';
import { concatRef, permuteRef } from './permute.ref.js';

let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt.destroy());

const EXACT = { rtol: 0, atol: 0 };

describe('permute', () => {
  it('matches the reference for ranks 1..6 and every sample permutation, and inverts', async () => {
    const rng = new Rng(20);
    const cases: Array<[number[], number[]]> = [
      [[7], [0]],
      [[3, 5], [1, 0]],
      [[2, 3, 4], [2, 0, 1]],
      [[2, 3, 4], [1, 2, 0]],
      [[8, 12, 1, 25], [3, 0, 1, 2]], // NCHW feature map -> [W, N, C, H] (the CRNN's sequence)
      [[2, 3, 1, 4, 5], [4, 2, 0, 3, 1]],
      [[2, 1, 3, 2, 2, 3], [5, 4, 3, 2, 1, 0]],
    ];
    for (const [shape, perm] of cases) {
      const n = shape.reduce((a, b) => a * b, 1);
      const x = asF32(randomArray(rng, n));
      const tx = rt.upload(x, shape);
      const ty = permute(rt, tx, perm);
      expect(ty.shape).toEqual(perm.map((p) => shape[p]));
      const back = permute(rt, ty, inversePermutation(perm));
      const [y, b] = await rt.readMany([ty, back]);
      assertClose(y!, permuteRef(x, shape, perm), EXACT, `permute ${shape} by ${perm}`);
      assertClose(b!, x, EXACT, `inverse ${shape}`);
    }
  });

  it('reduces permutations (size-1 axes dropped, axes that stay together merged) and picks the kernel', () => {
    expect(reducePermutation([8, 512, 1, 24], [3, 0, 1, 2])).toEqual({ shape: [4096, 24], perm: [1, 0] });
    expect(reducePermutation([24, 8, 512], [1, 2, 0])).toEqual({ shape: [24, 4096], perm: [1, 0] });
    expect(reducePermutation([8, 512, 24], [0, 2, 1])).toEqual({ shape: [8, 512, 24], perm: [0, 2, 1] });
    expect(reducePermutation([2, 1, 3], [1, 0, 2])).toEqual({ shape: [6], perm: [0] });
    expect(reducePermutation([2, 3, 1, 4, 5], [4, 2, 0, 3, 1])).toEqual({ shape: [2, 3, 4, 5], perm: [3, 0, 2, 1] });
    expect(reducePermutation([1, 1], [1, 0])).toEqual({ shape: [], perm: [] });
    expect(permutePath(rt, [2, 1, 3], [1, 0, 2])).toBe('copy');
    expect(permutePath(rt, [8, 512, 1, 24], [3, 0, 1, 2])).toBe('transpose4');
    expect(permutePath(rt, [8, 512, 24], [0, 2, 1])).toBe('transpose4');
    expect(permutePath(rt, [8, 12, 1, 25], [3, 0, 1, 2])).toBe('gather'); // 25 columns
    expect(permutePath(rt, [2, 3, 4], [2, 0, 1])).toBe('gather');
  });

  it('the block transpose and the copy match the reference (f32 with NaN and infinities, i32)', async () => {
    const rng = new Rng(23);
    const cases: Array<[number[], number[]]> = [
      [[8, 512, 24], [0, 2, 1]], // the GEMM form's dy rows
      [[8, 24, 512], [0, 2, 1]], // and back
      [[8, 64, 1, 12], [3, 0, 1, 2]], // the CRNN's sequence, [4096-like, W] transposed
      [[12, 8, 64], [1, 2, 0]], // its backward
      [[4, 1, 8], [1, 0, 2]], // a copy
      [[260, 4], [1, 0]], // R / 4 = 65 rows of blocks: two workgroups along x
      [[4, 260], [1, 0]], // lanes along C: two workgroups along x
      [[3, 8, 520], [0, 2, 1]], // lanes along C, a batch
    ];
    for (const [shape, perm] of cases) {
      const path = permutePath(rt, shape, perm);
      expect(path, `${shape} by ${perm}`).not.toBe('gather');
      const n = shape.reduce((a, b) => a * b, 1);
      const x = asF32(randomArray(rng, n));
      x[1] = Number.NaN;
      x[n - 2] = Number.POSITIVE_INFINITY;
      x[n - 1] = Number.NEGATIVE_INFINITY;
      const tx = rt.upload(x, shape);
      const ty = permute(rt, tx, perm);
      const want = permuteRef(x, shape, perm);
      const got = await rt.read(ty);
      for (let i = 0; i < n; i++) {
        if (!Object.is(got[i], want[i]) && !(Number.isNaN(got[i]!) && Number.isNaN(want[i]!))) {
          throw new Error(`${path} ${shape} by ${perm}: index ${i} got ${got[i]} want ${want[i]}`);
        }
      }
      const xi = Int32Array.from({ length: n }, (_, i) => i * 7 - 1000);
      const ti = rt.upload(xi, shape, 'i32');
      const yi = permute(rt, ti, perm);
      const wantI = permuteRef(Float64Array.from(xi), shape, perm);
      expect(Array.from(await rt.read(yi)), `i32 ${shape} by ${perm}`).toEqual(Array.from(wantI));
      for (const t of [tx, ty, ti, yi]) t.dispose();
    }
  });

  it('moves i32 data and rejects bad permutations', async () => {
    const t = rt.upload([1, 2, 3, 4, 5, 6], [2, 3], 'i32');
    expect(Array.from(await rt.read(permute(rt, t, [1, 0])))).toEqual([1, 4, 2, 5, 3, 6]);
    expect(() => permute(rt, t, [0, 0])).toThrow(OpInputError);
    expect(() => permute(rt, t, [0])).toThrow(/permute: expected a permutation of \[0\.\.1\]/);
  });
});

describe('concat and split', () => {
  it('concatenate along any axis and split back', async () => {
    const rng = new Rng(21);
    for (const axis of [0, 1, 2]) {
      const shapes = [
        [2, 3, 4],
        [2, 3, 4],
        [2, 3, 4],
      ].map((s, i) => s.map((d, k) => (k === axis ? d + i : d)));
      const xs = shapes.map((s) => ({ shape: s, data: asF32(randomArray(rng, s.reduce((a, b) => a * b, 1))) }));
      const ts = xs.map((x) => rt.upload(x.data, x.shape));
      const y = concat(rt, ts, axis);
      const parts = split(rt, y, shapes.map((s) => s[axis]!), axis);
      const [gy, ...gp] = await rt.readMany([y, ...parts]);
      assertClose(gy!, concatRef(xs, axis), EXACT, `concat axis ${axis}`);
      gp.forEach((p, i) => assertClose(p, xs[i]!.data, EXACT, `split ${i} axis ${axis}`));
    }
  });

  it('rejects mismatched shapes and sizes', () => {
    expect(() => concat(rt, [rt.zeros([2, 3]), rt.zeros([3, 3])], 1)).toThrow(/concat: expected xs\[1\] of shape \[2, \*\]/);
    expect(() => concat(rt, [], 0)).toThrow(OpInputError);
    expect(() => split(rt, rt.zeros([2, 5]), [2, 2], 1)).toThrow(/split: expected non-negative sizes summing to 5/);
  });
});
