/**
 * PyTorch's default initialisations, drawn from our seeded Rng so that the same seed gives
 * the same weights on every platform:
 * - Conv2d / Linear: kaiming_uniform(a = sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for
 *   the weight, and U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the bias.
 * - LSTM / GRU: every parameter U(-1/sqrt(H), 1/sqrt(H)).
 * - BatchNorm: weight 1, bias 0, running mean 0, running var 1.
 * - Embedding: N(0, 1).
 */
import type { Rng } from '@crnn/core';

export function uniformInit(rng: Rng, n: number, bound: number): Float32Array {
  return rng.fillUniform(n, -bound, bound);
}

export function fanInBound(fanIn: number): number {
  return 1 / Math.sqrt(Math.max(1, fanIn));
}
