import { describe, expect, test } from 'vitest';
import { Charset, defaultPreprocess, generateDigitStrings, ImageDataset } from './index.js';

describe('generateDigitStrings', () => {
  test('deterministic from the seed', () => {
    const a = generateDigitStrings({ count: 20, seed: 42 });
    const b = generateDigitStrings({ count: 20, seed: 42 });
    const c = generateDigitStrings({ count: 20, seed: 43 });
    expect(a.map((x) => x.label)).toEqual(b.map((x) => x.label));
    a.forEach((x, i) => expect(Array.from(x.image)).toEqual(Array.from(b[i]!.image)));
    expect(a.map((x) => x.label)).not.toEqual(c.map((x) => x.label));
    expect(a[7]!.path).toBe('mnist-000007');
  });

  test('labels: only digits, lengths within [minLen, maxLen], all lengths used', () => {
    const items = generateDigitStrings({ count: 300, seed: 1 });
    const lens = new Set<number>();
    for (const it of items) {
      expect(it.label).toMatch(/^[0-9]{3,8}$/);
      lens.add(it.label.length);
    }
    expect([...lens].sort()).toEqual([3, 4, 5, 6, 7, 8]);
    for (const it of generateDigitStrings({ count: 50, seed: 2, minLen: 2, maxLen: 2 })) expect(it.label).toMatch(/^[0-9]{2}$/);
  });

  test('images: default 32 x 160, dark ink on light paper in [-1, 1], paper on the right', () => {
    const items = generateDigitStrings({ count: 50, seed: 3, maxLen: 4 });
    for (const it of items) {
      expect(it.image.length).toBe(32 * 160);
      let mn = Infinity;
      let mx = -Infinity;
      let paper = 0;
      for (const v of it.image) {
        mn = Math.min(mn, v);
        mx = Math.max(mx, v);
        if (v === 1) paper++;
      }
      expect(mn).toBeGreaterThanOrEqual(-1);
      expect(mn).toBeLessThan(-0.9); // some ink
      expect(mx).toBe(1);
      expect(paper / it.image.length).toBeGreaterThan(0.6); // mostly background
      // 4 digits take at most 5 + 4 * 25 = 105 columns: the last column is paper.
      for (let y = 0; y < 32; y++) expect(it.image[y * 160 + 159]).toBe(1);
    }
  });

  test('other sizes and pools', () => {
    const small = generateDigitStrings({ count: 5, seed: 4, height: 16, width: 64 });
    for (const it of small) expect(it.image.length).toBe(16 * 64);
    const tr = generateDigitStrings({ count: 5, seed: 4, pool: 'train' });
    const te = generateDigitStrings({ count: 5, seed: 4, pool: 'test' });
    expect(tr.map((x) => x.label)).toEqual(te.map((x) => x.label)); // same draws
    expect(Array.from(tr[0]!.image)).not.toEqual(Array.from(te[0]!.image)); // different handwriting
    expect(() => generateDigitStrings({ count: 1, seed: 1, minLen: 5, maxLen: 4 })).toThrow(/minLen/);
  });

  test('10,000 images in a few seconds, usable as an ImageDataset', () => {
    generateDigitStrings({ count: 1, seed: 0 }); // load the MNIST JSON once
    const t0 = performance.now();
    const items = generateDigitStrings({ count: 10_000, seed: 5 });
    const ms = performance.now() - t0;
    expect(items.length).toBe(10_000);
    expect(ms).toBeLessThan(5000);
    const ds = ImageDataset.fromImages(items, defaultPreprocess(32, 160), new Charset('0123456789'));
    expect(ds.size).toBe(10_000);
    const b = ds.batches(64, { shuffle: null }).next().value!;
    expect(b.shape).toEqual([64, 1, 32, 160]);
  });
});
