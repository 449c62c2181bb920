/**
 * The benches shared by lstm.bench.ts and gru.bench.ts: a 2-layer bidirectional network at
 * T 24, N 8, input 512, hidden 256 (a CRNN's sequence model over 24 columns), forward alone
 * and forward + backward, next to tfjs's layers on the same adapter.
 *
 * Peer: tf.sequential of two tf.layers.bidirectional(tf.layers.lstm | tf.layers.gru
 * ({units: 256, returnSequences: true}), mergeMode 'concat') on [N, T, I] (tfjs layers are
 * batch-first; the input is built batch-first in setup, outside run()). Forward:
 * model.apply(x, {training: true}); forward + backward: tf.variableGrads of sum(y * dy),
 * the gradients of every weight (tfjs does not return dx there; ours does, so ours does a
 * little more work). tfjs's GRU is Keras's reset_after = false variant (r multiplies h
 * before W_hn): the same FLOPs as torch's.
 */
import { Rng, type Runtime, type Tensor } from '@crnn/core';
import type { BenchSpec, Tf } from '../bench/types.js';
import { paramNames, recurrentBackward, recurrentForward, type CellSpec, type RecurrentSaved } from './recurrent.js';

const T = 24;
const N = 8;
const I = 512;
const H = 256;
const L = 2;
const DIRS = 2;
const SHAPE = `T${T} N${N} I${I} H${H} layers${L} bidirectional`;

/** Multiply-adds x 2 of one forward: input projections and recurrent products. */
function forwardFlops(gates: number): number {
  let f = 0;
  for (let l = 0; l < L; l++) {
    const inF = l === 0 ? I : DIRS * H;
    f += DIRS * 2 * T * N * inF * gates * H; // x W_ih^T
    f += DIRS * 2 * T * N * H * gates * H; // h W_hh^T
  }
  return f;
}

function seeded(n: number, seed: number, scale: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.uniform(-scale, scale));
}

export interface RnnBenchSetup {
  x: Tensor;
  dy: Tensor;
  params: Record<string, Tensor>;
}

/** The benches' input, output gradient and parameters, seeded (bench/variants.ts times them too). */
export function setupOurs(rt: Runtime, gates: number): RnnBenchSetup {
  const G = gates * H;
  const k = 1 / Math.sqrt(H); // torch's init range
  const params: Record<string, Tensor> = {};
  let seed = 10;
  for (let l = 0; l < L; l++) {
    const inF = l === 0 ? I : DIRS * H;
    for (let d = 0; d < DIRS; d++) {
      const nm = paramNames(l, d);
      params[nm.wih] = rt.upload(seeded(G * inF, seed++, k), [G, inF]);
      params[nm.whh] = rt.upload(seeded(G * H, seed++, k), [G, H]);
      params[nm.bih] = rt.upload(seeded(G, seed++, k), [G]);
      params[nm.bhh] = rt.upload(seeded(G, seed++, k), [G]);
    }
  }
  return { x: rt.upload(seeded(T * N * I, 1, 1), [T, N, I]), dy: rt.upload(seeded(T * N * DIRS * H, 2, 1), [T, N, DIRS * H]), params };
}

function peerModel(tf: Tf, cell: 'lstm' | 'gru', training: boolean) {
  const model = tf.sequential();
  for (let l = 0; l < L; l++) {
    // Glorot-uniform recurrent weights: tfjs's default orthogonal initializer takes seconds
    // at this size (setup only, but needless).
    const rnn = tf.layers[cell]({ units: H, returnSequences: true, recurrentInitializer: 'glorotUniform' });
    model.add(tf.layers.bidirectional({ layer: rnn, mergeMode: 'concat', ...(l === 0 ? { inputShape: [T, I] } : {}) }));
  }
  // [T, N, I] time-major data transposed to tfjs's batch-first [N, T, I] here, outside run().
  const xt = tf.tensor(seeded(T * N * I, 1, 1), [T, N, I]);
  const x = tf.transpose(xt, [1, 0, 2]);
  xt.dispose();
  const dyt = tf.tensor(seeded(T * N * DIRS * H, 2, 1), [T, N, DIRS * H]);
  const dy = tf.transpose(dyt, [1, 0, 2]);
  dyt.dispose();
  tf.dispose(model.apply(x, { training })); // builds the weights
  return { model, x, dy };
}

function disposeAll(ts: Array<Tensor | undefined>): void {
  for (const t of ts) t?.dispose();
}

export function rnnBenches(cell: CellSpec): BenchSpec[] {
  const flops = forwardFlops(cell.gates);
  const o = { hiddenSize: H, numLayers: L, bidirectional: true, training: true };
  return [
    {
      kernel: `${cell.op}_forward`,
      shape: SHAPE,
      flops,
      setup(rt) {
        const s = setupOurs(rt, cell.gates);
        let out: Tensor[] = [];
        return {
          run() {
            disposeAll(out);
            const r = recurrentForward(rt, cell, s.x, s.params, o);
            r.saved.dispose(); // inference: nothing kept for backward
            out = [r.y, r.hN, ...(r.cN ? [r.cN] : [])];
          },
          dispose() {
            disposeAll([...out, s.x, s.dy, ...Object.values(s.params)]);
          },
        };
      },
      peer(tf: Tf) {
        const { model, x, dy } = peerModel(tf, cell.op, false);
        return {
          run: () => model.apply(x, { training: true }),
          dispose: () => {
            tf.dispose([x, dy]);
            model.dispose();
          },
        };
      },
    },
    {
      kernel: `${cell.op}_forward_backward`,
      shape: SHAPE,
      flops: 3 * flops, // backward: dW_ih and dx (2x the projections), dW_hh and dh (2x the recurrence)
      setup(rt) {
        const s = setupOurs(rt, cell.gates);
        let out: Tensor[] = [];
        return {
          run() {
            disposeAll(out);
            const r = recurrentForward(rt, cell, s.x, s.params, o);
            const saved: RecurrentSaved = r.saved;
            const g = recurrentBackward(rt, cell, s.dy, saved);
            out = [r.y, r.hN, ...(r.cN ? [r.cN] : []), g.dx, ...Object.values(g.grads)];
          },
          dispose() {
            disposeAll([...out, s.x, s.dy, ...Object.values(s.params)]);
          },
        };
      },
      peer(tf: Tf) {
        const { model, x, dy } = peerModel(tf, cell.op, true);
        return {
          run: () => tf.variableGrads(() => tf.sum(tf.mul(model.apply(x, { training: true }), dy))),
          dispose: () => {
            tf.dispose([x, dy]);
            model.dispose();
          },
        };
      },
    },
  ];
}
