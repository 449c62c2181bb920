/**
 * Differentiable ops: each runs a forward kernel, records a backward closure that calls the
 * op's backward kernels, and leaves every tensor it makes to the tape.
 */
import type { Tensor } from '@crnn/core';
import * as K from '@crnn/kernels';
import type { Tape, Var } from './autograd.js';

export function linear(t: Tape, x: Var, w: Var, b?: Var): Var {
  const y = K.linear(t.rt, x.value, w.value, b?.value);
  return t.op1([x, w, b], y, (g) => {
    const r = K.linearBackward(t.rt, g, x.value, w.value, { x: x.requiresGrad, w: w.requiresGrad, b: !!b?.requiresGrad });
    return [r.dx, r.dw, r.db];
  });
}

export function unary(t: Tape, op: K.UnaryOp, x: Var, alpha = 1): Var {
  const y = K.unary(t.rt, op, x.value, alpha);
  return t.op1([x], y, (g) => [K.unaryBackward(t.rt, op, g, y, alpha)]);
}

export const relu = (t: Tape, x: Var) => unary(t, 'relu', x);
export const tanh = (t: Tape, x: Var) => unary(t, 'tanh', x);
export const sigmoid = (t: Tape, x: Var) => unary(t, 'sigmoid', x);

export function add(t: Tape, a: Var, b: Var): Var {
  const y = K.add(t.rt, a.value, b.value);
  return t.op1([a, b], y, (g) => {
    const r = K.binaryBackward(t.rt, 'add', g, a.value, b.value, { a: a.requiresGrad, b: b.requiresGrad });
    return [r.da, r.db];
  });
}

/** Dropout in training (seeded mask); the identity otherwise. */
export function dropout(t: Tape, x: Var, p: number, seed: number): Var {
  if (!t.training || p === 0) return x;
  const y = K.dropout(t.rt, x.value, p, seed);
  return t.op1([x], y, (g) => [K.dropoutBackward(t.rt, g, p, seed)]);
}

/** A view with another shape (no copy); the gradient is reshaped back. */
export function reshape(t: Tape, x: Var, shape: readonly number[]): Var {
  const y = x.value.reshape(shape);
  return t.op1([x], y, (g) => [g.reshape(x.value.shape)]);
}

export function permute(t: Tape, x: Var, perm: readonly number[]): Var {
  const y = K.permute(t.rt, x.value, perm);
  const inv = K.inversePermutation(perm);
  return t.op1([x], y, (g) => [K.permute(t.rt, g, inv)]);
}

export function concat(t: Tape, xs: Var[], axis: number): Var {
  const y = K.concat(t.rt, xs.map((v) => v.value), axis);
  const ax = axis < 0 ? axis + xs[0]!.value.rank : axis;
  return t.op1(xs, y, (g) => K.split(t.rt, g, xs.map((v) => v.value.shape[ax]!), ax));
}

export function maxPool2d(t: Tape, x: Var, opts: K.MaxPool2dOptions): Var {
  // Without a gradient to take (eval, predict) the argmax is not needed: y alone.
  if (!t.grad || !x.requiresGrad) return t.op1([x], K.maxPool2dValues(t.rt, x.value, opts), () => [null]);
  const { y, argmax } = K.maxPool2d(t.rt, x.value, opts);
  t.own(argmax);
  return t.op1([x], y, (g) => [K.maxPool2dBackward(t.rt, g, argmax, x.value.shape, opts)]);
}

export interface BatchNormArgs {
  weight?: Var;
  bias?: Var;
  runningMean?: Tensor;
  runningVar?: Tensor;
  momentum?: number;
  eps?: number;
  /** relu(batch norm) in one forward pass (the bits of the two ops apart). */
  relu?: boolean;
}

/** Batch norm: batch statistics in training (running stats updated in place), running ones in eval. */
export function batchNorm(t: Tape, x: Var, a: BatchNormArgs): Var {
  const { y, saved } = K.batchNorm(t.rt, x.value, {
    ...(a.weight ? { weight: a.weight.value } : {}),
    ...(a.bias ? { bias: a.bias.value } : {}),
    ...(a.runningMean ? { runningMean: a.runningMean } : {}),
    ...(a.runningVar ? { runningVar: a.runningVar } : {}),
    training: t.training,
    ...(a.momentum !== undefined ? { momentum: a.momentum } : {}),
    ...(a.eps !== undefined ? { eps: a.eps } : {}),
    ...(a.relu ? { relu: true } : {}),
  });
  t.own(saved.mean);
  t.own(saved.invstd);
  return t.op1([x, a.weight, a.bias], y, (g) => {
    const need = { x: x.requiresGrad, weight: !!a.weight?.requiresGrad, bias: !!a.bias?.requiresGrad };
    // With relu fused, the backward masks g by this op's output y (relu's backward) too.
    const r = K.batchNormBackward(t.rt, g, x.value, saved, a.weight?.value, need, y);
    return [r.dx, r.dweight, r.dbias];
  });
}

/** Multiplies a gradient by the upstream gradient of a scalar loss (a [] tensor). */
function scaleByUpstream(t: Tape, grad: Tensor, upstream: Tensor): Tensor {
  const scalar = upstream.reshape([]);
  const r = K.mul(t.rt, grad, scalar);
  scalar.dispose();
  return r;
}

export interface CtcArgs {
  targets: K.CtcTargets;
  inputLengths: ArrayLike<number>;
  targetLengths: ArrayLike<number>;
  blank?: number;
  reduction?: 'mean' | 'sum';
  zeroInfinity?: boolean;
}

/** CTC loss of logits [T, N, C] (a scalar); the gradient is computed with the loss. */
export function ctcLoss(t: Tape, logits: Var, a: CtcArgs): Var {
  const opts = { blank: a.blank ?? 0, reduction: a.reduction ?? 'mean', zeroInfinity: a.zeroInfinity ?? false };
  if (!t.grad) {
    const r = K.ctcLossForward(t.rt, logits.value, a.targets, a.inputLengths, a.targetLengths, opts);
    t.own(r.nll);
    return t.constant(r.loss);
  }
  const r = K.ctcLoss(t.rt, logits.value, a.targets, a.inputLengths, a.targetLengths, opts);
  t.own(r.nll);
  t.own(r.grad);
  return t.op1([logits], r.loss, (g) => [scaleByUpstream(t, r.grad, g)]);
}

export interface CrossEntropyArgs {
  targets: Tensor | ArrayLike<number>;
  classDim?: number;
  ignoreIndex?: number;
}

/** Mean cross-entropy over the non-ignored targets (a scalar). */
export function crossEntropy(t: Tape, logits: Var, a: CrossEntropyArgs): Var {
  const o = { ...(a.classDim !== undefined ? { classDim: a.classDim } : {}), ...(a.ignoreIndex !== undefined ? { ignoreIndex: a.ignoreIndex } : {}), reduction: 'mean' as const };
  const loss = K.crossEntropy(t.rt, logits.value, a.targets, o);
  return t.op1([logits], loss, (g) => [K.crossEntropyBackward(t.rt, g, logits.value, a.targets, o)]);
}

export function embedding(t: Tape, weight: Var, indices: Tensor | ArrayLike<number>, indicesShape?: readonly number[]): Var {
  const o = indicesShape ? { indicesShape: [...indicesShape] } : {};
  const y = K.embedding(t.rt, weight.value, indices, o);
  return t.op1([weight], y, (g) => [K.embeddingBackward(t.rt, g, indices, weight.value.shape[0]!, o)]);
}

/** Luong dot attention: returns [context, attention]. */
export function dotAttention(t: Tape, encoder: Var, decoder: Var, sourceLengths?: ArrayLike<number>): [Var, Var] {
  const r = K.dotAttention(t.rt, encoder.value, decoder.value, sourceLengths ? { sourceLengths } : {});
  const [ctx, att] = t.op([encoder, decoder], [r.context, r.attention], (gs) => {
    const g = K.dotAttentionBackward(t.rt, gs[0] ?? null, gs[1] ?? null, encoder.value, decoder.value, r.attention);
    return [g.dEncoder, g.dDecoder];
  });
  return [ctx!, att!];
}

export interface Conv2dArgs {
  stride: [number, number];
  padding: [number, number];
}

export function conv2d(t: Tape, x: Var, w: Var, b: Var | undefined, o: Conv2dArgs): Var {
  const y = K.conv2d(t.rt, x.value, w.value, b?.value, o);
  return t.op1([x, w, b], y, (g) => {
    const r = K.conv2dBackward(t.rt, g, x.value, w.value, o, { x: x.requiresGrad, w: w.requiresGrad, b: !!b?.requiresGrad });
    return [r.dx, r.dw, r.db];
  });
}

export interface RecurrentArgs {
  hiddenSize: number;
  numLayers: number;
  bidirectional: boolean;
  dropout: number;
  seed: number;
}

/** A (multi-layer, bidirectional) LSTM or GRU over x [T, N, I]; returns y [T, N, dirs*H]. */
export function recurrent(t: Tape, kind: 'lstm' | 'gru', x: Var, params: Record<string, Var>, a: RecurrentArgs): Var {
  const tensors: Record<string, Tensor> = {};
  const names = Object.keys(params);
  for (const n of names) tensors[n] = params[n]!.value;
  const o = { ...a, training: t.training };
  const r = kind === 'lstm' ? K.lstm(t.rt, x.value, tensors, o) : K.gru(t.rt, x.value, tensors, o);
  t.own(r.hN);
  const cN = (r as { cN?: Tensor }).cN;
  if (cN) t.own(cN);
  const inputs = [x, ...names.map((n) => params[n]!)];
  if (!t.grad) {
    r.saved.dispose();
    return t.constant(r.y);
  }
  let done = false;
  const y = t.op1(inputs, r.y, (g) => {
    done = true;
    const gr = kind === 'lstm' ? K.lstmBackward(t.rt, g, r.saved) : K.gruBackward(t.rt, g, r.saved);
    return [gr.dx, ...names.map((n) => gr.grads[n] ?? null)];
  });
  // Saved activations are the tape's too when backward never runs (an eval pass with grad).
  t.onDispose(() => {
    if (!done) r.saved.dispose();
  });
  return y;
}

/**
 * A GRU over x [T, N, I] that also takes an initial state h0 [layers*dirs, N, H] (zeros when
 * absent) and returns the final state hN next to y [T, N, dirs*H]: step-by-step decoding
 * feeds one call's hN as the next call's h0. Gradients flow into x, the parameters and h0
 * from either output (a missing dy is taken as zeros).
 */
export function gruWithState(t: Tape, x: Var, params: Record<string, Var>, a: RecurrentArgs, h0?: Var): { y: Var; hN: Var } {
  const tensors: Record<string, Tensor> = {};
  const names = Object.keys(params);
  for (const n of names) tensors[n] = params[n]!.value;
  const r = K.gru(t.rt, x.value, tensors, { ...a, training: t.training, ...(h0 ? { h0: h0.value } : {}) });
  const inputs = [x, h0, ...names.map((n) => params[n]!)];
  if (!t.grad) {
    r.saved.dispose();
    return { y: t.constant(r.y), hN: t.constant(r.hN) };
  }
  let done = false;
  const [y, hN] = t.op(inputs, [r.y, r.hN], (gs) => {
    done = true;
    const dy = gs[0] ?? t.own(t.rt.zeros(r.y.shape));
    const gr = K.gruBackward(t.rt, dy, r.saved, gs[1] ? { dhN: gs[1] } : {});
    return [gr.dx, gr.dh0 ?? null, ...names.map((n) => gr.grads[n] ?? null)];
  });
  t.onDispose(() => {
    if (!done) r.saved.dispose();
  });
  return { y: y!, hN: hN! };
}
