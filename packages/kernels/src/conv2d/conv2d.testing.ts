// Shared by the conv2d test files (conv2d, fast, gemm, winograd, winograd-x; not a test file itself).
import { Rng, type Runtime, type Tensor } from '@crnn/core';
import { asF32, assertClose, randomArray } from '../testing.js';
import { hasWideSubgroups } from '../matmul/matmul.js';
import { conv2d, conv2dBackward, type Conv2dOptions } from './conv2d.js';
import { conv2dBackwardRef, conv2dRef, outSize, type ConvGeom } from './conv2d.ref.js';

export const TOL = { rtol: 1e-4, atol: 1e-4 };

/** Whether the fast (subgroup) kernels can run: subgroups of at least 8 invocations. */
export const hasFastKernels = (rt: Runtime): boolean => hasWideSubgroups(rt);

/** [n, c, h, w, o, kh, kw, sh, sw, ph, pw] */
export type G = [number, number, number, number, number, number, number, number, number, number, number];
export const geom = ([n, c, h, w, o, kh, kw, sh, sw, ph, pw]: G): ConvGeom => ({ n, c, h, w, o, kh, kw, sh, sw, ph, pw });
export const optsOf = (g: ConvGeom, kernel: Conv2dOptions['kernel']): Conv2dOptions => ({ stride: [g.sh, g.sw], padding: [g.ph, g.pw], kernel });

// A sweep over kernel sizes, strides, paddings, channel counts that are and are not multiples
// of the fast kernels' tiles (8 and 16 channels), odd and even output heights, widths that are and are not
// multiples of 4. The fast kernels are compiled per (kernel size, stride, tile) and compiling
// one costs a second or two on a CPU adapter, so the fast sweep reuses few such combinations
// (the golden cases' ones among them) while the direct sweep, cheap to compile, covers more.
export const FAST_SWEEP: G[] = [
  [2, 3, 8, 10, 5, 3, 3, 1, 1, 1, 1], // 3x3, fewer channels than a tile
  [1, 20, 6, 25, 24, 3, 3, 1, 1, 1, 1], // 3x3, 2 channel tiles, 25 columns
  [2, 9, 11, 12, 33, 1, 1, 1, 1, 0, 0], // 1x1, 33 channels
  [3, 5, 5, 9, 6, 2, 2, 1, 1, 0, 0], // 2x2, no padding (as golden case 3)
  [1, 2, 9, 7, 4, 4, 3, 1, 1, 1, 1], // 4x3 (as golden case 1)
  [2, 3, 8, 8, 2, 3, 3, 2, 2, 1, 1], // stride 2 (as golden case 2)
  [1, 4, 7, 13, 3, 3, 4, 2, 3, 0, 2], // 3x4, stride (2, 3), odd output height
  [1, 1, 5, 6, 1, 1, 1, 1, 1, 0, 0], // one channel in and out
];
export const SWEEP: G[] = [
  ...FAST_SWEEP,
  [1, 4, 7, 13, 3, 3, 5, 2, 3, 0, 2],
  [2, 1, 4, 6, 3, 1, 1, 1, 1, 2, 1],
  [3, 17, 5, 9, 10, 2, 2, 1, 1, 0, 0],
  [1, 2, 9, 7, 17, 4, 3, 1, 1, 1, 1],
  [2, 8, 3, 17, 16, 2, 3, 1, 2, 1, 0],
  [1, 5, 10, 9, 7, 3, 3, 3, 1, 2, 1],
  [1, 2, 12, 12, 4, 9, 9, 1, 1, 4, 4],
];

/**
 * Runs conv2d and conv2dBackward (the gradients in `need`) with `kernel` on seeded random data
 * and compares everything with the float64 reference; throws with the first mismatch.
 */
export async function checkAgainstRef(rt: Runtime, g: ConvGeom, kernel: Conv2dOptions['kernel'], seed: number, need = { x: true, w: true, b: true }) {
  const rng = new Rng(seed);
  const [oh, ow] = outSize(g);
  const x = asF32(randomArray(rng, g.n * g.c * g.h * g.w));
  const w = asF32(randomArray(rng, g.o * g.c * g.kh * g.kw));
  const b = asF32(randomArray(rng, g.o));
  const dy = asF32(randomArray(rng, g.n * g.o * oh * ow));
  const tx = rt.upload(x, [g.n, g.c, g.h, g.w]);
  const tw = rt.upload(w, [g.o, g.c, g.kh, g.kw]);
  const tb = rt.upload(b, [g.o]);
  const tdy = rt.upload(dy, [g.n, g.o, oh, ow]);
  const opts = optsOf(g, kernel);
  const ty = conv2d(rt, tx, tw, tb, opts);
  if (ty.shape.join() !== [g.n, g.o, oh, ow].join()) throw new Error(`y of shape [${ty.shape.join(', ')}], want [${[g.n, g.o, oh, ow].join(', ')}]`);
  const gr = conv2dBackward(rt, tdy, tx, tw, opts, need);
  const outs: Tensor[] = [ty, ...[gr.dx, gr.dw, gr.db].filter((t): t is Tensor => !!t)];
  const host = await rt.readMany(outs);
  const label = `${kernel} ${JSON.stringify(g)}`;
  assertClose(host[0]!, conv2dRef(x, w, b, g), TOL, `${label} y`);
  const ref = conv2dBackwardRef(dy, x, w, g);
  let k = 1;
  if (gr.dx) assertClose(host[k++]!, ref.dx, TOL, `${label} dx`);
  if (gr.dw) assertClose(host[k++]!, ref.dw, TOL, `${label} dw`);
  if (gr.db) assertClose(host[k++]!, ref.db, TOL, `${label} db`);
  for (const t of [tx, tw, tb, tdy, ...outs]) t.dispose();
}

