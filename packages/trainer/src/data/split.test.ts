import { describe, expect, test } from 'vitest';
import { DataError, splitSamples, type Sample } from './index.js';

const samples: Sample[] = Array.from({ length: 100 }, (_, i) => ({ path: `img${i}.png`, label: `l${i}` }));

describe('splitSamples', () => {
  test('deterministic from the seed, disjoint, covering', () => {
    const a = splitSamples(samples, 0.2, 7);
    const b = splitSamples(samples, 0.2, 7);
    expect(a).toEqual(b);
    expect(a.val.length).toBe(20);
    expect(a.train.length).toBe(80);
    const v = new Set(a.val.map((s) => s.path));
    expect(a.train.some((s) => v.has(s.path))).toBe(false);
    expect(new Set([...a.train, ...a.val].map((s) => s.path)).size).toBe(100);
    // Input order kept within each part.
    const idx = (s: Sample): number => Number(s.path.slice(3, -4));
    expect(a.val.map(idx)).toEqual([...a.val.map(idx)].sort((x, y) => x - y));
  });

  test('another seed gives another split', () => {
    expect(splitSamples(samples, 0.2, 8).val).not.toEqual(splitSamples(samples, 0.2, 7).val);
  });

  test('at least one validation sample when valRatio > 0 and n >= 2; train keeps one', () => {
    expect(splitSamples(samples.slice(0, 2), 0.01, 1).val.length).toBe(1);
    expect(splitSamples(samples.slice(0, 3), 0.99, 1).train.length).toBe(1);
    expect(splitSamples(samples.slice(0, 1), 0.5, 1)).toEqual({ train: samples.slice(0, 1), val: [] });
    expect(splitSamples(samples, 0, 1).val).toEqual([]);
  });

  test('valRatio outside [0, 1) -> DataError', () => {
    expect(() => splitSamples(samples, 1, 1)).toThrow(DataError);
    expect(() => splitSamples(samples, -0.1, 1)).toThrow(/valRatio/);
  });
});
