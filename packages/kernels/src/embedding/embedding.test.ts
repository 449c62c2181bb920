import { OpInputError, Rng, Runtime } from '@crnn/core';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCase, runCase } from '../golden/golden.js';
import { adapterView, asF32, assertClose, dot, finiteDiff, randomArray } from '../testing.js';
import { embedding, embeddingBackward, forwardPer } from './embedding.js';
import { embeddingGolden } from './embedding.golden.js';
import { embeddingBackwardRef, embeddingRef } from './embedding.ref.js';

let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt.destroy());

const GOLDEN = process.env.GOLDEN_DIR ?? join(import.meta.dirname, '../../../../../shared/golden');
const TOL = { rtol: 1e-5, atol: 1e-6 };

describe('embedding', () => {
  it('GPU matches the float64 reference over shapes, with repeated indices and padding_idx', async () => {
    const rng = new Rng(41);
    const cases: Array<[number, number, number[], number | undefined]> = [
      [1, 1, [1], undefined],
      [11, 3, [2, 4], undefined],
      [40, 256, [8, 10], undefined],
      [40, 256, [8, 10], 0],
      [7, 5, [3, 2, 4], -1], // 24 lookups into 7 rows: many repeats
      [1000, 8, [2000], 3],
      [6, 4, [16385], undefined], // D % 4 == 0 but past the 16384 indices of the uniform copy: scalar backward
      [5, 4, [7], undefined], // a partial last vec4 of indices in the uniform copy
      [3, 70, [], undefined], // a scalar index -> [D]
      [9, 48, [5, 3], 2], // D / 4 = 12: 4 vec4s per forward invocation on a software adapter
    ];
    for (const [vocab, dim, shape, pad] of cases) {
      const n = shape.reduce((a, b) => a * b, 1);
      const w = asF32(randomArray(rng, vocab * dim));
      const idx = Array.from({ length: n }, () => rng.int(vocab));
      const dy = asF32(randomArray(rng, n * dim));
      const padOpt = pad === undefined ? {} : { paddingIdx: pad };
      const padRow = pad === undefined ? undefined : pad < 0 ? pad + vocab : pad;
      for (const asTensor of [true, false]) {
        const tw = rt.upload(w, [vocab, dim]);
        const ti = asTensor ? rt.upload(idx, shape, 'i32') : idx;
        const o = { ...padOpt, indicesShape: shape };
        const ty = embedding(rt, tw, ti, o);
        expect(ty.shape).toEqual([...shape, dim]);
        const tdy = rt.upload(dy, [...shape, dim]);
        const tdw = embeddingBackward(rt, tdy, ti, vocab, o);
        const [y, dw] = await rt.readMany([ty, tdw]);
        const label = `V${vocab} D${dim} [${shape}] pad ${pad} ${asTensor ? 'tensor' : 'array'}`;
        assertClose(y!, embeddingRef(w, idx, vocab, dim), TOL, `y ${label}`);
        assertClose(dw!, embeddingBackwardRef(dy, idx, vocab, dim, padRow), { rtol: 1e-5, atol: 1e-5 }, `dweight ${label}`);
        for (const t of [tw, ty, tdy, tdw]) t.dispose();
        if (typeof ti === 'object' && 'dispose' in ti) ti.dispose();
      }
    }
  });

  it('backward is deterministic and accumulates into an existing gradient', async () => {
    const rng = new Rng(42);
    const [vocab, dim, n] = [5, 16, 500];
    const idx = Array.from({ length: n }, () => rng.int(vocab));
    const dy = asF32(randomArray(rng, n * dim));
    const ti = rt.upload(idx, [n], 'i32');
    const tdy = rt.upload(dy, [n, dim]);
    const a = await rt.read(embeddingBackward(rt, tdy, ti, vocab));
    const b = await rt.read(embeddingBackward(rt, tdy, ti, vocab));
    expect(Array.from(b)).toEqual(Array.from(a)); // bit-identical
    const acc = rt.upload(new Float32Array(vocab * dim).fill(2), [vocab, dim]);
    const same = embeddingBackward(rt, tdy, ti, vocab, { accumulate: acc, paddingIdx: 1 });
    expect(same).toBe(acc);
    const want = embeddingBackwardRef(dy, idx, vocab, dim, 1).map((v) => v + 2);
    assertClose(await rt.read(acc), want, { rtol: 1e-5, atol: 1e-5 }, 'accumulate');
  });

  it('backward reads only the n indices of its uniform copy, not what a previous call left there', async () => {
    const dim = 4;
    // Eight indices of row 1 fill the (pooled, reused) copy; then five of row 0: entries 5-7
    // may still hold 1 and must not count. (Where out-of-range storage reads return 0, as on
    // lavapipe, a stale match adds nothing; where they clamp to the last element, it would.)
    const first = embeddingBackward(rt, rt.upload(new Float32Array(8 * dim).fill(1), [8, dim]), new Array(8).fill(1), 3);
    await rt.read(first);
    first.dispose();
    const dw = await rt.read(embeddingBackward(rt, rt.upload(new Float32Array(5 * dim).fill(1), [5, dim]), [0, 0, 0, 0, 0], 3));
    expect(Array.from(dw)).toEqual([5, 5, 5, 5, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('backward matches finite differences (reference and GPU)', async () => {
    const rng = new Rng(43);
    const [vocab, dim] = [4, 3];
    const idx = [1, 3, 1, 0, 1, 2];
    const w = randomArray(rng, vocab * dim);
    const up = randomArray(rng, idx.length * dim);
    for (const pad of [undefined, 1]) {
      // The padding row's lookups are treated as constants (no gradient), as in PyTorch.
      const f = (ww: Float64Array) => {
        const y = embeddingRef(ww, idx, vocab, dim);
        if (pad !== undefined) idx.forEach((v, k) => v === pad && y.fill(0, k * dim, (k + 1) * dim));
        return dot(y, up);
      };
      const fd = finiteDiff(f, Float64Array.from(w));
      assertClose(embeddingBackwardRef(up, idx, vocab, dim, pad), fd, { rtol: 1e-6, atol: 1e-7 }, `ref vs fd pad ${pad}`);
      const g = await rt.read(embeddingBackward(rt, rt.upload(up, [6, dim]), idx, vocab, pad === undefined ? {} : { paddingIdx: pad }));
      assertClose(g, fd, { rtol: 1e-4, atol: 1e-5 }, `gpu vs fd pad ${pad}`);
    }
  });

  it('matches the PyTorch golden case', async () => {
    const r = await runCase(rt, loadCase(join(GOLDEN, 'embedding_dev_0.json')), { embedding: embeddingGolden });
    expect(r.ok, r.message).toBe(true);
  });

  it('forward4 takes the most vec4s per invocation that divide a row on software adapters, one on GPUs', () => {
    const [soft, gpu] = [adapterView(rt, true), adapterView(rt, false)];
    expect([64, 12, 2, 3, 1].map((d4) => forwardPer(soft, d4))).toEqual([8, 4, 2, 1, 1]);
    expect([64, 12].map((d4) => forwardPer(gpu, d4))).toEqual([1, 1]);
  });

  it('out-of-range indices in a tensor give NaN rows forward and no gradient (documented)', async () => {
    const w = rt.upload([1, 2, 3, 4, 5, 6], [3, 2]);
    const ti = rt.upload([2, 3, -1, 0], [4], 'i32');
    const [y, dw] = await rt.readMany([embedding(rt, w, ti), embeddingBackward(rt, rt.upload(new Float32Array(8).fill(1), [4, 2]), ti, 3)]);
    expect(Array.from(y!.slice(0, 2))).toEqual([5, 6]);
    expect(Array.from(y!.slice(2, 6)).every(Number.isNaN)).toBe(true);
    expect(Array.from(y!.slice(6))).toEqual([1, 2]);
    expect(Array.from(dw!)).toEqual([1, 1, 0, 0, 1, 1]);
    // D % 4 == 0 runs the vec4 kernels: the same NaN rows and dropped gradients.
    const w4 = rt.upload(Float32Array.from({ length: 12 }, (_, i) => i + 1), [3, 4]);
    const [y4, dw4] = await rt.readMany([embedding(rt, w4, ti), embeddingBackward(rt, rt.upload(new Float32Array(16).fill(1), [4, 4]), ti, 3)]);
    expect(Array.from(y4!.slice(0, 4))).toEqual([9, 10, 11, 12]);
    expect(Array.from(y4!.slice(4, 12)).every(Number.isNaN)).toBe(true);
    expect(Array.from(y4!.slice(12))).toEqual([1, 2, 3, 4]);
    expect(Array.from(dw4!)).toEqual([1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1]);
  });

  it('NaN propagates and never hangs', async () => {
    const w = rt.upload([NaN, 1, 2, 3], [2, 2]);
    const y = await rt.read(embedding(rt, w, [0, 1, 0]));
    expect([Number.isNaN(y[0]), y[1], y[2], y[3], Number.isNaN(y[4])]).toEqual([true, 1, 2, 3, true]);
    const dw = await rt.read(embeddingBackward(rt, rt.upload([NaN, 1, 1, 1, 1, 1], [3, 2]), [0, 1, 1], 2));
    expect([Number.isNaN(dw[0]), dw[1], dw[2], dw[3]]).toEqual([true, 1, 2, 2]);
  });

  it('rejects hostile inputs with OpInputError naming the op, before any dispatch', () => {
    const before = rt.stats().dispatches;
    const w = rt.zeros([5, 3]);
    const ti = rt.zeros([2, 4], 'i32');
    expect(() => embedding(rt, rt.zeros([5]), ti)).toThrow(/embedding: expected weight of rank 2/);
    expect(() => embedding(rt, rt.zeros([0, 3]), ti)).toThrow(/embedding: expected weight dimensions \[V, D\] of positive integers/);
    expect(() => embedding(rt, w, rt.zeros([2, 4]))).toThrow(/embedding: expected indices of dtype i32/);
    expect(() => embedding(rt, w, [0, 5])).toThrow(/embedding: expected indices integers in \[0, 5\), found indices\[1\] = 5/);
    expect(() => embedding(rt, w, [-1])).toThrow(/indices\[0\] = -1/);
    expect(() => embedding(rt, w, [1.5])).toThrow(OpInputError);
    expect(() => embedding(rt, w, [0, 1, 2], { indicesShape: [2, 2] })).toThrow(/embedding: expected indicesShape/);
    expect(() => embedding(rt, w, ti, { paddingIdx: 5 })).toThrow(/embedding: expected paddingIdx an integer in \[-5, 5\)/);
    expect(() => embeddingBackward(rt, rt.zeros([2, 4, 2]), ti, 5)).not.toThrow(); // D from dy
    const dispatched = rt.stats().dispatches;
    expect(() => embeddingBackward(rt, rt.zeros([2, 3, 3]), ti, 5)).toThrow(/embedding_backward: expected dy of shape \[2, 4, 3\]/);
    expect(() => embeddingBackward(rt, rt.zeros([2, 4, 3]), ti, 0)).toThrow(/embedding_backward: expected numEmbeddings of positive integers/);
    expect(() => embeddingBackward(rt, rt.zeros([2, 4, 3]), [0, 9, 0, 0, 0, 0, 0, 0], 5, { indicesShape: [2, 4] })).toThrow(
      /embedding_backward: expected indices integers in \[0, 5\)/,
    );
    expect(() => embeddingBackward(rt, rt.zeros([2, 4, 3]), ti, 5, { accumulate: rt.zeros([5, 2]) })).toThrow(
      /embedding_backward: expected accumulate of shape \[5, 3\]/,
    );
    expect(() => embeddingBackward(rt, rt.zeros([]), ti, 5)).toThrow(/embedding_backward: expected dy of rank >= 1/);
    expect(rt.stats().dispatches - dispatched).toBe(0);
    expect(dispatched - before).toBe(1);
  });
});
