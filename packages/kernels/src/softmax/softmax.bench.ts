/**
 * Softmax / log_softmax over the 37 classes of a recognizer's logits, [T, N, C] =
 * [24, 8, 37] over the last axis (the per-row layout), forward and backward. Memory-bound:
 * bytes are each run's compulsory f32 reads and writes.
 */
import { Rng, type Runtime, type Tensor } from '@crnn/core';
import type { BenchSpec, Tf } from '../bench/types.js';
import { logSoftmax, logSoftmaxBackward, softmax, softmaxBackward } from './softmax.js';

const SHAPE = [24, 8, 37] as const;
const N = SHAPE.reduce((a, b) => a * b, 1);
const SHAPE_STR = `[${SHAPE.join(', ')}] over C=37`;

const cache = new Map<number, Float32Array>();
function data(seed: number): Float32Array {
  let d = cache.get(seed);
  if (!d) cache.set(seed, (d = new Rng(seed).fillUniform(N, -4, 4)));
  return d;
}

function forwardSpec(log: boolean): BenchSpec {
  const fwd = log ? logSoftmax : softmax;
  return {
    kernel: log ? 'log_softmax_forward' : 'softmax_forward',
    shape: SHAPE_STR,
    bytes: 2 * N * 4, // read x, write y
    setup(rt: Runtime) {
      const x = rt.upload(data(1), SHAPE);
      let y: Tensor | null = null;
      return {
        run() {
          y?.dispose();
          y = fwd(rt, x);
        },
        dispose() {
          y?.dispose();
          x.dispose();
        },
      };
    },
    peer(tf: Tf) {
      const x = tf.tensor(data(1), SHAPE);
      return { run: () => (log ? tf.logSoftmax(x) : tf.softmax(x)), dispose: () => x.dispose() };
    },
  };
}

function backwardSpec(log: boolean): BenchSpec {
  const fwd = log ? logSoftmax : softmax;
  const bwd = log ? logSoftmaxBackward : softmaxBackward;
  return {
    kernel: log ? 'log_softmax_backward' : 'softmax_backward',
    shape: SHAPE_STR,
    bytes: 3 * N * 4, // read dy and y, write dx
    setup(rt: Runtime) {
      const x = rt.upload(data(1), SHAPE);
      const y = fwd(rt, x);
      const dy = rt.upload(data(2), SHAPE);
      let dx: Tensor | null = null;
      return {
        run() {
          dx?.dispose();
          dx = bwd(rt, dy, y);
        },
        dispose() {
          dx?.dispose();
          for (const t of [x, y, dy]) t.dispose();
        },
      };
    },
    peer(tf: Tf) {
      // tfjs's registered gradient of the kernel, from its saved output, as tf.grad runs it.
      const x = tf.tensor(data(1), SHAPE);
      const y = log ? tf.logSoftmax(x) : tf.softmax(x);
      const dy = tf.tensor(data(2), SHAPE);
      const grad = tf.getGradient(log ? 'LogSoftmax' : 'Softmax');
      const attrs = log ? { axis: -1 } : { dim: -1 };
      return { run: () => grad.gradFunc(dy, [y], attrs).logits(), dispose: () => tf.dispose([x, y, dy]) };
    },
  };
}

export const benches: BenchSpec[] = [forwardSpec(false), backwardSpec(false), forwardSpec(true), backwardSpec(true)];
