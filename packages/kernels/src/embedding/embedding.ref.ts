// Float64 CPU reference for embedding: weight [V, D], flat indices.

export function embeddingRef(weight: ArrayLike<number>, indices: ArrayLike<number>, vocab: number, dim: number): Float64Array {
  const y = new Float64Array(indices.length * dim);
  for (let k = 0; k < indices.length; k++) {
    const v = indices[k]!;
    for (let d = 0; d < dim; d++) y[k * dim + d] = v >= 0 && v < vocab ? weight[v * dim + d]! : NaN;
  }
  return y;
}

export function embeddingBackwardRef(
  dy: ArrayLike<number>,
  indices: ArrayLike<number>,
  vocab: number,
  dim: number,
  paddingIdx?: number,
): Float64Array {
  const dw = new Float64Array(vocab * dim);
  for (let k = 0; k < indices.length; k++) {
    const v = indices[k]!;
    if (v < 0 || v >= vocab || v === paddingIdx) continue;
    for (let d = 0; d < dim; d++) dw[v * dim + d]! += dy[k * dim + d]!;
  }
  return dw;
}
