/**
 * The default recipe: what `crnn-cli train --data DIR` does with no other flag. It looks at
 * the data (image size, label lengths, charset size) and picks the input size, model and
 * schedule, so that a CAPTCHA-like folder trains on a CPU adapter in minutes.
 *
 * - Input: height 32 when the images are at least 32 px tall, else 16 (text stays legible
 *   at 32 px, as the CRNN paper and the `003_*` notebook use); width by the median aspect
 *   ratio (rounded to a multiple of the model's frame width); keep-aspect padding only when
 *   aspect ratios vary by more than 25%.
 * - Model: `crnn-lite-s2-hr4` at height 32, `crnn-lite` at 16 (BatchNorm after every conv).
 *   What captcha-v2 (663 training images, 200x50, 5 characters) showed on the 2-core CPU
 *   adapter: crnn-lite at 16x64 and crnn-lite-s2 at 32x128 (~40 img/s; their second conv
 *   works on an 8x32 map) sat near the all-blank plateau for ~15 epochs and ended at ~85%
 *   after 90, the errors m/n/w confusions; crnn-lite-s2-hr (no first pool: the second and
 *   third convs at 2x resolution, ~21 img/s) reached 97.6% at epoch 32, its errors now
 *   dropped characters in repeats (`7nnnx` read as `7nnx`) with T = 16 frames for 5 wide
 *   characters; crnn-lite-s2-hr4 (a (2,1) third pool: T = W/4 = 32) left the plateau by
 *   epoch 8 and passed 97% at epoch 10.
 * - Epochs: PRESENTATIONS (PRESENTATIONS_HR for the -hr models) / training images, 30 to 200.
 * - Optimizer Adam 1e-3 with a cosine decay to 1e-5 and gradient clipping at 5.
 */
import { ZOO } from '@crnn/models';
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

/** Training images the default schedule shows the model, in all epochs together. */
export const PRESENTATIONS = 60_000;
/**
 * The high-resolution models (crnn-lite-s2-hr, -hr4) cost 2-2.5x crnn-lite-s2 per image
 * (their second and third convs run at twice the resolution per axis) and learn faster per
 * image: fewer presentations keep the run within the same time.
 */
export const PRESENTATIONS_HR = 21_000;

export const presentationsFor = (model: string): number => (model.startsWith('crnn-lite-s2-hr') ? PRESENTATIONS_HR : PRESENTATIONS);

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
  const model = cfg.model === 'auto' ? (height % 32 === 0 ? 'crnn-lite-s2-hr4' : 'crnn-lite') : cfg.model;
  // Input columns per output frame (4 where the zoo does not say: the CRNN stacks' W/4).
  const frame = ZOO.find((e) => e.name === model)?.frameWidth ?? 4;
  let width = cfg.width ?? Math.max(16, Math.round((height * aspect) / frame) * frame);
  // At least 2 frames per character plus one (CTC needs blanks between repeats).
  width = Math.max(width, frame * (2 * stats.maxLabel + 1));
  // Epochs: about 60k image presentations (small CAPTCHA sets keep improving that long:
  // captcha-v2's validation accuracy still rose at epoch 70 of 90), 30 to 200 epochs.
  const epochs = cfg.epochs ?? Math.max(30, Math.min(200, Math.ceil(presentationsFor(model) / Math.max(1, numSamples))));
  return {
    model,
    height,
    width,
    keepAspect: cfg.keepAspect ?? spread > 0.25,
    lr: cfg.lr ?? (cfg.optimizer === 'adadelta' ? 1.0 : cfg.optimizer === 'sgd' ? 0.01 : 1e-3),
    minLr: cfg.minLr || (cfg.lr ?? 1e-3) / 100,
    epochs,
  };
}
