// Sibling-only API (models, trainer tests): test helpers, input checks and the float64 CPU
// references of the ops, for checking compositions of kernels against compositions of refs.
export * from './testing.js';
export * from './validate.js';
export * from './elementwise/elementwise.ref.js';
export * from './matmul/matmul.ref.js';
export * from './cross-entropy/cross-entropy.ref.js';
export { ctcLossRef, logSoftmaxRef, ctcGreedyDecodeRef } from './ctc/ctc.ref.js';
export * from './permute/permute.ref.js';
export { winogradTuning } from './conv2d/winograd-tuning.js';
