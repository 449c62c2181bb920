// Line charts of training curves, drawn pixel by pixel and written as PNG.

import { GLYPH_HEIGHT, LINE_HEIGHT, textWidth } from './font.js';
import { BLACK, Raster, type Rgb } from './raster.js';

/** Colours given to the series in order (cycled when there are more series). */
export const SERIES_COLORS: readonly Rgb[] = [
  [31, 119, 180], // blue
  [255, 127, 14], // orange
  [44, 160, 44], // green
  [214, 39, 40], // red
  [148, 103, 189], // purple
  [140, 86, 75], // brown
  [227, 119, 194], // pink
  [23, 190, 207], // cyan
  [188, 189, 34], // olive
  [127, 127, 127], // grey
];

const GRID: Rgb = [228, 228, 228];
const AXIS_TEXT: Rgb = [40, 40, 40];

export interface CurveSeries {
  name: string;
  /** (x, y) points, drawn in the given order; points with a non-finite x or y are skipped and break the line. */
  values: Array<[number, number]>;
  axis: 'left' | 'right';
}

export interface CurveOptions {
  title?: string;
  /** Image width in pixels (default 800, at least 240). */
  width?: number;
  /** Image height in pixels (default 480, at least 160). */
  height?: number;
  xLabel?: string;
}

export interface Ticks {
  lo: number;
  hi: number;
  step: number;
  values: number[];
}

/**
 * "Nice" axis ticks (steps of 1, 2 or 5 times a power of ten) covering [min, max] with about
 * `target` intervals. With `integer`, steps are at least 1 (epochs). A degenerate range is widened.
 */
export function niceTicks(min: number, max: number, target = 6, integer = false): Ticks {
  if (!Number.isFinite(min) || !Number.isFinite(max)) {
    min = 0;
    max = 1;
  }
  if (max < min) [min, max] = [max, min];
  if (max === min) {
    const pad = integer ? 1 : Math.abs(min) > 0 ? Math.abs(min) * 0.1 : 1;
    min -= pad;
    max += pad;
  }
  const raw = (max - min) / Math.max(1, target);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  let step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  if (integer) step = Math.max(1, Math.round(step));
  const lo = Math.floor(min / step + 1e-9) * step;
  const hi = Math.ceil(max / step - 1e-9) * step;
  const values: number[] = [];
  const n = Math.round((hi - lo) / step);
  for (let i = 0; i <= n; i++) values.push(clean(lo + i * step, step));
  return { lo: clean(lo, step), hi: clean(hi, step), step, values };
}

/** Rounds away the floating-point noise of lo + i * step. */
function clean(v: number, step: number): number {
  const decimals = Math.max(0, Math.min(15, Math.ceil(-Math.log10(step)) + 1));
  const r = Number(v.toFixed(decimals));
  return r === 0 ? 0 : r; // no -0
}

/** Formats a tick value with as many decimals as the tick step needs. */
export function formatTick(v: number, step: number): string {
  if (v === 0) return '0';
  const big = Math.abs(v) >= 1e6;
  const tiny = step < 1e-5;
  if (big || tiny) return v.toExponential(Math.max(0, Math.min(3, Math.ceil(-Math.log10(step / Math.abs(v))))));
  const decimals = step >= 1 ? 0 : Math.min(8, Math.ceil(-Math.log10(step) - 1e-9));
  return v.toFixed(decimals);
}

function axisTicks(series: CurveSeries[], axis: 'left' | 'right'): Ticks | undefined {
  const ys: number[] = [];
  for (const s of series) {
    if (s.axis !== axis) continue;
    for (const [x, y] of s.values) if (Number.isFinite(x) && Number.isFinite(y)) ys.push(y);
  }
  if (!series.some((s) => s.axis === axis)) return undefined;
  if (ys.length === 0) return niceTicks(0, 1, 5);
  let min = Infinity;
  let max = -Infinity;
  for (const y of ys) {
    if (y < min) min = y;
    if (y > max) max = y;
  }
  // Rates (CER, accuracy) get the whole 0..1 range so that curves are comparable across runs.
  if (min >= 0 && max <= 1 && max - min > 0.05) return niceTicks(0, 1, 5);
  return niceTicks(min, max, 6);
}

interface Px {
  x: number;
  y: number;
}

/**
 * Draws `series` as a PNG line chart at `path` (atomically): a frame with x ticks below, ticks
 * for the left-axis series on the left and for the right-axis series on the right (each axis
 * scaled on its own; an axis whose values all lie in 0..1 and vary by more than 0.05 spans exactly
 * 0..1, so rate curves compare across runs), light grid lines,
 * a legend with each series' name in its colour (marked (L)/(R) when both axes are used) and an
 * optional title and x label. Each series gets the next colour of SERIES_COLORS. Non-finite
 * points are skipped, a single point is shown as a marker, flat series get a widened range.
 */
export function renderCurves(path: string, series: CurveSeries[], o: CurveOptions = {}): void {
  curvesRaster(series, o).save(path);
}

/** renderCurves without the file: the drawn raster. */
export function curvesRaster(series: CurveSeries[], o: CurveOptions = {}): Raster {
  const width = Math.max(240, Math.round(o.width ?? 800));
  const height = Math.max(160, Math.round(o.height ?? 480));
  const img = new Raster(width, height);

  const finite = (p: [number, number]): boolean => Number.isFinite(p[0]) && Number.isFinite(p[1]);
  const xs: number[] = [];
  for (const s of series) for (const p of s.values) if (finite(p)) xs.push(p[0]);
  let xmin = Infinity;
  let xmax = -Infinity;
  for (const x of xs) {
    if (x < xmin) xmin = x;
    if (x > xmax) xmax = x;
  }
  if (xs.length === 0) {
    xmin = 0;
    xmax = 1;
  }
  const xTicks = niceTicks(xmin, xmax, Math.max(2, Math.min(10, Math.floor(width / 90))), xs.length > 0 && xs.every(Number.isInteger));
  const left = axisTicks(series, 'left');
  const right = axisTicks(series, 'right');
  const both = left !== undefined && right !== undefined;

  const labels = (t: Ticks | undefined): string[] => (t ? t.values.map((v) => formatTick(v, t.step)) : []);
  const leftLabels = labels(left);
  const rightLabels = labels(right);
  const maxW = (ls: string[]): number => ls.reduce((m, l) => Math.max(m, textWidth(l)), 0);

  // Legend entries, wrapped into rows across the width.
  const entries = series.map((s, i) => ({
    label: both ? `${s.name} (${s.axis === 'left' ? 'L' : 'R'})` : s.name,
    color: SERIES_COLORS[i % SERIES_COLORS.length] ?? BLACK,
  }));
  const legendRows: Array<Array<{ label: string; color: Rgb; w: number }>> = [];
  {
    let row: Array<{ label: string; color: Rgb; w: number }> = [];
    let used = 0;
    for (const e of entries) {
      const w = 10 + 4 + textWidth(e.label) + 14;
      if (row.length > 0 && used + w > width - 20) {
        legendRows.push(row);
        row = [];
        used = 0;
      }
      row.push({ ...e, w });
      used += w;
    }
    if (row.length > 0) legendRows.push(row);
  }

  const titleH = o.title ? 2 * LINE_HEIGHT + 4 : 0;
  const top = 8 + titleH + legendRows.length * 14 + 6;
  const padL = 10 + maxW(leftLabels) + 6;
  const lastX = formatTick(xTicks.hi, xTicks.step);
  const padR = right ? 10 + maxW(rightLabels) + 6 : Math.max(16, Math.ceil(textWidth(lastX) / 2) + 6);
  const bottom = 6 + LINE_HEIGHT + (o.xLabel ? LINE_HEIGHT + 4 : 0) + 8;
  const x0 = padL;
  const x1 = width - padR; // inclusive right edge of the plot frame
  const y0 = top;
  const y1 = height - bottom; // inclusive bottom edge
  if (x1 - x0 < 20 || y1 - y0 < 20) throw new Error(`renderCurves: ${width}x${height} is too small for this chart`);

  const X = (x: number): number => x0 + ((x - xTicks.lo) / (xTicks.hi - xTicks.lo)) * (x1 - x0);
  const Y = (t: Ticks, y: number): number => y1 - ((y - t.lo) / (t.hi - t.lo)) * (y1 - y0);

  // Title and legend.
  let ty = 8;
  if (o.title) {
    img.text((width - textWidth(o.title, 2)) / 2, ty, o.title, BLACK, 2);
    ty += titleH;
  }
  for (const row of legendRows) {
    const total = row.reduce((s, e) => s + e.w, 0) - 14;
    let lx = Math.max(10, Math.round((width - total) / 2));
    for (const e of row) {
      img.fillRect(lx, ty, 10, 8, e.color);
      img.text(lx + 14, ty, e.label, e.color);
      lx += e.w;
    }
    ty += 14;
  }

  // Grid, frame, ticks.
  const gridAxis = left ?? right;
  if (gridAxis) for (const v of gridAxis.values) img.fillRect(x0 + 1, Math.round(Y(gridAxis, v)), x1 - x0 - 1, 1, GRID);
  for (const v of xTicks.values) img.fillRect(Math.round(X(v)), y0 + 1, 1, y1 - y0 - 1, GRID);
  img.strokeRect(x0, y0, x1 - x0 + 1, y1 - y0 + 1, BLACK);
  xTicks.values.forEach((v) => {
    const px = Math.round(X(v));
    img.fillRect(px, y1 + 1, 1, 4, BLACK);
    const l = formatTick(v, xTicks.step);
    img.text(px - Math.floor(textWidth(l) / 2), y1 + 7, l, AXIS_TEXT);
  });
  if (left) {
    left.values.forEach((v, i) => {
      const py = Math.round(Y(left, v));
      img.fillRect(x0 - 4, py, 4, 1, BLACK);
      const l = leftLabels[i] ?? '';
      img.text(x0 - 6 - textWidth(l), py - 3, l, AXIS_TEXT);
    });
  }
  if (right) {
    right.values.forEach((v, i) => {
      const py = Math.round(Y(right, v));
      img.fillRect(x1 + 1, py, 4, 1, BLACK);
      img.text(x1 + 7, py - 3, rightLabels[i] ?? '', AXIS_TEXT);
    });
  }
  if (o.xLabel) img.text((x0 + x1 - textWidth(o.xLabel)) / 2, y1 + 7 + LINE_HEIGHT + 4, o.xLabel, BLACK);

  // Series.
  let anyPoint = false;
  series.forEach((s, i) => {
    const t = s.axis === 'left' ? left : right;
    if (!t) return;
    const color = entries[i]?.color ?? BLACK;
    const segments: Px[][] = [];
    let seg: Px[] = [];
    for (const p of s.values) {
      if (!finite(p)) {
        if (seg.length > 0) segments.push(seg);
        seg = [];
        continue;
      }
      seg.push({ x: X(p[0]), y: Y(t, p[1]) });
    }
    if (seg.length > 0) segments.push(seg);
    const points = segments.reduce((n, sg) => n + sg.length, 0);
    if (points > 0) anyPoint = true;
    for (const sg of segments) {
      for (let k = 1; k < sg.length; k++) {
        const a = sg[k - 1];
        const b = sg[k];
        if (a && b) img.line(a.x, a.y, b.x, b.y, color, 2);
      }
      // Markers when points are sparse enough to see, and always for isolated points.
      if (sg.length === 1 || points <= 60) {
        for (const q of sg) img.fillRect(Math.round(q.x) - 2, Math.round(q.y) - 2, 5, 5, color);
      }
    }
  });
  if (!anyPoint) {
    const msg = 'no data';
    img.text((x0 + x1 - textWidth(msg)) / 2, (y0 + y1 - GLYPH_HEIGHT) / 2, msg, AXIS_TEXT);
  }
  return img;
}
