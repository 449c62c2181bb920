import type { Tensor } from '@crnn/core';
import type { GoldenHandler } from '../golden/golden.js';
import { recurrentGolden } from '../recurrent/recurrent.golden.js';
import { lstm, lstmBackward } from './lstm.js';

/**
 * lstm: torch.nn.LSTM with attrs hidden_size, num_layers, bidirectional and zero initial
 * state; outputs y, h_n, c_n; grads of sum(y * grad_outputs.y) for x and every parameter.
 */
export const lstmGolden: GoldenHandler = recurrentGolden((rt, x, params, o) => {
  const r = lstm(rt, x, params, o);
  return {
    outputs: { y: r.y, h_n: r.hN, c_n: r.cN },
    backward: (dy: Tensor) => lstmBackward(rt, dy, r.saved),
  };
});
