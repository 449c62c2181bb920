// A PNG grid of (mis)recognized images with the prediction and the truth written under each.

import { GLYPH_ADVANCE, LINE_HEIGHT, textWidth } from './font.js';
import { BLACK, Raster, type Rgb } from './raster.js';

export interface GridItem {
  /** height x width values, row-major, one channel, any range (normalized floats). */
  image: Float32Array;
  height: number;
  width: number;
  pred: string;
  truth: string;
}

export interface GridOptions {
  /** Images per row (default 6, fewer when there are fewer images). */
  columns?: number;
  /** At most this many images are drawn, the first ones (default 64). */
  max?: number;
  title?: string;
}

export interface GridLayout {
  /** Number of images drawn. */
  shown: number;
  columns: number;
  rows: number;
  /** Integer upscaling of the images (so that the tallest is about 64 pixels). */
  scale: number;
  cellWidth: number;
  cellHeight: number;
  /** Height of the image part of a cell (the tallest image times scale). */
  imageHeight: number;
  /** Padding around and between cells. */
  pad: number;
  /** Height of the title band (0 without a title). */
  titleHeight: number;
  width: number;
  height: number;
}

export const PRED_COLOR: Rgb = [205, 20, 20];
export const TRUTH_COLOR: Rgb = BLACK;
const SEP_COLOR: Rgb = [120, 120, 120];
const FRAME_COLOR: Rgb = [200, 200, 200];
const PAD = 8;
const MIN_CELL_WIDTH = 16 * GLYPH_ADVANCE - 1;

/**
 * The geometry renderErrorGrid uses: cells of cellWidth x cellHeight in a columns x rows grid,
 * PAD pixels around and between them, below an optional title band:
 *   width  = pad + columns * (cellWidth + pad)
 *   height = pad + titleHeight + rows * (cellHeight + pad)
 * cellWidth = max(widest image * scale, 95); cellHeight = tallest image * scale + 4 + 2 text lines.
 */
export function errorGridLayout(items: readonly GridItem[], o: GridOptions = {}): GridLayout {
  const shown = Math.max(0, Math.min(items.length, Math.floor(o.max ?? 64)));
  const columns = Math.max(1, Math.min(Math.floor(o.columns ?? 6), Math.max(1, shown)));
  const rows = Math.ceil(shown / columns);
  let maxW = 1;
  let maxH = 1;
  for (let i = 0; i < shown; i++) {
    const it = items[i];
    if (!it) continue;
    maxW = Math.max(maxW, it.width);
    maxH = Math.max(maxH, it.height);
  }
  const scale = Math.max(1, Math.min(8, Math.floor(64 / maxH)));
  const imageHeight = maxH * scale;
  const cellWidth = Math.max(maxW * scale, MIN_CELL_WIDTH);
  const cellHeight = imageHeight + 4 + 2 * LINE_HEIGHT;
  const titleHeight = o.title ? 2 * LINE_HEIGHT + 4 : 0;
  return {
    shown,
    columns,
    rows,
    scale,
    cellWidth,
    cellHeight,
    imageHeight,
    pad: PAD,
    titleHeight,
    width: PAD + columns * (cellWidth + PAD),
    height: PAD + titleHeight + rows * (cellHeight + PAD),
  };
}

/** Cuts `s` to at most `chars` code points, marking a cut with a trailing '~'. */
function fit(s: string, chars: number): string {
  const cps = [...s];
  if (cps.length <= chars) return s;
  return cps.slice(0, Math.max(0, chars - 1)).join('') + '~';
}

/**
 * Draws a grid of images with their prediction (red) and truth (black) under each, as
 * `pred / truth` on one line when it fits, else the prediction on the first line and the truth on
 * the second (cut with '~' when too long). Each image is min-max scaled to 0..255 grey on its own
 * (a constant image is mid-grey; non-finite values count as the minimum) and upscaled by an
 * integer factor. Only the first `max` items are drawn. An empty list gives a small image saying
 * "no errors". Written atomically as PNG at `path`.
 */
export function renderErrorGrid(path: string, items: GridItem[], o: GridOptions = {}): void {
  errorGridRaster(items, o).save(path);
}

/** renderErrorGrid without the file: the drawn raster. */
export function errorGridRaster(items: GridItem[], o: GridOptions = {}): Raster {
  const L = errorGridLayout(items, o);
  if (L.shown === 0) {
    const msg = 'no errors';
    const w = Math.max(160, o.title ? textWidth(o.title, 2) + 2 * PAD : 0);
    const img = new Raster(w, PAD + L.titleHeight + LINE_HEIGHT + 2 * PAD);
    if (o.title) img.text(PAD, PAD, o.title, BLACK, 2);
    img.text((w - textWidth(msg)) / 2, PAD + L.titleHeight + PAD, msg, BLACK);
    return img;
  }
  const img = new Raster(L.width, L.height);
  if (o.title) img.text(PAD, PAD, fit(o.title, Math.floor((L.width - 2 * PAD + 2) / (2 * GLYPH_ADVANCE))), BLACK, 2);
  const chars = Math.floor((L.cellWidth + 1) / GLYPH_ADVANCE);

  for (let i = 0; i < L.shown; i++) {
    const it = items[i];
    if (!it) continue;
    const { height: h, width: w, image } = it;
    if (image.length !== h * w) {
      throw new Error(`renderErrorGrid: item ${i} has ${image.length} values for ${h}x${w}`);
    }
    const cx = PAD + (i % L.columns) * (L.cellWidth + PAD);
    const cy = PAD + L.titleHeight + Math.floor(i / L.columns) * (L.cellHeight + PAD);

    // Image, min-max scaled, centred horizontally in the cell.
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of image) {
      if (!Number.isFinite(v)) continue;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const range = hi - lo;
    const s = L.scale;
    const ix = cx + Math.floor((L.cellWidth - w * s) / 2);
    img.strokeRect(ix - 1, cy - 1, w * s + 2, h * s + 2, FRAME_COLOR);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const v = image[y * w + x] ?? NaN;
        const g = !(range > 0) ? 128 : Number.isFinite(v) ? Math.round(((v - lo) / range) * 255) : 0;
        img.fillRect(ix + x * s, cy + y * s, s, s, [g, g, g]);
      }
    }

    // Labels.
    const ty = cy + L.imageHeight + 4;
    const one = `${it.pred} / ${it.truth}`;
    if ([...one].length <= chars) {
      let x = img.text(cx, ty, it.pred, PRED_COLOR);
      x = img.text(x, ty, ' / ', SEP_COLOR);
      img.text(x, ty, it.truth, TRUTH_COLOR);
    } else {
      img.text(cx, ty, fit(it.pred, chars), PRED_COLOR);
      img.text(cx, ty + LINE_HEIGHT, fit(it.truth, chars), TRUTH_COLOR);
    }
  }
  return img;
}
