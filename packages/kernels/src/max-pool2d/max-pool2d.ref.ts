// Float64 CPU reference for max pooling (plain loops), PyTorch CPU semantics: strict > so
// ties keep the first position, a NaN always wins (the last NaN in the window is kept).
import type { PoolGeometry } from './max-pool2d.js';

export function maxPool2dRef(x: ArrayLike<number>, g: PoolGeometry): { y: Float64Array; argmax: Int32Array } {
  const { n, c, h, w, kh, kw, sh, sw, ph, pw, ho, wo } = g;
  const y = new Float64Array(n * c * ho * wo);
  const argmax = new Int32Array(n * c * ho * wo);
  for (let p = 0; p < n * c; p++) {
    for (let oh = 0; oh < ho; oh++) {
      for (let ow = 0; ow < wo; ow++) {
        const h0 = oh * sh - ph;
        const w0 = ow * sw - pw;
        let best = -Infinity;
        let bestIdx = Math.max(h0, 0) * w + Math.max(w0, 0);
        for (let ih = h0; ih < h0 + kh; ih++) {
          for (let iw = w0; iw < w0 + kw; iw++) {
            if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue; // -inf padding never wins
            const v = x[p * h * w + ih * w + iw]!;
            if (v > best || Number.isNaN(v)) {
              best = v;
              bestIdx = ih * w + iw;
            }
          }
        }
        const o = (p * ho + oh) * wo + ow;
        y[o] = best;
        argmax[o] = bestIdx;
      }
    }
  }
  return { y, argmax };
}

/** Scatter of dy to the argmax positions, in output order. */
export function maxPool2dBackwardRef(dy: ArrayLike<number>, argmax: ArrayLike<number>, g: PoolGeometry): Float64Array {
  const { n, c, h, w, ho, wo } = g;
  const dx = new Float64Array(n * c * h * w);
  for (let p = 0; p < n * c; p++) {
    for (let o = 0; o < ho * wo; o++) dx[p * h * w + argmax[p * ho * wo + o]!]! += dy[p * ho * wo + o]!;
  }
  return dx;
}
