/**
 * Seeded image augmentation on preprocessed (normalized, one-channel) images: a random affine
 * warp, then a contrast change and gaussian noise.
 */
import type { Rng } from '@crnn/core';
import { mat3d } from 'wgpu-matrix';
import { DataError } from './errors.js';

/** Maximum magnitudes; each draw is uniform in [-max, +max] (noise is a standard deviation). */
export interface Augment {
  /** Max rotation, degrees. */
  rotate: number;
  /** Max horizontal shear factor (x += shear * (y - cy)); 0.15 is about 8.5 degrees of slant. */
  shear: number;
  /** Max relative change of size (isotropic): factor in [1 - scale, 1 + scale]. */
  scale: number;
  /** Max offset as a fraction of the width (x) and of the height (y). */
  translate: number;
  /** Std of the gaussian noise added per pixel, in normalized units. */
  noise: number;
  /** Max relative contrast change around the image mean: factor in [1 - contrast, 1 + contrast]. */
  contrast: number;
}

/**
 * Small magnitudes that keep CAPTCHA characters legible and inside the frame: rotate 3 deg,
 * shear 0.15, scale 0.05, translate 0.03, noise 0.05 (normalized units, where [0, 1] pixels
 * span 2 with the default preprocess), contrast 0.2.
 */
export function defaultAugment(): Augment {
  return { rotate: 3, shear: 0.15, scale: 0.05, translate: 0.03, noise: 0.05, contrast: 0.2 };
}

/** No augmentation at all (augmentImage returns an exact copy). */
export function noAugment(): Augment {
  return { rotate: 0, shear: 0, scale: 0, translate: 0, noise: 0, contrast: 0 };
}

/**
 * The forward affine matrix (wgpu-matrix mat3, column-major with padded columns) mapping
 * source pixel coordinates to output coordinates:
 *   translate(centre + offset) * rotate(angle) * shearX(k) * scale(s) * translate(-centre).
 * Pixel (x, y) has its centre at coordinates (x, y); the centre is ((w-1)/2, (h-1)/2).
 */
export function affineMatrix(
  h: number,
  w: number,
  t: { angleDeg: number; shear: number; scale: number; dx: number; dy: number },
): Float64Array {
  const cx = (w - 1) / 2;
  const cy = (h - 1) / 2;
  const m = mat3d.translation([cx + t.dx, cy + t.dy]);
  mat3d.rotate(m, (t.angleDeg * Math.PI) / 180, m);
  // Shear x by y: column-major create(col0, col1, col2).
  mat3d.multiply(m, mat3d.create(1, 0, 0, t.shear, 1, 0, 0, 0, 1), m);
  mat3d.scale(m, [t.scale, t.scale], m);
  mat3d.translate(m, [-cx, -cy], m);
  return m;
}

/**
 * A randomly augmented copy of a [h, w] row-major image. Draws, always in this order and
 * always all six (so the generator advances the same way whatever the magnitudes): angle,
 * shear, scale, x offset, y offset, contrast, each uniform in [-max, max]; then, when
 * a.noise > 0, one rng.normal per pixel. The warp is applied by inverse mapping with bilinear
 * sampling; samples outside the image take `background` (the normalized value of the paper,
 * see backgroundValue). Then v -> mean + (v - mean) * (1 + c) with the image mean, then
 * gaussian noise. No clamping. With all magnitudes 0 the result equals the input exactly.
 * Same rng state and inputs -> same output.
 */
export function augmentImage(img: Float32Array, h: number, w: number, rng: Rng, a: Augment, background: number): Float32Array {
  if (img.length !== h * w) throw new DataError(`augmentImage: expected ${h}x${w} = ${h * w} values, found ${img.length}`);
  const angleDeg = rng.uniform(-a.rotate, a.rotate);
  const shear = rng.uniform(-a.shear, a.shear);
  const scale = 1 + rng.uniform(-a.scale, a.scale);
  const dx = rng.uniform(-a.translate, a.translate) * w;
  const dy = rng.uniform(-a.translate, a.translate) * h;
  const contrast = 1 + rng.uniform(-a.contrast, a.contrast);

  const inv = mat3d.inverse(affineMatrix(h, w, { angleDeg, shear, scale, dx, dy }));
  const [m0, m1, m4, m5, m8, m9] = [inv[0]!, inv[1]!, inv[4]!, inv[5]!, inv[8]!, inv[9]!];
  const out = new Float32Array(h * w);
  const px = (x: number, y: number): number => (x >= 0 && x < w && y >= 0 && y < h ? img[y * w + x]! : background);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const sx = m0 * x + m4 * y + m8;
      const sy = m1 * x + m5 * y + m9;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      if (x0 < -1 || y0 < -1 || x0 >= w || y0 >= h) {
        out[y * w + x] = background;
        continue;
      }
      const fx = sx - x0;
      const fy = sy - y0;
      const v00 = px(x0, y0);
      if (fx === 0 && fy === 0) {
        out[y * w + x] = v00;
        continue;
      }
      const v01 = px(x0 + 1, y0);
      const v10 = px(x0, y0 + 1);
      const v11 = px(x0 + 1, y0 + 1);
      const top = v00 + (v01 - v00) * fx;
      const bot = v10 + (v11 - v10) * fx;
      out[y * w + x] = top + (bot - top) * fy;
    }
  }
  if (contrast !== 1) {
    let sum = 0;
    for (let i = 0; i < out.length; i++) sum += out[i]!;
    const mean = sum / out.length;
    for (let i = 0; i < out.length; i++) out[i] = mean + (out[i]! - mean) * contrast;
  }
  if (a.noise > 0) for (let i = 0; i < out.length; i++) out[i] = out[i]! + rng.normal(0, a.noise);
  return out;
}
