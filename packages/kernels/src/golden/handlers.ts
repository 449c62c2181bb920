// The flat table of golden-case handlers for kernel ops: golden op name -> handler. Each
// op's handler lives in its folder as `<op>.golden.ts`.
import type { GoldenHandler } from './golden.js';
import { linearGolden } from '../matmul/matmul.golden.js';
import { conv2dGolden } from '../conv2d/conv2d.golden.js';
import { maxPool2dGolden } from '../max-pool2d/max-pool2d.golden.js';
import { batchNorm2dGolden } from '../batch-norm/batch-norm.golden.js';
import { crossEntropyGolden } from '../cross-entropy/cross-entropy.golden.js';
import { embeddingGolden } from '../embedding/embedding.golden.js';
import { dotAttentionGolden } from '../attention/dot-attention.golden.js';
import { ctcLossGolden } from '../ctc/ctc.golden.js';
import { lstmGolden } from '../lstm/lstm.golden.js';
import { gruGolden } from '../gru/gru.golden.js';
import { optimizerAdadeltaGolden, optimizerAdamGolden, optimizerSgdGolden, clipGradNormGolden } from '../optim/optim.golden.js';

export const kernelGoldenHandlers: Readonly<Record<string, GoldenHandler>> = {
  linear: linearGolden,
  conv2d: conv2dGolden,
  max_pool2d: maxPool2dGolden,
  batch_norm2d: batchNorm2dGolden,
  cross_entropy: crossEntropyGolden,
  embedding: embeddingGolden,
  dot_attention: dotAttentionGolden,
  ctc_loss: ctcLossGolden,
  lstm: lstmGolden,
  gru: gruGolden,
  optimizer_sgd: optimizerSgdGolden,
  optimizer_adam: optimizerAdamGolden,
  optimizer_adadelta: optimizerAdadeltaGolden,
  clip_grad_norm: clipGradNormGolden,
};
