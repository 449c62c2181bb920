/**
 * Turning a decoded RGBA image into the one-channel float image a recognizer sees.
 *
 * Pipeline, in this order (the same at training and at prediction, since the Preprocess
 * object is saved in the model's config):
 *   1. grey, in [0, 1], 1 = white paper, 0 = black ink:
 *        'luminance': (0.299 R + 0.587 G + 0.114 B) / 255, alpha-composited on white;
 *        'alpha':     1 - A / 255 (the colour channels are ignored; a transparent pixel is
 *                     background = 1, an opaque one ink = 0).
 *      The seed notebook 001 feeds the network A / 255 binarized with `A > 0`: that is
 *      { grey: 'alpha', binarize: 1, invert: true }. (Our 'alpha' mode keeps the dark-ink
 *      convention of 'luminance' so that invert means the same thing in both.)
 *   2. binarize (optional, threshold t in [0, 1]): v < t -> 0, else 1. With t = 1 every pixel
 *      that is not pure background becomes ink.
 *   3. resize to (height, width) by bilinear interpolation with align_corners=false (the
 *      sampling of torch F.interpolate(mode='bilinear', align_corners=False, antialias=False)
 *      and of tf.image.resize bilinear; no antialiasing on downscale).
 *      With keepAspect: resize to `height` keeping the aspect ratio (width rounded, at least 1)
 *      and pad on the right with white (1), or, if that is wider than `width`, resize to
 *      (height, width) without keeping the ratio.
 *   4. invert (optional): v -> 1 - v (light ink on dark background).
 *   5. normalize: (v - mean) / std.
 */
import { DataError } from './errors.js';
import type { RawImage } from './decode.js';

/** How images become network input. JSON-serialisable; saved with the model. */
export interface Preprocess {
  /** Output height in pixels. */
  height: number;
  /** Output width in pixels. */
  width: number;
  /** Keep the aspect ratio (resize to height, pad right) instead of stretching to width. */
  keepAspect: boolean;
  /** Grey from luminance (composited on white) or from the alpha channel (1 - a/255). */
  grey: 'luminance' | 'alpha';
  /** Threshold in [0, 1] applied to the grey value before resizing, or null for none. */
  binarize: number | null;
  /** Turn dark-on-light into light-on-dark (after resizing and padding). */
  invert: boolean;
  /** Normalization: out = (v - mean) / std, v in [0, 1]. */
  mean: number;
  std: number;
  /** Case folding applied to labels (not to pixels) before encoding, or null. */
  caseFold: 'lower' | 'upper' | null;
}

/**
 * Defaults: luminance grey, stretch to (h, w) (keepAspect false), no binarize, no invert,
 * mean 0.5 and std 0.5 so that pixels lie in [-1, 1] (white paper = +1, black ink = -1), no
 * case folding.
 */
export function defaultPreprocess(h: number, w: number): Preprocess {
  return { height: h, width: w, keepAspect: false, grey: 'luminance', binarize: null, invert: false, mean: 0.5, std: 0.5, caseFold: null };
}

/** Throws DataError when a Preprocess is out of range (e.g. from a hand-edited config). */
export function checkPreprocess(p: Preprocess): void {
  const bad = (what: string, found: unknown): never => {
    throw new DataError(`preprocess: expected ${what}, found ${JSON.stringify(found)}`);
  };
  if (!Number.isInteger(p.height) || p.height < 1) bad('height a positive integer', p.height);
  if (!Number.isInteger(p.width) || p.width < 1) bad('width a positive integer', p.width);
  if (p.grey !== 'luminance' && p.grey !== 'alpha') bad("grey 'luminance' or 'alpha'", p.grey);
  if (p.binarize !== null && !(p.binarize >= 0 && p.binarize <= 1)) bad('binarize null or in [0, 1]', p.binarize);
  if (!Number.isFinite(p.mean)) bad('a finite mean', p.mean);
  if (!(Number.isFinite(p.std) && p.std > 0)) bad('std > 0', p.std);
  if (p.caseFold !== null && p.caseFold !== 'lower' && p.caseFold !== 'upper') bad("caseFold 'lower', 'upper' or null", p.caseFold);
}

/** The normalized value of white paper (the background; what padding becomes). */
export function backgroundValue(p: Preprocess): number {
  return ((p.invert ? 0 : 1) - p.mean) / p.std;
}

/** Normalizes a value v in [0, 1] the way preprocess does (invert, then mean/std). */
export function normalizeValue(v: number, p: Preprocess): number {
  return ((p.invert ? 1 - v : v) - p.mean) / p.std;
}

/** Applies the label case folding of a Preprocess. */
export function foldCase(label: string, caseFold: Preprocess['caseFold']): string {
  return caseFold === 'lower' ? label.toLowerCase() : caseFold === 'upper' ? label.toUpperCase() : label;
}

/** Grey plane in [0, 1] (1 = white), per the Preprocess's grey mode and binarize threshold. */
export function toGrey(img: RawImage, grey: Preprocess['grey'], binarize: number | null = null): Float32Array {
  const n = img.width * img.height;
  const d = img.data;
  if (d.length !== n * 4) {
    throw new DataError(`toGrey: expected ${n * 4} RGBA bytes for ${img.width}x${img.height}, found ${d.length}`);
  }
  const out = new Float32Array(n);
  if (grey === 'alpha') {
    for (let i = 0; i < n; i++) out[i] = 1 - d[i * 4 + 3]! / 255;
  } else {
    for (let i = 0; i < n; i++) {
      const r = d[i * 4]!;
      const g = d[i * 4 + 1]!;
      const b = d[i * 4 + 2]!;
      const a = d[i * 4 + 3]!;
      const lum = 0.299 * r + 0.587 * g + 0.114 * b; // [0, 255]
      out[i] = (lum * a + 255 * (255 - a)) / 65025;
    }
  }
  if (binarize !== null) for (let i = 0; i < n; i++) out[i] = out[i]! < binarize ? 0 : 1;
  return out;
}

/** One axis of align_corners=false bilinear sampling: source indices and weights per output. */
function axisTaps(inSize: number, outSize: number): { i0: Int32Array; i1: Int32Array; f: Float64Array } {
  const i0 = new Int32Array(outSize);
  const i1 = new Int32Array(outSize);
  const f = new Float64Array(outSize);
  const scale = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    let s = (o + 0.5) * scale - 0.5;
    if (s < 0) s = 0;
    let a = Math.floor(s);
    if (a > inSize - 1) a = inSize - 1;
    i0[o] = a;
    i1[o] = Math.min(a + 1, inSize - 1);
    f[o] = s - a;
  }
  return { i0, i1, f };
}

/**
 * Bilinear resize of a one-channel row-major image, align_corners=false (source coordinate
 * (o + 0.5) * in/out - 0.5, clamped at 0 and at the last pixel), no antialiasing: the sampling
 * of torch F.interpolate(mode='bilinear', align_corners=False). A resize to the same size
 * returns an exact copy. Computed in float64, stored in float32.
 */
export function resizeBilinear(src: Float32Array, sh: number, sw: number, dh: number, dw: number): Float32Array {
  if (src.length !== sh * sw) throw new DataError(`resizeBilinear: expected ${sh}x${sw} = ${sh * sw} values, found ${src.length}`);
  if (!(sh >= 1 && sw >= 1 && dh >= 1 && dw >= 1)) {
    throw new DataError(`resizeBilinear: expected positive sizes, found ${sh}x${sw} -> ${dh}x${dw}`);
  }
  if (sh === dh && sw === dw) return Float32Array.from(src);
  const ys = axisTaps(sh, dh);
  const xs = axisTaps(sw, dw);
  const out = new Float32Array(dh * dw);
  for (let y = 0; y < dh; y++) {
    const r0 = ys.i0[y]! * sw;
    const r1 = ys.i1[y]! * sw;
    const fy = ys.f[y]!;
    for (let x = 0; x < dw; x++) {
      const c0 = xs.i0[x]!;
      const c1 = xs.i1[x]!;
      const fx = xs.f[x]!;
      const top = src[r0 + c0]! + (src[r0 + c1]! - src[r0 + c0]!) * fx;
      const bot = src[r1 + c0]! + (src[r1 + c1]! - src[r1 + c0]!) * fx;
      out[y * dw + x] = top + (bot - top) * fy;
    }
  }
  return out;
}

/**
 * Fits a one-channel [0, 1] image into (h, w): stretched, or with keepAspect resized to
 * height h keeping the ratio and padded on the right with `pad` (squashed to w when wider).
 */
export function fitImage(src: Float32Array, sh: number, sw: number, h: number, w: number, keepAspect: boolean, pad = 1): Float32Array {
  if (!keepAspect) return resizeBilinear(src, sh, sw, h, w);
  const rw = Math.max(1, Math.round((sw * h) / sh));
  if (rw >= w) return resizeBilinear(src, sh, sw, h, w);
  const r = resizeBilinear(src, sh, sw, h, rw);
  const out = new Float32Array(h * w).fill(pad);
  for (let y = 0; y < h; y++) out.set(r.subarray(y * rw, (y + 1) * rw), y * w);
  return out;
}

/**
 * The network input for one image: Float32Array of p.height * p.width values, one channel,
 * row-major, computed by the pipeline described at the top of this file.
 */
export function preprocess(img: RawImage, p: Preprocess): Float32Array {
  checkPreprocess(p);
  const g = toGrey(img, p.grey, p.binarize);
  const out = fitImage(g, img.height, img.width, p.height, p.width, p.keepAspect, 1);
  const { mean, std, invert } = p;
  for (let i = 0; i < out.length; i++) out[i] = ((invert ? 1 - out[i]! : out[i]!) - mean) / std;
  return out;
}
