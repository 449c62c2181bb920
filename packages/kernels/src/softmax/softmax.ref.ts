// Float64 CPU references for softmax / log_softmax over x viewed as [outer, axis, inner].

export type Dims3 = [outer: number, axis: number, inner: number];

/** Valid length of every outer index: lengths (one per group of outer/L indices) or axis. */
function validLengths([outer, axis]: Dims3, lengths?: ArrayLike<number>): number[] {
  const out: number[] = [];
  const group = lengths ? outer / lengths.length : 1;
  for (let o = 0; o < outer; o++) {
    out.push(lengths ? Math.min(Math.max(lengths[Math.floor(o / group)]!, 0), axis) : axis);
  }
  return out;
}

export function softmaxRef(x: ArrayLike<number>, dims: Dims3, log = false, lengths?: ArrayLike<number>): Float64Array {
  const [outer, axis, inner] = dims;
  const len = validLengths(dims, lengths);
  const y = new Float64Array(outer * axis * inner);
  for (let o = 0; o < outer; o++) {
    const n = len[o]!;
    for (let i = 0; i < inner; i++) {
      const at = (a: number) => (o * axis + a) * inner + i;
      let m = -Infinity;
      let nan = false;
      for (let a = 0; a < n; a++) {
        const v = x[at(a)]!;
        if (Number.isNaN(v)) nan = true;
        m = Math.max(m, v);
      }
      let s = 0;
      for (let a = 0; a < n; a++) s += Math.exp(x[at(a)]! - m);
      for (let a = 0; a < axis; a++) {
        if (a >= n) y[at(a)] = 0;
        else if (nan) y[at(a)] = NaN;
        else y[at(a)] = log ? x[at(a)]! - m - Math.log(s) : Math.exp(x[at(a)]! - m) / s;
      }
    }
  }
  return y;
}

/** dx from upstream dy and the saved forward output y (softmax or log_softmax). */
export function softmaxBackwardRef(
  dy: ArrayLike<number>,
  y: ArrayLike<number>,
  dims: Dims3,
  log = false,
  lengths?: ArrayLike<number>,
): Float64Array {
  const [outer, axis, inner] = dims;
  const len = validLengths(dims, lengths);
  const dx = new Float64Array(outer * axis * inner);
  for (let o = 0; o < outer; o++) {
    const n = len[o]!;
    for (let i = 0; i < inner; i++) {
      const at = (a: number) => (o * axis + a) * inner + i;
      let s = 0;
      for (let a = 0; a < n; a++) s += log ? dy[at(a)]! : dy[at(a)]! * y[at(a)]!;
      for (let a = 0; a < axis; a++) {
        const k = at(a);
        if (a >= n) dx[k] = 0;
        else dx[k] = log ? dy[k]! - Math.exp(y[k]!) * s : y[k]! * (dy[k]! - s);
      }
    }
  }
  return dx;
}
