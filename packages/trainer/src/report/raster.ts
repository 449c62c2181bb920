// A tiny RGBA raster with the few drawing primitives the report charts need, PNG output through
// pngjs, and atomic file writes.

import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import pngjs from 'pngjs';
import { GLYPH_ADVANCE, GLYPH_HEIGHT, GLYPH_WIDTH, glyph } from './font.js';

const { PNG } = pngjs;

export type Rgb = readonly [number, number, number];

export const BLACK: Rgb = [0, 0, 0];
export const WHITE: Rgb = [255, 255, 255];

/**
 * Writes `data` to `path` atomically: first to `${path}.tmp-${pid}` in the same directory, then
 * renamed over `path`, so a reader (or a crash) never sees a half-written file. Creates the
 * parent directory when needed.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** An RGBA8 image, row-major, opaque. Drawing outside the bounds is clipped silently. */
export class Raster {
  readonly data: Uint8Array;

  constructor(
    readonly width: number,
    readonly height: number,
    background: Rgb = WHITE,
  ) {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
      throw new Error(`Raster: bad size ${width}x${height}`);
    }
    this.data = new Uint8Array(width * height * 4);
    this.fillRect(0, 0, width, height, background);
  }

  setPixel(x: number, y: number, c: Rgb): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const i = (y * this.width + x) * 4;
    this.data[i] = c[0];
    this.data[i + 1] = c[1];
    this.data[i + 2] = c[2];
    this.data[i + 3] = 255;
  }

  setGrey(x: number, y: number, v: number): void {
    this.setPixel(x, y, [v, v, v]);
  }

  getPixel(x: number, y: number): [number, number, number] {
    const i = (y * this.width + x) * 4;
    return [this.data[i] ?? 0, this.data[i + 1] ?? 0, this.data[i + 2] ?? 0];
  }

  /** Fills the rectangle [x, x + w) x [y, y + h). */
  fillRect(x: number, y: number, w: number, h: number, c: Rgb): void {
    const x0 = Math.max(0, Math.round(x));
    const y0 = Math.max(0, Math.round(y));
    const x1 = Math.min(this.width, Math.round(x + w));
    const y1 = Math.min(this.height, Math.round(y + h));
    for (let yy = y0; yy < y1; yy++) {
      for (let xx = x0; xx < x1; xx++) {
        const i = (yy * this.width + xx) * 4;
        this.data[i] = c[0];
        this.data[i + 1] = c[1];
        this.data[i + 2] = c[2];
        this.data[i + 3] = 255;
      }
    }
  }

  /** One-pixel outline of the rectangle [x, x + w) x [y, y + h). */
  strokeRect(x: number, y: number, w: number, h: number, c: Rgb): void {
    this.fillRect(x, y, w, 1, c);
    this.fillRect(x, y + h - 1, w, 1, c);
    this.fillRect(x, y, 1, h, c);
    this.fillRect(x + w - 1, y, 1, h, c);
  }

  /** A line from (x0, y0) to (x1, y1) (Bresenham), drawn with a square brush of `thickness`. */
  line(x0: number, y0: number, x1: number, y1: number, c: Rgb, thickness = 1): void {
    let xa = Math.round(x0);
    let ya = Math.round(y0);
    const xb = Math.round(x1);
    const yb = Math.round(y1);
    // Guard against absurd coordinates (e.g. from huge values): clip the walk length.
    if (Math.abs(xb - xa) + Math.abs(yb - ya) > 4 * (this.width + this.height)) return;
    const dx = Math.abs(xb - xa);
    const dy = -Math.abs(yb - ya);
    const sx = xa < xb ? 1 : -1;
    const sy = ya < yb ? 1 : -1;
    let err = dx + dy;
    const off = Math.floor((thickness - 1) / 2);
    for (;;) {
      if (thickness <= 1) this.setPixel(xa, ya, c);
      else this.fillRect(xa - off, ya - off, thickness, thickness, c);
      if (xa === xb && ya === yb) break;
      const e2 = 2 * err;
      if (e2 >= dy) {
        err += dy;
        xa += sx;
      }
      if (e2 <= dx) {
        err += dx;
        ya += sy;
      }
    }
  }

  /**
   * Draws `text` with the embedded bitmap font, its top-left corner at (x, y); `scale` multiplies
   * each font pixel. Characters outside printable ASCII render as '?'. Returns the x just after
   * the last glyph cell.
   */
  text(x: number, y: number, text: string, c: Rgb, scale = 1): number {
    x = Math.round(x);
    y = Math.round(y);
    for (const ch of text) {
      const bits = glyph(ch.codePointAt(0) ?? 63);
      for (let r = 0; r < GLYPH_HEIGHT; r++) {
        for (let col = 0; col < GLYPH_WIDTH; col++) {
          if (bits[r * GLYPH_WIDTH + col]) this.fillRect(x + col * scale, y + r * scale, scale, scale, c);
        }
      }
      x += GLYPH_ADVANCE * scale;
    }
    return x;
  }

  /** Encodes the raster as PNG (8-bit RGBA). */
  toPng(): Buffer {
    const png = new PNG({ width: this.width, height: this.height });
    png.data.set(this.data);
    return PNG.sync.write(png);
  }

  /** Writes the raster to `path` as PNG, atomically. */
  save(path: string): void {
    writeFileAtomic(path, this.toPng());
  }
}
