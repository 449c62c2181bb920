import type { Tensor } from '@crnn/core';
import type { GoldenHandler } from '../golden/golden.js';
import { recurrentGolden } from '../recurrent/recurrent.golden.js';
import { gru, gruBackward } from './gru.js';

/**
 * gru: torch.nn.GRU with attrs hidden_size, num_layers, bidirectional and zero initial
 * state; outputs y, h_n; grads of sum(y * grad_outputs.y) for x and every parameter.
 */
export const gruGolden: GoldenHandler = recurrentGolden((rt, x, params, o) => {
  const r = gru(rt, x, params, o);
  return {
    outputs: { y: r.y, h_n: r.hN },
    backward: (dy: Tensor) => gruBackward(rt, dy, r.saved),
  };
});
