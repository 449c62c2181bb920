// Float64 CPU reference for cross-entropy over logits viewed as [outer, C, inner] with
// targets [outer, inner] (row r = o * inner + i).
import type { Reduction } from './cross-entropy.js';

export interface CeDims {
  outer: number;
  classes: number;
  inner: number;
}

function rowLogSumExp(x: ArrayLike<number>, { classes, inner }: CeDims, o: number, i: number): number {
  let m = -Infinity;
  for (let c = 0; c < classes; c++) m = Math.max(m, x[(o * classes + c) * inner + i]!);
  let s = 0;
  for (let c = 0; c < classes; c++) s += Math.exp(x[(o * classes + c) * inner + i]! - m);
  return m + Math.log(s);
}

/** Per-row losses (0 where ignored, NaN for an out-of-range target), then the reduction. */
export function crossEntropyRef(
  x: ArrayLike<number>,
  targets: ArrayLike<number>,
  d: CeDims,
  ignore: number,
  reduction: Reduction,
): Float64Array {
  const rows = new Float64Array(d.outer * d.inner);
  let sum = 0;
  let count = 0;
  for (let o = 0; o < d.outer; o++) {
    for (let i = 0; i < d.inner; i++) {
      const r = o * d.inner + i;
      const t = targets[r]!;
      if (t === ignore) continue;
      rows[r] = t >= 0 && t < d.classes ? rowLogSumExp(x, d, o, i) - x[(o * d.classes + t) * d.inner + i]! : NaN;
      sum += rows[r]!;
      count++;
    }
  }
  if (reduction === 'none') return rows;
  return Float64Array.of(reduction === 'sum' ? sum : count === 0 ? NaN : sum / count);
}

/** d loss / d logits for upstream gradient dloss (one value, or one per row for 'none'). */
export function crossEntropyBackwardRef(
  dloss: ArrayLike<number>,
  x: ArrayLike<number>,
  targets: ArrayLike<number>,
  d: CeDims,
  ignore: number,
  reduction: Reduction,
): Float64Array {
  const dx = new Float64Array(d.outer * d.classes * d.inner);
  let count = 0;
  for (let r = 0; r < d.outer * d.inner; r++) if (targets[r] !== ignore) count++;
  for (let o = 0; o < d.outer; o++) {
    for (let i = 0; i < d.inner; i++) {
      const r = o * d.inner + i;
      const t = targets[r]!;
      if (t === ignore) continue;
      const g = reduction === 'none' ? dloss[r]! : reduction === 'sum' ? dloss[0]! : dloss[0]! / count;
      const lse = rowLogSumExp(x, d, o, i);
      for (let c = 0; c < d.classes; c++) {
        const k = (o * d.classes + c) * d.inner + i;
        dx[k] = t >= 0 && t < d.classes ? g * (Math.exp(x[k]! - lse) - (c === t ? 1 : 0)) : NaN;
      }
    }
  }
  return dx;
}
