/**
 * Every op folder's `<op>.bench.ts`, one line each: add a line when a folder gets one.
 * Loaded lazily so that a filter loads and a broken module fails only its own line.
 */
import type { BenchSpec } from './types.js';

export interface BenchModule {
  benches: BenchSpec[];
}

export const benchModules: ReadonlyArray<readonly [op: string, load: () => Promise<BenchModule>]> = [
  ['attention', () => import('../attention/dot-attention.bench.js')],
  ['conv2d', () => import('../conv2d/conv2d.bench.js')],
  ['batch-norm', () => import('../batch-norm/batch-norm.bench.js')],
  ['cross-entropy', () => import('../cross-entropy/cross-entropy.bench.js')],
  ['ctc', () => import('../ctc/ctc.bench.js')],
  ['elementwise', () => import('../elementwise/elementwise.bench.js')],
  ['embedding', () => import('../embedding/embedding.bench.js')],
  ['matmul', () => import('../matmul/matmul.bench.js')],
  ['lstm', () => import('../lstm/lstm.bench.js')],
  ['gru', () => import('../gru/gru.bench.js')],
  ['max-pool2d', () => import('../max-pool2d/max-pool2d.bench.js')],
  ['optim', () => import('../optim/optim.bench.js')],
  ['softmax', () => import('../softmax/softmax.bench.js')],
];
