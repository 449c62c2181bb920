/**
 * Input checks shared by the op wrappers. Each throws OpInputError naming the op, what it
 * expected and what it found, before anything is dispatched.
 */
import { OpInputError, type DType, type Tensor } from '@crnn/core';

const fmt = (s: readonly number[]) => `[${s.join(', ')}]`;

export function expectRank(op: string, name: string, t: Tensor, rank: number | readonly number[]): void {
  t.assertAlive(op);
  const ranks = typeof rank === 'number' ? [rank] : rank;
  if (!ranks.includes(t.rank)) {
    throw new OpInputError(op, `${name} of rank ${ranks.join(' or ')}`, `rank ${t.rank} (shape ${fmt(t.shape)})`);
  }
}

export function expectDType(op: string, name: string, t: Tensor, dtype: DType | readonly DType[]): void {
  const ok = typeof dtype === 'string' ? [dtype] : dtype;
  if (!ok.includes(t.dtype)) throw new OpInputError(op, `${name} of dtype ${ok.join(' or ')}`, t.dtype);
}

export function expectShape(op: string, name: string, t: Tensor, shape: readonly number[]): void {
  t.assertAlive(op);
  if (t.rank !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new OpInputError(op, `${name} of shape ${fmt(shape)}`, fmt(t.shape));
  }
}

export function expectSameShape(op: string, a: [string, Tensor], b: [string, Tensor]): void {
  expectShape(op, b[0], b[1], a[1].shape);
}

export function expectPositiveInts(op: string, name: string, values: readonly number[]): void {
  if (values.some((v) => !Number.isInteger(v) || v <= 0)) {
    throw new OpInputError(op, `${name} of positive integers`, fmt(values));
  }
}

export function expectNonNegativeInts(op: string, name: string, values: readonly number[]): void {
  if (values.some((v) => !Number.isInteger(v) || v < 0)) {
    throw new OpInputError(op, `${name} of non-negative integers`, fmt(values));
  }
}

export function expectNonEmpty(op: string, name: string, t: Tensor): void {
  if (t.size === 0) throw new OpInputError(op, `${name} with at least one element`, `shape ${fmt(t.shape)}`);
}

/** A pair [h, w] from a number or a pair. */
export function pair(v: number | readonly [number, number]): [number, number] {
  return typeof v === 'number' ? [v, v] : [v[0], v[1]];
}

/**
 * Tensor or host array? Duck-typed, not `instanceof`: a second loaded copy of @crnn/core
 * (a bundle beside a workspace build) would make `instanceof Tensor` false for real tensors.
 */
export function isTensor(v: Tensor | ArrayLike<number>): v is Tensor {
  return typeof (v as Tensor).assertAlive === 'function';
}

/** Whether two tensors share bytes of one buffer (views of it that intersect). */
export function overlaps(a: Tensor, b: Tensor): boolean {
  return a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}
