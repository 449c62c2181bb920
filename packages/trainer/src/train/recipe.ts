/**
 * The default recipe: what `crnn-cli train --data DIR` does with no other flag. It looks at
 * the data (image size, label lengths, charset size) and picks the input size, model and
 * schedule, so that a CAPTCHA-like folder trains on a CPU adapter in minutes.
 *
 * - Input: height 32 when the images are at least 32 px tall, else 16 (text stays legible
 *   at 32 px, as the CRNN paper and the `003_*` notebook use, and convolutions cost 2.4x less
 *   than at 50 px); width by the median aspect ratio (rounded to a multiple of 4);
 *   keep-aspect padding only when aspect ratios vary by more than 25%.
 * - Model: `crnn-lite` (0.5M parameters; BatchNorm after every conv, so CTC training leaves
 *   its all-blank plateau within the first epoch — `captcha-keras`, without BatchNorm, sat on
 *   it for 4 epochs of MNIST digit strings in our runs): T = W/4 frames.
 * - Optimizer Adam 1e-3 with a cosine decay to 1e-5 and gradient clipping at 5.
 */
import type { TrainConfig } from './config.js';

export interface DataStats {
  heights: number[];
  widths: number[];
  maxLabel: number;
}

export interface Recipe {
  model: string;
  height: number;
  width: number;
  keepAspect: boolean;
  lr: number;
  minLr: number;
  epochs: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : 0;
};

export function chooseRecipe(cfg: TrainConfig, stats: DataStats, numSamples: number): Recipe {
  const h0 = median(stats.heights) || 32;
  const aspect = median(stats.widths.map((w, i) => w / (stats.heights[i] || 1))) || 4;
  const aspects = stats.widths.map((w, i) => w / (stats.heights[i] || 1));
  const spread = aspects.length ? (Math.max(...aspects) - Math.min(...aspects)) / aspect : 0;
  const height = cfg.height ?? (h0 >= 32 ? 32 : 16);
  let width = cfg.width ?? Math.max(16, Math.round((height * aspect) / 4) * 4);
  // At least 2 frames per character plus one (CTC needs blanks between repeats).
  width = Math.max(width, 4 * (2 * stats.maxLabel + 1));
  // Epochs: about 12k image presentations for small sets, at least 30 epochs.
  const epochs = cfg.epochs ?? Math.max(30, Math.min(200, Math.ceil(12000 / Math.max(1, numSamples))));
  return {
    model: cfg.model === 'auto' ? 'crnn-lite' : cfg.model,
    height,
    width,
    keepAspect: cfg.keepAspect ?? spread > 0.25,
    lr: cfg.lr ?? (cfg.optimizer === 'adadelta' ? 1.0 : cfg.optimizer === 'sgd' ? 0.01 : 1e-3),
    minLr: cfg.minLr || (cfg.lr ?? 1e-3) / 100,
    epochs,
  };
}
