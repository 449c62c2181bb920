// The kernels' public API: one module per op folder. Every function records dispatches on
// the given Runtime and returns tensors; nothing reads back unless its name says so.
export * from './elementwise/elementwise.js';
export * from './matmul/matmul.js';
export * from './max-pool2d/max-pool2d.js';
export * from './batch-norm/batch-norm.js';
export * from './softmax/softmax.js';
export * from './cross-entropy/cross-entropy.js';
export * from './embedding/embedding.js';
export * from './attention/dot-attention.js';
export * from './ctc/ctc.js';
export * from './ctc/ctc-beam-search.js';
export * from './optim/optim.js';
export * from './permute/permute.js';
export * from './conv2d/conv2d.js';
export * from './lstm/lstm.js';
export * from './gru/gru.js';
