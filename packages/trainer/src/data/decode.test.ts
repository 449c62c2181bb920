import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32, deflateSync } from 'node:zlib';
import jpeg from 'jpeg-js';
import pngjs from 'pngjs';
import { describe, expect, test } from 'vitest';
import { decodeImage, ImageDecodeError, listFolder } from './index.js';

const DATASETS = process.env.CRNN_DATASETS ?? resolve(dirname(fileURLToPath(import.meta.url)), '../../../../../shared/datasets');

function realFile(name: string, file: string): Uint8Array {
  const dir = join(DATASETS, name);
  try {
    listFolder(dir);
    return new Uint8Array(readFileSync(join(dir, file)));
  } catch (e) {
    throw new Error(`real data set file '${join(dir, file)}' is missing (expected shared/datasets/${name} beside the repository, or CRNN_DATASETS): ${(e as Error).message}`);
  }
}

/** A PNG written by pngjs from raw pixels already in the output colour type (8-bit). */
function pngjsWrite(width: number, height: number, colorType: 0 | 2 | 4 | 6, raw: number[]): Uint8Array {
  const png = new pngjs.PNG({ width, height });
  png.data = Buffer.from(raw);
  return new Uint8Array(pngjs.PNG.sync.write(png, { colorType, inputColorType: colorType, inputHasAlpha: colorType >= 4 }));
}

/** A PNG assembled by hand (for the colour types and depths pngjs does not write). */
function handPng(width: number, height: number, bitDepth: number, colorType: number, rows: number[][], extra: Array<[string, number[]]> = []): Uint8Array {
  const chunk = (type: string, data: Uint8Array): Buffer => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = bitDepth;
  ihdr[9] = colorType;
  const raw = Buffer.from(rows.flatMap((r) => [0, ...r])); // filter type 0 per row
  return new Uint8Array(
    Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      chunk('IHDR', ihdr),
      ...extra.map(([t, d]) => chunk(t, Uint8Array.from(d))),
      chunk('IDAT', deflateSync(raw)),
      chunk('IEND', new Uint8Array(0)),
    ]),
  );
}

describe('real files', () => {
  test('captcha-v2 PNG is 200x50 RGBA, grey, opaque', () => {
    const img = decodeImage(realFile('captcha-v2', '226md.png'), '226md.png');
    expect([img.width, img.height, img.data.length]).toEqual([200, 50, 200 * 50 * 4]);
    let bad = 0;
    for (let i = 0; i < img.data.length; i += 4) if (img.data[i + 3] !== 255 || img.data[i] !== img.data[i + 1]) bad++;
    expect(bad).toBe(0);
  });

  test('swust JPEG is 92x34', () => {
    const img = decodeImage(realFile('swust-20190121', '12dd_c297941ec29cfb9dad9a61857087e6d9.jpg'), 'x.jpg');
    expect([img.width, img.height, img.data.length]).toEqual([92, 34, 92 * 34 * 4]);
  });

  test('type by magic bytes, not by name', () => {
    const img = decodeImage(realFile('captcha-v2', '226md.png'), 'misnamed.jpg');
    expect(img.width).toBe(200);
  });
});

describe('PNG colour types', () => {
  test('grey (0) -> RGBA', () => {
    const img = decodeImage(pngjsWrite(2, 1, 0, [10, 200]), 'g.png');
    expect(Array.from(img.data)).toEqual([10, 10, 10, 255, 200, 200, 200, 255]);
  });

  test('RGB (2) -> RGBA', () => {
    const img = decodeImage(pngjsWrite(2, 1, 2, [1, 2, 3, 250, 251, 252]), 'rgb.png');
    expect(Array.from(img.data)).toEqual([1, 2, 3, 255, 250, 251, 252, 255]);
  });

  test('grey + alpha (4) -> RGBA', () => {
    const img = decodeImage(pngjsWrite(2, 1, 4, [40, 0, 90, 128]), 'ga.png');
    expect(Array.from(img.data)).toEqual([40, 40, 40, 0, 90, 90, 90, 128]);
  });

  test('RGBA (6) -> RGBA', () => {
    const raw = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
    const img = decodeImage(pngjsWrite(2, 2, 6, raw), 'rgba.png');
    expect([img.width, img.height]).toEqual([2, 2]);
    expect(Array.from(img.data)).toEqual(raw);
  });

  test('palette (3) with transparency -> RGBA', () => {
    const bytes = handPng(3, 1, 8, 3, [[0, 1, 2]], [
      ['PLTE', [255, 0, 0, 0, 255, 0, 0, 0, 255]],
      ['tRNS', [255, 128]],
    ]);
    const img = decodeImage(bytes, 'pal.png');
    expect(Array.from(img.data)).toEqual([255, 0, 0, 255, 0, 255, 0, 128, 0, 0, 255, 255]);
  });

  test('16-bit grey -> 8-bit RGBA', () => {
    const bytes = handPng(2, 1, 16, 0, [[0xff, 0xff, 0x00, 0x00]]);
    const img = decodeImage(bytes, 'g16.png');
    expect(Array.from(img.data)).toEqual([255, 255, 255, 255, 0, 0, 0, 255]);
  });

  test('1-bit grey -> RGBA', () => {
    const bytes = handPng(3, 1, 1, 0, [[0b10100000]]);
    const img = decodeImage(bytes, 'g1.png');
    expect(Array.from(img.data)).toEqual([255, 255, 255, 255, 0, 0, 0, 255, 255, 255, 255, 255]);
  });
});

describe('broken files -> ImageDecodeError naming the file', () => {
  const png = realFile('captcha-v2', '226md.png');
  const jpg = realFile('swust-20190121', '12dd_c297941ec29cfb9dad9a61857087e6d9.jpg');

  const expectDecodeError = (bytes: Uint8Array, name: string, reason: RegExp): void => {
    let err: unknown;
    try {
      decodeImage(bytes, name);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ImageDecodeError);
    expect((err as ImageDecodeError).file).toBe(name);
    expect((err as Error).message).toContain(`'${name}'`);
    expect((err as Error).message).toMatch(reason);
  };

  test('truncated PNG', () => {
    for (const n of [png.length - 12, Math.floor(png.length / 2), 40, 8]) {
      expectDecodeError(png.subarray(0, n), 'cut.png', /PNG data ends early|corrupt PNG/);
    }
  });

  test('PNG with a damaged data chunk', () => {
    const bad = Uint8Array.from(png);
    for (let i = 200; i < 260; i++) bad[i] = (bad[i]! * 7 + 13) & 255;
    expectDecodeError(bad, 'damaged.png', /corrupt PNG|ends early/);
  });

  test('truncated JPEG', () => {
    for (const n of [jpg.length - 2, jpg.length - 100, Math.floor(jpg.length / 2), 100, 4]) {
      expectDecodeError(jpg.subarray(0, n), 'cut.jpg', /JPEG data ends early/);
    }
  });

  test('JPEG with garbage inside', () => {
    const bad = Uint8Array.from(jpg);
    bad.fill(7, 300, 600);
    expectDecodeError(bad, 'garbled.jpg', /corrupt JPEG/);
  });

  test('garbage and empty bytes', () => {
    expectDecodeError(new TextEncoder().encode('hello, not an image'), 'junk.png', /expected a PNG or JPEG file, found other data \(first bytes: 68 65 6c/);
    expectDecodeError(new Uint8Array(0), 'empty.png', /empty/);
  });

  test('a JPEG encoded by jpeg-js round-trips', () => {
    const w = 8;
    const h = 8;
    const data = Buffer.alloc(w * h * 4, 255);
    const enc = jpeg.encode({ width: w, height: h, data }, 90);
    const img = decodeImage(new Uint8Array(enc.data), 'white.jpg');
    expect([img.width, img.height]).toEqual([8, 8]);
    for (const v of img.data) expect(v).toBeGreaterThan(250);
  });
});
