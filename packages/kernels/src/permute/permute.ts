import { OpInputError, type Runtime, type Tensor } from '@crnn/core';
import { expectDType } from '../validate.js';
import permuteSrc from './permute.wgsl.js';
import concatSrc from './concat.wgsl.js';

const WG = 256;
/** Workgroup of the block transpose (its grids are R / 4 or C / 4 wide: often under 256). */
const WG4 = 64;
const MAX_RANK = 6;

function checkPerm(op: string, rank: number, perm: readonly number[]): void {
  const ok = perm.length === rank && [...perm].sort((a, b) => a - b).every((v, i) => v === i);
  if (!ok) throw new OpInputError(op, `a permutation of [0..${rank - 1}]`, `[${perm.join(', ')}]`);
}

/**
 * The same permutation with size-1 axes dropped and runs of source axes that stay adjacent and
 * in order merged: e.g. [8, 512, 1, 24] by [3, 0, 1, 2] is [4096, 24] by [1, 0]. The output's
 * layout is unchanged, so permuting by the reduced form moves the same elements.
 */
export function reducePermutation(shape: readonly number[], perm: readonly number[]): { shape: number[]; perm: number[] } {
  const kept = perm.filter((p) => shape[p] !== 1);
  // Runs of consecutive source axes in output order become one axis each.
  const runs: number[][] = [];
  for (const p of kept) {
    const last = runs[runs.length - 1];
    if (last && last[last.length - 1] === p - 1 - skipped(shape, last[last.length - 1]!, p)) last.push(p);
    else runs.push([p]);
  }
  // Number the runs by their first source axis.
  const order = runs.map((r, i) => [r[0]!, i] as const).sort((a, b) => a[0] - b[0]);
  const rank = new Array<number>(runs.length);
  order.forEach(([, i], k) => (rank[i] = k));
  const outShape = new Array<number>(runs.length);
  runs.forEach((r, i) => (outShape[rank[i]!] = r.reduce((a, p) => a * shape[p]!, 1)));
  return { shape: outShape, perm: runs.map((_, i) => rank[i]!) };
}

/** How many size-1 source axes lie strictly between axes a and b (a < b). */
function skipped(shape: readonly number[], a: number, b: number): number {
  let n = 0;
  for (let k = a + 1; k < b; k++) if (shape[k] === 1) n++;
  return n;
}

type PermutePlan = { path: 'copy' } | { path: 'transpose4'; b: number; r: number; c: number } | { path: 'gather' };

/** What permute() runs for (shape, perm), with the block transpose's [B, R, C]. */
function plan(rt: Runtime, shape: readonly number[], perm: readonly number[]): PermutePlan {
  const red = reducePermutation(shape, perm);
  if (red.perm.every((p, i) => p === i)) return { path: 'copy' };
  const t = transposeDims(red);
  const max = rt.device.limits.maxComputeWorkgroupsPerDimension;
  const long = t ? Math.max(t.r, t.c) / 4 : 0;
  if (t && t.r % 4 === 0 && t.c % 4 === 0 && Math.ceil(long / WG4) <= max && long <= max && t.b <= max) return { path: 'transpose4', ...t };
  return { path: 'gather' };
}

/**
 * Which kernel permute() runs: 'copy' (the reduced permutation is the identity), 'transpose4'
 * (a batched 2-D transpose [B, R, C] -> [B, C, R] with R and C multiples of 4, in 4x4 blocks)
 * or 'gather' (one element per invocation, any permutation).
 */
export function permutePath(rt: Runtime, shape: readonly number[], perm: readonly number[]): PermutePlan['path'] {
  return plan(rt, shape, perm).path;
}

/** [B, R, C] of a reduced permutation that is a (batched) 2-D transpose, else null. */
function transposeDims(red: { shape: number[]; perm: number[] }): { b: number; r: number; c: number } | null {
  const [p0, p1, p2] = red.perm;
  if (red.perm.length === 2 && p0 === 1 && p1 === 0) return { b: 1, r: red.shape[0]!, c: red.shape[1]! };
  if (red.perm.length === 3 && p0 === 0 && p1 === 2 && p2 === 1) return { b: red.shape[0]!, r: red.shape[1]!, c: red.shape[2]! };
  return null;
}

/** x.permute(perm) as a new contiguous tensor (f32, i32 or u32; rank <= 6). */
export function permute(rt: Runtime, x: Tensor, perm: readonly number[]): Tensor {
  const op = 'permute';
  x.assertAlive(op);
  if (x.rank > MAX_RANK) throw new OpInputError(op, `rank <= ${MAX_RANK}`, `rank ${x.rank}`);
  expectDType(op, 'x', x, ['f32', 'i32', 'u32']);
  checkPerm(op, x.rank, perm);
  const outShape = perm.map((p) => x.shape[p]!);
  const y = rt.empty(outShape, x.dtype);
  if (x.size === 0) return y;
  const t = plan(rt, x.shape, perm);
  if (t.path === 'copy') {
    rt.copy(x, y);
    return y;
  }
  if (t.path === 'transpose4') {
    // Lanes along the longer of the two block axes.
    const onC = t.c > t.r;
    const [lanes, other] = onC ? [t.c / 4, t.r / 4] : [t.r / 4, t.c / 4];
    rt.dispatch({
      kernel: { name: 'permute_transpose4', code: permuteSrc, entryPoint: 'transpose4', constants: { WG: WG4, LANES_ON_C: onC ? 1 : 0 } },
      params: [t.r / 4, t.c / 4],
      bindings: [x, y],
      workgroups: [Math.ceil(lanes / WG4), other, t.b],
    });
    return y;
  }
  const strides: number[] = new Array<number>(x.rank);
  let s = 1;
  for (let k = x.rank - 1; k >= 0; k--) {
    strides[k] = s;
    s *= x.shape[k]!;
  }
  const pad = MAX_RANK - x.rank;
  const dims = [...new Array<number>(pad).fill(1), ...outShape];
  const srcStrides = [...new Array<number>(pad).fill(0), ...perm.map((p) => strides[p]!)];
  rt.dispatch({
    kernel: { name: 'permute', code: permuteSrc, constants: { WG } },
    params: [x.size, ...dims.map((d) => Math.max(1, d)), ...srcStrides],
    bindings: [x, y],
    workgroups: rt.grid(x.size, WG),
  });
  return y;
}

/** The permutation that undoes `perm` (the backward of permute). */
export function inversePermutation(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return inv;
}

function axisGeometry(op: string, shape: readonly number[], axis: number) {
  const ax = axis < 0 ? axis + shape.length : axis;
  if (ax < 0 || ax >= shape.length) throw new OpInputError(op, `an axis in [${-shape.length}, ${shape.length - 1}]`, String(axis));
  const outer = shape.slice(0, ax).reduce((a, b) => a * b, 1);
  const inner = shape.slice(ax + 1).reduce((a, b) => a * b, 1);
  return { ax, outer, inner };
}

/** Concatenates f32 tensors along `axis`; all other dimensions must agree. */
export function concat(rt: Runtime, xs: readonly Tensor[], axis: number): Tensor {
  const op = 'concat';
  if (xs.length === 0) throw new OpInputError(op, 'at least one tensor', 'none');
  const first = xs[0]!;
  const { ax } = axisGeometry(op, first.shape, axis);
  let total = 0;
  xs.forEach((x, i) => {
    expectDType(op, `xs[${i}]`, x, 'f32');
    const same = x.rank === first.rank && x.shape.every((d, k) => k === ax || d === first.shape[k]);
    if (!same) {
      throw new OpInputError(op, `xs[${i}] of shape [${first.shape.map((d, k) => (k === ax ? '*' : d)).join(', ')}]`, `[${x.shape.join(', ')}]`);
    }
    total += x.shape[ax]!;
  });
  const outShape = first.shape.map((d, k) => (k === ax ? total : d));
  const y = rt.empty(outShape);
  let at = 0;
  for (const x of xs) {
    const g = axisGeometry(op, x.shape, ax);
    rt.dispatch({
      kernel: { name: 'concat', code: concatSrc, constants: { WG, SPLIT: 0 } },
      params: [x.size, x.shape[ax]!, g.inner, total, at],
      bindings: [x, y],
      workgroups: rt.grid(x.size, WG),
    });
    at += x.shape[ax]!;
  }
  return y;
}

/** Splits y along `axis` into pieces of the given sizes (the backward of concat). */
export function split(rt: Runtime, y: Tensor, sizes: readonly number[], axis: number): Tensor[] {
  const op = 'split';
  expectDType(op, 'y', y, 'f32');
  const { ax } = axisGeometry(op, y.shape, axis);
  const total = sizes.reduce((a, b) => a + b, 0);
  if (total !== y.shape[ax] || sizes.some((s) => !Number.isInteger(s) || s < 0)) {
    throw new OpInputError(op, `non-negative sizes summing to ${y.shape[ax]}`, `[${sizes.join(', ')}]`);
  }
  let at = 0;
  return sizes.map((s) => {
    const shape = y.shape.map((d, k) => (k === ax ? s : d));
    const x = rt.empty(shape);
    const g = axisGeometry(op, shape, ax);
    if (x.size > 0) {
      rt.dispatch({
        kernel: { name: 'split', code: concatSrc, constants: { WG, SPLIT: 1 } },
        params: [x.size, s, g.inner, total, at],
        bindings: [x, y],
        workgroups: rt.grid(x.size, WG),
      });
    }
    at += s;
    return x;
  });
}
