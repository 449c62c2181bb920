import { f32, i32, OpInputError, type Runtime, type Tensor } from '@crnn/core';
import { expectDType, expectNonEmpty, expectShape, isTensor } from '../validate.js';
import ceSrc from './cross-entropy.wgsl.js';

const WG_ROW = 64;
const WG_RED = 256;

export type Reduction = 'mean' | 'sum' | 'none';
const REDUCTION_CODE: Record<Reduction, number> = { mean: 0, sum: 1, none: 2 };

export interface CrossEntropyOptions {
  /** The class axis of the logits; negative counts from the end. Default 1 (0 for rank-1 logits), as in PyTorch. */
  classDim?: number;
  /** Targets equal to this are left out of both the sum and the count. Default -100. */
  ignoreIndex?: number;
  /** Default 'mean' (over the non-ignored targets; NaN when there are none, as in PyTorch). */
  reduction?: Reduction;
}

/**
 * A tensor rather than a host array. Duck-typed, not `instanceof`: a second copy of
 * @crnn/core (dist next to src) would make instanceof fail for real tensors.
 */
interface Geometry {
  outer: number;
  classes: number;
  inner: number;
  targetShape: number[];
}

function geometry(op: string, logits: Tensor, o: CrossEntropyOptions): Geometry {
  logits.assertAlive(op);
  expectDType(op, 'logits', logits, 'f32');
  const rank = logits.rank;
  if (rank < 1) throw new OpInputError(op, 'logits of rank >= 1', 'rank 0');
  const dim = o.classDim ?? (rank === 1 ? 0 : 1);
  if (!Number.isInteger(dim) || dim < -rank || dim >= rank) {
    throw new OpInputError(op, `classDim an integer in [${-rank}, ${rank})`, String(dim));
  }
  const d = dim < 0 ? dim + rank : dim;
  expectNonEmpty(op, 'logits', logits);
  const prod = (s: readonly number[]) => s.reduce((p, q) => p * q, 1);
  return {
    outer: prod(logits.shape.slice(0, d)),
    classes: logits.shape[d]!,
    inner: prod(logits.shape.slice(d + 1)),
    targetShape: logits.shape.filter((_, i) => i !== d),
  };
}

function checkOptions(op: string, o: CrossEntropyOptions): { ignore: number; reduction: Reduction } {
  const ignore = o.ignoreIndex ?? -100;
  if (!Number.isInteger(ignore) || ignore < -(2 ** 31) || ignore >= 2 ** 31) {
    throw new OpInputError(op, 'ignoreIndex an i32 integer', String(ignore));
  }
  const reduction = o.reduction ?? 'mean';
  if (!(reduction in REDUCTION_CODE)) throw new OpInputError(op, "reduction 'mean', 'sum' or 'none'", String(reduction));
  return { ignore, reduction };
}

/**
 * The targets tensor to bind (uploaded when given as a host array, which is then checked:
 * every value an integer in [0, C) or equal to ignoreIndex).
 */
function prepareTargets(rt: Runtime, op: string, g: Geometry, targets: Tensor | ArrayLike<number>, ignore: number): { t: Tensor; owned: boolean } {
  if (isTensor(targets)) {
    expectDType(op, 'targets', targets, 'i32');
    expectShape(op, 'targets', targets, g.targetShape);
    return { t: targets, owned: false };
  }
  const n = g.outer * g.inner;
  if (targets.length !== n) {
    throw new OpInputError(op, `${n} targets (shape [${g.targetShape.join(', ')}])`, `${targets.length}`);
  }
  for (let i = 0; i < n; i++) {
    const v = targets[i]!;
    if (!Number.isInteger(v) || ((v < 0 || v >= g.classes) && v !== ignore)) {
      throw new OpInputError(op, `targets in [0, ${g.classes}) or ignoreIndex ${ignore}`, `targets[${i}] = ${v}`);
    }
  }
  return { t: rt.upload(targets, g.targetShape, 'i32'), owned: true };
}

function params(g: Geometry, ignore: number) {
  return [g.outer * g.inner, g.classes, g.inner, i32(ignore), f32(NaN)];
}

/**
 * Cross-entropy of `logits` (classes along `classDim`) against integer `targets` (the logits'
 * shape without the class axis; an i32 tensor or a host array, which is validated).
 * Returns a scalar ([]) for 'mean' / 'sum', a tensor of the targets' shape for 'none'
 * (0 where ignored). A target tensor holding a value outside [0, C) other than ignoreIndex
 * cannot be caught before the GPU runs: that row's loss is NaN, and so is a mean or sum.
 */
export function crossEntropy(rt: Runtime, logits: Tensor, targets: Tensor | ArrayLike<number>, o: CrossEntropyOptions = {}): Tensor {
  const op = 'cross_entropy';
  const g = geometry(op, logits, o);
  const { ignore, reduction } = checkOptions(op, o);
  const tg = prepareTargets(rt, op, g, targets, ignore);
  const rows = g.outer * g.inner;
  const constants = { WG: WG_ROW, REDUCTION: REDUCTION_CODE[reduction] };
  const perRow = reduction === 'none' ? rt.empty(g.targetShape) : rt.empty([rows]);
  rt.dispatch({
    kernel: { name: 'cross_entropy_forward', code: ceSrc, entryPoint: 'row_loss', constants },
    params: params(g, ignore),
    bindings: [tg.t, perRow, logits],
    workgroups: rt.grid(rows, WG_ROW),
  });
  if (reduction === 'none') {
    if (tg.owned) tg.t.dispose();
    return perRow;
  }
  const loss = rt.empty([]);
  rt.dispatch({
    kernel: { name: 'cross_entropy_reduce', code: ceSrc, entryPoint: 'reduce', constants: { ...constants, WG: WG_RED } },
    params: params(g, ignore),
    bindings: [tg.t, perRow, loss],
    workgroups: 1,
  });
  perRow.dispose();
  if (tg.owned) tg.t.dispose();
  return loss;
}

/**
 * d loss / d logits for upstream gradient `dloss` (a one-element tensor for 'mean' / 'sum',
 * the targets' shape for 'none'): g * (softmax(logits) - onehot(target)) per row, with
 * g = dloss / (number of non-ignored targets) for 'mean'. Ignored rows get 0; rows with an
 * out-of-range target get NaN.
 */
export function crossEntropyBackward(
  rt: Runtime,
  dloss: Tensor,
  logits: Tensor,
  targets: Tensor | ArrayLike<number>,
  o: CrossEntropyOptions = {},
): Tensor {
  const op = 'cross_entropy_backward';
  const g = geometry(op, logits, o);
  const { ignore, reduction } = checkOptions(op, o);
  dloss.assertAlive(op);
  expectDType(op, 'dloss', dloss, 'f32');
  if (reduction === 'none') expectShape(op, 'dloss', dloss, g.targetShape);
  else if (dloss.size !== 1) throw new OpInputError(op, `a one-element dloss for reduction '${reduction}'`, `shape [${dloss.shape.join(', ')}]`);
  const tg = prepareTargets(rt, op, g, targets, ignore);
  const rows = g.outer * g.inner;
  const constants = { WG: WG_ROW, REDUCTION: REDUCTION_CODE[reduction] };
  let count: Tensor | null = null;
  if (reduction === 'mean') {
    count = rt.empty([1]);
    rt.dispatch({
      kernel: { name: 'cross_entropy_count', code: ceSrc, entryPoint: 'count', constants: { ...constants, WG: WG_RED } },
      params: params(g, ignore),
      bindings: [tg.t, count],
      workgroups: 1,
    });
  }
  const dlogits = rt.empty(logits.shape);
  rt.dispatch({
    kernel: { name: 'cross_entropy_backward', code: ceSrc, entryPoint: 'backward', constants },
    params: params(g, ignore),
    bindings: [tg.t, dlogits, logits, count ?? rt.placeholder, dloss],
    workgroups: rt.grid(rows, WG_ROW),
  });
  count?.dispose();
  if (tg.owned) tg.t.dispose();
  return dlogits;
}
