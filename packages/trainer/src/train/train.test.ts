import { mkdtempSync, readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Runtime } from '@crnn/core';
import pngjs from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTrainConfig } from './config.js';
import { LrSchedule } from './schedule.js';
import { train } from './train.js';

let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt.destroy());

const quiet = { log: () => {}, warn: () => {}, tty: false };
const tmp = () => mkdtempSync(join(tmpdir(), 'crnn-train-'));

// A tiny job on generated digit strings: captcha-keras at 16x72, a few steps.
const tiny = (out: string, extra: Record<string, unknown> = {}) =>
  parseTrainConfig({ generated: 40, height: 16, width: 72, batch: 8, epochs: 3, out, errorGrid: 4, quiet: true, ...extra });

describe('train', () => {
  it('trains a tiny model: the loss falls, and the output folder holds everything', async () => {
    const out = tmp();
    const r = await train(tiny(out, { epochs: 4, valRatio: 0.25, lr: 3e-3 }), { ...quiet, runtime: rt });
    expect(r.epochs).toBe(4);
    const rows = readFileSync(join(out, 'metrics.csv'), 'utf8').trim().split('\n');
    expect(rows[0]).toMatch(/^epoch,step,lr,train_loss,val_loss,cer,accuracy,ned/);
    const losses = rows.slice(1).map((l) => Number(l.split(',')[3]));
    expect(losses).toHaveLength(4);
    expect(losses[3]!).toBeLessThan(losses[0]!);
    for (const f of ['model.safetensors', 'model.json', 'curves.png', 'errors.png', 'checkpoint/model.safetensors', 'checkpoint/optimizer.safetensors', 'checkpoint/trainer.json']) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    const cfg = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8'));
    expect(cfg.charset).toBe('0123456789');
    expect(cfg.preprocessing.height).toBe(16);
  });

  it('resumed after epoch 1, ends with weights bit-identical to an uninterrupted run', async () => {
    const a = tmp();
    await train(tiny(a), { ...quiet, runtime: rt });
    const b = tmp();
    await train(tiny(b), { ...quiet, runtime: rt, stopAfterEpoch: 1 });
    expect(JSON.parse(readFileSync(join(b, 'checkpoint/trainer.json'), 'utf8')).epoch).toBe(1);
    await train(tiny(b, { resume: b }), { ...quiet, runtime: rt });
    for (const f of ['checkpoint/model.safetensors', 'checkpoint/optimizer.safetensors']) {
      const x = readFileSync(join(a, f));
      const y = readFileSync(join(b, f));
      expect(Buffer.compare(x, y), `${f} differs`).toBe(0);
    }
    // And a run with another seed differs (the comparison can fail).
    const c = tmp();
    await train(tiny(c, { seed: 1 }), { ...quiet, runtime: rt });
    expect(Buffer.compare(readFileSync(join(a, 'checkpoint/model.safetensors')), readFileSync(join(c, 'checkpoint/model.safetensors')))).not.toBe(0);
  });

  it('trains and evaluates the attention model (teacher forcing, greedy decoding)', async () => {
    const out = tmp();
    const r = await train(parseTrainConfig({ generated: 24, model: 'attention', height: 28, width: 140, batch: 8, epochs: 2, out, errorGrid: 2, quiet: true }), { ...quiet, runtime: rt });
    expect(r.epochs).toBe(2);
    const rows = readFileSync(join(out, 'metrics.csv'), 'utf8').trim().split('\n');
    expect(rows).toHaveLength(3);
    expect(Number.isFinite(Number(rows[2]!.split(',')[4]))).toBe(true); // val_loss
  });

  it('refuses to resume a different job', async () => {
    const a = tmp();
    await train(tiny(a, { epochs: 1 }), { ...quiet, runtime: rt });
    await expect(train(tiny(a, { resume: a, batch: 4 }), { ...quiet, runtime: rt })).rejects.toThrow(/checkpoint is of another job \(batch: 8 there, 4 now\)/);
  });

  it('skips a corrupt image with a warning, and names unknown characters', async () => {
    const dir = tmp();
    const png = new pngjs.PNG({ width: 40, height: 16 });
    for (let i = 0; i < png.data.length; i++) png.data[i] = i % 4 === 3 ? 255 : (i * 7) % 255;
    const bytes = pngjs.PNG.sync.write(png);
    for (const label of ['ab', 'ba', 'aab', 'bb', 'aba', 'abb']) writeFileSync(join(dir, `${label}.png`), bytes);
    writeFileSync(join(dir, 'bab.png'), bytes.subarray(0, 50)); // truncated
    const warnings: string[] = [];
    const out = tmp();
    const r = await train(parseTrainConfig({ data: dir, epochs: 1, batch: 4, out, height: 16, width: 40 }), { log: () => {}, warn: (w) => warnings.push(w), tty: false, runtime: rt });
    expect(r.skippedImages.map((s) => s.path)).toEqual([join(dir, 'bab.png')]);
    expect(warnings.join('\n')).toMatch(/bab\.png/);
    writeFileSync(join(dir, 'a-c.png'), bytes);
    await expect(train(parseTrainConfig({ data: dir, epochs: 1, out, charset: 'ab' }), { ...quiet, runtime: rt })).rejects.toThrow(/a-c\.png/);
  });

  it('an empty folder is a clear error', async () => {
    const dir = tmp();
    mkdirSync(join(dir, 'empty'));
    await expect(train(parseTrainConfig({ data: join(dir, 'empty'), out: tmp() }), { ...quiet, runtime: rt })).rejects.toThrow(/empty/);
  });
});

describe('config', () => {
  it('names an invalid field', () => {
    expect(() => parseTrainConfig({ batch: -1 })).toThrow(/field 'batch'/);
    expect(() => parseTrainConfig({ optimizer: 'rmsprop' })).toThrow(/field 'optimizer'/);
    expect(() => parseTrainConfig({ bogus: 1 })).toThrow(/bogus/);
    expect(parseTrainConfig({}).batch).toBe(16);
  });
});

describe('schedules', () => {
  const base = { baseLr: 1, epochs: 10, stepSize: 3, gamma: 0.5, minLr: 0, patience: 1 };
  it('step, cosine and plateau follow their rules', () => {
    const st = new LrSchedule({ ...base, kind: 'step' });
    expect([1, 2, 3, 4].map(() => st.step(0))).toEqual([1, 1, 0.5, 0.5]);
    const co = new LrSchedule({ ...base, kind: 'cosine' });
    const lrs = Array.from({ length: 10 }, () => co.step(0));
    expect(lrs[4]).toBeCloseTo(0.5, 10);
    expect(lrs[9]).toBeCloseTo(0, 10);
    const pl = new LrSchedule({ ...base, kind: 'plateau' });
    expect([1, 0.9, 0.9, 0.9].map((m) => pl.step(m))).toEqual([1, 1, 1, 0.5]);
    const resumed = new LrSchedule({ ...base, kind: 'plateau' }, pl.state);
    expect(resumed.step(0.9)).toBe(pl.step(0.9));
  });
});
