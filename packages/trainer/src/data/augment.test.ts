import { Rng } from '@crnn/core';
import { describe, expect, test } from 'vitest';
import { augmentImage, defaultAugment, noAugment } from './index.js';

const H = 16;
const W = 40;
const img = Float32Array.from({ length: H * W }, (_, i) => ((i % W) > 10 && (i % W) < 30 && ((i / W) | 0) > 3 && ((i / W) | 0) < 12 ? -1 : 1));

describe('augmentImage', () => {
  test('same rng state -> same output; another seed -> another output', () => {
    const a = augmentImage(img, H, W, new Rng(3), defaultAugment(), 1);
    const b = augmentImage(img, H, W, new Rng(3), defaultAugment(), 1);
    const c = augmentImage(img, H, W, new Rng(4), defaultAugment(), 1);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
    expect(Array.from(a)).not.toEqual(Array.from(img));
    const r = new Rng(3);
    const st = r.getState();
    augmentImage(img, H, W, r, defaultAugment(), 1);
    expect(r.getState()).not.toEqual(st); // it advances the generator
  });

  test('all magnitudes 0 -> identity, exactly', () => {
    const out = augmentImage(img, H, W, new Rng(9), noAugment(), 1);
    expect(out).not.toBe(img);
    expect(Array.from(out)).toEqual(Array.from(img));
  });

  test('each transform alone changes the image, and outside pixels take the background', () => {
    for (const key of ['rotate', 'shear', 'scale', 'translate', 'noise', 'contrast'] as const) {
      const a = { ...noAugment(), [key]: key === 'rotate' ? 10 : 0.3 };
      const out = augmentImage(img, H, W, new Rng(1), a, 1);
      expect(Array.from(out), key).not.toEqual(Array.from(img));
    }
    // A large shift right: the left columns come from outside the image.
    const shifted = augmentImage(new Float32Array(H * W), H, W, new Rng(2), { ...noAugment(), translate: 0.9 }, 5);
    let bg = 0;
    for (const v of shifted) if (v === 5) bg++;
    expect(bg).toBeGreaterThan(0);
  });

  test('noise has about the requested std', () => {
    const flat = new Float32Array(64 * 64);
    const out = augmentImage(flat, 64, 64, new Rng(5), { ...noAugment(), noise: 0.1 }, 0);
    let s = 0;
    let s2 = 0;
    for (const v of out) {
      s += v;
      s2 += v * v;
    }
    const mean = s / out.length;
    const std = Math.sqrt(s2 / out.length - mean * mean);
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(std).toBeGreaterThan(0.09);
    expect(std).toBeLessThan(0.11);
  });

  test('wrong size -> error', () => {
    expect(() => augmentImage(new Float32Array(3), 2, 2, new Rng(1), noAugment(), 0)).toThrow(/expected 2x2 = 4 values, found 3/);
  });
});
