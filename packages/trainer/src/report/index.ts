// Metrics, reports and progress output for the trainer (pure CPU).

export { editDistance, charLength, TextMetrics, type TextMetricsSummary } from './metrics.js';
export { MetricsCsv, formatCsvValue, parseCsvLine } from './csv.js';
export {
  renderCurves,
  curvesRaster,
  niceTicks,
  formatTick,
  SERIES_COLORS,
  type CurveSeries,
  type CurveOptions,
  type Ticks,
} from './chart.js';
export {
  renderErrorGrid,
  errorGridRaster,
  errorGridLayout,
  PRED_COLOR,
  TRUTH_COLOR,
  type GridItem,
  type GridOptions,
  type GridLayout,
} from './grid.js';
export {
  Progress,
  formatDuration,
  formatStat,
  type ProgressOptions,
  type ProgressStream,
  type Stats,
} from './progress.js';
export { Raster, writeFileAtomic, BLACK, WHITE, type Rgb } from './raster.js';
export { glyph, textWidth, GLYPH_WIDTH, GLYPH_HEIGHT, GLYPH_ADVANCE, LINE_HEIGHT } from './font.js';
