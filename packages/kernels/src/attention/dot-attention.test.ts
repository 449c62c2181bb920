import { OpInputError, Rng, Runtime } from '@crnn/core';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCase, runCase } from '../golden/golden.js';
import { asF32, assertClose, dot, finiteDiff, randomArray } from '../testing.js';
import { dotAttention, dotAttentionBackward } from './dot-attention.js';
import { dotAttentionGolden } from './dot-attention.golden.js';
import { dotAttentionBackwardRef, dotAttentionRef, type AttnDims } from './dot-attention.ref.js';

let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt.destroy());

const GOLDEN = process.env.GOLDEN_DIR ?? join(import.meta.dirname, '../../../../../shared/golden');
const TOL = { rtol: 1e-4, atol: 1e-5 };

describe('dot_attention', () => {
  it('GPU matches the float64 reference over shapes, masks and upstream gradients', async () => {
    const rng = new Rng(51);
    const cases: Array<[AttnDims, number[] | undefined]> = [
      [{ n: 1, s: 1, t: 1, h: 1 }, undefined],
      [{ n: 2, s: 6, t: 3, h: 4 }, undefined],
      [{ n: 2, s: 6, t: 3, h: 4 }, [6, 2]],
      [{ n: 8, s: 24, t: 10, h: 256 }, undefined],
      [{ n: 3, s: 200, t: 5, h: 7 }, [200, 1, 130]], // S > 128: the per-workgroup softmax
    ];
    for (const [d, lengths] of cases) {
      const { n, s, t, h } = d;
      const enc = asF32(randomArray(rng, n * s * h));
      const dec = asF32(randomArray(rng, n * t * h));
      const dC = asF32(randomArray(rng, n * t * h));
      const dA = asF32(randomArray(rng, n * t * s));
      const te = rt.upload(enc, [n, s, h]);
      const td = rt.upload(dec, [n, t, h]);
      const tdC = rt.upload(dC, [n, t, h]);
      const tdA = rt.upload(dA, [n, t, s]);
      const { context, attention } = dotAttention(rt, te, td, lengths ? { sourceLengths: lengths } : {});
      expect(context.shape).toEqual([n, t, h]);
      expect(attention.shape).toEqual([n, t, s]);
      const ref = dotAttentionRef(enc, dec, d, lengths);
      const label = `N${n} S${s} T${t} H${h} mask ${lengths}`;
      for (const [gc, ga, which] of [
        [tdC, tdA, 'context+attention'],
        [tdC, null, 'context only'],
        [null, tdA, 'attention only'],
      ] as const) {
        const g = dotAttentionBackward(rt, gc, ga, te, td, attention);
        const [ctx, attn, de, dd] = await rt.readMany([context, attention, g.dEncoder, g.dDecoder]);
        assertClose(attn!, ref.attention, TOL, `attention ${label}`);
        assertClose(ctx!, ref.context, TOL, `context ${label}`);
        const gr = dotAttentionBackwardRef(gc ? dC : null, ga ? dA : null, enc, dec, d, lengths);
        assertClose(de!, gr.dEncoder, { rtol: 1e-3, atol: 1e-4 }, `dEncoder ${label} ${which}`);
        assertClose(dd!, gr.dDecoder, { rtol: 1e-3, atol: 1e-4 }, `dDecoder ${label} ${which}`);
        g.dEncoder.dispose();
        g.dDecoder.dispose();
      }
      for (const x of [te, td, tdC, tdA, context, attention]) x.dispose();
    }
  });

  it('a source mask given as an i32 tensor matches the host-array mask', async () => {
    const rng = new Rng(52);
    const d = { n: 3, s: 5, t: 2, h: 3 };
    const enc = asF32(randomArray(rng, 45));
    const dec = asF32(randomArray(rng, 18));
    const lengths = [5, 3, 1];
    const r = dotAttention(rt, rt.upload(enc, [3, 5, 3]), rt.upload(dec, [3, 2, 3]), { sourceLengths: rt.upload(lengths, [3], 'i32') });
    const [ctx, attn] = await rt.readMany([r.context, r.attention]);
    const ref = dotAttentionRef(enc, dec, d, lengths);
    assertClose(attn!, ref.attention, TOL, 'masked attention');
    assertClose(ctx!, ref.context, TOL, 'masked context');
  });

  it('backward matches finite differences (reference and GPU)', async () => {
    const rng = new Rng(53);
    const d = { n: 2, s: 3, t: 2, h: 2 };
    for (const lengths of [undefined, [3, 2]]) {
      const enc = randomArray(rng, 12);
      const dec = randomArray(rng, 8);
      const dC = randomArray(rng, 8);
      const dA = randomArray(rng, 12);
      const loss = (e: Float64Array, q: Float64Array) => {
        const r = dotAttentionRef(e, q, d, lengths);
        return dot(r.context, dC) + dot(r.attention, dA);
      };
      const fdE = finiteDiff((e) => loss(e, dec), Float64Array.from(enc));
      const fdD = finiteDiff((q) => loss(enc, q), Float64Array.from(dec));
      const ref = dotAttentionBackwardRef(dC, dA, enc, dec, d, lengths);
      assertClose(ref.dEncoder, fdE, { rtol: 1e-6, atol: 1e-7 }, `ref dEncoder vs fd mask ${lengths}`);
      assertClose(ref.dDecoder, fdD, { rtol: 1e-6, atol: 1e-7 }, `ref dDecoder vs fd mask ${lengths}`);
      const te = rt.upload(enc, [2, 3, 2]);
      const td = rt.upload(dec, [2, 2, 2]);
      const { attention } = dotAttention(rt, te, td, lengths ? { sourceLengths: lengths } : {});
      const g = dotAttentionBackward(rt, rt.upload(dC, [2, 2, 2]), rt.upload(dA, [2, 2, 3]), te, td, attention);
      const [de, dd] = await rt.readMany([g.dEncoder, g.dDecoder]);
      assertClose(de!, fdE, { rtol: 1e-3, atol: 1e-4 }, `gpu dEncoder vs fd mask ${lengths}`);
      assertClose(dd!, fdD, { rtol: 1e-3, atol: 1e-4 }, `gpu dDecoder vs fd mask ${lengths}`);
    }
  });

  it('matches the PyTorch golden case', async () => {
    const r = await runCase(rt, loadCase(join(GOLDEN, 'dot_attention_dev_0.json')), { dot_attention: dotAttentionGolden });
    expect(r.ok, r.message).toBe(true);
  });

  it('NaN propagates and never hangs', async () => {
    const enc = new Float32Array(2 * 3 * 2).fill(0.5);
    enc[0] = NaN; // batch item 0 only
    const r = dotAttention(rt, rt.upload(enc, [2, 3, 2]), rt.upload(new Float32Array(2 * 2 * 2).fill(0.25), [2, 2, 2]));
    const [ctx, attn] = await rt.readMany([r.context, r.attention]);
    expect(Array.from(attn!.slice(0, 6)).every(Number.isNaN)).toBe(true);
    expect(Array.from(ctx!.slice(0, 4)).every(Number.isNaN)).toBe(true);
    expect(Array.from(attn!.slice(6)).every(Number.isFinite)).toBe(true);
    expect(Array.from(ctx!.slice(4)).every(Number.isFinite)).toBe(true);
  });

  it('rejects hostile inputs with OpInputError naming the op, before any dispatch', () => {
    const before = rt.stats().dispatches;
    const enc = rt.zeros([2, 5, 4]);
    const dec = rt.zeros([2, 3, 4]);
    const attn = rt.zeros([2, 3, 5]);
    expect(() => dotAttention(rt, rt.zeros([5, 4]), dec)).toThrow(/dot_attention: expected encoder of rank 3/);
    expect(() => dotAttention(rt, enc, rt.zeros([2, 3, 5]))).toThrow(/dot_attention: expected decoder of shape \[2, T, 4\]/);
    expect(() => dotAttention(rt, enc, rt.zeros([3, 3, 4]))).toThrow(/dot_attention: expected decoder of shape/);
    expect(() => dotAttention(rt, rt.zeros([2, 0, 4]), dec)).toThrow(/dot_attention: expected sizes \[N, S, T, H\] of positive integers/);
    expect(() => dotAttention(rt, enc, rt.zeros([2, 3, 4], 'i32'))).toThrow(/dot_attention: expected decoder of dtype f32/);
    expect(() => dotAttention(rt, enc, dec, { sourceLengths: [5] })).toThrow(/dot_attention: expected 2 sourceLengths/);
    expect(() => dotAttention(rt, enc, dec, { sourceLengths: [6, 1] })).toThrow(/dot_attention: expected sourceLengths integers in \[1, 5\], found sourceLengths\[0\] = 6/);
    expect(() => dotAttention(rt, enc, dec, { sourceLengths: [0, 1] })).toThrow(OpInputError);
    expect(() => dotAttention(rt, enc, dec, { sourceLengths: rt.zeros([2]) })).toThrow(/dot_attention: expected sourceLengths of dtype i32/);
    expect(() => dotAttention(rt, enc, dec, { sourceLengths: rt.zeros([3], 'i32') })).toThrow(/dot_attention: expected sourceLengths of shape \[2\]/);
    expect(() => dotAttentionBackward(rt, null, null, enc, dec, attn)).toThrow(/dot_attention_backward: expected dContext or dAttention/);
    expect(() => dotAttentionBackward(rt, rt.zeros([2, 3, 5]), null, enc, dec, attn)).toThrow(/dot_attention_backward: expected dContext of shape \[2, 3, 4\]/);
    expect(() => dotAttentionBackward(rt, null, rt.zeros([2, 3, 4]), enc, dec, attn)).toThrow(/dot_attention_backward: expected dAttention of shape \[2, 3, 5\]/);
    expect(() => dotAttentionBackward(rt, null, attn, enc, dec, rt.zeros([2, 5, 3]))).toThrow(/dot_attention_backward: expected attention of shape \[2, 3, 5\]/);
    expect(rt.stats().dispatches).toBe(before);
  });
});
