import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { OpInputError, Rng, Runtime } from '@crnn/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCase, runCase } from '../golden/golden.js';
import { asF32, assertClose, dot, finiteDiff, randomArray } from '../testing.js';
import { linearGolden } from './matmul.golden.js';
import { linear, linearBackward, matmul, matmulVariantFor, matmulVariants, type MatmulKernel, type MatmulVariant } from './matmul.js';
import { linearBackwardRef, linearRef, matmulRef } from './matmul.ref.js';

let rt: Runtime;
let variants: MatmulKernel[];
beforeAll(async () => {
  rt = await Runtime.create();
  variants = matmulVariants(rt);
});
afterAll(() => rt.destroy());

const TOL = { rtol: 1e-4, atol: 1e-4 };
const goldenDir = process.env.GOLDEN_DIR ?? resolve(import.meta.dirname, '../../../../../shared/golden');

interface Case {
  m: number;
  n: number;
  k: number;
  transA?: boolean;
  transB?: boolean;
  /** 0: rank-2 operands; else the batch, with A and/or B rank 3. */
  batch?: number;
  /** With a batch: which operands carry it (the other is broadcast). */
  batched?: 'a' | 'b' | 'both';
  bias?: boolean;
  accumulate?: boolean;
}

/**
 * Runs one product on the GPU with the given variant and checks it against the float64
 * reference: C[b] = op(A[b]) op(B[b]) + bias + C0[b].
 */
async function checkCase(rng: Rng, c: Case, variant: MatmulVariant | 'auto', label = ''): Promise<void> {
  const { m, n, k } = c;
  const batch = c.batch ?? 0;
  const nb = Math.max(batch, 1);
  const aBatched = batch > 0 && c.batched !== 'b';
  const bBatched = batch > 0 && c.batched !== 'a';
  const a = asF32(randomArray(rng, (aBatched ? nb : 1) * m * k));
  const b = asF32(randomArray(rng, (bBatched ? nb : 1) * k * n));
  const bias = c.bias ? asF32(randomArray(rng, n)) : null;
  const c0 = c.accumulate ? asF32(randomArray(rng, nb * m * n)) : null;
  const sa = c.transA ? [k, m] : [m, k];
  const sb = c.transB ? [n, k] : [k, n];
  const outShape = batch ? [batch, m, n] : [m, n];
  const ta = rt.upload(a, aBatched ? [nb, ...sa] : sa);
  const tb = rt.upload(b, bBatched ? [nb, ...sb] : sb);
  const tbias = bias ? rt.upload(bias, [n]) : undefined;
  const tacc = c0 ? rt.upload(c0, outShape) : undefined;
  const out = matmul(rt, ta, tb, {
    ...(c.transA ? { transA: true } : {}),
    ...(c.transB ? { transB: true } : {}),
    ...(tbias ? { bias: tbias } : {}),
    ...(tacc ? { accumulate: tacc } : {}),
    variant,
  });
  expect(out.shape).toEqual(outShape);
  const got = await rt.read(out);
  const want = new Float64Array(nb * m * n);
  for (let i = 0; i < nb; i++) {
    const ai = aBatched ? a.subarray(i * m * k, (i + 1) * m * k) : a;
    const bi = bBatched ? b.subarray(i * k * n, (i + 1) * k * n) : b;
    const ci = matmulRef(ai, bi, m, n, k, c.transA, c.transB);
    for (let r = 0; r < m; r++) {
      for (let j = 0; j < n; j++) {
        const o = i * m * n + r * n + j;
        want[o] = ci[r * n + j]! + (bias ? bias[j]! : 0) + (c0 ? c0[o]! : 0);
      }
    }
  }
  assertClose(got, want, TOL, `${variant} ${label}${JSON.stringify(c)}`);
  for (const t of [ta, tb, tbias, tacc ?? out]) t?.dispose();
}

describe('matmul', () => {
  it('matches the reference over shapes and transposes, batched and broadcast', async () => {
    const rng = new Rng(10);
    for (const [m, n, k] of [[1, 1, 1], [3, 5, 7], [17, 33, 9], [64, 64, 64], [5, 130, 257]] as const) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          for (const batch of [0, 3]) await checkCase(rng, { m, n, k, transA, transB, batch, batched: 'both' }, 'auto');
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

  it('every variant matches the reference on edge tiles, transposes, bias, accumulate and batches', async () => {
    const rng = new Rng(13);
    // Sizes off every tile multiple (16 for the software kernels, 64 for tiled), plus exact ones.
    const shapes = [[1, 1, 1], [7, 9, 5], [17, 33, 13], [16, 16, 64], [40, 70, 37], [65, 3, 66]] as const;
    for (const v of variants) {
      let i = 0;
      for (const [m, n, k] of shapes) {
        for (const transA of [false, true]) {
          for (const transB of [false, true]) {
            // Rotate bias / accumulate / batch layouts through the sweep to cover each with
            // every variant without running every combination.
            const mode = i++ % 4;
            await checkCase(rng, {
              m, n, k, transA, transB,
              bias: mode === 1 || mode === 3,
              accumulate: mode === 2 || mode === 3,
              batch: mode === 0 ? 0 : 2,
              batched: mode === 1 ? 'a' : mode === 2 ? 'b' : 'both',
            }, v);
          }
        }
      }
    }
  });

  it('every variant handles long K (and K longer than a uniform window)', async () => {
    const rng = new Rng(14);
    for (const v of variants) {
      // 3000: many k steps; 4100 and 17000: for sw-window, K in slices of 1024 (the last
      // shorter), each adding into C (n = 7: a dispatch whose second window is empty).
      await checkCase(rng, { m: 3, n: 19, k: 3000 }, v);
      await checkCase(rng, { m: 18, n: 7, k: 4100, transA: true, transB: true, bias: true }, v);
      await checkCase(rng, { m: 2, n: 3, k: 17000, transB: true }, v);
    }
  });

  it('sw-window covers each packing path and multi-window products', async () => {
    if (!variants.includes('sw-window')) return; // needs 8-wide subgroups (software adapters)
    const rng = new Rng(15);
    const v: MatmulVariant = 'sw-window';
    // K % 64 == 0 with transB: Bᵀ is a plain copy; K = 512 gives 32 columns a window, so n = 100 spans 4.
    await checkCase(rng, { m: 21, n: 100, k: 512, transB: true, bias: true }, v);
    // Bᵀ packed by transposing; A used in place (K % 4 == 0).
    await checkCase(rng, { m: 33, n: 45, k: 20 }, v);
    // K % 4 != 0: A packed with zero padding; transB packs Bᵀ without transposing.
    await checkCase(rng, { m: 19, n: 23, k: 37, transB: true, accumulate: true }, v);
    // transA: A packed transposed; many windows of 408 columns... here n < window.
    await checkCase(rng, { m: 25, n: 450, k: 37, transA: true }, v);
    // Transposing packs of rows % 4 == 0 take 4x4 blocks (transpose4): A (m = 20) and Bᵀ (n = 44)
    // with K = 37 padded to 40, and a batched A (stride m * k) folded into the rows.
    await checkCase(rng, { m: 20, n: 44, k: 37, transA: true, bias: true }, v);
    await checkCase(rng, { m: 12, n: 16, k: 10, batch: 3, batched: 'a', transA: true }, v);
    // A batched over a shared B: the batch folds into the rows, with and without packing A.
    await checkCase(rng, { m: 9, n: 17, k: 12, batch: 3, batched: 'a', bias: true }, v);
    await checkCase(rng, { m: 9, n: 17, k: 10, batch: 3, batched: 'a', transA: true, accumulate: true }, v);
    // K > 1024 in slices of 1024, each pass adding into C: Bᵀ packed from a column slice of the
    // stored [n, k] B (transB), or from a row slice of [k, n] B (transposing, 4x4 blocks for
    // n % 4 == 0 and by elements otherwise); A in place, packed (K % 4 != 0) and transposed;
    // bias in the first pass only, accumulate into the caller's C.
    await checkCase(rng, { m: 30, n: 40, k: 2048, transB: true, bias: true }, v);
    await checkCase(rng, { m: 26, n: 36, k: 2500, accumulate: true }, v);
    await checkCase(rng, { m: 7, n: 19, k: 1030, transA: true, bias: true }, v);
    await checkCase(rng, { m: 5, n: 33, k: 1111, batch: 2, batched: 'a', transB: true, accumulate: true }, v);
    // B of batch 1, and batched B (runs as sw-direct).
    await checkCase(rng, { m: 5, n: 6, k: 8, batch: 1, batched: 'both' }, v);
    await checkCase(rng, { m: 5, n: 6, k: 8, batch: 3, batched: 'both', transB: true }, v);
  });

  it('auto picks tiled on GPUs and a software kernel on software adapters', () => {
    const a = rt.zeros([256, 512]);
    const b = rt.zeros([512, 512]);
    const tiny = rt.zeros([4, 4]);
    const big = matmulVariantFor(rt, a, b);
    const small = matmulVariantFor(rt, tiny, tiny);
    if (!rt.info.isSoftware || !variants.includes('sw-window')) {
      expect([big, small]).toEqual(['tiled', 'tiled']);
    } else {
      expect(big).toBe('sw-window');
      expect(small).toBe('sw-direct');
    }
    expect(matmulVariantFor(rt, tiny, tiny, { variant: 'simple' })).toBe('simple');
    for (const t of [a, b, tiny]) t.dispose();
  });

  it('NaN propagates through every variant and nothing hangs', async () => {
    const [m, n, k] = [20, 18, 24];
    for (const v of variants) {
      for (const transA of [false, true]) {
        const a = new Float32Array(m * k).fill(0.5);
        // op(A)[3, 5] = NaN: row 3 of C is all NaN, every other row finite.
        a[transA ? 5 * m + 3 : 3 * k + 5] = NaN;
        const b = new Float32Array(k * n).fill(0.25);
        const out = await rt.read(matmul(rt, rt.upload(a, transA ? [k, m] : [m, k]), rt.upload(b, [k, n]), { transA, variant: v }));
        for (let r = 0; r < m; r++) {
          for (let j = 0; j < n; j++) {
            const x = out[r * n + j]!;
            if (r === 3) expect(x, `${v} row 3 col ${j}`).toBeNaN();
            else expect(x, `${v} row ${r} col ${j}`).toBeCloseTo(k * 0.125, 4);
          }
        }
      }
    }
  });

  it('K = 0 gives the bias (or zeros) and empty operands give empty results', async () => {
    for (const v of variants) {
      const bias = rt.upload([1, 2, 3], [3]);
      const y = await rt.read(matmul(rt, rt.zeros([2, 0]), rt.zeros([0, 3]), { bias, variant: v }));
      expect(Array.from(y)).toEqual([1, 2, 3, 1, 2, 3]);
      const z = await rt.read(matmul(rt, rt.zeros([0, 2]), rt.zeros([3, 2]), { transB: true, variant: v }));
      expect(z.length).toBe(0);
      const acc = rt.upload([5, 6], [1, 2]);
      matmul(rt, rt.zeros([1, 0]), rt.zeros([0, 2]), { accumulate: acc, variant: v });
      expect(Array.from(await rt.read(acc))).toEqual([5, 6]);
    }
  });

  it('every variant writes into `out` (a view inside a larger buffer) and nowhere else', async () => {
    const rng = new Rng(17);
    const [m, n, k] = [19, 21, 12];
    const a = asF32(randomArray(rng, m * k));
    const b = asF32(randomArray(rng, n * k));
    const want = matmulRef(a, Array.from({ length: k * n }, (_, i) => b[(i % n) * k + Math.floor(i / n)]!), m, n, k);
    for (const v of variants) {
      // The view starts 64 floats in (the 256-byte offset alignment); the rest must stay 7.
      const buf = rt.upload(new Float32Array(64 + m * n + 64).fill(7), [64 + m * n + 64]);
      const out = buf.view([m, n], 64);
      const c = matmul(rt, rt.upload(a, [m, k]), rt.upload(b, [n, k]), { transB: true, out, variant: v });
      expect(c, v).toBe(out);
      const host = await rt.read(buf);
      assertClose(host.subarray(64, 64 + m * n), want, TOL, `${v} out`);
      const rest = [...host.subarray(0, 64), ...host.subarray(64 + m * n)];
      expect(rest.every((x) => x === 7), `${v}: values outside the view changed`).toBe(true);
    }
  });

  it('rejects mismatched shapes before dispatch', () => {
    const a = rt.zeros([3, 4]);
    const before = rt.stats().dispatches;
    expect(() => matmul(rt, a, rt.zeros([5, 2]))).toThrow(OpInputError);
    expect(() => matmul(rt, a, rt.zeros([5, 2]))).toThrow(/matmul: expected inner dimensions to agree/);
    expect(() => matmul(rt, rt.zeros([4]), a)).toThrow(/matmul: expected a of rank 2 or 3/);
    expect(() => matmul(rt, a, rt.zeros([2, 3, 4, 5]))).toThrow(/matmul: expected b of rank 2 or 3/);
    expect(() => matmul(rt, rt.zeros([2, 3, 4]), rt.zeros([3, 4, 2]))).toThrow(/equal batch sizes/);
    expect(() => matmul(rt, a, rt.zeros([4, 2]), { bias: rt.zeros([3]) })).toThrow(/matmul: expected bias of shape \[2\]/);
    expect(() => matmul(rt, a, rt.zeros([4, 2]), { accumulate: rt.zeros([2, 3]) })).toThrow(/matmul: expected accumulate of shape \[3, 2\]/);
    expect(() => matmul(rt, a, rt.zeros([4, 2]), { out: rt.zeros([2, 3]) })).toThrow(/matmul: expected out of shape \[3, 2\]/);
    expect(() => matmul(rt, a, rt.zeros([4, 2]), { out: rt.zeros([3, 2]), accumulate: rt.zeros([3, 2]) })).toThrow(/matmul: expected either out or accumulate, found both/);
    expect(() => matmul(rt, rt.zeros([3, 4], 'i32'), rt.zeros([4, 2]))).toThrow(/matmul: expected a of dtype f32/);
    expect(() => matmul(rt, a, rt.zeros([4, 2]), { variant: 'fast' as MatmulVariant })).toThrow(/matmul: expected variant one of/);
    const gone = rt.zeros([4, 2]);
    gone.dispose();
    expect(() => matmul(rt, a, gone)).toThrow(/matmul: expected a live tensor/);
    // Hostile inputs for the windowed path fail the same way, before packing anything.
    expect(() => matmul(rt, a, rt.zeros([5, 2]), { variant: variants[variants.length - 1]! })).toThrow(OpInputError);
    expect(rt.stats().dispatches).toBe(before);
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
      assertClose(dw!, fdw, { rtol: 1e-3, atol: 1e-4 }, 'gpu dw vs fd');
    }
  });

  it("backward's products (dx = dy W, dW = dyᵀ x) match finite differences in every variant", async () => {
    const rng = new Rng(16);
    const [rows, inF, out] = [9, 20, 7];
    const x = asF32(randomArray(rng, rows * inF));
    const w = asF32(randomArray(rng, out * inF));
    const dy = asF32(randomArray(rng, rows * out));
    const fdx = finiteDiff((xx) => dot(linearRef(xx, w, null, rows, inF, out), dy), Float64Array.from(x));
    const fdw = finiteDiff((ww) => dot(linearRef(x, ww, null, rows, inF, out), dy), Float64Array.from(w));
    const [tx, tw, tdy] = [rt.upload(x, [rows, inF]), rt.upload(w, [out, inF]), rt.upload(dy, [rows, out])];
    for (const v of variants) {
      const y = matmul(rt, tx, tw, { transB: true, variant: v });
      const dx = matmul(rt, tdy, tw, { variant: v });
      const dw = matmul(rt, tdy, tx, { transA: true, variant: v });
      const [gy, gdx, gdw] = await rt.readMany([y, dx, dw]);
      assertClose(gy!, linearRef(x, w, null, rows, inF, out), TOL, `${v} y`);
      assertClose(gdx!, fdx, { rtol: 1e-3, atol: 1e-4 }, `${v} dx vs fd`);
      assertClose(gdw!, fdw, { rtol: 1e-3, atol: 1e-4 }, `${v} dw vs fd`);
      for (const t of [y, dx, dw]) t.dispose();
    }
  });

  it('passes the PyTorch golden case', async () => {
    const file = resolve(goldenDir, 'linear_dev_0.json');
    expect(existsSync(file), `no golden case at ${file}; set GOLDEN_DIR`).toBe(true);
    const r = await runCase(rt, loadCase(file), { linear: linearGolden });
    expect(r.ok, r.message).toBe(true);
  });

  it('rejects a weight that does not fit x', () => {
    expect(() => linear(rt, rt.zeros([2, 5]), rt.zeros([3, 4]))).toThrow(/linear: expected x of shape \[\.\.\., 4\]/);
    expect(() => linear(rt, rt.zeros([2, 4]), rt.zeros([3, 4, 1]))).toThrow(/linear: expected weight of rank 2/);
    expect(() => linearBackward(rt, rt.zeros([2, 2]), rt.zeros([2, 4]), rt.zeros([3, 4]))).toThrow(/linear_backward: expected dy of shape \[2, 3\]/);
  });
});
