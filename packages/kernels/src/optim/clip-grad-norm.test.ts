import { resolve } from 'node:path';
import { OpInputError, Rng, Runtime, type Tensor } from '@crnn/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCase, runCase, type GoldenTensor } from '../golden/golden.js';
import { adapterView, asF32, assertClose, randomArray } from '../testing.js';
import { clipGradNorm, partialSlots } from './clip-grad-norm.js';
import { clipGradNormGolden } from './optim.golden.js';
import { clipGradNormRef } from './optim.ref.js';

let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt.destroy());

const GOLDEN = process.env.GOLDEN_DIR ?? resolve(import.meta.dirname, '../../../../../shared/golden');
const TOL = { rtol: 1e-5, atol: 1e-7 };
const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

async function clipOnGpu(host: Float64Array[], shapes: number[][], maxNorm: number) {
  const ts = host.map((h, i) => rt.upload(h, shapes[i]!));
  const norm = clipGradNorm(rt, ts, maxNorm);
  expect(norm.shape).toEqual([]);
  const [n, ...gs] = await rt.readMany([norm, ...ts]);
  for (const t of [norm, ...ts]) t.dispose();
  return { norm: n![0]!, grads: gs };
}

describe('clip_grad_norm vs the float64 reference', () => {
  // Sizes not a multiple of 4 add a one-workgroup slot for their 1-3 last elements. [300000]
  // (75000 vec4s) gets 8 partial workgroups on a software adapter, 256 on a GPU, so their
  // grid-stride loops run several rounds on either; [2000] gets 2 workgroups, the rest one.
  const lists: number[][][] = [[[1]], [[7], [3, 5]], [[5], [257], [2000], [33, 65]], [[300000], [3]]];
  for (const shapes of lists) {
    for (const maxNorm of [0.5, 3, 1e6, Infinity]) {
      it(`${JSON.stringify(shapes)} max_norm ${maxNorm}`, async () => {
        const rng = new Rng(size(shapes.flat()) + 1);
        const host = shapes.map((s) => asF32(randomArray(rng, size(s))));
        const got = await clipOnGpu(host, shapes, maxNorm);
        const ref = clipGradNormRef(host, maxNorm);
        assertClose([got.norm], [ref.norm], TOL, 'norm');
        got.grads.forEach((g, i) => assertClose(g, ref.clipped[i]!, TOL, `clipped[${i}]`));
        if (ref.norm + 1e-6 <= maxNorm) {
          // Below max_norm torch multiplies by exactly 1: the gradients are bit-identical.
          got.grads.forEach((g, i) => expect(Array.from(g)).toEqual(Array.from(host[i]!)));
        }
      });
    }
  }

  it('extreme magnitudes: no overflow near 1e30 (float32 sum of squares would), no underflow near 1e-30', async () => {
    for (const scale of [1e30, 1e-30]) {
      const rng = new Rng(5);
      const shapes = [[1000], [17]];
      const host = shapes.map((s) => asF32(Array.from(randomArray(rng, size(s)), (v) => v * scale)));
      const got = await clipOnGpu(host, shapes, 1);
      const ref = clipGradNormRef(host, 1);
      expect(Number.isFinite(got.norm) && got.norm > 0, `norm ${got.norm} at scale ${scale}`).toBe(true);
      assertClose([got.norm], [ref.norm], { rtol: 1e-5, atol: 0 }, `norm at scale ${scale}`);
      got.grads.forEach((g, i) => assertClose(g, ref.clipped[i]!, { rtol: 1e-5, atol: 1e-45 }, `clipped[${i}] at scale ${scale}`));
    }
  });

  it('mixed scales across tensors and within a workgroup merge correctly', async () => {
    const shapes = [[600], [5], [1100]];
    const rng = new Rng(6);
    const host = shapes.map((s, k) => asF32(Array.from(randomArray(rng, size(s)), (v, i) => v * 10 ** (((i * 7 + k * 3) % 13) - 6))));
    const got = await clipOnGpu(host, shapes, 2);
    const ref = clipGradNormRef(host, 2);
    assertClose([got.norm], [ref.norm], TOL, 'norm');
    got.grads.forEach((g, i) => assertClose(g, ref.clipped[i]!, TOL, `clipped[${i}]`));
  });

  it('partial workgroups per tensor: many on GPUs, a few fat ones on a software adapter', () => {
    const gpu = adapterView(rt, false);
    const soft = adapterView(rt, true);
    // [nv vec4s, GPU slots, software slots]
    const rows: Array<[number, number, number]> = [[1, 1, 1], [256, 1, 1], [257, 2, 2], [2048, 8, 8], [36864, 144, 8], [75000, 256, 8], [589824, 256, 9], [4e6, 256, 62]];
    for (const [nv, g, s] of rows) {
      expect(partialSlots(gpu, nv), `GPU, ${nv} vec4s`).toBe(g);
      expect(partialSlots(soft, nv), `software, ${nv} vec4s`).toBe(s);
    }
  });

  it('records dispatches only: no readback until the caller reads', () => {
    const ts = [rt.upload([1, 2, 3], [3]), rt.zeros([2000])];
    const before = rt.stats();
    const norm = clipGradNorm(rt, ts, 1);
    const after = rt.stats();
    expect(after.readbacks).toBe(before.readbacks);
    // Partial and scale: [3] one element at a time, [2000] as vec4s; then finish.
    expect(after.dispatches - before.dispatches).toBe(5);
    for (const t of [norm, ...ts]) t.dispose();
  });
});

describe('non-finite gradients (torch 1.13 semantics, error_if_nonfinite=False)', () => {
  it('a NaN makes the norm NaN and every gradient NaN', async () => {
    const got = await clipOnGpu([Float64Array.from([1, NaN, 2]), Float64Array.from([3, 4])], [[3], [2]], 1);
    expect(Number.isNaN(got.norm)).toBe(true);
    got.grads.forEach((g) => expect(Array.from(g).every(Number.isNaN)).toBe(true));
  });

  it('an inf makes the norm inf: finite gradients become 0, infinite ones NaN', async () => {
    for (const inf of [Infinity, -Infinity]) {
      const got = await clipOnGpu([Float64Array.from([1, inf, 2]), Float64Array.from([3, 4])], [[3], [2]], 1);
      expect(got.norm).toBe(Infinity);
      expect(Array.from(got.grads[0]!).map((v) => (Number.isNaN(v) ? 'nan' : v))).toEqual([0, 'nan', 0]);
      expect(Array.from(got.grads[1]!)).toEqual([0, 0]);
    }
  });

  it('inf and NaN together give NaN', async () => {
    const got = await clipOnGpu([Float64Array.from([Infinity]), Float64Array.from([NaN, 1])], [[1], [2]], 1);
    expect(Number.isNaN(got.norm)).toBe(true);
  });

  it('the reference agrees on non-finite inputs', () => {
    expect(Number.isNaN(clipGradNormRef([[1, NaN]], 1).norm)).toBe(true);
    expect(clipGradNormRef([[1, Infinity]], 1).norm).toBe(Infinity);
  });
});

describe('edge cases', () => {
  it('an empty list, and tensors without elements, give a norm of 0 and clip nothing', async () => {
    const n0 = clipGradNorm(rt, [], 1);
    expect(Array.from(await rt.read(n0))).toEqual([0]);
    const a = rt.upload([0.5, 0.5], [2]);
    const n1 = clipGradNorm(rt, [rt.zeros([0]), a, rt.zeros([3, 0])], 1e-3);
    const [norm, ga] = await rt.readMany([n1, a]);
    assertClose(norm!, [Math.SQRT1_2], TOL, 'norm with empty tensors');
    assertClose(ga!, clipGradNormRef([[0.5, 0.5]], 1e-3).clipped[0]!, TOL, 'clipped with empty tensors');
  });

  it('all-zero gradients: norm 0, unchanged', async () => {
    const got = await clipOnGpu([new Float64Array(600)], [[600]], 1);
    expect(got.norm).toBe(0);
    expect(got.grads[0]!.every((v) => v === 0)).toBe(true);
  });
});

describe('golden', () => {
  it('clip_grad_norm_dev.json (clip_grad_norm) passes on the GPU', async () => {
    const c = loadCase(`${GOLDEN}/clip_grad_norm_dev.json`);
    expect(c.op).toBe('clip_grad_norm');
    const r = await runCase(rt, c, { clip_grad_norm: clipGradNormGolden });
    expect(r.ok, r.message).toBe(true);
  });

  it('the float64 reference reproduces it', () => {
    const c = loadCase(`${GOLDEN}/clip_grad_norm_dev.json`);
    const grads = (c.inputs.grads as GoldenTensor[]).map((g) => g.data);
    const ref = clipGradNormRef(grads, c.attrs.max_norm as number);
    assertClose([ref.norm], (c.outputs.total_norm as GoldenTensor).data, c.tol, 'total_norm');
    (c.outputs.clipped as GoldenTensor[]).forEach((w, i) => assertClose(ref.clipped[i]!, w.data, c.tol, `clipped[${i}]`));
  });
});

describe('hostile inputs throw OpInputError naming the op and index before any dispatch', () => {
  const expectThrow = (f: () => Tensor, re: RegExp) => {
    const before = rt.stats().dispatches;
    expect(f).toThrow(OpInputError);
    expect(f).toThrow(re);
    expect(rt.stats().dispatches).toBe(before);
  };

  it('max_norm not > 0', () => {
    const g = [rt.zeros([3])];
    for (const bad of [0, -1, NaN, -Infinity]) expectThrow(() => clipGradNorm(rt, g, bad), /^clip_grad_norm: expected maxNorm > 0/);
  });

  it('wrong dtype, a disposed tensor, the same gradient twice', () => {
    const a = rt.zeros([3]);
    expectThrow(() => clipGradNorm(rt, [a, rt.zeros([2], 'i32')], 1), /clip_grad_norm: expected grads\[1\] of dtype f32, found i32/);
    const dead = rt.zeros([2]);
    dead.dispose();
    expectThrow(() => clipGradNorm(rt, [a, dead], 1), /clip_grad_norm grads\[1\]: expected a live tensor/);
    expectThrow(() => clipGradNorm(rt, [a, rt.zeros([1]), a.reshape([3])], 1), /clip_grad_norm: expected distinct gradient tensors, found grads\[2\] overlapping grads\[0\]/);
  });
});
