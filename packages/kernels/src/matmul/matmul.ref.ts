// Float64 CPU references for matmul and linear (plain loops).

/** C = op(A) op(B) for one batch item: A [M, K] (or [K, M] transposed), B [K, N] (or [N, K]). */
export function matmulRef(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  m: number,
  n: number,
  k: number,
  transA = false,
  transB = false,
): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) {
        const av = transA ? a[p * m + i]! : a[i * k + p]!;
        const bv = transB ? b[j * k + p]! : b[p * n + j]!;
        s += av * bv;
      }
      c[i * n + j] = s;
    }
  }
  return c;
}

/** y = x W^T + b with x [rows, in], W [out, in]. */
export function linearRef(x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number> | null, rows: number, inF: number, out: number): Float64Array {
  const y = matmulRef(x, w, rows, out, inF, false, true);
  if (b) for (let r = 0; r < rows; r++) for (let o = 0; o < out; o++) y[r * out + o]! += b[o]!;
  return y;
}

export function linearBackwardRef(dy: ArrayLike<number>, x: ArrayLike<number>, w: ArrayLike<number>, rows: number, inF: number, out: number) {
  return {
    dx: matmulRef(dy, w, rows, inF, out),
    dw: matmulRef(dy, x, out, inF, rows, true, false),
    db: Float64Array.from({ length: out }, (_, o) => {
      let s = 0;
      for (let r = 0; r < rows; r++) s += dy[r * out + o]!;
      return s;
    }),
  };
}
