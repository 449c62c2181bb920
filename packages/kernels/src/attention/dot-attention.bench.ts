/**
 * Luong dot attention, N = 8, S = 24 encoder steps, T = 10 decoder steps, H = 256: forward
 * (two batched matmuls around a softmax over S) and backward (four matmuls and a softmax
 * backward). flops count the matmuls' multiply-adds as 2.
 */
import { Rng, type Tensor } from '@crnn/core';
import type { BenchSpec, Tf } from '../bench/types.js';
import { dotAttention, dotAttentionBackward } from './dot-attention.js';

const [N, S, T, H] = [8, 24, 10, 256] as const;
const SHAPE_STR = `N${N} S${S} T${T} H${H}`;
const MM = 2 * N * T * S * H; // one [T, H] x [H, S]-sized batched matmul

let cache: { enc: Float32Array; dec: Float32Array; dC: Float32Array } | null = null;
function data() {
  if (!cache) {
    const rng = new Rng(66);
    cache = { enc: rng.fillUniform(N * S * H, -0.2, 0.2), dec: rng.fillUniform(N * T * H, -0.2, 0.2), dC: rng.fillUniform(N * T * H, -1, 1) };
  }
  return cache;
}

const forward: BenchSpec = {
  kernel: 'dot_attention_forward',
  shape: SHAPE_STR,
  flops: 2 * MM,
  setup(rt) {
    const d = data();
    const enc = rt.upload(d.enc, [N, S, H]);
    const dec = rt.upload(d.dec, [N, T, H]);
    let out: Tensor[] = [];
    return {
      run() {
        for (const t of out) t.dispose();
        const r = dotAttention(rt, enc, dec);
        out = [r.context, r.attention];
      },
      dispose() {
        for (const t of [...out, enc, dec]) t.dispose();
      },
    };
  },
  peer(tf: Tf) {
    const d = data();
    const enc = tf.tensor(d.enc, [N, S, H]);
    const dec = tf.tensor(d.dec, [N, T, H]);
    return {
      run: () => {
        const attn = tf.softmax(tf.matMul(dec, enc, false, true));
        return [tf.matMul(attn, enc), attn];
      },
      dispose: () => tf.dispose([enc, dec]),
    };
  },
};

const backward: BenchSpec = {
  kernel: 'dot_attention_backward',
  shape: `${SHAPE_STR}, from d context`,
  flops: 4 * MM,
  setup(rt) {
    const d = data();
    const enc = rt.upload(d.enc, [N, S, H]);
    const dec = rt.upload(d.dec, [N, T, H]);
    const dC = rt.upload(d.dC, [N, T, H]);
    const { context, attention } = dotAttention(rt, enc, dec);
    let out: Tensor[] = [];
    return {
      run() {
        for (const t of out) t.dispose();
        const g = dotAttentionBackward(rt, dC, null, enc, dec, attention);
        out = [g.dEncoder, g.dDecoder];
      },
      dispose() {
        for (const t of [...out, enc, dec, dC, context, attention]) t.dispose();
      },
    };
  },
  peer(tf: Tf) {
    // The same four matmuls and softmax backward in tfjs ops, from the saved attention.
    const d = data();
    const enc = tf.tensor(d.enc, [N, S, H]);
    const dec = tf.tensor(d.dec, [N, T, H]);
    const dC = tf.tensor(d.dC, [N, T, H]);
    const attn = tf.softmax(tf.matMul(dec, enc, false, true));
    return {
      run: () => {
        const dA = tf.matMul(dC, enc, false, true);
        const dAy = tf.mul(dA, attn);
        const dS = tf.sub(dAy, tf.mul(tf.sum(dAy, -1, true), attn));
        const dEnc = tf.add(tf.matMul(attn, dC, true, false), tf.matMul(dS, dec, true, false));
        return [dEnc, tf.matMul(dS, enc)];
      },
      dispose: () => tf.dispose([enc, dec, dC, attn]),
    };
  },
};

export const benches: BenchSpec[] = [forward, backward];
