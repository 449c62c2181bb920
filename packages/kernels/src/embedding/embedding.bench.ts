/**
 * Embedding lookup of V = 40 rows of D = 256 by indices [8, 10] (an attention decoder's
 * inputs), forward and the deterministic dweight accumulation. Memory-bound: bytes are the
 * compulsory f32/i32 reads and writes (the backward's repeated index reads are not counted).
 */
import { Rng, type Tensor } from '@crnn/core';
import type { BenchSpec, Tf } from '../bench/types.js';
import { embedding, embeddingBackward } from './embedding.js';

const [V, D] = [40, 256] as const;
const IDX = [8, 10] as const;
const NI = IDX[0] * IDX[1];
const SHAPE_STR = `V${V} D${D} indices [${IDX.join(', ')}]`;

let cache: { weight: Float32Array; indices: Int32Array; dy: Float32Array } | null = null;
function data() {
  if (!cache) {
    const rng = new Rng(55);
    cache = {
      weight: rng.fillUniform(V * D, -1, 1),
      indices: Int32Array.from({ length: NI }, () => rng.int(V)),
      dy: rng.fillUniform(NI * D, -1, 1),
    };
  }
  return cache;
}

const forward: BenchSpec = {
  kernel: 'embedding_forward',
  shape: SHAPE_STR,
  bytes: 2 * NI * D * 4 + NI * 4,
  setup(rt) {
    const d = data();
    const w = rt.upload(d.weight, [V, D]);
    const ix = rt.upload(d.indices, IDX, 'i32');
    let y: Tensor | null = null;
    return {
      run() {
        y?.dispose();
        y = embedding(rt, w, ix);
      },
      dispose() {
        y?.dispose();
        w.dispose();
        ix.dispose();
      },
    };
  },
  peer(tf: Tf) {
    const d = data();
    const w = tf.tensor(d.weight, [V, D]);
    const ix = tf.tensor(d.indices, IDX, 'int32');
    return { run: () => tf.gather(w, ix), dispose: () => tf.dispose([w, ix]) };
  },
};

const backward: BenchSpec = {
  kernel: 'embedding_backward',
  shape: SHAPE_STR,
  bytes: NI * D * 4 + V * D * 4 + NI * 4,
  setup(rt) {
    const d = data();
    const ix = rt.upload(d.indices, IDX, 'i32');
    const dy = rt.upload(d.dy, [...IDX, D]);
    let dw: Tensor | null = null;
    return {
      run() {
        dw?.dispose();
        dw = embeddingBackward(rt, dy, ix, V);
      },
      dispose() {
        dw?.dispose();
        ix.dispose();
        dy.dispose();
      },
    };
  },
  peer(tf: Tf) {
    // What tfjs's gather gradient runs for axis 0: a segment sum of dy rows by index.
    const d = data();
    const ix = tf.tensor1d(d.indices, 'int32');
    const dy = tf.tensor(d.dy, [NI, D]);
    return { run: () => tf.unsortedSegmentSum(dy, ix, V), dispose: () => tf.dispose([ix, dy]) };
  },
};

export const benches: BenchSpec[] = [forward, backward];
