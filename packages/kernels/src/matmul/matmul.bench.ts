/**
 * matmul at 1024^3 in each transpose combination, and linear forward / backward at the CRNN's
 * shapes: the classifier (x [24*8, 512] -> 37 classes) and the LSTM input projection
 * (x [24*8, 512] -> 4 gates x 256). flops count multiply-adds as 2. Ours runs the `auto`
 * variant (on lavapipe: sw-window or sw-direct; on GPUs: tiled).
 */
import { Rng, type Tensor } from '@crnn/core';
import type { BenchSpec, Tf } from '../bench/types.js';
import { linear, linearBackward, matmul } from './matmul.js';

const data = new Map<string, Float32Array>();
/** Seeded inputs in [-1, 1), cached by name and size so that repeats reuse them. */
function values(name: string, n: number): Float32Array {
  const key = `${name}:${n}`;
  let v = data.get(key);
  if (!v) {
    v = new Rng(data.size + 91).fillUniform(n, -1, 1);
    data.set(key, v);
  }
  return v;
}

function matmulBench(n: number, transA: boolean, transB: boolean): BenchSpec {
  const tag = transA || transB ? ` ${transA ? 'Aᵀ' : 'A'}${transB ? 'Bᵀ' : 'B'}` : '';
  return {
    kernel: 'matmul',
    shape: `${n}x${n}x${n}${tag}`,
    flops: 2 * n * n * n,
    setup(rt) {
      const a = rt.upload(values('a', n * n), [n, n]);
      const b = rt.upload(values('b', n * n), [n, n]);
      let c: Tensor | null = null;
      return {
        run() {
          c?.dispose();
          c = matmul(rt, a, b, { transA, transB });
        },
        dispose() {
          for (const t of [a, b, c]) t?.dispose();
        },
      };
    },
    peer(tf: Tf) {
      const a = tf.tensor(values('a', n * n), [n, n]);
      const b = tf.tensor(values('b', n * n), [n, n]);
      return {
        run: () => tf.matMul(a, b, transA, transB),
        dispose: () => tf.dispose([a, b]),
      };
    },
  };
}

/** x [rows, inF] -> [rows, out] with W [out, inF] and a bias. */
function linearForward(label: string, rows: number, inF: number, out: number): BenchSpec {
  return {
    kernel: 'linear_forward',
    shape: `${label}: x[${rows}, ${inF}] W[${out}, ${inF}]`,
    flops: 2 * rows * inF * out,
    setup(rt) {
      const x = rt.upload(values('x', rows * inF), [rows, inF]);
      const w = rt.upload(values('w', out * inF), [out, inF]);
      const b = rt.upload(values('bias', out), [out]);
      let y: Tensor | null = null;
      return {
        run() {
          y?.dispose();
          y = linear(rt, x, w, b);
        },
        dispose() {
          for (const t of [x, w, b, y]) t?.dispose();
        },
      };
    },
    peer(tf: Tf) {
      const x = tf.tensor(values('x', rows * inF), [rows, inF]);
      const w = tf.tensor(values('w', out * inF), [out, inF]);
      const b = tf.tensor(values('bias', out), [out]);
      return {
        run: () => tf.add(tf.matMul(x, w, false, true), b),
        dispose: () => tf.dispose([x, w, b]),
      };
    },
  };
}

/** dx = dy W, dW = dyᵀ x, db = column sums of dy. */
function linearBackwardBench(label: string, rows: number, inF: number, out: number): BenchSpec {
  return {
    kernel: 'linear_backward',
    shape: `${label}: x[${rows}, ${inF}] W[${out}, ${inF}]`,
    flops: 4 * rows * inF * out,
    setup(rt) {
      const x = rt.upload(values('x', rows * inF), [rows, inF]);
      const w = rt.upload(values('w', out * inF), [out, inF]);
      const dy = rt.upload(values('dy', rows * out), [rows, out]);
      let grads: Tensor[] = [];
      return {
        run() {
          for (const t of grads) t.dispose();
          const g = linearBackward(rt, dy, x, w);
          grads = [g.dx!, g.dw!, g.db!];
        },
        dispose() {
          for (const t of [x, w, dy, ...grads]) t.dispose();
        },
      };
    },
    peer(tf: Tf) {
      const x = tf.tensor(values('x', rows * inF), [rows, inF]);
      const w = tf.tensor(values('w', out * inF), [out, inF]);
      const dy = tf.tensor(values('dy', rows * out), [rows, out]);
      return {
        run: () => [tf.matMul(dy, w), tf.matMul(dy, x, true, false), tf.sum(dy, 0)],
        dispose: () => tf.dispose([x, w, dy]),
      };
    },
  };
}

// The CRNN's sequence: T = 24 steps of N = 8 images, 512 features per step.
const ROWS = 24 * 8;

export const benches: BenchSpec[] = [
  matmulBench(1024, false, false),
  matmulBench(1024, true, false),
  matmulBench(1024, false, true),
  matmulBench(1024, true, true),
  linearForward('classifier', ROWS, 512, 37),
  linearBackwardBench('classifier', ROWS, 512, 37),
  linearForward('lstm input projection', ROWS, 512, 1024),
  linearBackwardBench('lstm input projection', ROWS, 512, 1024),
];
