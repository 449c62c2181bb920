import { i32, OpInputError, type Runtime, type Tensor } from '@crnn/core';
import { sumAxes } from '../elementwise/elementwise.js';
import { expectDType, expectNonNegativeInts, expectPositiveInts, expectRank, expectShape, pair } from '../validate.js';
import padSrc from './conv2d-pad.wgsl.js';
import packSrc from './conv2d-pack.wgsl.js';
import fastSrc from './conv2d-fast.wgsl.js';
import dwFastSrc from './conv2d-dw-fast.wgsl.js';
import dwFinishSrc from './conv2d-dw-finish.wgsl.js';
import dwSmallSrc from './conv2d-dw-small.wgsl.js';
import directSrc from './conv2d-direct.wgsl.js';
import winogradSrc from './conv2d-winograd.wgsl.js';
import winogradXSrc from './conv2d-winograd-x.wgsl.js';
import gemmSrc from './conv2d-gemm.wgsl.js';
import { permute } from '../permute/permute.js';
import { hasWideSubgroups, matmul } from '../matmul/matmul.js';
import { winogradTuning } from './winograd-tuning.js';

export interface Conv2dOptions {
  /** Stride per axis (default 1). */
  stride?: number | readonly [number, number];
  /** Zero padding per axis (default 0). */
  padding?: number | readonly [number, number];
  /**
   * Kernel choice, for tests and benchmarks: 'fast' (subgroup implicit GEMM; needs
   * subgroups of at least 8 invocations), 'direct' (one output per invocation, any
   * adapter), 'winograd' (F(2x2, 3x3) through 16 matmuls, dw by F(3x3, 2x2); 3x3 kernels
   * at stride 1 with input and output channels in multiples of 4; for dx the stride may be
   * any), 'winograd-x' (F(2, 2) along the rows through 3 matmuls: the forward and dw of
   * kernels 2 wide at column stride 1, any height, row stride and padding; not dx),
   * 'gemm' (im2col / col2im around one matmul; any geometry whose [N*OH*OW, C*KH*KW]
   * columns fit one storage binding), 'auto' (default: per part, what was measured fastest
   * among those that apply: on software adapters by lavapipe's figures, on GPUs by an
   * H100's (gemm from 64 input columns and output channels on); else fast where it
   * applies, else direct).
   */
  kernel?: 'auto' | 'fast' | 'direct' | 'winograd' | 'winograd-x' | 'gemm';
}

interface Geom {
  n: number;
  c: number;
  h: number;
  w: number;
  o: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  oh: number;
  ow: number;
}

const fmt = (s: readonly number[]) => `[${s.join(', ')}]`;

/** Checks x, w and the attributes; returns the geometry. Throws OpInputError before any dispatch. */
function geometry(op: string, x: Tensor, w: Tensor, o: Conv2dOptions): Geom {
  expectRank(op, 'x', x, 4);
  expectRank(op, 'weight', w, 4);
  expectDType(op, 'x', x, 'f32');
  expectDType(op, 'weight', w, 'f32');
  const [n, c, h, wd] = x.shape as [number, number, number, number];
  const [oc, wc, kh, kw] = w.shape as [number, number, number, number];
  const [sh, sw] = pair(o.stride ?? 1);
  const [ph, pw] = pair(o.padding ?? 0);
  expectPositiveInts(op, 'stride', [sh, sw]);
  expectNonNegativeInts(op, 'padding', [ph, pw]);
  expectPositiveInts(op, 'x dimensions', [n, c, h, wd]);
  expectPositiveInts(op, 'weight dimensions', [oc, wc, kh, kw]);
  if (wc !== c) throw new OpInputError(op, `weight of shape [O, ${c}, kh, kw] (x has ${c} channels)`, fmt(w.shape));
  if (h + 2 * ph < kh || wd + 2 * pw < kw) {
    throw new OpInputError(op, `a kernel that fits the padded input ${h + 2 * ph}x${wd + 2 * pw}`, `kernel ${kh}x${kw}`);
  }
  return {
    n, c, h, w: wd, o: oc, kh, kw, sh, sw, ph, pw,
    oh: Math.floor((h + 2 * ph - kh) / sh) + 1,
    ow: Math.floor((wd + 2 * pw - kw) / sw) + 1,
  };
}

const WG = 64;

/** Whether pad() runs rows4 (vec4 rows) rather than the element kernel. */
export const padByRows = (srcSize: number, wp: number, dw: number): boolean => dw === 1 && wp % 4 === 0 && srcSize % 4 === 0 && srcSize > 0;

/**
 * Zero-padded / dilated copy of src [N, C, H, W] into [N, C, hp, wp] (see conv2d-pad.wgsl):
 * row by row in vec4s (rows4) where the columns are not dilated and both sides hold whole
 * vec4s, else element by element into a cleared buffer. Where there is nothing to pad, crop
 * or dilate, the result is a view of src (no dispatch): read it and dispose it, never write it.
 */
export function pad(rt: Runtime, src: Tensor, hp: number, wp: number, pt: number, pl: number, dh = 1, dw = 1): Tensor {
  const [n, c, h, w] = src.shape as [number, number, number, number];
  // Nothing to pad or dilate (dw-fast's dy when its rows and columns are already whole
  // steps): the copy would be src itself.
  if (hp === h && wp === w && pt === 0 && pl === 0 && dh === 1 && dw === 1) return src.view([n, c, h, w], 0);
  const planes = n * c;
  if (padByRows(src.size, wp, dw)) {
    const out = rt.empty([n, c, hp, wp]);
    rt.dispatch({
      kernel: { name: 'conv2d_pad_rows4', code: padSrc, entryPoint: 'rows4' },
      params: [planes, h, w, hp, wp, i32(pt), i32(pl), dh, dw, 0],
      bindings: [src, out],
      workgroups: rt.grid(planes * hp, 64),
    });
    return out;
  }
  const out = rt.zeros([n, c, hp, wp]);
  const zc = Math.max(4, Math.ceil(planes / rt.device.limits.maxComputeWorkgroupsPerDimension));
  rt.dispatch({
    kernel: { name: 'conv2d_pad', code: padSrc, entryPoint: 'main' },
    params: [planes, h, w, hp, wp, i32(pt), i32(pl), dh, dw, zc],
    bindings: [src, out],
    workgroups: [Math.ceil(w / 32), Math.ceil(h / 2), Math.ceil(planes / zc)],
  });
  return out;
}

/** Weights packed for conv2d-fast.wgsl; flip = the rotated, transposed weights of dx. */
function pack(rt: Runtime, w: Tensor, flip: boolean): Tensor {
  const [wo, wc, kh, kw] = w.shape as [number, number, number, number];
  const [oc, ic] = flip ? [wc, wo] : [wo, wc];
  const nslot = 4 * Math.ceil(kw / 2);
  const ob8 = 8 * Math.ceil(oc / 16);
  // Every slot is written (zeros past KW and past the channels): no clear.
  const out = rt.empty([ob8 * ic * kh * nslot]);
  rt.dispatch({
    kernel: { name: 'conv2d_pack', code: packSrc, constants: { WG, FLIP: flip ? 1 : 0 } },
    params: [oc, ic, kh, kw, nslot, ob8],
    bindings: [w, out],
    workgroups: [Math.ceil(ic / WG), ob8],
  });
  return out;
}

/**
 * The fast convolution: y [N, O, OH, OW] from xp (already padded, rows of a multiple of 4
 * floats, tall and wide enough for every window) and packed weights.
 */
function fastConv(
  rt: Runtime,
  xp: Tensor,
  packed: Tensor,
  bias: Tensor | undefined,
  n: number,
  c: number,
  o: number,
  kh: number,
  kw: number,
  sh: number,
  sw: number,
  oh: number,
  ow: number,
): Tensor {
  const [, , hp, wp] = xp.shape as [number, number, number, number];
  const cpr = Math.ceil(ow / 4);
  const nslots = n * oh * cpr;
  // 8 slots per workgroup; past the per-dimension limit the slot groups fold into z.
  const groups = Math.ceil(nslots / 8);
  const gz = Math.ceil(groups / rt.device.limits.maxComputeWorkgroupsPerDimension);
  const y = rt.empty([n, o, oh, ow]);
  rt.dispatch({
    kernel: { name: 'conv2d_fast', code: fastSrc, constants: { KH: kh, KW: kw, SH: sh, SW: sw } },
    params: [c, o, oh, ow, hp, wp / 4, cpr, nslots, bias ? 1 : 0],
    bindings: [xp, packed, bias ?? rt.placeholder, y],
    workgroups: [Math.ceil(groups / gz), Math.ceil(o / 16), gz],
  });
  return y;
}

/**
 * Padded extent for fastConv: the rows every output row reads, and columns up to the end of
 * the last 4-column chunk's window (vec4 sw*(cpr-1) .. + ceil((3*sw + kw)/4)), a multiple of 4.
 */
function fastExtent(oh: number, ow: number, kh: number, kw: number, sh: number, sw: number): [number, number] {
  const cpr = Math.ceil(ow / 4);
  return [(oh - 1) * sh + kh, 4 * (sw * (cpr - 1) + Math.ceil((3 * sw + kw) / 4))];
}

/** conv2d-fast.wgsl's private arrays: ceil(KW / 2) <= 8 and ceil((3*SW + KW) / 4) <= 8. */
const fastFits = (kw: number, sw: number) => Math.ceil(kw / 2) <= 8 && Math.ceil((3 * sw + kw) / 4) <= 8;
/** Output rows per step of conv2d-dw-fast.wgsl: 2, or 1 when pairing would pad much. */
const rowsPerStep = (oh: number) => (oh % 2 === 1 && oh < 8 ? 1 : 2);
/**
 * conv2d-dw-fast.wgsl / conv2d-dw-small.wgsl: KH, KW <= 4, (RPS-1)*SH + KH <= 8 input rows,
 * ceil((3*SW + KW) / 4) <= 4 vec4 per row (so at most 32 window vec4 per step).
 */
const dwFastFits = (g: Geom) =>
  g.kh <= 4 && g.kw <= 4 && (rowsPerStep(g.oh) - 1) * g.sh + g.kh <= 8 && Math.ceil((3 * g.sw + g.kw) / 4) <= 4;
/**
 * Few input channels leave most lanes of conv2d-dw-fast.wgsl (lanes over input channels)
 * idle; conv2d-dw-small.wgsl runs its lanes over output channels instead.
 */
const SMALL_C = 4;

function useFast(op: string, rt: Runtime, choice: Conv2dOptions['kernel'], fits: boolean): boolean {
  const can = fits && hasWideSubgroups(rt);
  if (choice === 'fast' && !can) {
    throw new OpInputError(op, `kernel 'fast' to apply (subgroups of >= 8 invocations and a small enough kernel)`, hasWideSubgroups(rt) ? 'a kernel too large for it' : 'no subgroups');
  }
  return choice === 'direct' ? false : can;
}

/**
 * Winograd F(2x2, 3x3) (conv2d-winograd.wgsl) applies to 3x3 kernels at stride 1 (for dx: on
 * the dilated dy, any stride) with c and o in multiples of 4 (its vec4 channel groups), and
 * where the 16 transformed [o, c] weight planes (U, or dw's M), bound whole, fit one storage
 * binding (tiles are chunked, the weights are not): at the 128 MiB default, c = o = 1536
 * (16 planes of 2.25 Mi floats, 144 MiB) does not.
 */
const winogradFits = (rt: Runtime, kh: number, kw: number, stride: number, c: number, o: number) =>
  kh === 3 && kw === 3 && stride === 1 && c % 4 === 0 && o % 4 === 0 && 16 * planeStride(o * c) * 4 <= Math.min(rt.device.limits.maxStorageBufferBindingSize, rt.device.limits.maxBufferSize);
/**
 * Channels (input and output) from which 'auto' takes the Winograd path on software
 * adapters: its 16 GEMMs are [P, c] x [c, o], and with c or o at 64 the matmul kernel runs too
 * far under its peak to win (C 64 -> O 128 at 16x50 on lavapipe: forward 60 ms against 47 for
 * conv2d-fast, dx 56 against 47; from 128 -> 256 at 8x25 up it is 1.3-1.7x faster). dw (the
 * GEMMs [O, P] x [P, C]), GPU time, median of 9 in three interleaved rounds: 64 -> 128 at
 * 16x50 53.5 ms against 54.3 for conv2d-dw-fast, 128 -> 256 at 8x25 52.8 / 55.2, 256 -> 256
 * 59.7 / 121.5, 256 -> 512 at 4x25 58.0 / 130.7, 512 -> 512 108.7 / 203.4.
 */
const WINOGRAD_MIN_C = 128;

/** Whether to take the Winograd path (throws when it is asked for and does not apply). */
function useWinograd(op: string, rt: Runtime, choice: Conv2dOptions['kernel'], fits: boolean, c: number, o: number): boolean {
  if (choice === 'winograd' && !fits) {
    throw new OpInputError(op, `kernel 'winograd' to apply (a 3x3 kernel, stride 1, channels in multiples of 4, 16 weight planes within one storage binding)`, 'a shape it does not cover');
  }
  if (choice === 'winograd') return true;
  return (choice ?? 'auto') === 'auto' && fits && c >= WINOGRAD_MIN_C && o >= WINOGRAD_MIN_C && rt.info.isSoftware && hasWideSubgroups(rt);
}

/** Floats of `count`, rounded up so that consecutive planes start 256 bytes apart. */
const planeStride = (count: number) => Math.ceil(count / 64) * 64;

/**
 * y [n, o, oh, ow] = the 3x3 stride-1 convolution of xp [n, c, hp, wp] (padded, hp >= 2 *
 * ceil(oh / 2) + 2, wp >= 2 * ceil(ow / 2) + 2 and even) with w ([o, c, 3, 3], or [c, o, 3, 3]
 * used rotated when `flip`), by Winograd F(2x2, 3x3): transform the weights and the input
 * blocks, 16 matmuls [P, c] x [c, o] (P = n * ceil(oh / 2) * ceil(ow / 2) tiles), transform back.
 */
function winogradConv(rt: Runtime, xp: Tensor, w: Tensor, flip: boolean, bias: Tensor | undefined, n: number, c: number, o: number, oh: number, ow: number): Tensor {
  const [, , hp, wp] = xp.shape as [number, number, number, number];
  const th = Math.ceil(oh / 2);
  const tw = Math.ceil(ow / 2);
  const tiles = n * th * tw;
  const chunk = Math.min(tiles, winogradChunk(rt, 16, Math.max(c, o)));
  const [sv, sm, su] = [planeStride(chunk * c), planeStride(chunk * o), planeStride(o * c)];
  const u = rt.empty([16 * su]);
  const v = rt.empty([16 * sv]);
  const m = rt.empty([16 * sm]);
  const y = rt.empty([n, o, oh, ow]);
  const launch = winogradLauncher(rt, winogradSrc, 'conv2d_winograd', [n, c, o, th, tw, hp, wp, oh, ow, sv, sm, su]);
  launch(flip ? 'weights_flip' : 'weights', (o * c) / 4, 0, [w, u]);
  for (let p0 = 0; p0 < tiles; p0 += chunk) {
    const pc = Math.min(chunk, tiles - p0);
    launch('input', (pc * c) / 4, p0, [xp, v]);
    planeProducts(rt, 16, [v, [pc, c], sv], [u, [o, c], su], [m, [pc, o], sm], false);
    launch('output', (pc * o) / 4, p0, [m, bias ?? rt.placeholder, y], { HAS_BIAS: bias ? 1 : 0 });
  }
  for (const t of [u, v, m]) t.dispose();
  return y;
}

/**
 * Dispatches the entry points of a Winograd shader (conv2d-winograd.wgsl, conv2d-winograd-x.wgsl)
 * for one convolution: `layout` is its Params up to `count`; each launch adds its own
 * invocation count and first tile.
 */
function winogradLauncher(rt: Runtime, code: string, prefix: string, layout: readonly number[]) {
  return (entryPoint: string, count: number, p0: number, bindings: Tensor[], constants: Record<string, number> = {}): void =>
    rt.dispatch({
      kernel: { name: `${prefix}_${entryPoint}`, code, entryPoint, constants },
      params: [...layout, count, p0],
      bindings,
      workgroups: rt.grid(count, WG),
    });
}

/** Plane xi of a Winograd buffer is the [rows, cols] view of `t` at xi * stride floats. */
type Planes = readonly [t: Tensor, shape: readonly [number, number], stride: number];

/**
 * Plane products whose B plane (N x K) holds at most this many floats run as one batched
 * sw-direct dispatch on software adapters, when the planes lie back to back. Measured on
 * lavapipe (16 planes, GPU time, median of 25, against one windowed dispatch per plane; the
 * same bits): [M, N, K] = [160, 128, 128] (crnn-lite's 128 -> 128 layer at batch 16) 6.4-7.7
 * against 8.5-9.2 ms, its dw [128, 128, 160] 4.8 against 5.8, [40, 128, 128] 2.0 against 3.3,
 * [416, 128, 128] 10.4 against 12.1, [64, 64, 64] 0.8 against 1.8; with N or K 256 the windows
 * win ([160, 256, 128] 10.3 against 7.9, [160, 128, 256] 8.7 against 6.7, [208, 512, 512] 117
 * against 61), as their per-multiply-add speed outweighs the dispatches.
 */
const PLANE_BATCH_NK = 128 * 160;

/** Whether planeProducts runs the planes as one batched dispatch (see PLANE_BATCH_NK). */
function batchesPlanes(rt: Runtime, count: number, a: Planes, b: Planes, c: Planes): boolean {
  if (!winogradTuning.batchPlanes || count < 2 || !rt.info.isSoftware || !hasWideSubgroups(rt)) return false;
  const backToBack = [a, b, c].every(([, [rows, cols], stride]) => stride === rows * cols);
  return backToBack && b[1][0] * b[1][1] <= PLANE_BATCH_NK;
}

/**
 * The per-plane GEMMs of a Winograd path: C[xi] = A[xi] B[xi]ᵀ for xi < count, stored into C's
 * planes, or added to them (`accumulate`: the chunks after the first of a dw's sum over tiles).
 * Small planes lying back to back go as one batched matmul (see PLANE_BATCH_NK).
 */
function planeProducts(rt: Runtime, count: number, a: Planes, b: Planes, c: Planes, accumulate: boolean): void {
  if (batchesPlanes(rt, count, a, b, c)) {
    const [ab, bb, cb] = [a, b, c].map(([t, shape]) => t.view([count, ...shape], 0)) as [Tensor, Tensor, Tensor];
    matmul(rt, ab, bb, { transB: true, variant: 'sw-direct', ...(accumulate ? { accumulate: cb } : { out: cb }) });
    for (const t of [ab, bb, cb]) t.dispose();
    return;
  }
  for (let xi = 0; xi < count; xi++) {
    const [ax, bx, cx] = [a, b, c].map(([t, shape, stride]) => t.view(shape, xi * stride)) as [Tensor, Tensor, Tensor];
    matmul(rt, ax, bx, { transB: true, ...(accumulate ? { accumulate: cx } : { out: cx }) });
    for (const t of [ax, bx, cx]) t.dispose();
  }
}

/**
 * Tiles per chunk of a Winograd path: `planes` planes of [tiles, width] floats (each rounded up
 * to the 64-float plane stride) within one storage binding, at most winogradTuning.maxTiles.
 */
function winogradChunk(rt: Runtime, planes: number, width: number): number {
  const lim = rt.device.limits;
  const floats = Math.floor(Math.min(lim.maxStorageBufferBindingSize, lim.maxBufferSize) / 4);
  const fit = Math.max(1, Math.floor((floats / planes - 64) / width));
  return winogradTuning.maxTiles > 0 ? Math.min(fit, winogradTuning.maxTiles) : fit;
}

/** winogradChunk in whole vec4s of tiles (at least 4), for paths whose vec4s run over tiles. */
const winogradChunk4 = (rt: Runtime, planes: number, width: number, tiles: number): number =>
  Math.min(roundUp4(tiles), Math.max(4, 4 * Math.floor(winogradChunk(rt, planes, width) / 4)));

/**
 * How winograd-x cuts its work: TW tiles (output pairs) per row, K = C*KH rounded up to KQ,
 * chunks of `chunk` tiles (whole vec4s of tiles) whose 3 planes of V ([PQ, KQ]) and of M or E
 * ([O, PQ]) each fit one storage binding, and the plane strides; `launch` dispatches
 * conv2d-winograd-x.wgsl's entry points with this layout.
 */
function winogradXPlan(rt: Runtime, g: Geom) {
  const tw = xTw(g);
  const tiles = xTiles(g);
  const kq = xRow(g);
  const chunk = winogradChunk4(rt, 3, Math.max(kq, g.o), tiles);
  const [sv, sm, su] = [planeStride(chunk * kq), planeStride(g.o * chunk), planeStride(g.o * kq)];
  // Every chunk is PQ = chunk tiles long: the last one's tiles past the batch are zeros.
  const launch = winogradLauncher(rt, winogradXSrc, 'conv2d_winograd_x', [g.n, g.c, g.h, g.w, g.o, g.kh, g.sh, g.ph, g.pw, g.oh, g.ow, tw, kq, chunk, sv, sm, su]);
  return { tiles, kq, chunk, sv, sm, su, launch };
}

/**
 * y = conv2d(x, w) + bias for kernels 2 wide at column stride 1 by Winograd F(2, 2) along the
 * rows (conv2d-winograd-x.wgsl): U [3][O, KQ] from w, then per chunk of PQ tiles (pairs of
 * outputs along a row) V [3][PQ, KQ] from x, 3 matmuls M[xi] = U[xi] V[xi]ᵀ ([O, PQ]; this
 * orientation measured 17.1 ms against 23.4 for V Uᵀ on the 512 -> 512 2x2 layer's products,
 * medians of 20, interleaved), and y from M. x is read in place, padding by bounds tests.
 */
function winogradXConv(rt: Runtime, x: Tensor, w: Tensor, bias: Tensor | undefined, g: Geom): Tensor {
  const { tiles, kq, chunk, sv, sm, su, launch } = winogradXPlan(rt, g);
  const u = rt.empty([3 * su]);
  const v = rt.empty([3 * sv]);
  const m = rt.empty([3 * sm]);
  const y = rt.empty([g.n, g.o, g.oh, g.ow]);
  launch(g.c * g.kh === kq ? 'weights4' : 'weights', (g.o * kq) / 4, 0, [w, u]);
  for (let p0 = 0; p0 < tiles; p0 += chunk) {
    launch('input', (chunk * kq) / 4, p0, [x, v]);
    planeProducts(rt, 3, [u, [g.o, kq], su], [v, [chunk, kq], sv], [m, [g.o, chunk], sm], false);
    launch(g.ow % 8 === 0 ? 'output4' : 'output', (g.o * chunk) / 4, p0, [m, bias ?? rt.placeholder, y], { HAS_BIAS: bias ? 1 : 0 });
  }
  for (const t of [u, v, m]) t.dispose();
  return y;
}

/**
 * dw [O, C, KH, 2] by the transposed F(2, 2) along the rows (conv2d-winograd-x.wgsl, `dy_t` /
 * `input_t` / `dw_out`): per chunk of tiles E [3][O, PQ] from dy and Vt [3][KQ, PQ] from x, 3
 * matmuls E Vtᵀ summed over the chunks into N [3][O, KQ], then Gᵀ N.
 */
function winogradXDwOf(rt: Runtime, dy: Tensor, x: Tensor, g: Geom, into?: Tensor): Tensor {
  const { tiles, kq, chunk, sv, sm, su, launch } = winogradXPlan(rt, g);
  const e = rt.empty([3 * sm]);
  const vt = rt.empty([3 * sv]);
  const nn = rt.empty([3 * su]);
  for (let p0 = 0; p0 < tiles; p0 += chunk) {
    launch('dy_t', (g.o * chunk) / 4, p0, [dy, e]);
    launch('input_t', (kq * chunk) / 4, p0, [x, vt]);
    planeProducts(rt, 3, [e, [g.o, chunk], sm], [vt, [kq, chunk], sv], [nn, [g.o, kq], su], p0 > 0);
  }
  const dw = into ?? rt.empty([g.o, g.c, g.kh, g.kw]);
  launch(g.c * g.kh === kq ? 'dw_out4' : 'dw_out', (g.o * kq) / 4, 0, [nn, dw], { ACCUMULATE: into ? 1 : 0 });
  for (const t of [e, vt, nn]) t.dispose();
  return dw;
}

/**
 * Padded extent for winogradConv: whole 4x4 blocks for every 2x2 output tile, rows rounded up
 * to whole vec4 so that pad() copies by rows.
 */
const winogradExtent = (oh: number, ow: number): [number, number] => [2 * Math.ceil(oh / 2) + 2, 4 * Math.ceil((2 * Math.ceil(ow / 2) + 2) / 4)];

const KERNEL_CHOICES: ReadonlyArray<NonNullable<Conv2dOptions['kernel']>> = ['auto', 'fast', 'direct', 'winograd', 'winograd-x', 'gemm'];

/** The kernel family that computes one part of a convolution's forward or backward pass. */
export type Conv2dKernel = 'winograd' | 'winograd-x' | 'fast' | 'direct' | 'gemm';

/** K = C * KH rounded up to whole vec4: the row length of winograd-x's U and V. */
const xRow = (g: Geom) => roundUp4(g.c * g.kh);
/** winograd-x's tiles per output row (pairs of outputs): ceil(OW / 2). */
const xTw = (g: Geom) => Math.ceil(g.ow / 2);
/** winograd-x's tiles: N * OH * TW. */
const xTiles = (g: Geom) => g.n * g.oh * xTw(g);
const roundUp4 = (v: number) => 4 * Math.ceil(v / 4);

/**
 * Winograd F(2, 2) along the rows (conv2d-winograd-x.wgsl) applies to the forward and dw of
 * kernels 2 wide at column stride 1, where its 3 weight planes [O, KQ], bound whole, fit one storage
 * binding (tiles are chunked, the weights are not).
 */
const winogradXFits = (rt: Runtime, g: Geom) =>
  g.kw === 2 && g.sw === 1 && 3 * planeStride(g.o * xRow(g)) * 4 <= Math.min(rt.device.limits.maxStorageBufferBindingSize, rt.device.limits.maxBufferSize);

/**
 * Where 'auto' takes winograd-x: software adapters, K = C*KH >= 1024 and O >= 512; for dw also
 * at least 192 tiles (its 3 GEMMs reduce over the tiles, and a short reduction runs the matmul
 * far under its peak). On lavapipe, 2x2 kernels (GPU time, medians of 10-20, interleaved, /tmp
 * scripts with the kernel forced):
 * - forward, N = 8: 512 -> 512 at 2x25 21.5 ms against 30.5 for conv2d-fast (27.5 for the GEMM
 *   form), at 4x25 53.7 against 76.3; 256 -> 256 at 2x25 8.5 / 9.0 and at 4x25 19.1 / 21.5
 *   (minima 5.8 / 4.5 and 14.9 / 11.1: no clear win); 128 -> 128 at 2x25 3.0 / 2.5 and
 *   64 -> 64 at 8x25 5.1 / 3.5 (slower).
 * - dw against the GEMM form (which 'auto' takes there otherwise), 512 -> 512: at 2x25 with
 *   N = 8 (96 tiles) 25.6 against 25.4 ms (26.7 / 26.9 in another run), N = 16 (192 tiles)
 *   44.2 / 53.4 and 51.3 / 53.5 (minima 42.0-43.5 against 44.4-46.8 in three runs), N = 32
 *   (384 tiles) 84.5 / 99.9 and 76.6 / 91.5; at 4x25 with N = 8 (192 tiles) 65.6 / 77.6.
 */
const winogradXPays = (rt: Runtime, g: Geom, part: 'forward' | 'dx' | 'dw'): boolean =>
  rt.info.isSoftware && hasWideSubgroups(rt) && g.c * g.kh >= 1024 && g.o >= 512 && (part === 'forward' || xTiles(g) >= 192);

/** Bytes of the GEMM form's col [N*OH*OW, C*KH*KW] (its dcol for dx: the same size). */
const colBytes = (g: Geom) => 4 * g.n * g.oh * g.ow * g.c * g.kh * g.kw;

/**
 * Whether the GEMM form's col [N*OH*OW, C*KH*KW] fits one storage binding, and its reshuffles'
 * grids ((C / 64, rows, N), conv2d-gemm.wgsl) fit the workgroup limits.
 */
function gemmFits(rt: Runtime, g: Geom): boolean {
  const lim = rt.device.limits;
  const grid = Math.max(Math.ceil(g.c / 64), g.oh, g.h, g.n) <= lim.maxComputeWorkgroupsPerDimension;
  return grid && colBytes(g) <= Math.min(lim.maxStorageBufferBindingSize, lim.maxBufferSize);
}

/** The largest col 'auto' allocates for the GEMM form on a GPU: a workspace bound, not a speed limit. */
const GPU_GEMM_MAX_COL_BYTES = 256 * 2 ** 20;

/**
 * Where 'auto' takes the GEMM path.
 *
 * Software adapters: dx and dw (never the forward: its matmul with K = C*KH*KW in one
 * reduction ran slower than conv2d-fast everywhere measured) of long reductions
 * (C*KH*KW >= 2048) into many output channels (O >= 512), which is where the direct-form
 * kernels fell behind. Measured on lavapipe (GPU time, median of 9 over three interleaved
 * rounds, /tmp script on conv2dBackward with kernel 'auto' / 'gemm', N = 8): 512 -> 512 2x2
 * at 2x25: dx 30.7-30.9 ms against 54.9-65.7, dw 23.1-28.4 against 34.7-36.8; 512 -> 512 2x2
 * at 4x25: dx 79.4 against 90.2, dw 71.2 against 74.3; slower at 64-256 channels (2x2 and
 * 1x1) and for 3x3 layers (64 -> 128 at 16x50: dx 95 against 43).
 *
 * GPUs: every part where C*KH*KW and O both reach the tiled matmul's 64-wide tile, and col
 * stays within GPU_GEMM_MAX_COL_BYTES. On an H100 (bench/run-variants.js, BENCHMARKS.md: GPU
 * time, medians of 15) the GEMM form beat conv2d-fast on all three parts of every CRNN layer
 * from 64 -> 128 on, by 1.7-13x (512 -> 512 3x3 at 4x25: forward 0.45 against 1.59 ms, dx
 * 0.29 against 1.61, dw 0.21 against 0.82), and lost on the first layer, 1 -> 64
 * (C*KH*KW = 9: forward 0.118 against 0.040, dw 1.52 against 0.24), whose dw GEMM makes a
 * [64, 9] output.
 */
const gemmPays = (rt: Runtime, g: Geom, part: 'forward' | 'dx' | 'dw'): boolean =>
  rt.info.isSoftware
    ? part !== 'forward' && hasWideSubgroups(rt) && g.c * g.kh * g.kw >= 2048 && g.o >= 512
    : g.c * g.kh * g.kw >= 64 && g.o >= 64 && colBytes(g) <= GPU_GEMM_MAX_COL_BYTES;

/** The kernel `part` runs for geometry g under the caller's choice (throws when a forced one cannot). */
function kernelFor(op: string, rt: Runtime, g: Geom, choice: Conv2dOptions['kernel'], part: 'forward' | 'dx' | 'dw'): Conv2dKernel {
  if (choice !== undefined && !KERNEL_CHOICES.includes(choice)) {
    throw new OpInputError(op, `kernel one of ${KERNEL_CHOICES.join(', ')}`, `'${String(choice)}'`);
  }
  // dx is a stride-1 convolution of the dilated dy, with c and o swapped.
  const [c, o] = part === 'dx' ? [g.o, g.c] : [g.c, g.o];
  const gemmOk = gemmFits(rt, g);
  if (choice === 'gemm') {
    if (!gemmOk) {
      throw new OpInputError(
        op,
        `kernel 'gemm' to apply (columns [N*OH*OW, C*KH*KW] within one storage binding; N, H, OH and C / 64 within ${rt.device.limits.maxComputeWorkgroupsPerDimension} workgroups)`,
        `columns [${g.n * g.oh * g.ow}, ${g.c * g.kh * g.kw}], N ${g.n}, H ${g.h}, OH ${g.oh}, C ${g.c}`,
      );
    }
    return 'gemm';
  }
  const xFits = part !== 'dx' && winogradXFits(rt, g);
  if (choice === 'winograd-x') {
    if (!xFits) {
      throw new OpInputError(
        op,
        `kernel 'winograd-x' to apply (the forward or dw of a convolution with kernels 2 wide at column stride 1, whose 3 weight planes [O, C*KH] fit one storage binding)`,
        part === 'dx' ? `the dx part, which it does not compute` : `kernel ${g.kh}x${g.kw}, column stride ${g.sw}, O ${g.o}, C*KH ${g.c * g.kh}`,
      );
    }
    return 'winograd-x';
  }
  if ((choice ?? 'auto') === 'auto' && xFits && winogradXPays(rt, g, part)) return 'winograd-x';
  const wstride = part === 'dx' ? 1 : Math.max(g.sh, g.sw);
  if (useWinograd(op, rt, choice, winogradFits(rt, g.kh, g.kw, wstride, c, o), c, o)) return 'winograd';
  if ((choice ?? 'auto') === 'auto' && gemmOk && gemmPays(rt, g, part)) return 'gemm';
  const fits = part === 'forward' ? fastFits(g.kw, g.sw) : part === 'dx' ? fastFits(g.kw, 1) : dwFastFits(g);
  return useFast(op, rt, choice, fits) ? 'fast' : 'direct';
}

/**
 * Which kernel family conv2d (`forward`) or conv2dBackward (`dx`, `dw`) would run for these
 * operands and options; throws OpInputError as those would.
 */
export function conv2dKernelFor(rt: Runtime, x: Tensor, w: Tensor, opts: Conv2dOptions = {}, part: 'forward' | 'dx' | 'dw' = 'forward'): Conv2dKernel {
  const op = part === 'forward' ? 'conv2d' : 'conv2d_backward';
  return kernelFor(op, rt, geometry(op, x, w, opts), opts.kernel, part);
}

function directParams(g: Geom): number[] {
  return [g.n, g.c, g.h, g.w, g.o, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.oh, g.ow];
}

/**
 * 2-D convolution (PyTorch cross-correlation), NCHW: x [N, C, H, W], w [O, C, kh, kw],
 * bias [O] -> [N, O, OH, OW] with OH = floor((H + 2*ph - kh) / sh) + 1.
 */
export function conv2d(rt: Runtime, x: Tensor, w: Tensor, bias: Tensor | undefined, opts: Conv2dOptions = {}): Tensor {
  const op = 'conv2d';
  const g = geometry(op, x, w, opts);
  if (bias) {
    expectDType(op, 'bias', bias, 'f32');
    expectShape(op, 'bias', bias, [g.o]);
  }
  const kernel = kernelFor(op, rt, g, opts.kernel, 'forward');
  if (kernel === 'gemm') return gemmForward(rt, x, w, bias, g);
  if (kernel === 'winograd-x') return winogradXConv(rt, x, w, bias, g);
  if (kernel === 'winograd') {
    const [hp, wp] = winogradExtent(g.oh, g.ow);
    const xp = pad(rt, x, hp, wp, g.ph, g.pw);
    const y = winogradConv(rt, xp, w, false, bias, g.n, g.c, g.o, g.oh, g.ow);
    xp.dispose();
    return y;
  }
  if (kernel === 'fast') {
    const [hp, wp] = fastExtent(g.oh, g.ow, g.kh, g.kw, g.sh, g.sw);
    const xp = pad(rt, x, hp, wp, g.ph, g.pw);
    const packed = pack(rt, w, false);
    const y = fastConv(rt, xp, packed, bias, g.n, g.c, g.o, g.kh, g.kw, g.sh, g.sw, g.oh, g.ow);
    xp.dispose();
    packed.dispose();
    return y;
  }
  const y = rt.empty([g.n, g.o, g.oh, g.ow]);
  rt.dispatch({
    kernel: { name: 'conv2d_forward', code: directSrc, entryPoint: 'forward', constants: { WG, HAS_BIAS: bias ? 1 : 0 } },
    params: directParams(g),
    bindings: [x, w, y, bias ?? rt.placeholder],
    workgroups: rt.grid(y.size, WG),
  });
  return y;
}

export interface Conv2dGrads {
  dx?: Tensor;
  dw?: Tensor;
  db?: Tensor;
}

/**
 * Gradients of y = conv2d(x, w, b) for the upstream gradient dy [N, O, OH, OW]: dx, dw and
 * db as asked for in `need`. `accumulate` adds dw / db into existing gradient tensors
 * ([O, C, kh, kw] and [O]) and returns them.
 */
export function conv2dBackward(
  rt: Runtime,
  dy: Tensor,
  x: Tensor,
  w: Tensor,
  opts: Conv2dOptions = {},
  need: { x?: boolean; w?: boolean; b?: boolean } = { x: true, w: true, b: true },
  accumulate: { dw?: Tensor; db?: Tensor } = {},
): Conv2dGrads {
  const op = 'conv2d_backward';
  const g = geometry(op, x, w, opts);
  expectDType(op, 'dy', dy, 'f32');
  expectShape(op, 'dy', dy, [g.n, g.o, g.oh, g.ow]);
  if (accumulate.dw) {
    expectDType(op, 'accumulate.dw', accumulate.dw, 'f32');
    expectShape(op, 'accumulate.dw', accumulate.dw, [g.o, g.c, g.kh, g.kw]);
  }
  if (accumulate.db) {
    expectDType(op, 'accumulate.db', accumulate.db, 'f32');
    expectShape(op, 'accumulate.db', accumulate.db, [g.o]);
  }
  const dxKernel = need.x ? kernelFor(op, rt, g, opts.kernel, 'dx') : null;
  const dwKernel = need.w ? kernelFor(op, rt, g, opts.kernel, 'dw') : null;
  const out: Conv2dGrads = {};
  const dyM = dxKernel === 'gemm' || dwKernel === 'gemm' ? dyRows(rt, dy, g) : null;
  if (dxKernel === 'gemm') out.dx = gemmDxOf(rt, dyM!, w, g);
  if (dwKernel === 'gemm') out.dw = gemmDwOf(rt, dyM!, x, g, accumulate.dw);
  dyM?.dispose();
  if (dxKernel === 'winograd') out.dx = winogradDxOf(rt, dy, w, g);
  else if (dxKernel === 'fast') out.dx = fastDxOf(rt, dy, w, g);
  else if (dxKernel === 'direct') out.dx = directGrad(rt, 'dx', dy, w, g, [g.n, g.c, g.h, g.w]);
  if (dwKernel === 'winograd') out.dw = winogradDwOf(rt, dy, x, g, accumulate.dw);
  else if (dwKernel === 'winograd-x') out.dw = winogradXDwOf(rt, dy, x, g, accumulate.dw);
  else if (dwKernel === 'fast') out.dw = fastDwOf(rt, dy, x, g, accumulate.dw);
  else if (dwKernel === 'direct') out.dw = directGrad(rt, 'dw', dy, x, g, [g.o, g.c, g.kh, g.kw], accumulate.dw);
  if (need.b) {
    const db = sumAxes(rt, dy, [g.n, g.o, g.oh * g.ow], accumulate.db);
    out.db = accumulate.db ?? db;
  }
  return out;
}

function directGrad(rt: Runtime, which: 'dx' | 'dw', a: Tensor, b: Tensor, g: Geom, shape: number[], into?: Tensor): Tensor {
  const t = into ?? rt.empty(shape);
  rt.dispatch({
    kernel: { name: `conv2d_${which}`, code: directSrc, entryPoint: which, constants: { WG, ACCUMULATE: into ? 1 : 0 } },
    params: directParams(g),
    bindings: [a, b, t],
    workgroups: rt.grid(t.size, WG),
  });
  return t;
}

/**
 * dx as a stride-1 convolution of dy, dilated by the stride and padded by k - 1 - p, with the
 * weights transposed (o <-> c) and rotated by 180 degrees. Its output is [N, C, H, W]: rows
 * of x that no window covered (the floor in OH) read only padding and get 0.
 */
function fastDxOf(rt: Runtime, dy: Tensor, w: Tensor, g: Geom): Tensor {
  const [hp, wp] = fastExtent(g.h, g.w, g.kh, g.kw, 1, 1);
  const dyp = pad(rt, dy, hp, wp, g.kh - 1 - g.ph, g.kw - 1 - g.pw, g.sh, g.sw);
  const packed = pack(rt, w, true);
  const dx = fastConv(rt, dyp, packed, undefined, g.n, g.o, g.c, g.kh, g.kw, 1, 1, g.h, g.w);
  dyp.dispose();
  packed.dispose();
  return dx;
}

/** dx as fastDxOf does it, with the Winograd convolution. */
function winogradDxOf(rt: Runtime, dy: Tensor, w: Tensor, g: Geom): Tensor {
  const [hp, wp] = winogradExtent(g.h, g.w);
  const dyp = pad(rt, dy, hp, wp, g.kh - 1 - g.ph, g.kw - 1 - g.pw, g.sh, g.sw);
  const dx = winogradConv(rt, dyp, w, true, undefined, g.n, g.o, g.c, g.h, g.w);
  dyp.dispose();
  return dx;
}

/** Batch items per split of the dw reduction, so that small layers still fill the threads. */
function dwSplit(n: number, groups: number): number {
  const splits = Math.min(n, Math.ceil(64 / groups));
  return Math.ceil(n / splits);
}

function fastDwOf(rt: Runtime, dy: Tensor, x: Tensor, g: Geom, into?: Tensor): Tensor {
  const rps = rowsPerStep(g.oh);
  const cpr = Math.ceil(g.ow / 4);
  const ohp = rps * Math.ceil(g.oh / rps);
  const dyp = pad(rt, dy, ohp, 4 * cpr, 0, 0);
  // A step reads rows RPS*q*SH .. + (RPS-1)*SH + KH - 1 and vec4 columns ch*SW .. + NV - 1.
  const hp = (ohp - 1) * g.sh + g.kh;
  const wp = 4 * (g.sw * (cpr - 1) + Math.ceil((3 * g.sw + g.kw) / 4));
  const xp = pad(rt, x, hp, wp, g.ph, g.pw);
  const ntap = g.kh * g.kw;
  const small = g.c <= SMALL_C;
  // part[split][o / 8][cpad][tap][o % 8]: dw-fast pads the input channels to whole lanes,
  // dw-small the output channels to its 16-channel workgroups.
  const nob = small ? 2 * Math.ceil(g.o / 16) : Math.ceil(g.o / 8);
  const cpad = small ? g.c : 8 * Math.ceil(g.c / 8);
  const grid: [number, number] = small ? [Math.ceil(g.o / 16), g.c] : [nob, cpad / 8];
  const nper = dwSplit(g.n, grid[0] * grid[1]);
  const splits = Math.ceil(g.n / nper);
  const part = rt.empty([splits, nob, cpad, ntap, 8]);
  rt.dispatch({
    kernel: { name: small ? 'conv2d_dw_small' : 'conv2d_dw_fast', code: small ? dwSmallSrc : dwFastSrc, constants: { KH: g.kh, KW: g.kw, SH: g.sh, SW: g.sw, RPS: rps } },
    params: [g.n, g.c, g.o, ohp, cpr, hp, wp / 4, nper, cpad],
    bindings: [dyp, xp, part],
    workgroups: [grid[0], grid[1], splits],
  });
  dyp.dispose();
  xp.dispose();
  const dw = into ?? rt.empty([g.o, g.c, g.kh, g.kw]);
  rt.dispatch({
    kernel: { name: 'conv2d_dw_finish', code: dwFinishSrc, constants: { WG, ACCUMULATE: into ? 1 : 0 } },
    params: [g.o, g.c, ntap, cpad, splits, nob],
    bindings: [part, dw],
    workgroups: [Math.ceil(g.c / WG), g.o],
  });
  part.dispose();
  return dw;
}

/**
 * One of conv2d-gemm.wgsl's reshuffles, src -> dst: 'im2col' (x -> col, a row per (c, oh, n))
 * or 'col2im' (dcol -> dx, a row per (c, h, n)); 2x2 kernels at stride 1 take the vec4 entries
 * (`im2col22`, `col2im22`).
 */
function reshuffle(rt: Runtime, kind: 'im2col' | 'col2im', src: Tensor, dst: Tensor, g: Geom): void {
  const entry = g.kh === 2 && g.kw === 2 && g.sh === 1 && g.sw === 1 ? `${kind}22` : kind;
  rt.dispatch({
    kernel: { name: `conv2d_${entry}`, code: gemmSrc, entryPoint: entry },
    params: [g.n, g.c, g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.oh, g.ow],
    bindings: [src, dst],
    workgroups: [Math.ceil(g.c / 64), kind === 'im2col' ? g.oh : g.h, g.n],
  });
}

/** dy [N, O, OH, OW] as the GEMM form's [M, O] (M = N * OH * OW rows (n, oh, ow)). */
const dyRows = (rt: Runtime, dy: Tensor, g: Geom): Tensor => {
  const v = dy.reshape([g.n, g.o, g.oh * g.ow]);
  const t = permute(rt, v, [0, 2, 1]);
  v.dispose();
  const rows = t.reshape([g.n * g.oh * g.ow, g.o]);
  t.dispose();
  return rows;
};

/** y [N, O, OH, OW] = col wᵀ (+ bias) as [M, O], permuted back to NCHW. */
function gemmForward(rt: Runtime, x: Tensor, w: Tensor, bias: Tensor | undefined, g: Geom): Tensor {
  const col = im2col(rt, x, g);
  const wk = w.reshape([g.o, g.c * g.kh * g.kw]);
  const yM = matmul(rt, col, wk, { transB: true, ...(bias ? { bias } : {}) });
  for (const t of [col, wk]) t.dispose();
  const y3 = yM.reshape([g.n, g.oh * g.ow, g.o]);
  yM.dispose();
  const y = permute(rt, y3, [0, 2, 1]);
  y3.dispose();
  const out = y.reshape([g.n, g.o, g.oh, g.ow]);
  y.dispose();
  return out;
}

/** col [M, K] of x (conv2d-gemm.wgsl). */
function im2col(rt: Runtime, x: Tensor, g: Geom): Tensor {
  const col = rt.empty([g.n * g.oh * g.ow, g.c * g.kh * g.kw]);
  reshuffle(rt, 'im2col', x, col, g);
  return col;
}

/** dw [O, C, KH, KW] = dyᵀ col: one matmul [O, M] x [M, K] after im2col (conv2d-gemm.wgsl). */
function gemmDwOf(rt: Runtime, dyM: Tensor, x: Tensor, g: Geom, into?: Tensor): Tensor {
  const k = g.c * g.kh * g.kw;
  const col = im2col(rt, x, g);
  const acc = into?.reshape([g.o, k]);
  const dw = matmul(rt, dyM, col, { transA: true, ...(acc ? { accumulate: acc } : {}) });
  col.dispose();
  if (acc) {
    acc.dispose(); // dw is acc
    return into!;
  }
  const out = dw.reshape([g.o, g.c, g.kh, g.kw]);
  dw.dispose();
  return out;
}

/** dx [N, C, H, W] = col2im(dy w): one matmul [M, O] x [O, K], then the gather. */
function gemmDxOf(rt: Runtime, dyM: Tensor, w: Tensor, g: Geom): Tensor {
  const wk = w.reshape([g.o, g.c * g.kh * g.kw]);
  const dcol = matmul(rt, dyM, wk);
  wk.dispose();
  const dx = rt.empty([g.n, g.c, g.h, g.w]);
  reshuffle(rt, 'col2im', dcol, dx, g);
  dcol.dispose();
  return dx;
}

/**
 * dw [O, C, 3, 3] of a 3x3 stride-1 convolution by the transposed Winograd algorithm
 * (conv2d-winograd.wgsl, `dy_tiles_t` / `input_t` / `dw_out`): per chunk of 2x2 dy tiles, E
 * [16][O, P] from dy and V [16][C, P] from the padded x, then 16 matmuls E Vᵀ summed over the
 * chunks into M [16][O, C], then Gᵀ M G. With the tiles along rows both operands are read in
 * place (with the tiles along columns, matmul packed both, transposing: 512 -> 512 at 4x25
 * 115.1 ms against 108.4 now, 256 -> 256 at 8x25 60.1 / 51.1, 128 -> 256 51.1 / 28.3; GPU
 * time, median of 24 over eight interleaved rounds).
 */
function winogradDwOf(rt: Runtime, dy: Tensor, x: Tensor, g: Geom, into?: Tensor): Tensor {
  const th = Math.ceil(g.oh / 2);
  const tw = Math.ceil(g.ow / 2);
  const tiles = g.n * th * tw;
  const [hp, wp] = winogradExtent(g.oh, g.ow);
  const xp = pad(rt, x, hp, wp, g.ph, g.pw);
  // Chunks of whole vec4s of tiles (the last one padded with zero tiles).
  const chunk = winogradChunk4(rt, 16, Math.max(g.c, g.o), tiles);
  // E and V share the plane stride; M's planes are [O, C].
  const sv = planeStride(chunk * Math.max(g.c, g.o));
  const su = planeStride(g.o * g.c);
  const e = rt.empty([16 * sv]);
  const v = rt.empty([16 * sv]);
  const m = rt.empty([16 * su]);
  const launch = winogradLauncher(rt, winogradSrc, 'conv2d_winograd', [g.n, g.c, g.o, th, tw, hp, wp, g.oh, g.ow, sv, chunk, su]);
  for (let p0 = 0; p0 < tiles; p0 += chunk) {
    launch('dy_tiles_t', (g.o * chunk) / 4, p0, [dy, e]);
    launch('input_t', (g.c * chunk) / 4, p0, [xp, v]);
    planeProducts(rt, 16, [e, [g.o, chunk], sv], [v, [g.c, chunk], sv], [m, [g.o, g.c], su], p0 > 0);
  }
  const dw = into ?? rt.empty([g.o, g.c, 3, 3]);
  launch('dw_out', (g.o * g.c) / 4, 0, [m, dw], { ACCUMULATE: into ? 1 : 0 });
  for (const t of [xp, e, v, m]) t.dispose();
  return dw;
}
