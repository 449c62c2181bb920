import { OpInputError, Rng, Runtime } from '@crnn/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asF32, assertClose, dot, finiteDiff, randomArray } from '../testing.js';
import { linear, linearBackward, matmul } from './matmul.js';
import { linearBackwardRef, linearRef, matmulRef } from './matmul.ref.js';

let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt.destroy());

const TOL = { rtol: 1e-4, atol: 1e-4 };

describe('matmul', () => {
  it('matches the reference over shapes and transposes, batched and broadcast', async () => {
    const rng = new Rng(10);
    for (const [m, n, k] of [[1, 1, 1], [3, 5, 7], [17, 33, 9], [64, 64, 64], [5, 130, 257]]) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          for (const batch of [0, 3]) {
            const nb = Math.max(batch, 1);
            const a = asF32(randomArray(rng, nb * m * k));
            const b = asF32(randomArray(rng, nb * k * n));
            const sa = transA ? [k, m] : [m, k];
            const sb = transB ? [n, k] : [k, n];
            const ta = rt.upload(a, batch ? [batch, ...sa] : sa);
            const tb = rt.upload(b, batch ? [batch, ...sb] : sb);
            const got = await rt.read(matmul(rt, ta, tb, { transA, transB }));
            const want = new Float64Array(nb * m * n);
            for (let i = 0; i < nb; i++) {
              want.set(matmulRef(a.subarray(i * m * k, (i + 1) * m * k), b.subarray(i * k * n, (i + 1) * k * n), m, n, k, transA, transB), i * m * n);
            }
            assertClose(got, want, TOL, `matmul m${m} n${n} k${k} tA${transA} tB${transB} batch${batch}`);
            ta.dispose();
            tb.dispose();
          }
        }
      }
    }
  });

  it('broadcasts a rank-2 operand over a batch and accumulates', async () => {
    const rng = new Rng(11);
    const [batch, m, n, k] = [4, 3, 5, 6];
    const a = asF32(randomArray(rng, batch * m * k));
    const b = asF32(randomArray(rng, k * n));
    const acc = rt.upload(new Float32Array(batch * m * n).fill(1), [batch, m, n]);
    matmul(rt, rt.upload(a, [batch, m, k]), rt.upload(b, [k, n]), { accumulate: acc });
    const want = new Float64Array(batch * m * n);
    for (let i = 0; i < batch; i++) want.set(matmulRef(a.subarray(i * m * k), b, m, n, k).map((v) => v + 1), i * m * n);
    assertClose(await rt.read(acc), want, TOL, 'broadcast+accumulate');
  });

  it('rejects mismatched shapes before dispatch', () => {
    const a = rt.zeros([3, 4]);
    expect(() => matmul(rt, a, rt.zeros([5, 2]))).toThrow(OpInputError);
    expect(() => matmul(rt, a, rt.zeros([5, 2]))).toThrow(/matmul: expected inner dimensions to agree/);
    expect(() => matmul(rt, rt.zeros([4]), a)).toThrow(/matmul: expected a of rank 2 or 3/);
    expect(() => matmul(rt, rt.zeros([2, 3, 4]), rt.zeros([3, 4, 2]))).toThrow(/equal batch sizes/);
  });
});

describe('linear', () => {
  it('forward and backward match the reference and finite differences', async () => {
    const rng = new Rng(12);
    for (const [lead, inF, out] of [[[4, 3], 6, 5], [[1], 1, 1], [[7], 33, 17]] as [number[], number, number][]) {
      const rows = lead.reduce((p, q) => p * q, 1);
      const x = asF32(randomArray(rng, rows * inF));
      const w = asF32(randomArray(rng, out * inF));
      const b = asF32(randomArray(rng, out));
      const dy = asF32(randomArray(rng, rows * out));
      const [tx, tw, tb, tdy] = [rt.upload(x, [...lead, inF]), rt.upload(w, [out, inF]), rt.upload(b, [out]), rt.upload(dy, [...lead, out])];
      const ty = linear(rt, tx, tw, tb);
      expect(ty.shape).toEqual([...lead, out]);
      const g = linearBackward(rt, tdy, tx, tw);
      const [y, dx, dw, db] = await rt.readMany([ty, g.dx!, g.dw!, g.db!]);
      assertClose(y!, linearRef(x, w, b, rows, inF, out), TOL, 'linear y');
      const ref = linearBackwardRef(dy, x, w, rows, inF, out);
      assertClose(dx!, ref.dx, TOL, 'dx');
      assertClose(dw!, ref.dw, TOL, 'dw');
      assertClose(db!, ref.db, TOL, 'db');
      // The reference's backward against finite differences of its forward.
      const fdx = finiteDiff((xx) => dot(linearRef(xx, w, b, rows, inF, out), dy), Float64Array.from(x));
      const fdw = finiteDiff((ww) => dot(linearRef(x, ww, b, rows, inF, out), dy), Float64Array.from(w));
      assertClose(ref.dx, fdx, { rtol: 1e-6, atol: 1e-7 }, 'ref dx vs fd');
      assertClose(ref.dw, fdw, { rtol: 1e-6, atol: 1e-7 }, 'ref dw vs fd');
      assertClose(dx!, fdx, { rtol: 1e-3, atol: 1e-4 }, 'gpu dx vs fd');
    }
  });

  it('rejects a weight that does not fit x', () => {
    expect(() => linear(rt, rt.zeros([2, 5]), rt.zeros([3, 4]))).toThrow(/linear: expected x of shape \[\.\.\., 4\]/);
  });
});
