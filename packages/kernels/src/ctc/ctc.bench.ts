// CTC benchmarks at the recognizer's training shape. tfjs has no CTC loss or CTC decoder,
// so there is no peer.
import { Rng, type Tensor } from '@crnn/core';
import type { BenchSpec } from '../bench/types.js';
import { ctcGreedyDecode, ctcLoss } from './ctc.js';

const [T, N, C, S] = [24, 8, 37, 5];
const SHAPE = `T${T} N${N} C${C} S${S}`;

function inputs(seed: number) {
  const rng = new Rng(seed);
  const logits = rng.fillNormal(T * N * C);
  const targets = Int32Array.from({ length: N * S }, () => 1 + rng.int(C - 1));
  const inputLengths = new Int32Array(N).fill(T);
  const targetLengths = new Int32Array(N).fill(S);
  return { logits, targets, inputLengths, targetLengths };
}

export const benches: BenchSpec[] = [
  {
    kernel: 'ctc_loss_forward_backward',
    shape: SHAPE,
    // log_softmax + gradient (~5 flops per logit) and two recursions (~15 flops per cell).
    flops: 5 * T * N * C + 2 * 15 * T * N * (2 * S + 1),
    setup(rt) {
      const h = inputs(1);
      const logits = rt.upload(h.logits, [T, N, C]);
      const targets = rt.upload(h.targets, [N, S], 'i32');
      const out: Tensor[] = [];
      return {
        run() {
          for (const t of out.splice(0)) t.dispose();
          const r = ctcLoss(rt, logits, targets, h.inputLengths, h.targetLengths);
          out.push(r.loss, r.nll, r.grad);
        },
        dispose() {
          for (const t of [logits, targets, ...out.splice(0)]) t.dispose();
        },
      };
    },
  },
  {
    kernel: 'ctc_greedy_decode',
    shape: SHAPE,
    bytes: 4 * (T * N * C + 2 * N * T),
    setup(rt) {
      const h = inputs(2);
      const logits = rt.upload(h.logits, [T, N, C]);
      const out: Tensor[] = [];
      return {
        run() {
          for (const t of out.splice(0)) t.dispose();
          const r = ctcGreedyDecode(rt, logits, h.inputLengths);
          out.push(r.tokens, r.lengths);
        },
        dispose() {
          for (const t of [logits, ...out.splice(0)]) t.dispose();
        },
      };
    },
  },
];
