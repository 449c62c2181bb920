import { OpInputError, type Runtime, type Tensor } from '@crnn/core';
import { expectDType, expectSameShape, isTensor } from '../validate.js';
import softmaxSrc from './softmax.wgsl.js';

/** Axes up to this length use one invocation per row; longer ones one workgroup per row. */
const ROW_MAX_AXIS = 128;
const WG_ROW = 64;
const WG_RED = 64;

export interface SoftmaxOptions {
  /** The axis to normalise over; negative counts from the end. Default -1. */
  axis?: number;
  /**
   * Valid lengths along the axis (a source mask): element a of a row takes part only when
   * a < length; the rest of the row gets y = 0 (also for log_softmax) and dx = 0. One length
   * per group of leading indices: with x viewed as [outer, axis, inner], `lengths` has L
   * entries, L divides outer, and length l applies to outer indices [l * outer/L, (l+1) *
   * outer/L). For attention scores [N, T, S] over S, pass one length per batch item (L = N).
   * A host array is checked (integers in [0, axis]); an i32 tensor is used as is, with values
   * clamped to [0, axis] on the GPU. A length of 0 gives a row of zeros (PyTorch's
   * -inf masking would give NaN).
   */
  lengths?: Tensor | ArrayLike<number>;
}

/**
 * A tensor rather than a host array. Duck-typed, not `instanceof`: a second copy of
 * @crnn/core (dist next to src) would make instanceof fail for real tensors.
 */
interface Geometry {
  outer: number;
  axis: number;
  inner: number;
}

/** x viewed as [outer, axis, inner] for a (possibly negative) axis. */
export function softmaxGeometry(op: string, shape: readonly number[], axis: number): Geometry {
  const rank = shape.length;
  if (rank < 1) throw new OpInputError(op, 'x of rank >= 1', 'rank 0');
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    throw new OpInputError(op, `axis an integer in [${-rank}, ${rank})`, String(axis));
  }
  const ax = axis < 0 ? axis + rank : axis;
  const prod = (s: readonly number[]) => s.reduce((p, q) => p * q, 1);
  return { outer: prod(shape.slice(0, ax)), axis: shape[ax]!, inner: prod(shape.slice(ax + 1)) };
}

/**
 * Uploads or checks `lengths`; returns the tensor to bind (owned: dispose after use when
 * `owned`), and len_group. Throws before any dispatch.
 */
function prepareLengths(
  rt: Runtime,
  op: string,
  g: Geometry,
  lengths: Tensor | ArrayLike<number> | undefined,
): { t: Tensor; group: number; owned: boolean } | null {
  if (lengths === undefined) return null;
  const count = isTensor(lengths) ? lengths.size : lengths.length;
  if (count < 1 || g.outer % count !== 0) {
    throw new OpInputError(op, `lengths with a count that divides the ${g.outer} leading rows`, `${count} lengths`);
  }
  const group = g.outer / count;
  if (isTensor(lengths)) {
    const t = lengths;
    t.assertAlive(op);
    expectDType(op, 'lengths', t, 'i32');
    return { t, group, owned: false };
  }
  const arr = lengths;
  for (let i = 0; i < arr.length; i++) {
    const v = arr[i]!;
    if (!Number.isInteger(v) || v < 0 || v > g.axis) {
      throw new OpInputError(op, `lengths integers in [0, ${g.axis}]`, `lengths[${i}] = ${v}`);
    }
  }
  return { t: rt.upload(arr, [arr.length], 'i32'), group, owned: true };
}

function dispatchSoftmax(
  rt: Runtime,
  name: string,
  log: boolean,
  backward: boolean,
  g: Geometry,
  len: { t: Tensor; group: number } | null,
  bindings: Tensor[],
): void {
  const rows = g.outer * g.inner;
  const perRow = g.axis <= ROW_MAX_AXIS;
  const WG = perRow ? WG_ROW : WG_RED;
  rt.dispatch({
    kernel: {
      name,
      code: softmaxSrc,
      entryPoint: `${backward ? 'backward' : 'forward'}_${perRow ? 'row' : 'wg'}`,
      constants: { WG, LOG: log ? 1 : 0, HAS_LEN: len ? 1 : 0 },
    },
    params: [rows, g.axis, Math.max(1, g.inner), len?.group ?? 1],
    bindings,
    workgroups: rt.grid(g.axis === 0 ? 0 : rows, perRow ? WG : 1),
  });
}

function forward(rt: Runtime, op: string, log: boolean, x: Tensor, o: SoftmaxOptions): Tensor {
  x.assertAlive(op);
  expectDType(op, 'x', x, 'f32');
  const g = softmaxGeometry(op, x.shape, o.axis ?? -1);
  const len = prepareLengths(rt, op, g, o.lengths);
  const y = rt.empty(x.shape);
  dispatchSoftmax(rt, op, log, false, g, len, [x, y, len?.t ?? rt.placeholder]);
  if (len?.owned) len.t.dispose();
  return y;
}

function backward(rt: Runtime, op: string, log: boolean, dy: Tensor, y: Tensor, o: SoftmaxOptions): Tensor {
  dy.assertAlive(op);
  y.assertAlive(op);
  expectDType(op, 'dy', dy, 'f32');
  expectDType(op, 'y', y, 'f32');
  expectSameShape(op, ['y', y], ['dy', dy]);
  const g = softmaxGeometry(op, y.shape, o.axis ?? -1);
  const len = prepareLengths(rt, op, g, o.lengths);
  const dx = rt.empty(y.shape);
  dispatchSoftmax(rt, op, log, true, g, len, [dy, dx, len?.t ?? rt.placeholder, y]);
  if (len?.owned) len.t.dispose();
  return dx;
}

/** y = softmax(x) along `axis` (default -1), max-subtracted. NaN in a row makes the row NaN. */
export function softmax(rt: Runtime, x: Tensor, o: SoftmaxOptions = {}): Tensor {
  return forward(rt, 'softmax', false, x, o);
}

/** y = log_softmax(x) = x - max - log(sum(exp(x - max))) along `axis` (default -1). */
export function logSoftmax(rt: Runtime, x: Tensor, o: SoftmaxOptions = {}): Tensor {
  return forward(rt, 'log_softmax', true, x, o);
}

/** dx = y * (dy - sum(dy * y)) along the axis, from the saved softmax output y. */
export function softmaxBackward(rt: Runtime, dy: Tensor, y: Tensor, o: SoftmaxOptions = {}): Tensor {
  return backward(rt, 'softmax_backward', false, dy, y, o);
}

/** dx = dy - exp(y) * sum(dy) along the axis, from the saved log_softmax output y. */
export function logSoftmaxBackward(rt: Runtime, dy: Tensor, y: Tensor, o: SoftmaxOptions = {}): Tensor {
  return backward(rt, 'log_softmax_backward', true, dy, y, o);
}
