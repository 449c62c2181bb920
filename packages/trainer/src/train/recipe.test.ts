import { describe, expect, it } from 'vitest';
import { parseTrainConfig } from './config.js';
import { chooseRecipe, PRESENTATIONS_HR } from './recipe.js';

const cfg = (o: Record<string, unknown> = {}) => parseTrainConfig(o);
const stats = (h: number, w: number, maxLabel: number, n = 10) => ({ heights: Array(n).fill(h), widths: Array(n).fill(w), maxLabel });

describe('default recipe', () => {
  it('captcha-v2-like data (200x50, 5 characters): crnn-lite-s2-hr4 at 32x128, epochs from the set size', () => {
    const r = chooseRecipe(cfg(), stats(50, 200, 5), 663);
    expect(r).toMatchObject({ model: 'crnn-lite-s2-hr4', height: 32, width: 128, keepAspect: false, lr: 1e-3, minLr: 1e-5 });
    expect(r.epochs).toBe(Math.ceil(PRESENTATIONS_HR / 663));
    expect(r.epochs).toBe(32);
  });

  it('short images: crnn-lite at height 16, width a multiple of 4 and wide enough for the labels', () => {
    const r = chooseRecipe(cfg(), stats(28, 56, 8), 5000);
    expect(r.model).toBe('crnn-lite');
    expect(r.height).toBe(16);
    // Aspect 2 gives 32 columns = 8 frames, fewer than 2 * 8 + 1: widened to 4 * 17.
    expect(r.width).toBe(68);
    expect(r.epochs).toBe(30); // 60000 / 5000 = 12, raised to the minimum
  });

  it('swust-like data (92x34, 4 characters): width a multiple of 4 with at least 9 frames', () => {
    const r = chooseRecipe(cfg(), stats(34, 92, 4), 1047);
    expect(r).toMatchObject({ model: 'crnn-lite-s2-hr4', height: 32, width: 88, epochs: 30 });
    expect(r.width / 4).toBeGreaterThanOrEqual(2 * 4 + 1);
    // crnn-lite-s2 and -hr have 8 input columns per frame: the width rounds to a multiple of 8.
    expect(chooseRecipe(cfg({ model: 'crnn-lite-s2' }), stats(34, 90, 4), 1047).width).toBe(88);
    expect(chooseRecipe(cfg({ model: 'crnn-lite-s2-hr4' }), stats(34, 90, 4), 1047).width).toBe(84);
  });

  it('keeps what the user gave, and pads for spread aspect ratios', () => {
    const r = chooseRecipe(cfg({ model: 'crnn', height: 32, width: 100, epochs: 7, lr: 0.01 }), stats(50, 200, 5), 663);
    expect(r).toMatchObject({ model: 'crnn', height: 32, width: 100, epochs: 7, lr: 0.01, minLr: 1e-4 });
    const spread = chooseRecipe(cfg(), { heights: [32, 32, 32], widths: [64, 128, 200], maxLabel: 5 }, 100);
    expect(spread.keepAspect).toBe(true);
    expect(chooseRecipe(cfg(), stats(32, 32, 1), 10).epochs).toBe(200);
  });
});
