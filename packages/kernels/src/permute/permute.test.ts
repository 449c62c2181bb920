import { OpInputError, Rng, Runtime } from '@crnn/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asF32, assertClose, randomArray } from '../testing.js';
import { concat, inversePermutation, permute, split } from './permute.js';
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
