/**
 * Elementwise benches at a conv feature map's size, [N, C, H, W] = [8, 64, 32, 100]:
 * relu/tanh/sigmoid forward and backward, and a bias add broadcast over the trailing
 * dimension, forward and its bias gradient. Memory-bound, so they report GB/s: bytes are
 * each run's compulsory reads and writes of f32 tensors.
 */
import { Rng, type Tensor } from '@crnn/core';
import type { BenchSpec, Tf } from '../bench/types.js';
import { binary, binaryBackward, unary, unaryBackward } from './elementwise.js';

const SHAPE = [8, 64, 32, 100] as const;
const N = SHAPE.reduce((a, b) => a * b, 1);
const BIAS = [SHAPE[3]] as const;
const SHAPE_STR = `[${SHAPE.join(', ')}]`;

let cache: Float32Array | null = null;
/** One seeded [-2, 2) array shared by every spec (both signs exercise relu's branch). */
function data(): Float32Array {
  cache ??= new Rng(1234).fillUniform(N, -2, 2);
  return cache;
}

/** tfjs's names of the unary kernels, for tf.getGradient (what tf.grad would run). */
const TF_KERNEL: Record<'relu' | 'tanh' | 'sigmoid', string> = { relu: 'Relu', tanh: 'Tanh', sigmoid: 'Sigmoid' };

function unaryForward(op: 'relu' | 'tanh' | 'sigmoid'): BenchSpec {
  return {
    kernel: `${op}_forward`,
    shape: SHAPE_STR,
    bytes: 2 * N * 4, // read x, write y
    setup(rt) {
      const x = rt.upload(data(), SHAPE);
      let y: Tensor | null = null;
      return {
        run() {
          // The previous output was submitted and waited on by the harness: recycle it.
          y?.dispose();
          y = unary(rt, op, x);
        },
        dispose() {
          y?.dispose();
          x.dispose();
        },
      };
    },
    peer(tf: Tf) {
      const x = tf.tensor(data(), SHAPE);
      return { run: () => tf[op](x), dispose: () => x.dispose() };
    },
  };
}

function unaryBack(op: 'relu' | 'tanh' | 'sigmoid'): BenchSpec {
  return {
    kernel: `${op}_backward`,
    shape: SHAPE_STR,
    bytes: 3 * N * 4, // read dy and y, write dx
    setup(rt) {
      const x = rt.upload(data(), SHAPE);
      const y = unary(rt, op, x);
      const dy = rt.upload(data(), SHAPE);
      let dx: Tensor | null = null;
      return {
        run() {
          dx?.dispose();
          dx = unaryBackward(rt, op, dy, y);
        },
        dispose() {
          dx?.dispose();
          for (const t of [x, y, dy]) t.dispose();
        },
      };
    },
    peer(tf: Tf) {
      // tfjs's own gradient function for the kernel, as tf.grad runs it in training:
      // Relu saves its input, Tanh and Sigmoid their output.
      const x = tf.tensor(data(), SHAPE);
      const y = tf[op](x);
      const dy = tf.tensor(data(), SHAPE);
      const grad = tf.getGradient(TF_KERNEL[op]);
      const saved = op === 'relu' ? [x] : [y];
      return {
        run: () => grad.gradFunc(dy, saved, {}).x(),
        dispose: () => tf.dispose([x, y, dy]),
      };
    },
  };
}

const addForward: BenchSpec = {
  kernel: 'add_forward',
  shape: `${SHAPE_STR} + bias [${BIAS[0]}]`,
  bytes: 2 * N * 4 + BIAS[0] * 4,
  setup(rt) {
    const a = rt.upload(data(), SHAPE);
    const b = rt.upload(data().subarray(0, BIAS[0]), BIAS);
    let c: Tensor | null = null;
    return {
      run() {
        c?.dispose();
        c = binary(rt, 'add', a, b);
      },
      dispose() {
        c?.dispose();
        a.dispose();
        b.dispose();
      },
    };
  },
  peer(tf: Tf) {
    const a = tf.tensor(data(), SHAPE);
    const b = tf.tensor(data().subarray(0, BIAS[0]), BIAS);
    return { run: () => tf.add(a, b), dispose: () => tf.dispose([a, b]) };
  },
};

/** The bias gradient: db = dc summed over every broadcast row (da is dc itself). */
const addBackwardBias: BenchSpec = {
  kernel: 'add_backward',
  shape: `${SHAPE_STR} + bias [${BIAS[0]}], db only`,
  bytes: N * 4 + BIAS[0] * 4,
  setup(rt) {
    const a = rt.upload(data(), SHAPE);
    const b = rt.upload(data().subarray(0, BIAS[0]), BIAS);
    const dc = rt.upload(data(), SHAPE);
    let db: Tensor | null = null;
    return {
      run() {
        db?.dispose();
        db = binaryBackward(rt, 'add', dc, a, b, { b: true }).db!;
      },
      dispose() {
        db?.dispose();
        for (const t of [a, b, dc]) t.dispose();
      },
    };
  },
  peer(tf: Tf) {
    const a = tf.tensor(data(), SHAPE);
    const b = tf.tensor(data().subarray(0, BIAS[0]), BIAS);
    const dc = tf.tensor(data(), SHAPE);
    const grad = tf.getGradient('Add');
    return { run: () => grad.gradFunc(dc, [a, b], {}).b(), dispose: () => tf.dispose([a, b, dc]) };
  },
};

export const benches: BenchSpec[] = [
  unaryForward('relu'),
  unaryBack('relu'),
  unaryForward('tanh'),
  unaryBack('tanh'),
  unaryForward('sigmoid'),
  unaryBack('sigmoid'),
  addForward,
  addBackwardBias,
];
