import { f32, OpInputError, type Runtime, type Tensor } from '@crnn/core';
import { expectDType, expectNonEmpty, expectRank, expectSameShape, expectShape } from '../validate.js';
import trainSrc from './batch-norm-train.wgsl.js';
import evalSrc from './batch-norm-eval.wgsl.js';
import backwardSrc from './batch-norm-backward.wgsl.js';
import backwardReluSrc from './batch-norm-backward-relu.wgsl.js';
import { unaryBackward } from '../elementwise/elementwise.js';

export interface BatchNormOptions {
  /** Per-channel scale gamma [C]; absent means 1 (no affine scale). */
  weight?: Tensor;
  /** Per-channel shift beta [C]; absent means 0. */
  bias?: Tensor;
  /**
   * Running statistics [C]. In training mode they are updated in place (both or neither
   * may be given); in eval mode they are required and normalize x.
   */
  runningMean?: Tensor;
  runningVar?: Tensor;
  /** Batch statistics (true) or running statistics (false). */
  training: boolean;
  /** running = (1 - momentum) * running + momentum * batch statistic. Default 0.1. */
  momentum?: number;
  /** Added to the variance under the square root. Default 1e-5. */
  eps?: number;
  /**
   * Applies relu to the output in the same pass: batch norm followed by relu, with the same
   * bits as the two ops apart, one read and write of the map fewer. The backward masks dy by
   * this y as relu's backward would, inside batchNormBackward's pass where the adapter has 9
   * storage bindings per stage (`fusesReluBackward`), else as a dispatch of its own first.
   */
  relu?: boolean;
}

/** What the backward pass needs from the forward pass. The caller disposes mean and invstd. */
export interface BatchNormSaved {
  /** [C]: the batch mean (training) or a copy of the running mean (eval). */
  mean: Tensor;
  /** [C]: 1 / sqrt(var + eps) with the biased batch variance (training) or the running variance (eval). */
  invstd: Tensor;
  /** The mode of the forward pass: the backward pass differs. */
  training: boolean;
  /** Whether the forward pass applied relu (`BatchNormOptions.relu`): the backward takes relu's too. */
  relu?: boolean;
}

export interface BatchNormResult {
  y: Tensor;
  saved: BatchNormSaved;
}

export interface BatchNormGrads {
  dx?: Tensor;
  dweight?: Tensor;
  dbias?: Tensor;
}

/** x [N, C], [N, C, L] or [N, C, H, W] viewed as [N, C, S]. */
function layout(op: string, x: Tensor): { n: number; c: number; s: number } {
  expectRank(op, 'x', x, [2, 3, 4]);
  expectDType(op, 'x', x, 'f32');
  expectNonEmpty(op, 'x', x);
  const [n, c] = x.shape as [number, number];
  return { n, c, s: x.size / (n * c) };
}

function expectChannelVector(op: string, name: string, t: Tensor | undefined, c: number): void {
  if (!t) return;
  expectShape(op, name, t, [c]);
  expectDType(op, name, t, 'f32');
}

/**
 * Whether the training forward and the backward read rows of S floats as vec4s (`main4`):
 * S % 4 == 0 keeps every row on vec4 boundaries.
 */
const vec4Rows = (s: number) => s % 4 === 0;

/** Reductions of M elements per channel: wide workgroups only where there is work for them. */
const wgFor = (m: number) => (m >= 2048 ? 256 : 64);

function expectChannelsFit(rt: Runtime, op: string, c: number): void {
  const max = rt.device.limits.maxComputeWorkgroupsPerDimension;
  if (c > max) throw new OpInputError(op, `at most ${max} channels (one workgroup per channel)`, `${c}`);
}

/**
 * Batch normalization over the channel axis 1 of x ([N, C], [N, C, L] or [N, C, H, W]),
 * PyTorch semantics. Training: normalizes with the batch mean and biased variance over
 * N and the spatial axes, and updates runningMean / runningVar in place with momentum
 * (the running variance takes the unbiased batch variance). Eval: normalizes with the
 * running statistics. Returns y and the statistics the backward pass needs.
 */
export function batchNorm(rt: Runtime, x: Tensor, o: BatchNormOptions): BatchNormResult {
  const op = 'batch_norm';
  const { n, c, s } = layout(op, x);
  if (o === null || typeof o !== 'object' || typeof o.training !== 'boolean') {
    throw new OpInputError(op, 'options with training: true or false', String(o?.training));
  }
  const momentum = o.momentum ?? 0.1;
  const eps = o.eps ?? 1e-5;
  if (!(Number.isFinite(momentum) && momentum >= 0 && momentum <= 1)) throw new OpInputError(op, 'momentum in [0, 1]', String(momentum));
  if (!(Number.isFinite(eps) && eps > 0)) throw new OpInputError(op, 'eps > 0', String(eps));
  expectChannelVector(op, 'weight', o.weight, c);
  expectChannelVector(op, 'bias', o.bias, c);
  expectChannelVector(op, 'runningMean', o.runningMean, c);
  expectChannelVector(op, 'runningVar', o.runningVar, c);
  if (!o.runningMean !== !o.runningVar) {
    throw new OpInputError(op, 'runningMean and runningVar together', o.runningMean ? 'runningMean only' : 'runningVar only');
  }
  const m = n * s;
  if (!o.training && (!o.runningMean || !o.runningVar)) {
    throw new OpInputError(op, 'runningMean and runningVar in eval mode', 'none');
  }
  if (o.training) {
    if (m < 2) throw new OpInputError(op, 'more than 1 value per channel when training', `x of shape [${x.shape.join(', ')}]`);
    expectChannelsFit(rt, op, c);
    // The running statistics are written in place: WebGPU forbids binding a written buffer
    // twice in one dispatch, so they must not share storage with each other or the inputs.
    const written: Array<[string, Tensor | undefined]> = [['runningMean', o.runningMean], ['runningVar', o.runningVar]];
    const read: Array<[string, Tensor | undefined]> = [['x', x], ['weight', o.weight], ['bias', o.bias], ['runningVar', o.runningVar]];
    for (const [name, t] of written) {
      for (const [other, u] of read) {
        if (t && u && other !== name && u.storage === t.storage) {
          throw new OpInputError(op, `${name} in a buffer of its own (it is updated in place)`, `a buffer shared with ${other}`);
        }
      }
    }
  }
  const hasW = o.weight ? 1 : 0;
  const hasB = o.bias ? 1 : 0;
  const mean = rt.empty([c]);
  const invstd = rt.empty([c]);
  const y = rt.empty(x.shape);
  const relu = o.relu === true;
  const saved = { mean, invstd, training: o.training, relu };

  if (!o.training) {
    const WG = 256;
    rt.dispatch({
      kernel: { name: 'batch_norm_eval', code: evalSrc, constants: { WG } },
      params: [x.size, c, s, f32(eps), hasW, hasB, relu ? 1 : 0],
      bindings: [x, y, mean, invstd, o.weight ?? rt.placeholder, o.bias ?? rt.placeholder, o.runningMean!, o.runningVar!],
      workgroups: rt.grid(x.size, WG),
    });
    return { y, saved };
  }

  const WG = wgFor(m);
  const update = o.runningMean && o.runningVar;
  // Without running statistics the shader skips its writes to them, but the bindings must
  // still be distinct writable buffers.
  const rm = o.runningMean ?? rt.empty([1]);
  const rv = o.runningVar ?? rt.empty([1]);
  // s4: the row length in the units the kernel steps in (vec4s for main4).
  const s4 = vec4Rows(s) ? s / 4 : s;
  rt.dispatch({
    kernel: { name: s4 === s ? 'batch_norm_train' : 'batch_norm_train_vec4', code: trainSrc, entryPoint: s4 === s ? 'main' : 'main4', constants: { WG } },
    params: [n, c, s4, Math.floor(WG / s4), WG % s4, f32(m), f32(eps), f32(momentum), f32(m / (m - 1)), hasW, hasB, update ? 1 : 0, relu ? 1 : 0],
    bindings: [x, y, mean, invstd, o.weight ?? rt.placeholder, o.bias ?? rt.placeholder, rm, rv],
    workgroups: c,
  });
  if (!update) {
    rm.dispose();
    rv.dispose();
  }
  return { y, saved };
}

/**
 * Gradients of batchNorm for upstream dy (same shape as x), in the mode the forward pass
 * ran in (saved.training): dx, and the per-channel dweight = sum(dy * xhat) and
 * dbias = sum(dy) [C]. `weight` is the forward's weight (absent: 1). Returns only what
 * `need` asks for. When the forward fused relu (saved.relu), `y` is its output and dy is
 * masked where y <= 0 (relu's backward) before the rest, inside this dispatch where the
 * adapter allows (`fusesReluBackward`), else as a dispatch of its own.
 */
export function batchNormBackward(
  rt: Runtime,
  dy: Tensor,
  x: Tensor,
  saved: BatchNormSaved,
  weight?: Tensor,
  need: { x?: boolean; weight?: boolean; bias?: boolean } = { x: true, weight: true, bias: true },
  y?: Tensor,
): BatchNormGrads {
  const op = 'batch_norm_backward';
  const { n, c, s } = layout(op, x);
  expectSameShape(op, ['x', x], ['dy', dy]);
  expectDType(op, 'dy', dy, 'f32');
  if (!saved || typeof saved !== 'object' || !saved.mean || !saved.invstd) throw new OpInputError(op, 'saved statistics from batchNorm', String(saved));
  expectChannelVector(op, 'saved.mean', saved.mean, c);
  expectChannelVector(op, 'saved.invstd', saved.invstd, c);
  expectChannelVector(op, 'weight', weight, c);
  expectChannelsFit(rt, op, c);
  if (saved.relu) {
    if (!y) throw new OpInputError(op, 'the forward output y (the forward fused relu)', 'none');
    expectSameShape(op, ['x', x], ['y', y]);
    expectDType(op, 'y', y, 'f32');
  }
  if (!need.x && !need.weight && !need.bias) return {};
  // The fused relu's backward inside the batch norm's (a ninth storage binding for y), or
  // first, in a dispatch of its own whose output is dy for the rest (dropped after recording).
  if (saved.relu && fusesReluBackward(rt, c)) return recordBackward(rt, dy, x, saved, weight, need, n, c, s, y);
  const g = saved.relu ? unaryBackward(rt, 'relu', dy, y!) : dy;
  const grads = recordBackward(rt, g, x, saved, weight, need, n, c, s);
  if (g !== dy) g.dispose();
  return grads;
}

/**
 * Channels from which a software adapter takes the fused relu backward. Lavapipe, GPU time of
 * the backward, fused against apart, medians of 20 alternating runs, two processes (a /tmp
 * script, 2026-11-23): [16, 32, 16, 80] 4.06 / 3.88 against 3.84 / 3.74 ms (32 workgroups of
 * 20480 elements each: the extra loads sit in the few long workgroups, where relu's own
 * dispatch spreads them over the whole grid); [16, 64, 8, 40] 1.30 / 1.35 against 1.42 /
 * 1.48; [16, 128, 4, 20] 0.87 / 0.82 against 1.08 / 0.92; [8, 256, 8, 25] 2.38 / 1.38
 * against 2.67 / 1.68.
 */
const SOFT_FUSE_MIN_C = 64;

/**
 * Test hooks: fuseReluBackward false runs relu's backward as a dispatch of its own on every
 * adapter; softMinChannels is where software adapters start fusing (SOFT_FUSE_MIN_C).
 */
export const batchNormTuning = { fuseReluBackward: true, softMinChannels: SOFT_FUSE_MIN_C };

/**
 * Whether the backward of a forward that fused relu masks dy inside the batch norm backward
 * (batch-norm-backward-relu.wgsl): one map pass and one dispatch fewer, the same bits
 * (tested). It binds 9 storage buffers; WebGPU's default limit is 8 (lavapipe offers 16 and
 * the device asks for the adapter's maximum), elsewhere the two dispatches run. On software
 * adapters only from SOFT_FUSE_MIN_C channels.
 */
export function fusesReluBackward(rt: Runtime, c: number): boolean {
  if (!batchNormTuning.fuseReluBackward || rt.device.limits.maxStorageBuffersPerShaderStage < 9) return false;
  return !rt.info.isSoftware || c >= batchNormTuning.softMinChannels;
}

/**
 * The batch norm backward dispatch proper (validated by batchNormBackward); with `reluY`, the
 * fused relu's output, masking dy as it is read.
 */
function recordBackward(
  rt: Runtime,
  dy: Tensor,
  x: Tensor,
  saved: BatchNormSaved,
  weight: Tensor | undefined,
  need: { x?: boolean; weight?: boolean; bias?: boolean },
  n: number,
  c: number,
  s: number,
  reluY?: Tensor,
): BatchNormGrads {
  const out: BatchNormGrads = {};
  const m = n * s;
  const WG = wgFor(m);
  // dweight / dbias come with the reduction at no extra cost; unneeded ones are dropped
  // after recording (the pool reuses them only in order with the recorded dispatch).
  const dweight = rt.empty([c]);
  const dbias = rt.empty([c]);
  // Without dx the shader never writes it, but binds it: 4 floats fill main4's minimum binding.
  const dx = need.x ? rt.empty(x.shape) : rt.empty([4]);
  const s4 = vec4Rows(s) ? s / 4 : s;
  const name = `batch_norm_backward${reluY ? '_relu' : ''}${s4 === s ? '' : '_vec4'}`;
  rt.dispatch({
    kernel: { name, code: reluY ? backwardReluSrc : backwardSrc, entryPoint: s4 === s ? 'main' : 'main4', constants: { WG } },
    params: [n, c, s4, Math.floor(WG / s4), WG % s4, f32(m), weight ? 1 : 0, saved.training ? 1 : 0, need.x ? 1 : 0],
    bindings: [dy, x, saved.mean, saved.invstd, weight ?? rt.placeholder, dx, dweight, dbias, ...(reluY ? [reluY] : [])],
    workgroups: c,
  });
  if (need.x) out.dx = dx;
  else dx.dispose();
  if (need.weight) out.dweight = dweight;
  else dweight.dispose();
  if (need.bias) out.dbias = dbias;
  else dbias.dispose();
  return out;
}
