import { f32, OpInputError, type Param, type Runtime, type Tensor } from '@crnn/core';
import { expectDType, expectSameShape } from '../validate.js';
import unarySrc from './unary.wgsl.js';
import binarySrc from './binary.wgsl.js';
import sumAxesSrc from './sum-axes.wgsl.js';
import sumAxesColsSrc from './sum-axes-cols.wgsl.js';
import dropoutSrc from './dropout.wgsl.js';

const WG = 256;
/** vec4s per invocation in the vec4 entry points (see unary.wgsl). */
const PER = 4;
export type UnaryOp = 'relu' | 'tanh' | 'sigmoid' | 'scale';
const UNARY_CODE: Record<UnaryOp, number> = { relu: 0, tanh: 1, sigmoid: 2, scale: 3 };
export type BinaryOp = 'add' | 'mul' | 'sub';
const BINARY_CODE: Record<BinaryOp, number> = { add: 0, mul: 1, sub: 2 };

/**
 * One launch of an elementwise entry point over n items: `entry` (one element per invocation)
 * or, when `vec4` (n a multiple of 4), `${entry}4` (PER vec4s per invocation; see unary.wgsl).
 * `params(w)` gets the element width, 1 or 4: the vec4 entry points count vec4s.
 */
function launch(rt: Runtime, name: string, code: string, entry: string, opCode: number, n: number, vec4: boolean, params: (w: number) => Param[], bindings: Tensor[]): void {
  rt.dispatch({
    kernel: vec4
      ? { name: `${name}_vec4`, code, entryPoint: `${entry}4`, constants: { WG, OP: opCode, PER } }
      : { name, code, entryPoint: entry, constants: { WG, OP: opCode } },
    params: params(vec4 ? 4 : 1),
    bindings,
    workgroups: rt.grid(vec4 ? Math.ceil(n / 4 / PER) : n, WG),
  });
}

const vec4able = (...sizes: number[]) => sizes.every((n) => n > 0 && n % 4 === 0);

/** y = op(x). `alpha` is the factor of `scale`. */
export function unary(rt: Runtime, op: UnaryOp, x: Tensor, alpha = 1): Tensor {
  expectDType(op, 'x', x, 'f32');
  const y = rt.empty(x.shape);
  launch(rt, `${op}_forward`, unarySrc, 'forward', UNARY_CODE[op], x.size, vec4able(x.size), (w) => [x.size / w, f32(alpha)], [x, y]);
  return y;
}

/** dx for y = op(x), from the upstream gradient dy and the forward output y. */
export function unaryBackward(rt: Runtime, op: UnaryOp, dy: Tensor, y: Tensor, alpha = 1): Tensor {
  expectSameShape(`${op}_backward`, ['dy', dy], ['y', y]);
  const dx = rt.empty(dy.shape);
  launch(rt, `${op}_backward`, unarySrc, 'backward', UNARY_CODE[op], dy.size, vec4able(dy.size), (w) => [dy.size / w, f32(alpha)], [dy, dx, y]);
  return dx;
}

export const relu = (rt: Runtime, x: Tensor) => unary(rt, 'relu', x);
export const tanh = (rt: Runtime, x: Tensor) => unary(rt, 'tanh', x);
export const sigmoid = (rt: Runtime, x: Tensor) => unary(rt, 'sigmoid', x);
export const scale = (rt: Runtime, x: Tensor, alpha: number) => unary(rt, 'scale', x, alpha);

/**
 * c = a (op) b with b the same shape as a, or equal to a's trailing dimensions (a bias).
 */
export function binary(rt: Runtime, op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  expectDType(op, 'a', a, 'f32');
  expectDType(op, 'b', b, 'f32');
  checkTrailing(op, a, b);
  const c = rt.empty(a.shape);
  const nb = Math.max(1, b.size);
  launch(rt, `${op}_forward`, binarySrc, 'main', BINARY_CODE[op], a.size, vec4able(a.size, b.size), (w) => [a.size / w, nb / w], [a, b, c]);
  return c;
}

function checkTrailing(op: string, a: Tensor, b: Tensor): void {
  const k = b.rank;
  const ok = k <= a.rank && b.shape.every((d, i) => d === a.shape[a.rank - k + i]);
  if (!ok) {
    throw new OpInputError(op, `b of shape [${a.shape.join(', ')}] or a suffix of it`, `[${b.shape.join(', ')}]`);
  }
}

export const add = (rt: Runtime, a: Tensor, b: Tensor) => binary(rt, 'add', a, b);
export const mul = (rt: Runtime, a: Tensor, b: Tensor) => binary(rt, 'mul', a, b);
export const sub = (rt: Runtime, a: Tensor, b: Tensor) => binary(rt, 'sub', a, b);

/**
 * Gradients of c = a (op) b. For a broadcast b, db sums over the broadcast rows.
 * Returns only what is asked for.
 */
export function binaryBackward(
  rt: Runtime,
  op: BinaryOp,
  dc: Tensor,
  a: Tensor,
  b: Tensor,
  need: { a?: boolean; b?: boolean } = { a: true, b: true },
): { da?: Tensor; db?: Tensor } {
  checkTrailing(`${op}_backward`, a, b);
  expectSameShape(`${op}_backward`, ['a', a], ['dc', dc]);
  const out: { da?: Tensor; db?: Tensor } = {};
  if (need.a) {
    if (op === 'mul') out.da = binary(rt, 'mul', dc, b);
    else {
      out.da = rt.empty(dc.shape);
      rt.copy(dc, out.da);
    }
  }
  if (need.b) {
    const rows = b.size === 0 ? 0 : a.size / b.size;
    let g = dc;
    if (op === 'mul') g = binary(rt, 'mul', dc, a);
    else if (op === 'sub') g = scale(rt, dc, -1);
    out.db = sumAxes(rt, g, [rows, b.size, 1]).reshape(b.shape);
    if (g !== dc) g.dispose();
  }
  return out;
}

/** How sum_axes runs: one pass (a workgroup per output), or split (partial sums, then a second pass). */
export type SumAxesVariant = 'auto' | 'single' | 'split';

/**
 * Terms per output that a workgroup of the split form sums in its first pass: for C > 1
 * about SPLIT_TERMS (whole rows of C), for C = 1 SPLIT_ROWS rows of each of its 64 columns.
 */
const SPLIT_TERMS = 256;
const SPLIT_ROWS = 64;
/** Terms per output (A*C) from which 'auto' splits on a GPU. */
const SPLIT_MIN_TERMS = 2048;

/**
 * x viewed as [A, B, C] summed over A and C into [B]. With `into`, adds to that tensor
 * (gradient accumulation) and returns it.
 *
 * 'single' (sum-axes.wgsl): one workgroup per output, a tree over its A*C terms. 'split': the
 * A axis in chunks, partial sums [S, B] from S workgroups per output (sum-axes.wgsl), or for
 * C = 1 from S per 64 outputs (sum-axes-cols.wgsl: lanes along B, so that loads coalesce),
 * then their sums over S, one workgroup per output (sum-axes.wgsl on [S, B, 1]).
 *
 * 'auto' splits on GPUs from SPLIT_MIN_TERMS terms per output: one workgroup per bias element
 * leaves most of a GPU idle, and a column read with a stride of B wastes most of each memory
 * transaction (an H100, bench/run-variants.js: add's bias gradient over [16384, 100] 0.078 ms
 * of GPU time in one pass, 0.016 split; the first conv's db over [8, 64, 3200] 0.105 / 0.025;
 * under 2048 terms per output the one pass was as fast or faster). Software adapters keep
 * the single pass, and with it the order of the sums, so training there keeps its bits.
 */
export function sumAxes(rt: Runtime, x: Tensor, [A, B, C]: [number, number, number], into?: Tensor, variant: SumAxesVariant = 'auto'): Tensor {
  if (A * B * C !== x.size) throw new OpInputError('sum_axes', `[A, B, C] with A*B*C = ${x.size}`, `[${A}, ${B}, ${C}]`);
  if (into && into.size !== B) throw new OpInputError('sum_axes', `an accumulator of ${B} elements`, `${into.size}`);
  const y = into ?? rt.empty([B]);
  const accumulate = into ? 1 : 0;
  const plan = sumAxesPlan(rt, [A, B, C], variant);
  if (!plan) {
    singlePass(rt, x, [A, B, C], Math.max(A, 1), y, accumulate);
    return y;
  }
  const partial = rt.empty([plan.chunks, B]);
  if (C === 1) colSums(rt, x, A, B, plan.chunkA, partial);
  else singlePass(rt, x, [A, B, C], plan.chunkA, partial, 0);
  singlePass(rt, partial, [plan.chunks, B, 1], plan.chunks, y, accumulate);
  partial.dispose();
  return y;
}

/** What sumAxes runs: the split form's chunking (chunks of chunkA rows of A), or null for the single pass. */
export function sumAxesPlan(rt: Runtime, [A, B, C]: [number, number, number], variant: SumAxesVariant): { chunkA: number; chunks: number } | null {
  if (variant !== 'auto' && variant !== 'single' && variant !== 'split') {
    throw new OpInputError('sum_axes', "variant 'auto', 'single' or 'split'", `'${String(variant)}'`);
  }
  if (variant === 'single' || A * C === 0 || B === 0) return null;
  if (variant === 'auto' && (rt.info.isSoftware || A * C < SPLIT_MIN_TERMS)) return null;
  const chunkA = C === 1 ? SPLIT_ROWS : Math.max(1, Math.floor(SPLIT_TERMS / C));
  const chunks = Math.ceil(A / chunkA);
  const maxWg = rt.device.limits.maxComputeWorkgroupsPerDimension;
  // Beyond the grid's limits, or nothing to split: the single pass.
  if (chunks < 2 || chunks > maxWg || B > maxWg) return null;
  return { chunkA, chunks };
}

/** sum-axes.wgsl: one workgroup per (b, chunk of chunkA rows of A); y is [B] or [S, B]. */
function singlePass(rt: Runtime, x: Tensor, [A, B, C]: [number, number, number], chunkA: number, y: Tensor, accumulate: number): void {
  rt.dispatch({
    kernel: { name: 'sum_axes', code: sumAxesSrc, constants: { WG: 64, ACCUMULATE: accumulate } },
    params: [A, B, C, chunkA],
    bindings: [x, y],
    // At least one chunk: with A = 0 the outputs are still written (0, or unchanged when accumulating).
    workgroups: [B, Math.max(1, Math.ceil(A / chunkA))],
  });
}

/** sum-axes-cols.wgsl: column sums of x as [rows, cols] per chunk of rows; y is [S, cols]. */
function colSums(rt: Runtime, x: Tensor, rows: number, cols: number, chunk: number, y: Tensor): void {
  rt.dispatch({
    kernel: { name: 'sum_axes_cols', code: sumAxesColsSrc, constants: { WG: 64 } },
    params: [rows, cols, chunk],
    bindings: [x, y],
    workgroups: [Math.ceil(cols / 64), Math.ceil(rows / chunk)],
  });
}

/** Inverted dropout with a mask derived from (seed, index): see dropout.wgsl. */
export function dropout(rt: Runtime, x: Tensor, p: number, seed: number): Tensor {
  if (!(p >= 0 && p < 1)) throw new OpInputError('dropout', 'p in [0, 1)', String(p));
  const y = rt.empty(x.shape);
  rt.dispatch({
    kernel: { name: 'dropout', code: dropoutSrc, constants: { WG } },
    params: [x.size, seed >>> 0, Math.min(0xffffffff, Math.floor(p * 2 ** 32)), f32(1 / (1 - p))],
    bindings: [x, y],
    workgroups: rt.grid(x.size, WG),
  });
  return y;
}

/** dx = dy * mask * scale with the same mask as the forward pass (same seed). */
export const dropoutBackward = (rt: Runtime, dy: Tensor, p: number, seed: number) => dropout(rt, dy, p, seed);
