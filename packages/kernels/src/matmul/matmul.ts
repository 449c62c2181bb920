import { OpInputError, type Runtime, type Tensor } from '@crnn/core';
import { sumAxes } from '../elementwise/elementwise.js';
import { expectDType, expectRank, expectShape } from '../validate.js';
import packSrc from './matmul-pack.wgsl.js';
import swDirectSrc from './matmul-sw-direct.wgsl.js';
import swWindowSrc from './matmul-sw-window.wgsl.js';
import tiledSrc from './matmul-tiled.wgsl.js';
import simpleSrc from './matmul.wgsl.js';

/**
 * Kernel variants:
 * - `simple`: one output per invocation; the reference-quality kernel.
 * - `tiled`: 64x64 tiles staged in workgroup memory, 4x4 outputs per thread: for real GPUs.
 * - `sw-direct`: register-blocked 16x16 tile per 8-lane subgroup, operands shared across lanes
 *   with subgroup broadcasts, read in place in any layout: for software (CPU) adapters.
 * - `sw-window`: as sw-direct, but B is first packed transposed into a uniform buffer and read
 *   one 64 KiB window per dispatch (uniform loads are gathers on lavapipe, storage loads go
 *   lane by lane): the fastest on software adapters for all but small or batched products.
 * - `auto` (default): `tiled` on GPUs; on software adapters with 8-wide (or wider) subgroups,
 *   `sw-window` when it pays for its packing, else `sw-direct`.
 */
export type MatmulVariant = 'auto' | 'simple' | 'tiled' | 'sw-direct' | 'sw-window';
/** A concrete kernel: a variant other than `auto`. */
export type MatmulKernel = Exclude<MatmulVariant, 'auto'>;

const VARIANTS: readonly MatmulVariant[] = ['auto', 'simple', 'tiled', 'sw-direct', 'sw-window'];

export interface MatmulOptions {
  /** A is stored [K, M] (or [batch, K, M]). */
  transA?: boolean;
  /** B is stored [N, K] (or [batch, N, K]). */
  transB?: boolean;
  /** Added to every row: [N]. */
  bias?: Tensor;
  /** Accumulate into this tensor ([M, N] or [batch, M, N]) instead of a new one. */
  accumulate?: Tensor;
  /**
   * Write C into this tensor ([M, N] or [batch, M, N]; a view is fine) instead of a new one.
   * It must not overlap A or B. Not together with `accumulate`.
   */
  out?: Tensor;
  /** Force a kernel variant (tests, benchmarks); `auto` picks by adapter and shape. */
  variant?: MatmulVariant;
}

/** A uniform binding of the windowed kernel: `array<vec4<f32>, 4096>`, 64 KiB. */
const WINDOW_FLOATS = 16384;
/** Output tile of the software kernels (rows x columns per 8-lane workgroup). */
const SW_TILE = 16;
/** Rows of C per workgroup of the windowed kernel (TM in matmul-sw-window.wgsl). */
const SW_WINDOW_ROWS = 24;
/**
 * K per slice where the windowed kernel splits a long reduction: 16 columns of Bᵀ per 64 KiB
 * window, and slices of A that start 4 KiB apart (a multiple of the binding offset alignment).
 */
const K_SLICE = 1024;
const TILED_TILE = 64;
const SIMPLE_TILE = 16;
const PACK_WG = 64;

/** True when the adapter runs the subgroup kernels correctly: subgroups of at least 8 lanes. */
export function hasWideSubgroups(rt: Runtime): boolean {
  if (!rt.device.features.has('subgroups')) return false;
  const info = rt.device.adapterInfo as GPUAdapterInfo | undefined;
  return (info?.subgroupMinSize ?? 0) >= 8;
}

/** The variants this adapter can run ('auto' excluded). */
export function matmulVariants(rt: Runtime): MatmulKernel[] {
  return hasWideSubgroups(rt) ? ['simple', 'tiled', 'sw-direct', 'sw-window'] : ['simple', 'tiled'];
}

interface Dims {
  batch: number;
  batchA: number;
  batchB: number;
  m: number;
  n: number;
  k: number;
}


interface Plan {
  d: Dims;
  outShape: number[];
  variant: MatmulKernel;
  window: WindowPlan | null;
}

/** Validates the operands (OpInputError naming the op, before any dispatch) and picks a kernel. */
function plan(rt: Runtime, a: Tensor, b: Tensor, o: MatmulOptions): Plan {
  const op = 'matmul';
  expectRank(op, 'a', a, [2, 3]);
  expectRank(op, 'b', b, [2, 3]);
  expectDType(op, 'a', a, 'f32');
  expectDType(op, 'b', b, 'f32');
  const batchA = a.rank === 3 ? a.shape[0]! : 1;
  const batchB = b.rank === 3 ? b.shape[0]! : 1;
  if (a.rank === 3 && b.rank === 3 && batchA !== batchB) {
    throw new OpInputError(op, `equal batch sizes`, `${batchA} and ${batchB}`);
  }
  const batch = Math.max(batchA, batchB);
  const [ar, ac] = a.shape.slice(-2) as [number, number];
  const [br, bc] = b.shape.slice(-2) as [number, number];
  const [m, k] = o.transA ? [ac, ar] : [ar, ac];
  const [kb, n] = o.transB ? [bc, br] : [br, bc];
  if (k !== kb) {
    throw new OpInputError(op, `inner dimensions to agree (op(A) is [${m}, ${k}])`, `op(B) of [${kb}, ${n}]`);
  }
  const outShape = a.rank === 3 || b.rank === 3 ? [batch, m, n] : [m, n];
  if (o.bias) {
    expectDType(op, 'bias', o.bias, 'f32');
    expectShape(op, 'bias', o.bias, [n]);
  }
  if (o.accumulate) {
    expectDType(op, 'accumulate', o.accumulate, 'f32');
    expectShape(op, 'accumulate', o.accumulate, outShape);
  }
  if (o.out) {
    if (o.accumulate) throw new OpInputError(op, `either out or accumulate`, `both`);
    expectDType(op, 'out', o.out, 'f32');
    expectShape(op, 'out', o.out, outShape);
  }
  const requested = o.variant ?? 'auto';
  if (!VARIANTS.includes(requested)) {
    throw new OpInputError(op, `variant one of ${VARIANTS.join(', ')}`, `'${String(requested)}'`);
  }
  const available = matmulVariants(rt);
  if (requested !== 'auto' && !available.includes(requested as MatmulKernel)) {
    throw new OpInputError(op, `variant '${requested}' to run on this adapter (it has ${available.join(', ')})`, rt.adapterName);
  }
  const d: Dims = { batch, batchA, batchB, m, n, k };
  const window = windowPlan(rt, d);
  let variant = requested === 'auto' ? chooseVariant(rt, d, window, o) : requested;
  // The windowed kernel needs a shared B and K short enough for one column per window; where
  // it cannot run it is the same computation as sw-direct.
  if (variant === 'sw-window' && !window) variant = 'sw-direct';
  return { d, outShape, variant, window };
}

/** The kernel variant `matmul` would run for these operands and options. */
export function matmulVariantFor(rt: Runtime, a: Tensor, b: Tensor, o: MatmulOptions = {}): MatmulKernel {
  return plan(rt, a, b, o).variant;
}

/**
 * C = op(A) op(B) (+ bias). Rank 2 operands, or rank 3 [batch, ., .]; a rank-2 operand
 * next to a rank-3 one is broadcast over the batch. Any of M, N, K may be 0 (K = 0 gives the
 * bias, or zeros).
 */
export function matmul(rt: Runtime, a: Tensor, b: Tensor, o: MatmulOptions = {}): Tensor {
  const p = plan(rt, a, b, o);
  const c = o.accumulate ?? o.out ?? rt.empty(p.outShape);
  if (p.d.m === 0 || p.d.n === 0 || p.d.batch === 0) return c;
  if (p.variant === 'sw-window') windowed(rt, a, b, c, o, p.d, p.window!);
  else direct(rt, p.variant, a, b, c, o, p.d);
  return c;
}

/**
 * The default variant: `tiled` on GPUs; on software adapters whichever of the two software
 * kernels costs less by a model fitted on lavapipe, in units of one sw-direct multiply-add
 * (~0.24 ns there): the windowed kernel does a multiply-add for ~0.6 of that, but first packs
 * Bᵀ (and A when transposed or K % 4 != 0) at ~40 units per element when the pack transposes,
 * ~14 when it only pads, ~2 for a plain copy, and pays ~150k units (~35 us) per extra dispatch.
 */
function chooseVariant(rt: Runtime, d: Dims, window: WindowPlan | null, o: MatmulOptions): MatmulKernel {
  if (!rt.info.isSoftware || !hasWideSubgroups(rt)) return 'tiled';
  if (!window) return 'sw-direct';
  const rows = d.batch * d.m;
  const macs = rows * d.n * d.k;
  const copyB = !!o.transB && window.kp === d.k;
  let extra = window.windows(d.n) * window.slices;
  let cost = 0.6 * macs + d.n * window.kp * window.slices * (copyB ? 2 : o.transB ? 14 : 40);
  if (window.packA(o)) {
    cost += rows * roundUp(d.k, 4) * (o.transA ? 40 : 14);
    extra++;
  }
  cost += 150_000 * extra;
  return cost < macs ? 'sw-window' : 'sw-direct';
}

function direct(rt: Runtime, variant: MatmulKernel, a: Tensor, b: Tensor, c: Tensor, o: MatmulOptions, d: Dims): void {
  const { m, n, k, batch } = d;
  const [code, name, tile] =
    variant === 'tiled'
      ? [tiledSrc, 'matmul_tiled', TILED_TILE]
      : variant === 'sw-direct'
        ? [swDirectSrc, 'matmul_sw_direct', SW_TILE]
        : [simpleSrc, 'matmul', SIMPLE_TILE];
  rt.dispatch({
    kernel: {
      name,
      code,
      constants: {
        TRANS_A: o.transA ? 1 : 0,
        TRANS_B: o.transB ? 1 : 0,
        HAS_BIAS: o.bias ? 1 : 0,
        ACCUMULATE: o.accumulate ? 1 : 0,
      },
    },
    params: [m, n, k, d.batchA > 1 ? m * k : 0, d.batchB > 1 ? k * n : 0, m * n],
    bindings: [a, b, c, o.bias ?? rt.placeholder],
    workgroups: [Math.ceil(n / tile), Math.ceil(m / tile), batch],
  });
}

interface WindowPlan {
  /**
   * Row stride (floats) of the packed Bᵀ: K rounded up to whole vec4s (or the alignment); with
   * K in slices, the slice length.
   */
  kp: number;
  /**
   * K split into this many slices of `kp` (the last one shorter), each its own pass over C
   * that accumulates: 1 unless one column of K would leave a window narrower than the
   * kernel's 16-column tiles.
   */
  slices: number;
  /** Columns of C per window (two windows per dispatch). */
  cw: number;
  packA(o: MatmulOptions): boolean;
  /** Dispatches of the windowed kernel for n columns. */
  windows(n: number): number;
}

const gcd = (x: number, y: number): number => (y === 0 ? x : gcd(y, x % y));
const roundUp = (x: number, q: number): number => Math.ceil(x / q) * q;

/**
 * How Bᵀ is cut into 64 KiB uniform windows, or null where the windowed kernel cannot run: B
 * batched (one set of windows per batch item would multiply the dispatches), K = 0, or K so
 * long that one column does not fit a window (or a grid past the workgroup limits). Every window starts at a column boundary that
 * is also a multiple of the uniform offset alignment (256 bytes).
 */
function windowPlan(rt: Runtime, d: Dims): WindowPlan | null {
  const lim = rt.device.limits;
  // The pack grid puts rows on y and the batch on z.
  const maxGroups = lim.maxComputeWorkgroupsPerDimension;
  if (d.batchB > 1 || d.k === 0 || !hasWideSubgroups(rt) || Math.max(d.n, d.m, d.batch) > maxGroups) return null;
  const align = Math.max(lim.minUniformBufferOffsetAlignment, lim.minStorageBufferOffsetAlignment) / 4;
  if (lim.maxUniformBufferBindingSize < WINDOW_FLOATS * 4) return null;
  let kp = roundUp(d.k, 4);
  // Windows start at multiples of cw * kp floats: cw must be a multiple of step.
  let step = align / gcd(kp, align);
  let cw = Math.floor(WINDOW_FLOATS / kp / step) * step;
  let slices = 1;
  if (cw < SW_TILE && d.k > K_SLICE) {
    // A window of cw < 16 columns leaves lanes of every 16-column tile idle (K = 2048: half of
    // them), so long reductions run in slices of K_SLICE (16 columns per window, a multiple of
    // any offset alignment), each pass adding into C: [192, 2048] x [2048, 512] on lavapipe,
    // 39.2 ms in one pass against 22.0 ms as two of K 1024 (GPU time, median of 15,
    // interleaved).
    kp = K_SLICE;
    step = 1;
    cw = WINDOW_FLOATS / K_SLICE;
    slices = Math.ceil(d.k / K_SLICE);
  } else if (cw === 0) {
    kp = roundUp(d.k, align);
    step = 1;
    cw = Math.floor(WINDOW_FLOATS / kp);
    if (cw === 0) return null;
  }
  // Whole 16-column tiles per window where the window is wide enough.
  const whole = Math.max(step, SW_TILE);
  if (cw >= whole) cw = Math.floor(cw / whole) * whole;
  return {
    kp,
    slices,
    cw,
    packA: (o) => !!o.transA || d.k % 4 !== 0,
    windows: (n) => Math.ceil(n / (2 * cw)),
  };
}

/**
 * Packs `src` (S [rows, cols] per batch item, or its transpose) into dst [batch, rows, ld].
 * `off` (elements) and `ldSrc` (the source's row stride when not transposing) select a slice
 * of a wider source.
 */
function pack(rt: Runtime, src: Tensor, dst: Tensor, transpose: boolean, rows: number, cols: number, ld: number, stride: number, batch: number, off = 0, ldSrc = cols): void {
  // Transposes of whole vec4 source rows go 4x4 blocks at a time (transpose4 in the shader),
  // copies of whole vec4 rows a vec4 at a time (copy4).
  const blocks = transpose && rows % 4 === 0 && stride % 4 === 0 && off % 4 === 0;
  const rows4 = !transpose && cols % 4 === 0 && ldSrc % 4 === 0 && stride % 4 === 0 && off % 4 === 0;
  rt.dispatch({
    kernel: blocks
      ? { name: 'matmul_pack_t4', code: packSrc, entryPoint: 'transpose4' }
      : rows4
        ? { name: 'matmul_pack_copy4', code: packSrc, entryPoint: 'copy4' }
        : { name: 'matmul_pack', code: packSrc, entryPoint: 'main', constants: { TRANSPOSE: transpose ? 1 : 0 } },
    params: [rows, cols, ld / 4, stride, off, ldSrc],
    bindings: [src, dst],
    workgroups: [Math.ceil(ld / 4 / PACK_WG), blocks ? rows / 4 : rows, batch],
  });
}

function windowed(rt: Runtime, a: Tensor, b: Tensor, c: Tensor, o: MatmulOptions, d: Dims, w: WindowPlan): void {
  const { m, n, k, batch } = d;
  // B is shared by the batch, so the batch of A folds into its rows: C is [batch * m, n].
  const rows = batch * m;
  const temps: Tensor[] = [];
  let av = a;
  let k4a = k / 4;
  if (w.packA(o)) {
    const kpa = roundUp(k, 4);
    av = rt.empty([rows * kpa]);
    temps.push(av);
    pack(rt, a, av, !!o.transA, m, k, kpa, d.batchA > 1 ? m * k : 0, batch);
    k4a = kpa / 4;
  }
  // Bᵀ, row j = column j of op(B), rows kp apart; a window's worth of slack at the end keeps
  // the last window's fixed 64 KiB binding inside the buffer (columns past n are never read).
  // With K in slices, the buffer holds one slice's Bᵀ at a time: each slice's pack is
  // recorded after the previous slice's dispatches, which WebGPU orders before it.
  const len = n * w.kp + WINDOW_FLOATS;
  const bt = rt.emptyUniform([len], 'f32', 'matmul-window');
  temps.push(bt);
  for (let s = 0; s < w.slices; s++) {
    const k0 = s * w.kp;
    const kc = Math.min(w.kp, k - k0);
    if (w.slices === 1 && o.transB && w.kp === k) {
      // B is stored [n, k] = Bᵀ already, with no padding: a plain copy.
      const head = bt.view([n * k], 0);
      rt.copy(b, head);
      head.dispose();
    } else if (o.transB) {
      pack(rt, b, bt, false, n, kc, w.kp, 0, 1, k0, k);
    } else {
      pack(rt, b, bt, true, n, kc, w.kp, 0, 1, k0 * n);
    }
    // A's slice: the same rows, starting k0 floats in (4 KiB steps: aligned for binding).
    const aSlice = w.slices === 1 ? av : av.view([av.size - k0], k0);
    // The first slice writes C as asked (bias, accumulate); the others add into it.
    const constants = { HAS_BIAS: o.bias && s === 0 ? 1 : 0, ACCUMULATE: o.accumulate || s > 0 ? 1 : 0 };
    // One dispatch per pair of windows: columns [j0, j0 + cw) and [j0 + cw, j0 + cw + cw2).
    // Where the second is empty (the last dispatch), window A is bound twice and cw2 = 0.
    for (let j0 = 0; j0 < n; j0 += 2 * w.cw) {
      const cw = Math.min(w.cw, n - j0);
      const cw2 = Math.max(0, Math.min(w.cw, n - j0 - w.cw));
      const view = bt.view([WINDOW_FLOATS], j0 * w.kp);
      const view2 = cw2 > 0 ? bt.view([WINDOW_FLOATS], (j0 + w.cw) * w.kp) : view;
      rt.dispatch({
        kernel: { name: 'matmul_sw_window', code: swWindowSrc, constants },
        params: [rows, n, Math.ceil(kc / 4), k4a, w.kp / 4, j0, cw, cw2],
        bindings: [aSlice, view, c, o.bias ?? rt.placeholder, view2],
        workgroups: [Math.ceil(cw / SW_TILE), Math.ceil(rows / SW_WINDOW_ROWS), 1],
      });
      view.dispose();
      if (view2 !== view) view2.dispose();
    }
    if (aSlice !== av) aSlice.dispose();
  }
  for (const t of temps) t.dispose();
}

/** y = x W^T + b over x of shape [..., in], W [out, in], b [out]. */
export function linear(rt: Runtime, x: Tensor, w: Tensor, bias?: Tensor): Tensor {
  const op = 'linear';
  expectRank(op, 'weight', w, 2);
  if (x.rank < 1) throw new OpInputError(op, 'x of rank >= 1', `rank ${x.rank}`);
  const [out, inF] = w.shape as [number, number];
  if (x.shape[x.rank - 1] !== inF) {
    throw new OpInputError(op, `x of shape [..., ${inF}] (weight is [${out}, ${inF}])`, `[${x.shape.join(', ')}]`);
  }
  const rows = x.size / inF;
  const x2 = x.reshape([rows, inF]);
  const y = matmul(rt, x2, w, { transB: true, ...(bias ? { bias } : {}) });
  x2.dispose();
  const shaped = y.reshape([...x.shape.slice(0, -1), out]);
  y.dispose();
  return shaped;
}

export interface LinearGrads {
  dx?: Tensor;
  dw?: Tensor;
  db?: Tensor;
}

/**
 * Gradients of y = x W^T + b: dx = dy W, dW = dy^T x, db = sum of dy over rows.
 * `accumulate` adds dW / db into existing gradient tensors instead of returning new ones.
 */
export function linearBackward(
  rt: Runtime,
  dy: Tensor,
  x: Tensor,
  w: Tensor,
  need: { x?: boolean; w?: boolean; b?: boolean } = { x: true, w: true, b: true },
  accumulate: { dw?: Tensor; db?: Tensor } = {},
): LinearGrads {
  const [out, inF] = w.shape as [number, number];
  const rows = x.size / inF;
  expectShape('linear_backward', 'dy', dy, [...x.shape.slice(0, -1), out]);
  const dy2 = dy.reshape([rows, out]);
  const x2 = x.reshape([rows, inF]);
  const g: LinearGrads = {};
  if (need.x) {
    const dx = matmul(rt, dy2, w);
    g.dx = dx.reshape(x.shape);
    dx.dispose();
  }
  if (need.w) g.dw = matmul(rt, dy2, x2, { transA: true, ...(accumulate.dw ? { accumulate: accumulate.dw } : {}) });
  if (need.b) g.db = sumAxes(rt, dy2, [rows, out, 1], accumulate.db);
  dy2.dispose();
  x2.dispose();
  return g;
}
