import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pngjs from 'pngjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  errorGridLayout,
  glyph,
  niceTicks,
  PRED_COLOR,
  Raster,
  renderCurves,
  renderErrorGrid,
  SERIES_COLORS,
  type GridItem,
  type Rgb,
} from './index.js';

const { PNG } = pngjs;

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'report-render-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

interface Img {
  width: number;
  height: number;
  data: Uint8Array;
}

function readPng(p: string): Img {
  const png = PNG.sync.read(readFileSync(p));
  return { width: png.width, height: png.height, data: png.data };
}

/** Pixels of colour c inside [x0, x1) x [y0, y1). */
function count(img: Img, c: Rgb, x0 = 0, y0 = 0, x1 = img.width, y1 = img.height): number {
  let n = 0;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const i = (y * img.width + x) * 4;
      if (img.data[i] === c[0] && img.data[i + 1] === c[1] && img.data[i + 2] === c[2]) n++;
    }
  }
  return n;
}

function nonWhite(img: Img, x0: number, y0: number, x1: number, y1: number): number {
  let n = 0;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const i = (y * img.width + x) * 4;
      if (img.data[i] !== 255 || img.data[i + 1] !== 255 || img.data[i + 2] !== 255) n++;
    }
  }
  return n;
}

describe('bitmap font', () => {
  it('has distinct glyphs for A and B, and for all printable ASCII but space', () => {
    const a = glyph('A'.charCodeAt(0));
    const b = glyph('B'.charCodeAt(0));
    expect(a.some((v) => v === 1)).toBe(true);
    expect(Array.from(a)).not.toEqual(Array.from(b));
    const seen = new Set<string>();
    for (let c = 33; c <= 126; c++) {
      const g = Array.from(glyph(c)).join('');
      expect(g.includes('1'), String.fromCharCode(c)).toBe(true);
      expect(seen.has(g), String.fromCharCode(c)).toBe(false);
      seen.add(g);
    }
    expect(glyph(32).every((v) => v === 0)).toBe(true);
  });

  it('renders characters outside the font as ?', () => {
    expect(Array.from(glyph('é'.codePointAt(0)!))).toEqual(Array.from(glyph(63)));
    expect(Array.from(glyph('😀'.codePointAt(0)!))).toEqual(Array.from(glyph(63)));
    const r1 = new Raster(40, 12);
    const r2 = new Raster(40, 12);
    r1.text(1, 1, 'x日y', [0, 0, 0]);
    r2.text(1, 1, 'x?y', [0, 0, 0]);
    expect(Array.from(r1.data)).toEqual(Array.from(r2.data));
  });

  it('draws different pixels for A and B, at scale 1 and 2', () => {
    for (const scale of [1, 2]) {
      const ra = new Raster(20, 20);
      const rb = new Raster(20, 20);
      ra.text(2, 2, 'A', [0, 0, 0], scale);
      rb.text(2, 2, 'B', [0, 0, 0], scale);
      expect(Array.from(ra.data)).not.toEqual(Array.from(rb.data));
    }
  });
});

describe('niceTicks', () => {
  it('covers the range with round steps', () => {
    const t = niceTicks(0.13, 2.71, 6);
    expect(t.step).toBe(0.5);
    expect(t.lo).toBe(0);
    expect(t.hi).toBe(3);
    expect(t.values).toEqual([0, 0.5, 1, 1.5, 2, 2.5, 3]);
    expect(niceTicks(1, 3, 8, true).step).toBe(1);
    const flat = niceTicks(2, 2);
    expect(flat.lo).toBeLessThan(2);
    expect(flat.hi).toBeGreaterThan(2);
  });
});

describe('renderCurves', () => {
  it('writes a PNG of the requested size where every series colour appears', () => {
    const p = join(dir, 'curves.png');
    const epochs = [1, 2, 3, 4, 5, 6, 7, 8];
    renderCurves(
      p,
      [
        { name: 'train loss', axis: 'left', values: epochs.map((e) => [e, 5 / e]) },
        { name: 'val loss', axis: 'left', values: epochs.map((e) => [e, 6 / e + 0.2]) },
        { name: 'val CER', axis: 'right', values: epochs.map((e) => [e, 0.9 / e]) },
        { name: 'val acc', axis: 'right', values: epochs.map((e) => [e, 1 - 0.9 / e]) },
      ],
      { title: 'CRNN on synth', width: 640, height: 400, xLabel: 'epoch' },
    );
    const img = readPng(p);
    expect([img.width, img.height]).toEqual([640, 400]);
    for (let i = 0; i < 4; i++) expect(count(img, SERIES_COLORS[i]!), `series ${i}`).toBeGreaterThan(100);
    expect(count(img, [0, 0, 0])).toBeGreaterThan(500); // frame, ticks, title
    expect(readdirSync(dir)).toEqual(['curves.png']); // no temp file left
  });

  it('skips NaN and Infinity, draws single points and flat series', () => {
    const p = join(dir, 'odd.png');
    renderCurves(p, [
      { name: 'nan', axis: 'left', values: [[1, NaN], [2, 3], [3, Infinity], [4, 2], [NaN, 1], [5, -Infinity]] },
      { name: 'single', axis: 'left', values: [[3, 2.5]] },
      { name: 'flat', axis: 'right', values: [[1, 0.5], [2, 0.5], [3, 0.5]] },
      { name: 'empty', axis: 'right', values: [] },
    ]);
    const img = readPng(p);
    expect([img.width, img.height]).toEqual([800, 480]);
    expect(count(img, SERIES_COLORS[0]!)).toBeGreaterThan(20);
    expect(count(img, SERIES_COLORS[1]!)).toBeGreaterThan(20); // the marker and the legend
    expect(count(img, SERIES_COLORS[2]!)).toBeGreaterThan(100);
  });

  it('handles a chart with a single point in all', () => {
    const p = join(dir, 'one.png');
    renderCurves(p, [{ name: 'loss', axis: 'left', values: [[1, 0.7]] }], { width: 300, height: 200 });
    const img = readPng(p);
    expect([img.width, img.height]).toEqual([300, 200]);
    // Legend swatch (10x8) plus a 5x5 marker.
    expect(count(img, SERIES_COLORS[0]!)).toBeGreaterThanOrEqual(80 + 25);
  });

  it('handles no finite data at all', () => {
    const p = join(dir, 'none.png');
    renderCurves(p, [{ name: 'loss', axis: 'left', values: [[1, NaN]] }]);
    expect(readPng(p).width).toBe(800);
    renderCurves(p, []);
    expect(readPng(p).height).toBe(480);
  });
});

function gradient(h: number, w: number, offset = 0): Float32Array {
  const a = new Float32Array(h * w);
  for (let i = 0; i < a.length; i++) a[i] = offset + (i % w) / w - 0.5;
  return a;
}

describe('renderErrorGrid', () => {
  const items = (n: number, h = 32, w = 100): GridItem[] =>
    Array.from({ length: n }, (_, i) => ({ image: gradient(h, w, i), height: h, width: w, pred: `pr${i}`, truth: `tr${i}` }));

  it('sizes the PNG by columns and rows', () => {
    const p = join(dir, 'grid.png');
    const list = items(7);
    renderErrorGrid(p, list, { columns: 3 });
    const L3 = errorGridLayout(list, { columns: 3 });
    expect([L3.columns, L3.rows]).toEqual([3, 3]);
    let img = readPng(p);
    expect([img.width, img.height]).toEqual([L3.width, L3.height]);
    expect(L3.width).toBe(L3.pad + 3 * (L3.cellWidth + L3.pad));
    expect(L3.height).toBe(L3.pad + 3 * (L3.cellHeight + L3.pad));

    renderErrorGrid(p, list, { columns: 2, title: 'errors' });
    const L2 = errorGridLayout(list, { columns: 2, title: 'errors' });
    expect([L2.columns, L2.rows]).toEqual([2, 4]);
    img = readPng(p);
    expect([img.width, img.height]).toEqual([L2.width, L2.height]);
    expect(L2.cellWidth).toBe(L3.cellWidth);
    expect(img.width).toBeLessThan(L3.width);
    expect(img.height).toBeGreaterThan(L3.height);

    // max limits the images drawn; columns never exceed the images.
    expect(errorGridLayout(list, { columns: 4, max: 5 })).toMatchObject({ shown: 5, columns: 4, rows: 2 });
    expect(errorGridLayout(items(2), { columns: 6 })).toMatchObject({ columns: 2, rows: 1 });
  });

  it('draws min-max scaled images with the prediction and truth written under each', () => {
    const p = join(dir, 'grid.png');
    const list = items(4, 28, 28);
    renderErrorGrid(p, list, { columns: 2 });
    const L = errorGridLayout(list, { columns: 2 });
    expect(L.scale).toBe(2); // 28 px images are doubled
    const img = readPng(p);
    for (let i = 0; i < 4; i++) {
      const cx = L.pad + (i % 2) * (L.cellWidth + L.pad);
      const cy = L.pad + Math.floor(i / 2) * (L.cellHeight + L.pad);
      const ix = cx + Math.floor((L.cellWidth - 28 * L.scale) / 2);
      // Each image spans the whole grey range whatever its offset.
      expect(count(img, [0, 0, 0], ix, cy, ix + 2, cy + 56)).toBe(2 * 56);
      const last = ix + 27 * 2;
      expect(count(img, [255, 255, 255], last, cy, last + 2, cy + 56)).toBe(2 * 56); // the maximum
      expect(count(img, [Math.round(255 / 27), Math.round(255 / 27), Math.round(255 / 27)], ix + 2, cy, ix + 4, cy + 56)).toBe(2 * 56);
      // Text band under the image: red prediction and black truth pixels.
      const ty = cy + L.imageHeight + 4;
      expect(count(img, PRED_COLOR, cx, ty, cx + L.cellWidth, ty + 20), `pred ${i}`).toBeGreaterThan(10);
      expect(count(img, [0, 0, 0], cx, ty, cx + L.cellWidth, ty + 20), `truth ${i}`).toBeGreaterThan(10);
    }
  });

  it('puts long labels on two lines, and survives odd images', () => {
    const p = join(dir, 'grid.png');
    const long = 'a-very-long-prediction-that-does-not-fit';
    renderErrorGrid(p, [
      { image: new Float32Array(20 * 30).fill(0.3), height: 20, width: 30, pred: long, truth: '日本語 truth' },
      { image: Float32Array.from({ length: 600 }, (_, i) => (i % 7 === 0 ? NaN : i)), height: 20, width: 30, pred: '', truth: 'x' },
    ]);
    const L = errorGridLayout([{ image: new Float32Array(600), height: 20, width: 30, pred: '', truth: '' }]);
    const img = readPng(p);
    const ty = L.pad + L.imageHeight + 4;
    expect(count(img, PRED_COLOR, 0, ty, img.width, ty + 10)).toBeGreaterThan(10);
    expect(count(img, [0, 0, 0], L.pad, ty + 10, L.pad + L.cellWidth, ty + 20)).toBeGreaterThan(10); // second line
    expect(() => renderErrorGrid(p, [{ image: new Float32Array(5), height: 2, width: 3, pred: '', truth: '' }])).toThrow(/values/);
  });

  it('writes a small "no errors" image for an empty list', () => {
    const p = join(dir, 'empty.png');
    renderErrorGrid(p, []);
    const img = readPng(p);
    expect(img.width).toBeLessThanOrEqual(200);
    expect(img.height).toBeLessThanOrEqual(60);
    expect(nonWhite(img, 0, 0, img.width, img.height)).toBeGreaterThan(30);
  });
});
