// Float64 CPU references for permute, concat and split.

export function permuteRef(x: ArrayLike<number>, shape: readonly number[], perm: readonly number[]): Float64Array {
  const rank = shape.length;
  const strides = new Array<number>(rank);
  let s = 1;
  for (let k = rank - 1; k >= 0; k--) {
    strides[k] = s;
    s *= shape[k]!;
  }
  const outShape = perm.map((p) => shape[p]!);
  const y = new Float64Array(x.length);
  const c = new Array<number>(rank).fill(0);
  for (let i = 0; i < x.length; i++) {
    let src = 0;
    for (let k = 0; k < rank; k++) src += c[k]! * strides[perm[k]!]!;
    y[i] = x[src]!;
    for (let k = rank - 1; k >= 0; k--) {
      c[k]!++;
      if (c[k]! < outShape[k]!) break;
      c[k] = 0;
    }
  }
  return y;
}

export function concatRef(xs: Array<{ data: ArrayLike<number>; shape: readonly number[] }>, axis: number): Float64Array {
  const shape0 = xs[0]!.shape;
  const outer = shape0.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = shape0.slice(axis + 1).reduce((a, b) => a * b, 1);
  const out: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (const x of xs) {
      const ax = x.shape[axis]!;
      for (let a = 0; a < ax; a++) for (let i = 0; i < inner; i++) out.push(x.data[(o * ax + a) * inner + i]!);
    }
  }
  return Float64Array.from(out);
}
