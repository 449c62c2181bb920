import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '@crnn/core';
import pngjs from 'pngjs';
import jpeg from 'jpeg-js';
import { afterAll, describe, expect, test } from 'vitest';
import {
  backgroundValue,
  Charset,
  DataError,
  defaultAugment,
  defaultPreprocess,
  ImageDataset,
  LabelError,
  listFolder,
  type Preprocess,
} from './index.js';

const DATASETS = process.env.CRNN_DATASETS ?? resolve(dirname(fileURLToPath(import.meta.url)), '../../../../../shared/datasets');
const tmp = mkdtempSync(join(tmpdir(), 'crnn-dataset-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A w x h PNG, grey level depending on the seed value. */
function pngBytes(w: number, h: number, v: number): Buffer {
  const png = new pngjs.PNG({ width: w, height: h });
  for (let i = 0; i < w * h; i++) png.data.set([(v + i * 13) % 256, (v + i * 13) % 256, (v + i * 13) % 256, 255], i * 4);
  return pngjs.PNG.sync.write(png);
}

/** A folder of 5 good images (4 PNG, 1 JPEG), one truncated PNG and one garbage file. */
function makeFolder(): string {
  const dir = join(tmp, 'mixed');
  mkdirSync(dir, { recursive: true });
  ['ab', 'ba', 'abc', 'cab'].forEach((l, i) => writeFileSync(join(dir, `${l}_${i}.png`), pngBytes(30, 10, i * 40)));
  writeFileSync(join(dir, 'cc.jpg'), jpeg.encode({ width: 16, height: 8, data: Buffer.alloc(16 * 8 * 4, 128) }, 90).data);
  const cut = pngBytes(30, 10, 7);
  writeFileSync(join(dir, 'broken_cut.png'), cut.subarray(0, cut.length - 20));
  writeFileSync(join(dir, 'junk.png'), 'this is not an image');
  return dir;
}

const P: Preprocess = { ...defaultPreprocess(8, 32), keepAspect: true };
const CS = Charset.fromLabels(['ab', 'abc', 'cc', 'broken', 'junk', 'x', 'y']);

describe('ImageDataset.load', () => {
  test('skips corrupt files among good ones with a warning and a count', () => {
    const { samples } = listFolder(makeFolder());
    expect(samples.length).toBe(7);
    const warnings: string[] = [];
    const ds = ImageDataset.load(samples, P, CS, { onWarning: (m) => warnings.push(m) });
    expect(ds.size).toBe(5);
    expect(ds.skipped.map((s) => s.path.split('/').pop())).toEqual(['broken_cut.png', 'junk.png']);
    expect(warnings.length).toBe(2);
    expect(warnings[0]).toMatch(/skipping image '.*broken_cut\.png': .*PNG/);
    expect(warnings[1]).toMatch(/junk\.png.*expected a PNG or JPEG file/);
    expect(ds.skipped[1]!.reason).toMatch(/expected a PNG or JPEG/);
    // Items in file-name order, images of H * W values, labels kept.
    expect([0, 1, 2, 3, 4].map((i) => ds.item(i).label)).toEqual(['ab', 'abc', 'ba', 'cab', 'cc']);
    expect(ds.item(0).image.length).toBe(8 * 32);
    expect(ds.item(0).image[8 * 32 - 1]).toBe(backgroundValue(P)); // keepAspect padding
    expect(ds.maxLabelLength).toBe(3);
  });

  test('only corrupt images -> DataError "no usable image in <folder>"', () => {
    const dir = join(tmp, 'allbad');
    mkdirSync(dir);
    writeFileSync(join(dir, 'x.png'), 'nope');
    writeFileSync(join(dir, 'y.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0x00]));
    const { samples } = listFolder(dir);
    expect(() => ImageDataset.load(samples, P, CS)).toThrow(DataError);
    expect(() => ImageDataset.load(samples, P, CS)).toThrow(`no usable image in '${dir}'`);
    expect(() => ImageDataset.load([], P, CS)).toThrow(/at least one sample/);
  });

  test('a missing file is skipped like a corrupt one', () => {
    const dir = makeFolder();
    const samples = [...listFolder(dir).samples, { path: join(dir, 'gone.png'), label: 'ab' }];
    const ds = ImageDataset.load(samples, P, CS, {});
    expect(ds.skipped.map((s) => s.path)).toContain(join(dir, 'gone.png'));
  });

  test('labels outside the charset -> LabelError before any image is read', () => {
    const { samples } = listFolder(makeFolder());
    expect(() => ImageDataset.load(samples, P, new Charset('ab'))).toThrow(LabelError);
    expect(() => ImageDataset.load(samples, P, new Charset('ab'))).toThrow(/abc_2\.png: label 'abc' has 'c'/);
  });

  test('case folding: the target is folded, the raw label kept', () => {
    const dir = join(tmp, 'case');
    mkdirSync(dir);
    writeFileSync(join(dir, 'AbC_1.png'), pngBytes(6, 6, 3));
    const ds = ImageDataset.load(listFolder(dir).samples, { ...P, caseFold: 'lower' }, new Charset('abc'));
    expect(ds.item(0).label).toBe('abc');
    expect(ds.rawLabel(0)).toBe('AbC');
    expect(ds.encodedLabel(0)).toEqual([1, 2, 3]);
  });

  test('real captcha-v2 images load (if the shared folder exists, else a clear failure)', () => {
    const dir = join(DATASETS, 'captcha-v2');
    let samples;
    try {
      samples = listFolder(dir).samples.slice(0, 20);
    } catch (e) {
      throw new Error(`real data set folder '${dir}' is missing (expected shared/datasets/captcha-v2 beside the repository): ${(e as Error).message}`);
    }
    const p = defaultPreprocess(32, 128);
    const ds = ImageDataset.load(samples, p, new Charset('2345678bcdefgmnpwxy'));
    expect(ds.size).toBe(20);
    expect(ds.skipped).toEqual([]);
    const img = ds.item(0).image;
    expect(Math.min(...img)).toBeGreaterThanOrEqual(-1);
    expect(Math.max(...img)).toBeLessThanOrEqual(1);
    expect(readFileSync(samples[0]!.path).length).toBeGreaterThan(0);
  });
});

describe('batches', () => {
  const items = Array.from({ length: 10 }, (_, i) => ({
    image: new Float32Array(4 * 6).fill(i / 10),
    label: 'ab'.slice(0, 1 + (i % 2)) + 'c',
    path: `gen-${i}`,
  }));
  const p = defaultPreprocess(4, 6);
  const ds = ImageDataset.fromImages(items, p, new Charset('abc'));

  test('shapes, labels and order without shuffling', () => {
    const bs = [...ds.batches(4, { shuffle: null })];
    expect(bs.map((b) => b.shape)).toEqual([[4, 1, 4, 6], [4, 1, 4, 6], [2, 1, 4, 6]]);
    expect(bs[0]!.images.length).toBe(4 * 24);
    expect(bs[0]!.indices).toEqual([0, 1, 2, 3]);
    expect(bs[0]!.texts).toEqual(['ac', 'abc', 'ac', 'abc']);
    expect(bs[0]!.labels).toEqual([[1, 3], [1, 2, 3], [1, 3], [1, 2, 3]]);
    expect(bs[2]!.paths).toEqual(['gen-8', 'gen-9']);
    expect(bs[1]!.images[24]).toBeCloseTo(0.5, 6); // item 5, first pixel
    expect([...ds.batches(4, { shuffle: null, dropLast: true })].length).toBe(2);
    expect(ds.numBatches(4)).toBe(3);
    expect(ds.numBatches(4, true)).toBe(2);
  });

  test('shuffling is deterministic from the generator and covers every item once', () => {
    const order = (seed: number): number[] => [...ds.batches(3, { shuffle: new Rng(seed) })].flatMap((b) => b.indices);
    expect(order(1)).toEqual(order(1));
    expect(order(1)).not.toEqual(order(2));
    expect([...order(1)].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // Images follow their indices.
    for (const b of ds.batches(3, { shuffle: new Rng(3) })) {
      b.indices.forEach((idx, k) => expect(b.images[k * 24]).toBeCloseTo(idx / 10, 6));
    }
  });

  test('augmentation is seeded and does not touch the stored images', () => {
    const run = (seed: number): number[] =>
      [...ds.batches(5, { shuffle: null, augment: { rng: new Rng(seed), a: defaultAugment() } })].flatMap((b) => Array.from(b.images));
    expect(run(1)).toEqual(run(1));
    expect(run(1)).not.toEqual(run(2));
    expect(Array.from(ds.item(3).image).every((v) => Math.abs(v - 0.3) < 1e-6)).toBe(true);
  });

  test('bad batch size and bad images -> DataError', () => {
    expect(() => [...ds.batches(0, { shuffle: null })]).toThrow(DataError);
    expect(() => ImageDataset.fromImages([{ image: new Float32Array(3), label: 'a', path: 'x' }], p, new Charset('a'))).toThrow(
      /expected 4x6 = 24 values for 'x', found 3/,
    );
    expect(() => ds.item(10)).toThrow(/\[0, 10\)/);
  });
});
