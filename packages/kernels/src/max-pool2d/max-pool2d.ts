import { OpInputError, type Runtime, type Tensor } from '@crnn/core';
import { expectDType, expectNonEmpty, expectNonNegativeInts, expectPositiveInts, expectRank, expectShape, pair } from '../validate.js';
import forwardSrc from './max-pool2d-forward.wgsl.js';
import backwardSrc from './max-pool2d-backward.wgsl.js';

// 64 invocations per workgroup, each OPT outputs (or windows) of a row: the index
// divisions are shared by OPT outputs, which matters on CPU drivers.
const WG = 64;
const OPT = 4;

export interface MaxPool2dOptions {
  /** Window [kh, kw] (or one number for both). */
  kernel: number | readonly [number, number];
  /** Step [sh, sw]; defaults to the kernel (PyTorch's `stride=None`). */
  stride?: number | readonly [number, number];
  /** Implicit -inf padding [ph, pw] on both sides of each axis, at most half the kernel. Default 0. */
  padding?: number | readonly [number, number];
}

/** The resolved window geometry of a max pooling (floor mode, no dilation). */
export interface PoolGeometry {
  n: number;
  c: number;
  h: number;
  w: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  ho: number;
  wo: number;
}

/**
 * Checks the options against an input shape [N, C, H, W] and returns the geometry; throws
 * OpInputError naming `op` for anything PyTorch would reject.
 */
export function poolGeometry(op: string, shape: readonly number[], o: MaxPool2dOptions, name = 'x'): PoolGeometry {
  if (!Array.isArray(shape) || shape.length !== 4) {
    throw new OpInputError(op, `${name} of rank 4 [N, C, H, W]`, `shape [${Array.isArray(shape) ? shape.join(', ') : String(shape)}]`);
  }
  expectPositiveInts(op, `${name} dimensions`, shape);
  if (o === null || typeof o !== 'object' || o.kernel === undefined) throw new OpInputError(op, 'options with a kernel', String(o));
  const [kh, kw] = pair(o.kernel);
  const [sh, sw] = pair(o.stride ?? o.kernel);
  const [ph, pw] = pair(o.padding ?? 0);
  expectPositiveInts(op, 'kernel', [kh, kw]);
  expectPositiveInts(op, 'stride', [sh, sw]);
  expectNonNegativeInts(op, 'padding', [ph, pw]);
  if (2 * ph > kh || 2 * pw > kw) {
    throw new OpInputError(op, `padding at most half the kernel [${kh}, ${kw}]`, `[${ph}, ${pw}]`);
  }
  const [n, c, h, w] = shape as [number, number, number, number];
  const ho = Math.floor((h + 2 * ph - kh) / sh) + 1;
  const wo = Math.floor((w + 2 * pw - kw) / sw) + 1;
  if (h + 2 * ph < kh || w + 2 * pw < kw) {
    throw new OpInputError(op, `a padded input [${h + 2 * ph}, ${w + 2 * pw}] at least the kernel [${kh}, ${kw}]`, `${name} of shape [${shape.join(', ')}]`);
  }
  return { n, c, h, w, kh, kw, sh, sw, ph, pw, ho, wo };
}

const blocks = (g: PoolGeometry) => Math.ceil(g.wo / OPT);
/** The forward / backward Params; `wob` is the blocks per output row (`rows`: the columns per invocation). */
const geomParams = (g: PoolGeometry, total: number, wob = blocks(g)) => [total, g.h, g.w, g.ho, g.wo, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, wob];

/**
 * Which forward kernel runs: `columns4` for windows 1 column wide on stride 1 without column
 * padding over a width divisible by 4 (vec4 loads and stores); for any other window without
 * padding the `rows` family (a 2-D grid, the window size compile-time constants): `rows4`
 * (vec4 loads, two windows each) or `rows2` (vec2 loads) for windows 2 columns wide on stride
 * 2 over a width divisible by 4 or 2, else `rows`; `pairs` for windows 2 columns wide on
 * stride 2 without column padding over an even width (vec2 loads), i.e. those with row
 * padding; else `generic`. All give the same bits. Measured on lavapipe (bench shapes, GPU
 * time): `rows` 1.2-1.9 ms against 3.0-3.7 for `generic` on the (2, 1) pools at W = 25, and
 * 2.2-4.5 ms against 2.7-5.3 for `pairs` on the (2, 2) ones; on those, median of 15 with
 * whole rows: [8, 64, 32, 100] `rows4` 1.51 ms against 2.23 for `rows` (2.03 / 2.75 with
 * argmax), [8, 128, 16, 50] `rows2` 1.31 against 1.57 (1.64 / 2.23).
 */
export function forwardVariant(g: PoolGeometry): 'pairs' | 'columns4' | 'rows' | 'rows2' | 'rows4' | 'generic' {
  const twoOnTwo = g.kw === 2 && g.sw === 2;
  if (g.pw === 0 && g.kw === 1 && g.sw === 1 && g.w % 4 === 0) return 'columns4';
  if (g.pw === 0 && g.ph === 0) {
    if (twoOnTwo && g.w % 4 === 0) return 'rows4';
    if (twoOnTwo && g.w % 2 === 0) return 'rows2';
    return 'rows';
  }
  if (g.pw === 0 && twoOnTwo && g.w % 2 === 0) return 'pairs';
  return 'generic';
}

/**
 * Output columns per invocation of the `rows` family (unless whole rows; even, as `rows4`
 * takes columns in pairs), and the rows that make whole rows worth it.
 */
const ROWS_BLOCK = 4;
const ROWS_WHOLE_MIN = 512;

/**
 * Max pooling of x [N, C, H, W] (floor mode). Returns y [N, C, Ho, Wo] and, for the
 * backward pass, argmax [N, C, Ho, Wo] (i32): the flat index ih * W + iw of each window's
 * maximum within its input plane. A NaN in a window makes that output NaN.
 */
export function maxPool2d(rt: Runtime, x: Tensor, opts: MaxPool2dOptions): { y: Tensor; argmax: Tensor } {
  const { y, argmax } = poolForward(rt, x, opts, true);
  return { y, argmax: argmax! };
}

/**
 * y alone (inference, PyTorch's `return_indices=False`): the same values as `maxPool2d`,
 * without writing the argmax that only the backward pass needs.
 */
export function maxPool2dValues(rt: Runtime, x: Tensor, opts: MaxPool2dOptions): Tensor {
  return poolForward(rt, x, opts, false).y;
}

function poolForward(rt: Runtime, x: Tensor, opts: MaxPool2dOptions, withArgmax: boolean): { y: Tensor; argmax: Tensor | null } {
  const op = 'max_pool2d';
  expectRank(op, 'x', x, 4);
  expectDType(op, 'x', x, 'f32');
  expectNonEmpty(op, 'x', x);
  const g = poolGeometry(op, x.shape, opts);
  if (g.h * g.w > 0x7fffffff) throw new OpInputError(op, 'a plane of at most 2^31 - 1 elements (i32 argmax)', `${g.h * g.w}`);
  const outShape = [g.n, g.c, g.ho, g.wo];
  const y = rt.empty(outShape);
  const argmax = withArgmax ? rt.empty(outShape, 'i32') : null;
  const am = argmax ?? rt.placeholder;
  const ARGMAX = withArgmax ? 1 : 0;
  // Kernel names carry the mode so that profiles and wait keys tell the two apart.
  const tag = withArgmax ? '' : '_values';
  const variant = forwardVariant(g);
  if (variant === 'rows' || variant === 'rows2' || variant === 'rows4') {
    // x: blocks of output columns; y (folded into z past the limit): output rows. On a
    // software adapter with rows enough to share out, one invocation per whole output row:
    // measured on lavapipe ([8, 256, 8, 25], (2, 1)) 0.9-1.2 ms of GPU time against 1.4-1.7
    // for blocks of 4 (per-invocation costs dominate there).
    const rows = g.n * g.c * g.ho;
    const whole = rt.info.isSoftware && rows >= ROWS_WHOLE_MIN;
    const block = whole ? g.wo : ROWS_BLOCK;
    const [rx, ry] = whole ? [1, 64] : [8, 8];
    const gy = Math.ceil(rows / ry);
    const gz = Math.ceil(gy / rt.device.limits.maxComputeWorkgroupsPerDimension);
    rt.dispatch({
      kernel: { name: `max_pool2d_forward_${variant}${tag}`, code: forwardSrc, entryPoint: variant, constants: { KH: g.kh, KW: g.kw, RX: rx, RY: ry, ARGMAX } },
      params: geomParams(g, rows, block),
      bindings: [x, y, am],
      workgroups: [Math.ceil(Math.ceil(g.wo / block) / rx), Math.ceil(gy / gz), gz],
    });
    return { y, argmax };
  }
  // Invocations: `columns4` one per vec4 of an output row (wo = w there), the others one per
  // OPT outputs of a row.
  const invocations = g.n * g.c * g.ho * (variant === 'columns4' ? g.w / 4 : blocks(g));
  rt.dispatch({
    kernel: {
      name: (variant === 'generic' ? 'max_pool2d_forward' : `max_pool2d_forward_${variant}`) + tag,
      code: forwardSrc,
      entryPoint: variant === 'generic' ? 'main' : variant,
      constants: variant === 'columns4' ? { WG, ARGMAX } : { WG, OPT, ARGMAX },
    },
    params: geomParams(g, invocations),
    bindings: [x, y, am],
    workgroups: rt.grid(invocations, WG),
  });
  return { y, argmax };
}

/**
 * The backward kernel for a geometry: non-overlapping windows have one writer per dx element
 * from the window side ('cells'; `columns4` / `pairs4` when the windows tile the plane exactly
 * with one or two columns on a stride of one or two, over W % 4 == 0); overlapping ones
 * gather per input element.
 */
export function backwardVariant(g: PoolGeometry): 'columns4' | 'pairs4' | 'cells' | 'gather' {
  const tiles = g.ph === 0 && g.pw === 0 && g.sh === g.kh && g.h === g.ho * g.kh && g.sw === g.kw && g.w === g.wo * g.kw && g.w % 4 === 0;
  if (tiles && g.kw === 1) return 'columns4';
  if (tiles && g.kw === 2) return 'pairs4';
  return g.sh >= g.kh && g.sw >= g.kw ? 'cells' : 'gather';
}

/**
 * dx [N, C, H, W] of max pooling: dy [N, C, Ho, Wo] goes to the positions argmax names,
 * summed where windows overlap. Deterministic, no atomics: each dx element has one writer
 * (per window cell when windows do not overlap, else gathered per input element).
 * `inputShape` and `opts` are those of the forward call.
 */
export function maxPool2dBackward(rt: Runtime, dy: Tensor, argmax: Tensor, inputShape: readonly number[], opts: MaxPool2dOptions): Tensor {
  const op = 'max_pool2d_backward';
  const g = poolGeometry(op, inputShape, opts, 'inputShape');
  const outShape = [g.n, g.c, g.ho, g.wo];
  expectShape(op, 'dy', dy, outShape);
  expectDType(op, 'dy', dy, 'f32');
  expectShape(op, 'argmax', argmax, outShape);
  expectDType(op, 'argmax', argmax, 'i32');
  const dx = rt.empty([g.n, g.c, g.h, g.w]);
  const variant = backwardVariant(g);
  if (variant === 'columns4' || variant === 'pairs4') {
    const total = g.n * g.c * g.ho * (g.w / 4);
    rt.dispatch({
      kernel: { name: `max_pool2d_backward_${variant}`, code: backwardSrc, entryPoint: variant, constants: { WG, KH: g.kh } },
      params: geomParams(g, total),
      bindings: [dy, argmax, dx],
      workgroups: rt.grid(total, WG),
    });
    return dx;
  }
  const cells = variant === 'cells';
  const total = cells ? g.n * g.c * g.ho * blocks(g) : g.n * g.c * g.h * g.w;
  rt.dispatch({
    kernel: { name: 'max_pool2d_backward', code: backwardSrc, entryPoint: variant, constants: { WG, OPT } },
    params: geomParams(g, total),
    bindings: [dy, argmax, dx],
    workgroups: rt.grid(total, WG),
  });
  return dx;
}
