import { describe, expect, test } from 'vitest';
import {
  backgroundValue,
  DataError,
  defaultPreprocess,
  preprocess,
  resizeBilinear,
  toGrey,
  type Preprocess,
  type RawImage,
} from './index.js';

/** float64 reference of align_corners=false bilinear resize (torch semantics), written independently. */
function refResize(src: ArrayLike<number>, sh: number, sw: number, dh: number, dw: number): Float64Array {
  const out = new Float64Array(dh * dw);
  const coord = (o: number, inS: number, outS: number): [number, number, number] => {
    const s = Math.max(0, ((o + 0.5) * inS) / outS - 0.5);
    const a = Math.min(Math.floor(s), inS - 1);
    const b = Math.min(a + 1, inS - 1);
    return [a, b, s - a];
  };
  for (let y = 0; y < dh; y++) {
    const [y0, y1, ly] = coord(y, sh, dh);
    for (let x = 0; x < dw; x++) {
      const [x0, x1, lx] = coord(x, sw, dw);
      out[y * dw + x] =
        (1 - ly) * ((1 - lx) * src[y0 * sw + x0]! + lx * src[y0 * sw + x1]!) + ly * ((1 - lx) * src[y1 * sw + x0]! + lx * src[y1 * sw + x1]!);
    }
  }
  return out;
}

function rgba(width: number, height: number, px: (x: number, y: number) => [number, number, number, number]): RawImage {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(px(x, y), (y * width + x) * 4);
  return { width, height, data };
}

/** p with mean 0, std 1: output = grey in [0, 1] (after invert). */
function raw(h: number, w: number, over: Partial<Preprocess> = {}): Preprocess {
  return { ...defaultPreprocess(h, w), mean: 0, std: 1, ...over };
}

describe('bilinear resize', () => {
  test('matches torch F.interpolate(align_corners=False) on 2x2 -> 4x4', () => {
    const out = resizeBilinear(Float32Array.from([1, 2, 3, 4]), 2, 2, 4, 4);
    expect(Array.from(out)).toEqual([1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4]);
  });

  test('matches a float64 reference, up, down and mixed, non-integer ratios', () => {
    const sh = 7;
    const sw = 11;
    const src = Float32Array.from({ length: sh * sw }, (_, i) => Math.sin(i * 1.7) * 0.5 + 0.5);
    for (const [dh, dw] of [[13, 29], [3, 5], [5, 17], [1, 1], [7, 4], [16, 11]] as const) {
      const got = resizeBilinear(src, sh, sw, dh, dw);
      const want = refResize(src, sh, sw, dh, dw);
      expect(got.length).toBe(dh * dw);
      for (let i = 0; i < got.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-6);
    }
  });

  test('identity resize is exact', () => {
    const src = Float32Array.from({ length: 6 * 9 }, (_, i) => Math.fround(Math.cos(i) / 3));
    const out = resizeBilinear(src, 6, 9, 6, 9);
    expect(out).not.toBe(src);
    expect(Array.from(out)).toEqual(Array.from(src));
    // And through preprocess: a 9x6 image into 6x9 with mean 0, std 1 gives the grey values exactly.
    const img = rgba(9, 6, (x, y) => [(x * 20 + y * 7) % 256, 0, 0, 255]);
    const grey = toGrey(img, 'luminance');
    expect(Array.from(preprocess(img, raw(6, 9)))).toEqual(Array.from(grey));
  });

  test('bad sizes -> DataError', () => {
    expect(() => resizeBilinear(new Float32Array(5), 2, 2, 4, 4)).toThrow(DataError);
    expect(() => resizeBilinear(new Float32Array(4), 2, 2, 0, 4)).toThrow(/positive sizes/);
  });
});

describe('preprocess', () => {
  test('luminance weights and alpha compositing on white', () => {
    const img = rgba(4, 1, (x) => [
      [255, 0, 0, 255],
      [0, 255, 0, 255],
      [0, 0, 0, 0],
      [0, 0, 0, 51],
    ][x] as [number, number, number, number]);
    const g = toGrey(img, 'luminance');
    expect(g[0]).toBeCloseTo(0.299, 6);
    expect(g[1]).toBeCloseTo(0.587, 6);
    expect(g[2]).toBe(1); // transparent -> white paper
    expect(g[3]).toBeCloseTo(0.8, 6); // black at 20 % opacity
  });

  test('alpha mode: 1 - a/255, colour ignored', () => {
    const img = rgba(3, 1, (x) => [[0, 0, 0, 0], [255, 255, 255, 255], [10, 20, 30, 102]][x] as [number, number, number, number]);
    expect(Array.from(preprocess(img, raw(1, 3, { grey: 'alpha' }))).map((v) => +v.toFixed(6))).toEqual([1, 0, 0.6]);
    // The seed notebook 001's input (a > 0 -> 1) is alpha + binarize 1 + invert.
    expect(Array.from(preprocess(img, raw(1, 3, { grey: 'alpha', binarize: 1, invert: true })))).toEqual([0, 1, 1]);
  });

  test('binarize: below the threshold -> 0, else 1, before resizing', () => {
    const img = rgba(4, 1, (x) => {
      const v = [0, 100, 140, 255][x]!;
      return [v, v, v, 255];
    });
    expect(Array.from(preprocess(img, raw(1, 4, { binarize: 0.5 })))).toEqual([0, 0, 1, 1]);
    // Resized after binarizing: 4 -> 2 columns averages pairs of binary values.
    expect(Array.from(preprocess(img, raw(1, 2, { binarize: 0.5 })))).toEqual([0, 1]);
  });

  test('invert and normalize with the defaults: white -> +1, black -> -1', () => {
    const img = rgba(2, 1, (x) => (x === 0 ? [255, 255, 255, 255] : [0, 0, 0, 255]));
    const p = defaultPreprocess(1, 2);
    expect(Array.from(preprocess(img, p))).toEqual([1, -1]);
    expect(Array.from(preprocess(img, { ...p, invert: true }))).toEqual([-1, 1]);
    expect(backgroundValue(p)).toBe(1);
    expect(backgroundValue({ ...p, invert: true })).toBe(-1);
    expect(JSON.parse(JSON.stringify(p))).toEqual(p);
  });

  test('keepAspect: resize to height, pad right with the normalized background', () => {
    // 4 wide x 2 high, black: at height 4 it becomes 8 wide, padded to 12.
    const img = rgba(4, 2, () => [0, 0, 0, 255]);
    for (const invert of [false, true]) {
      const p: Preprocess = { ...defaultPreprocess(4, 12), keepAspect: true, invert };
      const out = preprocess(img, p);
      const bg = backgroundValue(p);
      const ink = invert ? 1 : -1;
      for (let y = 0; y < 4; y++) {
        for (let x = 0; x < 12; x++) expect(out[y * 12 + x]).toBe(x < 8 ? ink : bg);
      }
    }
  });

  test('keepAspect: content is the same as a plain resize to the kept width', () => {
    const img = rgba(10, 5, (x, y) => [(x * 25) % 256, (y * 50) % 256, 0, 255]);
    const kept = preprocess(img, raw(8, 40, { keepAspect: true }));
    const plain = preprocess(img, raw(8, 16));
    for (let y = 0; y < 8; y++) {
      expect(Array.from(kept.subarray(y * 40, y * 40 + 16))).toEqual(Array.from(plain.subarray(y * 16, y * 16 + 16)));
      expect(Array.from(kept.subarray(y * 40 + 16, y * 40 + 40)).every((v) => v === 1)).toBe(true);
    }
  });

  test('keepAspect: wider than the width -> squashed to (height, width)', () => {
    const img = rgba(100, 5, (x) => [x, x, x, 255]);
    const kept = preprocess(img, raw(10, 50, { keepAspect: true }));
    const plain = preprocess(img, raw(10, 50));
    expect(Array.from(kept)).toEqual(Array.from(plain));
  });

  test('out-of-range settings -> DataError', () => {
    const img = rgba(1, 1, () => [0, 0, 0, 255]);
    expect(() => preprocess(img, { ...defaultPreprocess(1, 1), std: 0 })).toThrow(/std > 0/);
    expect(() => preprocess(img, { ...defaultPreprocess(1, 1), binarize: 2 })).toThrow(/binarize/);
    expect(() => preprocess(img, { ...defaultPreprocess(0, 1) })).toThrow(/height/);
  });
});
