import { OpInputError, type Runtime, type Tensor } from '@crnn/core';
import { expectDType } from '../validate.js';
import permuteSrc from './permute.wgsl.js';
import concatSrc from './concat.wgsl.js';

const WG = 256;
const MAX_RANK = 6;

function checkPerm(op: string, rank: number, perm: readonly number[]): void {
  const ok = perm.length === rank && [...perm].sort((a, b) => a - b).every((v, i) => v === i);
  if (!ok) throw new OpInputError(op, `a permutation of [0..${rank - 1}]`, `[${perm.join(', ')}]`);
}

/** x.permute(perm) as a new contiguous tensor (f32, i32 or u32; rank <= 6). */
export function permute(rt: Runtime, x: Tensor, perm: readonly number[]): Tensor {
  const op = 'permute';
  x.assertAlive(op);
  if (x.rank > MAX_RANK) throw new OpInputError(op, `rank <= ${MAX_RANK}`, `rank ${x.rank}`);
  expectDType(op, 'x', x, ['f32', 'i32', 'u32']);
  checkPerm(op, x.rank, perm);
  const strides: number[] = new Array<number>(x.rank);
  let s = 1;
  for (let k = x.rank - 1; k >= 0; k--) {
    strides[k] = s;
    s *= x.shape[k]!;
  }
  const outShape = perm.map((p) => x.shape[p]!);
  const pad = MAX_RANK - x.rank;
  const dims = [...new Array<number>(pad).fill(1), ...outShape];
  const srcStrides = [...new Array<number>(pad).fill(0), ...perm.map((p) => strides[p]!)];
  const y = rt.empty(outShape, x.dtype);
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
