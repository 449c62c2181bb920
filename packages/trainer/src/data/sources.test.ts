import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import { DataError, labelFromFileName, listFolder, readLabelFile } from './index.js';

/** The shared real data sets, read in place (never copied into the repo). */
const DATASETS = process.env.CRNN_DATASETS ?? resolve(dirname(fileURLToPath(import.meta.url)), '../../../../../shared/datasets');

function dataset(name: string): string {
  const dir = join(DATASETS, name);
  try {
    listFolder(dir);
  } catch (e) {
    throw new Error(`real data set folder '${dir}' is missing or unreadable (expected shared/datasets/${name} beside the repository, or CRNN_DATASETS): ${(e as Error).message}`);
  }
  return dir;
}

const tmp = mkdtempSync(join(tmpdir(), 'crnn-sources-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('labels from file names', () => {
  test('both conventions', () => {
    expect(labelFromFileName('12dd_c297941ec29cfb9dad9a61857087e6d9.jpg')).toBe('12dd');
    expect(labelFromFileName('226md.png')).toBe('226md');
    expect(labelFromFileName('a_b_c.PNG')).toBe('a');
    expect(labelFromFileName('x.y.jpeg')).toBe('x.y');
  });

  test('captcha-v2: name without extension', () => {
    const { samples, ignored } = listFolder(dataset('captcha-v2'));
    expect(samples.length).toBe(829);
    expect(ignored).toEqual([]);
    for (const s of samples) expect(s.label).toMatch(/^[2345678bcdefgmnpwxy]{5}$/);
    const names = samples.map((s) => s.path);
    expect(names).toEqual([...names].sort());
    expect(samples.find((s) => s.path.endsWith('226md.png'))?.label).toBe('226md');
  });

  test('swust: part before the underscore', () => {
    const { samples } = listFolder(dataset('swust-20190121'));
    expect(samples.length).toBe(1309);
    for (const s of samples) expect(s.label).toMatch(/^[0-9a-z]{4}$/);
    expect(samples.find((s) => s.path.includes('12dd_c2979'))?.label).toBe('12dd');
  });
});

describe('listFolder', () => {
  test('image extensions in any case, sorted, others ignored', () => {
    const dir = join(tmp, 'mixed');
    mkdirSync(join(dir, 'sub'), { recursive: true });
    for (const n of ['b_1.PNG', 'a.jpg', 'c.JpEg', 'notes.txt', 'd.gif', '_x.png']) writeFileSync(join(dir, n), 'x');
    const { samples, ignored } = listFolder(dir);
    expect(samples).toEqual([
      { path: join(dir, 'a.jpg'), label: 'a' },
      { path: join(dir, 'b_1.PNG'), label: 'b' },
      { path: join(dir, 'c.JpEg'), label: 'c' },
    ]);
    expect(ignored.sort()).toEqual([join(dir, '_x.png'), join(dir, 'd.gif'), join(dir, 'notes.txt'), `${join(dir, 'sub')}/`].sort());
  });

  test('missing folder -> DataError naming it', () => {
    const dir = join(tmp, 'does-not-exist');
    expect(() => listFolder(dir)).toThrow(DataError);
    expect(() => listFolder(dir)).toThrow(/does-not-exist.*no such folder/);
  });

  test('empty folder or folder without images -> DataError', () => {
    const dir = join(tmp, 'empty');
    mkdirSync(dir);
    expect(() => listFolder(dir)).toThrow(DataError);
    expect(() => listFolder(dir)).toThrow(/empty.*found none \(the folder is empty\)/);
    writeFileSync(join(dir, 'readme.md'), '#');
    expect(() => listFolder(dir)).toThrow(/found none \(1 other entry: .*readme\.md\)/);
  });

  test('a file instead of a folder -> DataError', () => {
    const f = join(tmp, 'plain.txt');
    writeFileSync(f, 'x');
    expect(() => listFolder(f)).toThrow(/expected a folder of images at .*plain\.txt', found a file/);
  });
});

describe('readLabelFile', () => {
  test('PaddleOCR format: relative and absolute paths, blank lines, CRLF, spaces in labels', () => {
    const dir = join(tmp, 'paddle');
    mkdirSync(dir);
    const f = join(dir, 'rec_gt.txt');
    writeFileSync(f, 'imgs/a.png\tabc\r\n\r\n   \n/abs/b.jpg\thello world\nc.png\tx\ty\n');
    expect(readLabelFile(f)).toEqual([
      { path: join(dir, 'imgs/a.png'), label: 'abc' },
      { path: '/abs/b.jpg', label: 'hello world' },
      { path: join(dir, 'c.png'), label: 'x\ty' },
    ]);
  });

  test('malformed line -> DataError naming file and line', () => {
    const f = join(tmp, 'bad.txt');
    writeFileSync(f, 'a.png\tok\n\nb.png has no tab\n');
    expect(() => readLabelFile(f)).toThrow(DataError);
    expect(() => readLabelFile(f)).toThrow(`${f}:3: expected 'path<TAB>label', found no TAB`);
    writeFileSync(f, 'a.png\t\n');
    expect(() => readLabelFile(f)).toThrow(`${f}:1: expected 'path<TAB>label', found an empty label`);
    writeFileSync(f, '\tlabel\n');
    expect(() => readLabelFile(f)).toThrow(`${f}:1: expected 'path<TAB>label', found an empty path`);
  });

  test('missing label file -> DataError', () => {
    expect(() => readLabelFile(join(tmp, 'nope.txt'))).toThrow(/cannot read label file .*nope\.txt/);
  });
});
