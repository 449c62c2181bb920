// Float64 CPU reference for Luong dot attention: encoder [N, S, H], decoder [N, T, H].

export interface AttnDims {
  n: number;
  s: number;
  t: number;
  h: number;
}

export function dotAttentionRef(
  enc: ArrayLike<number>,
  dec: ArrayLike<number>,
  { n, s, t, h }: AttnDims,
  lengths?: ArrayLike<number>,
): { context: Float64Array; attention: Float64Array } {
  const attention = new Float64Array(n * t * s);
  const context = new Float64Array(n * t * h);
  for (let b = 0; b < n; b++) {
    const len = lengths ? Math.min(Math.max(lengths[b]!, 0), s) : s;
    for (let i = 0; i < t; i++) {
      const score = new Float64Array(len);
      for (let j = 0; j < len; j++) {
        let v = 0;
        for (let k = 0; k < h; k++) v += dec[(b * t + i) * h + k]! * enc[(b * s + j) * h + k]!;
        score[j] = v;
      }
      const m = Math.max(...score);
      let z = 0;
      for (let j = 0; j < len; j++) z += Math.exp(score[j]! - m);
      for (let j = 0; j < len; j++) attention[(b * t + i) * s + j] = Math.exp(score[j]! - m) / z;
      for (let k = 0; k < h; k++) {
        let v = 0;
        for (let j = 0; j < len; j++) v += attention[(b * t + i) * s + j]! * enc[(b * s + j) * h + k]!;
        context[(b * t + i) * h + k] = v;
      }
    }
  }
  return { context, attention };
}

/** Gradients of sum(context * dC) + sum(attention * dA) (dC / dA may be null). */
export function dotAttentionBackwardRef(
  dC: ArrayLike<number> | null,
  dAttn: ArrayLike<number> | null,
  enc: ArrayLike<number>,
  dec: ArrayLike<number>,
  d: AttnDims,
  lengths?: ArrayLike<number>,
): { dEncoder: Float64Array; dDecoder: Float64Array } {
  const { n, s, t, h } = d;
  const { attention } = dotAttentionRef(enc, dec, d, lengths);
  const dEncoder = new Float64Array(n * s * h);
  const dDecoder = new Float64Array(n * t * h);
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < t; i++) {
      const row = (b * t + i) * s;
      // dA[j] = sum_k dC[k] enc[j, k] + dAttn[j];  context = sum_j a[j] enc[j]
      const dA = new Float64Array(s);
      for (let j = 0; j < s; j++) {
        let v = dAttn ? dAttn[row + j]! : 0;
        if (dC) for (let k = 0; k < h; k++) v += dC[(b * t + i) * h + k]! * enc[(b * s + j) * h + k]!;
        dA[j] = v;
        if (dC) for (let k = 0; k < h; k++) dEncoder[(b * s + j) * h + k]! += attention[row + j]! * dC[(b * t + i) * h + k]!;
      }
      let dot = 0;
      for (let j = 0; j < s; j++) dot += dA[j]! * attention[row + j]!;
      for (let j = 0; j < s; j++) {
        const ds = attention[row + j]! * (dA[j]! - dot);
        for (let k = 0; k < h; k++) {
          dDecoder[(b * t + i) * h + k]! += ds * enc[(b * s + j) * h + k]!;
          dEncoder[(b * s + j) * h + k]! += ds * dec[(b * t + i) * h + k]!;
        }
      }
    }
  }
  return { dEncoder, dDecoder };
}
