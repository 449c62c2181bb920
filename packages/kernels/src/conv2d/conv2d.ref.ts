// Float64 CPU reference for conv2d (NCHW, PyTorch cross-correlation, zero padding), plain loops.

export interface ConvGeom {
  n: number;
  c: number;
  h: number;
  w: number;
  o: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
}

export function outSize(g: ConvGeom): [number, number] {
  return [Math.floor((g.h + 2 * g.ph - g.kh) / g.sh) + 1, Math.floor((g.w + 2 * g.pw - g.kw) / g.sw) + 1];
}

/** y [N, O, OH, OW] = conv(x [N, C, H, W], w [O, C, KH, KW]) + b [O]. */
export function conv2dRef(x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number> | null, g: ConvGeom): Float64Array {
  const [oh, ow] = outSize(g);
  const y = new Float64Array(g.n * g.o * oh * ow);
  for (let n = 0; n < g.n; n++) {
    for (let o = 0; o < g.o; o++) {
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          let s = b ? b[o]! : 0;
          for (let c = 0; c < g.c; c++) {
            for (let ky = 0; ky < g.kh; ky++) {
              const iy = oy * g.sh - g.ph + ky;
              if (iy < 0 || iy >= g.h) continue;
              for (let kx = 0; kx < g.kw; kx++) {
                const ix = ox * g.sw - g.pw + kx;
                if (ix < 0 || ix >= g.w) continue;
                s += x[((n * g.c + c) * g.h + iy) * g.w + ix]! * w[((o * g.c + c) * g.kh + ky) * g.kw + kx]!;
              }
            }
          }
          y[((n * g.o + o) * oh + oy) * ow + ox] = s;
        }
      }
    }
  }
  return y;
}

/** Gradients of sum(y * dy) with respect to x, w and b. */
export function conv2dBackwardRef(dy: ArrayLike<number>, x: ArrayLike<number>, w: ArrayLike<number>, g: ConvGeom) {
  const [oh, ow] = outSize(g);
  const dx = new Float64Array(g.n * g.c * g.h * g.w);
  const dw = new Float64Array(g.o * g.c * g.kh * g.kw);
  const db = new Float64Array(g.o);
  for (let n = 0; n < g.n; n++) {
    for (let o = 0; o < g.o; o++) {
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          const d = dy[((n * g.o + o) * oh + oy) * ow + ox]!;
          db[o]! += d;
          for (let c = 0; c < g.c; c++) {
            for (let ky = 0; ky < g.kh; ky++) {
              const iy = oy * g.sh - g.ph + ky;
              if (iy < 0 || iy >= g.h) continue;
              for (let kx = 0; kx < g.kw; kx++) {
                const ix = ox * g.sw - g.pw + kx;
                if (ix < 0 || ix >= g.w) continue;
                const xi = ((n * g.c + c) * g.h + iy) * g.w + ix;
                const wi = ((o * g.c + c) * g.kh + ky) * g.kw + kx;
                dx[xi]! += d * w[wi]!;
                dw[wi]! += d * x[xi]!;
              }
            }
          }
        }
      }
    }
  }
  return { dx, dw, db };
}
