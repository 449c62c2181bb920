/**
 * torch.nn.GRU on WebGPU: multi-layer, optionally bidirectional, gates r, z, n with
 *   n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),  h' = (1 - z) * n + z * h.
 *
 *   const { y, hN, saved } = gru(rt, x, params, { hiddenSize: 256, numLayers: 2, bidirectional: true });
 *   const { dx, grads, dh0 } = gruBackward(rt, dy, saved, { dhN });
 *
 * - x: [T, N, inputSize] (time-major, like torch's batch_first=False).
 * - params: by torch name: `weight_ih_l{k}` [3H, I_k] (I_0 = inputSize, I_k = dirs*H),
 *   `weight_hh_l{k}` [3H, H], `bias_ih_l{k}` [3H], `bias_hh_l{k}` [3H], and the same with
 *   `_reverse` for the backward direction. All biases may be left out together (bias=False).
 * - options: hiddenSize; numLayers (1); bidirectional (false); dropout (0) and seed (0),
 *   applied to the inputs of layers 1.. in training mode only; training (false); h0
 *   [layers*dirs, N, H] (zeros when absent).
 * - returns y [T, N, dirs*H] (direction d in columns d*H..), hN [layers*dirs, N, H] (row
 *   k*dirs + d), and `saved` for backward. The caller's x and params must stay alive until
 *   backward.
 *
 * gruBackward takes dy = d(loss)/dy and optionally dhN, and returns dx, every parameter's
 * gradient keyed by its torch name, and dh0 when h0 was given. It frees `saved` unless
 * `keepSaved`. Without backward, call `saved.dispose()`.
 *
 * `variant` ('auto' | 'generic' | 'subgroup') picks the step kernels (default: the subgroup
 * ones on CPU adapters with 8-lane subgroups); tests and benchmarks force one.
 *
 * How it runs (see recurrent/recurrent.ts): per layer one matmul per direction for the
 * input projections of all steps, then one fused dispatch per step for both directions
 * (gru-forward.wgsl); backward one fused dispatch per step (gru-backward.wgsl), then the
 * weight, bias and input gradients as matmuls batched over all steps.
 */
import type { Runtime, Tensor } from '@crnn/core';
import {
  recurrentBackward,
  recurrentForward,
  type CellSpec,
  type RecurrentOptions,
  type RecurrentSaved,
} from '../recurrent/recurrent.js';
import forwardSrc from './gru-forward.wgsl.js';
import backwardSrc from './gru-backward.wgsl.js';
import forwardSgSrc from './gru-forward-sg.wgsl.js';
import backwardSgSrc from './gru-backward-sg.wgsl.js';

export { dropoutSeed, paramNames, type RecurrentSaved, type RecurrentVariant } from '../recurrent/recurrent.js';

/** The GRU cell for the shared driver (benches use it directly). */
export const GRU_CELL: CellSpec = {
  op: 'gru',
  gates: 3,
  hasCell: false,
  forwardCode: forwardSrc,
  backwardCode: backwardSrc,
  forwardSgCode: forwardSgSrc,
  backwardSgCode: backwardSgSrc,
};

export type GruOptions = Omit<RecurrentOptions, 'c0'>;

export interface GruResult {
  y: Tensor;
  hN: Tensor;
  saved: RecurrentSaved;
}

export interface GruBackwardOptions {
  dhN?: Tensor;
  keepSaved?: boolean;
}

export interface GruGrads {
  dx: Tensor;
  grads: Record<string, Tensor>;
  dh0?: Tensor;
}

export function gru(rt: Runtime, x: Tensor, params: Record<string, Tensor>, options: GruOptions): GruResult {
  const r = recurrentForward(rt, GRU_CELL, x, params, options);
  return { y: r.y, hN: r.hN, saved: r.saved };
}

export function gruBackward(rt: Runtime, dy: Tensor, saved: RecurrentSaved, options: GruBackwardOptions = {}): GruGrads {
  const { dx, grads, dh0 } = recurrentBackward(rt, GRU_CELL, dy, saved, options);
  return { dx, grads, ...(dh0 ? { dh0 } : {}) };
}
