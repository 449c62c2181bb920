/**
 * torch.nn.LSTM on WebGPU: multi-layer, optionally bidirectional, gates i, f, g, o.
 *
 *   const { y, hN, cN, saved } = lstm(rt, x, params, { hiddenSize: 256, numLayers: 2, bidirectional: true });
 *   const { dx, grads, dh0, dc0 } = lstmBackward(rt, dy, saved, { dhN, dcN });
 *
 * - x: [T, N, inputSize] (time-major, like torch's batch_first=False).
 * - params: by torch name: `weight_ih_l{k}` [4H, I_k] (I_0 = inputSize, I_k = dirs*H),
 *   `weight_hh_l{k}` [4H, H], `bias_ih_l{k}` [4H], `bias_hh_l{k}` [4H], and the same with
 *   `_reverse` for the backward direction. All biases may be left out together (bias=False).
 * - options: hiddenSize; numLayers (1); bidirectional (false); dropout (0) and seed (0),
 *   applied to the inputs of layers 1.. in training mode only; training (false); h0, c0
 *   [layers*dirs, N, H] (zeros when absent).
 * - returns y [T, N, dirs*H] (the last layer's h for every step; direction d in columns
 *   d*H..), hN and cN [layers*dirs, N, H] (row k*dirs + d), and `saved` for backward. The
 *   caller's x and params must stay alive until backward.
 *
 * lstmBackward takes dy = d(loss)/dy, and optionally dhN / dcN (gradients of hN, cN), and
 * returns dx, every parameter's gradient keyed by its torch name, and dh0 / dc0 when h0 / c0
 * were given. It frees `saved` unless `keepSaved` (a second backward over the same forward).
 * Without backward, call `saved.dispose()`.
 *
 * `variant` ('auto' | 'generic' | 'subgroup') picks the step kernels (default: the subgroup
 * ones on CPU adapters with 8-lane subgroups); tests and benchmarks force one.
 *
 * How it runs (see recurrent/recurrent.ts): per layer one matmul per direction for the
 * input projections of all steps, then one fused dispatch per step for both directions
 * (lstm-forward.wgsl); backward one fused dispatch per step (lstm-backward.wgsl), then the
 * weight, bias and input gradients as matmuls batched over all steps.
 */
import type { Runtime, Tensor } from '@crnn/core';
import {
  recurrentBackward,
  recurrentForward,
  type CellSpec,
  type RecurrentGrads,
  type RecurrentOptions,
  type RecurrentSaved,
} from '../recurrent/recurrent.js';
import forwardSrc from './lstm-forward.wgsl.js';
import backwardSrc from './lstm-backward.wgsl.js';
import forwardSgSrc from './lstm-forward-sg.wgsl.js';
import backwardSgSrc from './lstm-backward-sg.wgsl.js';

export { dropoutSeed, paramNames, type RecurrentSaved, type RecurrentVariant } from '../recurrent/recurrent.js';

/** The LSTM cell for the shared driver (benches use it directly). */
export const LSTM_CELL: CellSpec = {
  op: 'lstm',
  gates: 4,
  hasCell: true,
  forwardCode: forwardSrc,
  backwardCode: backwardSrc,
  forwardSgCode: forwardSgSrc,
  backwardSgCode: backwardSgSrc,
};

export type LstmOptions = RecurrentOptions;

export interface LstmResult {
  y: Tensor;
  hN: Tensor;
  cN: Tensor;
  saved: RecurrentSaved;
}

export interface LstmBackwardOptions {
  dhN?: Tensor;
  dcN?: Tensor;
  keepSaved?: boolean;
}

export type LstmGrads = RecurrentGrads;

export function lstm(rt: Runtime, x: Tensor, params: Record<string, Tensor>, options: LstmOptions): LstmResult {
  const r = recurrentForward(rt, LSTM_CELL, x, params, options);
  return { y: r.y, hN: r.hN, cN: r.cN!, saved: r.saved };
}

export function lstmBackward(rt: Runtime, dy: Tensor, saved: RecurrentSaved, options: LstmBackwardOptions = {}): LstmGrads {
  return recurrentBackward(rt, LSTM_CELL, dy, saved, options);
}
