/**
 * Cross-entropy on logits [N, C, T] = [8, 37, 5] (class dim 1, mean over the 40 targets, no
 * ignored targets so that tfjs computes the same loss), forward and backward. tfjs has no
 * class-dim-1 loss: its peer gets the logits transposed to [N * T, C] and one-hot labels in
 * setup, outside run().
 */
import { Rng, type Runtime, type Tensor } from '@crnn/core';
import type { BenchSpec, Tf } from '../bench/types.js';
import { crossEntropy, crossEntropyBackward } from './cross-entropy.js';

const [N, C, T] = [8, 37, 5] as const;
const SIZE = N * C * T;
const SHAPE_STR = `[${N}, ${C}, ${T}] class dim 1, mean`;

let cache: { logits: Float32Array; targets: Int32Array } | null = null;
function data() {
  if (!cache) {
    const rng = new Rng(77);
    cache = { logits: rng.fillUniform(SIZE, -4, 4), targets: Int32Array.from({ length: N * T }, () => rng.int(C)) };
  }
  return cache;
}

/** tfjs inputs: logits [N, C, T] -> [N, T, C] -> [N * T, C], labels one-hot [N * T, C]. */
function peerInputs(tf: Tf) {
  const d = data();
  const raw = tf.tensor(d.logits, [N, C, T]);
  const logits = tf.reshape(tf.transpose(raw, [0, 2, 1]), [N * T, C]);
  const labels = tf.oneHot(tf.tensor1d(d.targets, 'int32'), C);
  raw.dispose();
  return { logits, labels };
}

function setupGpu(rt: Runtime) {
  const d = data();
  return { logits: rt.upload(d.logits, [N, C, T]), targets: rt.upload(d.targets, [N, T], 'i32') };
}

const forward: BenchSpec = {
  kernel: 'cross_entropy_forward',
  shape: SHAPE_STR,
  bytes: SIZE * 4 + N * T * 4 + 4,
  setup(rt) {
    const { logits, targets } = setupGpu(rt);
    let loss: Tensor | null = null;
    return {
      run() {
        loss?.dispose();
        loss = crossEntropy(rt, logits, targets, { ignoreIndex: -1 });
      },
      dispose() {
        loss?.dispose();
        logits.dispose();
        targets.dispose();
      },
    };
  },
  peer(tf: Tf) {
    const { logits, labels } = peerInputs(tf);
    return { run: () => tf.losses.softmaxCrossEntropy(labels, logits), dispose: () => tf.dispose([logits, labels]) };
  },
};

const backward: BenchSpec = {
  kernel: 'cross_entropy_backward',
  shape: SHAPE_STR,
  bytes: 2 * SIZE * 4 + N * T * 4,
  setup(rt) {
    const { logits, targets } = setupGpu(rt);
    const dloss = rt.upload([1], []);
    let dx: Tensor | null = null;
    return {
      run() {
        dx?.dispose();
        dx = crossEntropyBackward(rt, dloss, logits, targets, { ignoreIndex: -1 });
      },
      dispose() {
        dx?.dispose();
        for (const t of [logits, targets, dloss]) t.dispose();
      },
    };
  },
  peer(tf: Tf) {
    // tf.grad runs the loss's forward too (tfjs keeps no separate backward for it).
    const { logits, labels } = peerInputs(tf);
    const g = tf.grad((x: unknown) => tf.losses.softmaxCrossEntropy(labels, x));
    return { run: () => g(logits), dispose: () => tf.dispose([logits, labels]) };
  },
};

export const benches: BenchSpec[] = [forward, backward];
