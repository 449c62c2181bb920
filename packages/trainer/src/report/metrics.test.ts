import { describe, expect, it } from 'vitest';
import { charLength, editDistance, TextMetrics } from './index.js';

/** Independent reference: full-matrix Levenshtein over code points. */
function reference(a: string, b: string): number {
  const x = Array.from(a);
  const y = Array.from(b);
  const d: number[][] = [];
  for (let i = 0; i <= x.length; i++) {
    d.push([]);
    for (let j = 0; j <= y.length; j++) {
      if (i === 0) d[i]![j] = j;
      else if (j === 0) d[i]![j] = i;
      else
        d[i]![j] = Math.min(
          d[i - 1]![j]! + 1,
          d[i]![j - 1]! + 1,
          d[i - 1]![j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1),
        );
    }
  }
  return d[x.length]![y.length]!;
}

describe('editDistance', () => {
  it('known cases', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('sitting', 'kitten')).toBe(3);
    expect(editDistance('flaw', 'lawn')).toBe(2);
    expect(editDistance('intention', 'execution')).toBe(5);
    expect(editDistance('abc', 'abc')).toBe(0);
    expect(editDistance('abc', 'cba')).toBe(2);
  });

  it('empty strings', () => {
    expect(editDistance('', '')).toBe(0);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('abcd', '')).toBe(4);
  });

  it('counts Unicode code points, not UTF-16 units', () => {
    expect(editDistance('日本語', '日本')).toBe(1);
    expect(editDistance('café', 'cafe')).toBe(1);
    expect(editDistance('😀a', 'a')).toBe(1); // the emoji is two UTF-16 units
    expect(editDistance('😀', '😁')).toBe(1); // same high surrogate, one substitution
    expect(editDistance('a😀b', 'ab')).toBe(1);
    expect(charLength('😀a')).toBe(2);
  });

  it('matches a full-matrix reference on random strings', () => {
    let seed = 12345;
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const alphabet = ['a', 'b', 'c', 'é', '😀'];
    const word = (): string => {
      const n = Math.floor(rand() * 9);
      let s = '';
      for (let i = 0; i < n; i++) s += alphabet[Math.floor(rand() * alphabet.length)];
      return s;
    };
    for (let k = 0; k < 300; k++) {
      const a = word();
      const b = word();
      expect(editDistance(a, b), `${a} vs ${b}`).toBe(reference(a, b));
    }
  });
});

describe('TextMetrics', () => {
  it('is all zeros when empty', () => {
    const m = new TextMetrics();
    expect(m.count).toBe(0);
    expect(m.summary()).toEqual({ samples: 0, cer: 0, accuracy: 0, ned: 0 });
  });

  it('matches hand-computed CER, accuracy and PaddleOCR 1-NED', () => {
    const m = new TextMetrics();
    m.add('abc', 'abc'); // d 0, norm 0/3
    m.add('abd', 'abc'); // d 1, norm 1/3
    m.add('', 'ab'); // d 2, norm 2/2
    m.add('abcde', 'ab'); // d 3, norm 3/5 (divided by the longer, the prediction)
    expect(m.count).toBe(4);
    const s = m.summary();
    expect(s.samples).toBe(4);
    expect(s.cer).toBeCloseTo(6 / 10, 12); // (0+1+2+3) / (3+3+2+2)
    expect(s.accuracy).toBeCloseTo(1 / 4, 12);
    expect(s.ned).toBeCloseTo(1 - (0 + 1 / 3 + 1 + 3 / 5) / 4, 12); // 0.516666...
  });

  it('NED divides by max(len(pred), len(truth)) per sample, CER by total truth length', () => {
    const m = new TextMetrics();
    m.add('xxxxxxxx', 'a'); // d 8, norm 8/8 = 1
    m.add('hello', 'hello'); // d 0
    const s = m.summary();
    expect(s.cer).toBeCloseTo(8 / 6, 12); // CER can exceed 1
    expect(s.ned).toBeCloseTo(1 - (1 + 0) / 2, 12);
    expect(s.accuracy).toBe(0.5);
  });

  it('handles empty truths', () => {
    const m = new TextMetrics();
    m.add('', '');
    m.add('', '');
    expect(m.summary()).toEqual({ samples: 2, cer: 0, accuracy: 1, ned: 1 });
    m.add('ab', '');
    const s = m.summary();
    expect(s.cer).toBe(2); // 2 inserted characters over a denominator of max(0, 1)
    expect(s.accuracy).toBeCloseTo(2 / 3, 12);
    expect(s.ned).toBeCloseTo(1 - 1 / 3, 12);
  });

  it('counts code points', () => {
    const m = new TextMetrics();
    m.add('日本', '日本語');
    const s = m.summary();
    expect(s.cer).toBeCloseTo(1 / 3, 12);
    expect(s.ned).toBeCloseTo(1 - 1 / 3, 12);
  });

  it('reset forgets samples', () => {
    const m = new TextMetrics();
    m.add('a', 'b');
    m.reset();
    m.add('a', 'a');
    expect(m.summary()).toEqual({ samples: 1, cer: 0, accuracy: 1, ned: 1 });
  });
});
