import { describe, expect, test } from 'vitest';
import { Charset, checkLabels, DataError, LabelError, type Sample } from './index.js';

describe('Charset', () => {
  test('fromLabels: sorted unique characters; class 0 is the blank', () => {
    const cs = Charset.fromLabels(['226md', 'bcd', 'x2']);
    expect(cs.chars).toBe('26bcdmx');
    expect(cs.numClasses).toBe(8);
    expect(cs.encode('2')).toEqual([1]);
    expect(cs.encode('x')).toEqual([7]);
  });

  test('encode/decode round trip', () => {
    const cs = new Charset('0123456789abcdef');
    for (const s of ['0', 'deadbeef', '00112233', 'f0f0']) {
      const ids = cs.encode(s);
      expect(ids.every((i) => i >= 1 && i < cs.numClasses)).toBe(true);
      expect(cs.decode(ids)).toBe(s);
    }
    expect(cs.decode([0, 11, 0, 11, 0])).toBe('aa'); // blanks skipped, repeats kept
    expect(() => cs.decode([17])).toThrow(DataError);
    expect(() => cs.decode([-1])).toThrow(/\[0, 17\)/);
  });

  test('code points, not UTF-16 units', () => {
    const cs = Charset.fromLabels(['a😀', 'é']);
    expect(cs.numClasses).toBe(4);
    expect(cs.decode(cs.encode('😀éa'))).toBe('😀éa');
  });

  test('repeated characters -> DataError', () => {
    expect(() => new Charset('abca')).toThrow(/'a' twice/);
  });

  test('encode of an unknown character -> LabelError', () => {
    expect(() => new Charset('abc').encode('abz')).toThrow(LabelError);
  });
});

describe('checkLabels', () => {
  const samples: Sample[] = [
    { path: 'd/1.png', label: 'AbC' },
    { path: 'd/2.png', label: 'abq' },
    { path: 'd/3.png', label: 'a b' },
    { path: 'd/4.png', label: '' },
  ];

  test('splits good and bad labels, listing the unknown characters', () => {
    const cs = new Charset('abc');
    const { ok, bad } = checkLabels(samples, cs, 'lower');
    expect(ok).toEqual([{ path: 'd/1.png', label: 'abc' }]);
    expect(bad).toEqual([
      { path: 'd/2.png', label: 'abq', chars: ['q'] },
      { path: 'd/3.png', label: 'a b', chars: [' '] },
      { path: 'd/4.png', label: '', chars: [] },
    ]);
    const noFold = checkLabels(samples, cs, null);
    expect(noFold.bad[0]).toEqual({ path: 'd/1.png', label: 'AbC', chars: ['A', 'C'] });
  });

  test('LabelError lists the files and characters', () => {
    const cs = new Charset('abc');
    const { bad } = checkLabels(samples, cs, 'lower');
    const e = new LabelError(bad, cs.chars);
    expect(e.name).toBe('LabelError');
    expect(e.message).toContain("3 label(s) use characters outside the charset 'abc'");
    expect(e.message).toContain("d/2.png: label 'abq' has 'q'");
    expect(e.message).toContain("d/3.png: label 'a b' has U+0020");
    expect(e.message).toContain("d/4.png: label '' is empty");
  });

  test('LabelError lists at most 20 files, then a count', () => {
    const many = Array.from({ length: 25 }, (_, i) => ({ path: `f${i}.png`, label: `a${i}` }));
    const cs = new Charset('a');
    const { bad } = checkLabels(many, cs, null);
    const msg = new LabelError(bad, cs.chars).message;
    expect(msg).toContain('f19.png');
    expect(msg).not.toContain('f20.png');
    expect(msg).toContain('... and 5 more');
    expect(msg).toMatch(/found '0', '1', '2'/);
  });
});

test('LabelError takes a Charset or its characters', () => {
  const cs = new Charset('ab');
  const bad = [{ path: 'p.png', label: 'az', chars: ['z'] }];
  expect(new LabelError(bad, cs).message).toBe(new LabelError(bad, 'ab').message);
  expect(new LabelError(bad, cs).charset).toBe('ab');
});
