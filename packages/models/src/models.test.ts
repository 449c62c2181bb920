import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Rng, Runtime } from '@crnn/core';
import { Adam } from '@crnn/kernels';
import { loadCase, runCase } from '@crnn/kernels/golden';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tape } from './autograd.js';
import type { CrnnModel, Recognizer } from './crnn.js';
import { modelGoldenHandlers } from './golden.js';
import * as F from './ops.js';
import { buildModel, ZOO } from './zoo.js';
import { loadModel, loadSafetensorsInto, saveModel, WeightsMismatchError } from './weights.js';

let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt.destroy());

const goldenDir = process.env.GOLDEN_DIR ?? resolve(import.meta.dirname, '../../../../shared/golden');

/** One training step on a fixed batch; returns the loss. */
async function step(model: Recognizer, opt: Adam, images: Float32Array, shape: number[], labels: number[][]): Promise<number> {
  const tape = new Tape(rt, true, true);
  try {
    const logits = model.forward(tape, tape.constant(rt.upload(images, shape)));
    const [T, N, C] = logits.shape as [number, number, number];
    let loss;
    if (model.info.loss === 'ctc') {
      const S = Math.max(...labels.map((l) => l.length));
      loss = F.ctcLoss(tape, logits, {
        targets: labels.flatMap((l) => [...l, ...new Array<number>(S - l.length).fill(0)]),
        inputLengths: new Array<number>(N).fill(T),
        targetLengths: labels.map((l) => l.length),
        zeroInfinity: true,
      });
    } else {
      // Cross-entropy over the T outputs: logits [T, N, C] -> [N, C, T] with targets [N, T].
      const nct = F.permute(tape, logits, [1, 2, 0]);
      loss = F.crossEntropy(tape, nct, { targets: labels.flatMap((l) => l.slice(0, T)), classDim: 1 });
      void C;
    }
    model.zeroGrad();
    tape.backward(loss);
    // Parameters no loss reaches (crnn-wide's unused bn1) have no gradient: skip them, as
    // torch.optim does for grad None.
    const ps = model.parameters().filter((p) => p.grad);
    opt.step(rt, ps.map((p) => p.value), ps.map((p) => p.grad!));
    return (await rt.read(loss.value))[0]!;
  } finally {
    tape.dispose();
  }
}

// Notebook input sizes and the sequence length each gives.
const SHAPES: Array<[string, number, number]> = [
  ['crnn', 100, 24],
  ['crnn-strided', 176, 10],
  ['crnn-ce', 128, 5],
  ['crnn-wide', 200, 64],
  ['crnn-wide-gru', 200, 64],
  ['captcha-keras', 200, 50],
  ['crnn-tiny', 12, 5],
  ['crnn-lite', 128, 32],
  ['crnn-lite-s2', 128, 16],
  ['crnn-lite-s2', 91, 11], // odd width: floor at every halving still gives floor(W / 8)
  ['crnn-lite-s2-hr', 128, 16],
  ['crnn-lite-s2-hr4', 128, 32],
  ['crnn-lite-s2-hr4', 90, 22], // floor(90 / 2) = 45, floor(45 / 2) = 22 = floor(90 / 4)
];

describe('models', () => {
  it('frameWidth in the zoo matches the built model: T = floor(W / frameWidth)', () => {
    const entries = ZOO.filter((e) => e.frameWidth !== undefined);
    expect(entries.map((e) => e.name)).toEqual(['crnn-lite', 'crnn-lite-s2', 'crnn-lite-s2-hr', 'crnn-lite-s2-hr4']);
    for (const e of entries) {
      const fw = e.frameWidth!;
      const model = buildModel(rt, e.name, {}, 3);
      for (const k of [5, 16, 33]) {
        expect(model.info.timeSteps(k * fw), `${e.name}: T at width ${k * fw}`).toBe(k);
        expect(model.info.timeSteps(k * fw + fw - 1), `${e.name}: T at width ${k * fw + fw - 1}`).toBe(k);
      }
      model.dispose();
    }
  });

  for (const [name, width, T] of SHAPES) {
    it(`${name} (width ${width}, T ${T}): forward shape at the notebook's input size, and a few training steps lower the loss`, async () => {
      const model = buildModel(rt, name, {}, 3);
      const { inChannels, height, numClasses } = model.info;
      expect(model.info.timeSteps(width)).toBe(T);
      const rng = new Rng(4);
      const N = 2;
      const shape = [N, inChannels, height, width];
      const images = rng.fillUniform(N * inChannels * height * width, 0, 1);
      const tape = new Tape(rt, false, false);
      const logits = model.forward(tape, tape.constant(rt.upload(images, shape)));
      expect(logits.shape).toEqual([T, N, numClasses]);
      tape.dispose();

      // A fixed tiny batch: the loss must fall over a few Adam steps.
      const len = Math.min(3, Math.floor(T / 2));
      const labels = [Array.from({ length: model.info.loss === 'ce' ? T : len }, (_, i) => 1 + (i % (numClasses - 1))), Array.from({ length: model.info.loss === 'ce' ? T : len }, (_, i) => 1 + ((i + 2) % (numClasses - 1)))];
      const opt = new Adam({ lr: 1e-3 });
      const losses: number[] = [];
      for (let s = 0; s < 4; s++) losses.push(await step(model, opt, images, shape, labels));
      expect(losses.every(Number.isFinite), `losses ${losses}`).toBe(true);
      expect(losses[losses.length - 1]!, `losses ${losses}`).toBeLessThan(losses[0]!);
      opt.dispose();
      model.dispose();
    });
  }

  it('passes the crnn_tiny golden case (forward logits, CTC loss, every gradient)', async () => {
    const c = loadCase(join(goldenDir, 'crnn_tiny_dev.json'));
    const r = await runCase(rt, c, modelGoldenHandlers);
    expect(r.ok, r.message).toBe(true);
  });

  it('a BatchNorm followed by a ReLU runs as one pass: the same bits as apart, training and eval, and nothing leaks', async () => {
    // crnn-lite is conv -> BatchNorm -> ReLU four times (Sequential.fuse).
    const images = new Rng(8).fillUniform(2 * 32 * 48, 0, 1);
    const shape = [2, 1, 32, 48];
    const run = async (fuse: boolean) => {
      const model = buildModel(rt, 'crnn-lite', {}, 5) as CrnnModel;
      model.cnn.fuse = fuse;
      const out: Float32Array[] = [];
      const dispatches: number[] = [];
      let live = 0;
      for (let s = 0; s < 3; s++) {
        const tape = new Tape(rt, true, true, 11);
        const d0 = rt.stats().dispatches;
        const logits = model.forward(tape, tape.constant(rt.upload(images, shape)));
        dispatches.push(rt.stats().dispatches - d0);
        const [T, N] = logits.shape as [number, number];
        const loss = F.ctcLoss(tape, logits, { targets: [1, 2, 3, 4], inputLengths: new Array<number>(N).fill(T), targetLengths: [2, 2] });
        model.zeroGrad();
        tape.backward(loss);
        if (s === 0) out.push(...(await rt.readMany([logits.value, loss.value, ...model.parameters().map((p) => p.grad!), ...model.namedBuffers().map(([, b]) => b)])));
        tape.dispose();
        model.zeroGrad();
        if (s === 1) live = rt.pool.counters.bytesLive;
        if (s === 2) expect(rt.pool.counters.bytesLive, `pool after step 3, fuse ${fuse}`).toBe(live);
      }
      const ev = new Tape(rt, false, false);
      out.push(await rt.read(model.forward(ev, ev.constant(rt.upload(images, shape))).value));
      ev.dispose();
      model.dispose();
      return { out, dispatches: dispatches[0]! };
    };
    const [apart, fused] = [await run(false), await run(true)];
    // Four relu forward dispatches fewer (the relu backward still runs, inside batchNormBackward).
    expect(fused.dispatches).toBe(apart.dispatches - 4);
    expect(fused.out.length).toBe(apart.out.length);
    apart.out.forEach((a, k) => {
      const b = fused.out[k]!;
      const i = a.findIndex((v, j) => !Object.is(v, b[j]));
      expect(i, `output ${k}: index ${i}, fused ${b[i]}, apart ${a[i]}`).toBe(-1);
    });
  });

  it('frees every intermediate of a training step (pool counters)', async () => {
    const model = buildModel(rt, 'crnn-tiny', {}, 9);
    void rt.placeholder;
    const images = new Rng(1).fillUniform(2 * 8 * 12);
    const opt = new Adam({ lr: 1e-3 });
    await step(model, opt, images, [2, 1, 8, 12], [[1, 2], [3]]); // creates grads and optimizer state
    await step(model, opt, images, [2, 1, 8, 12], [[1, 2], [3]]);
    const live = rt.pool.counters.bytesLive;
    for (let i = 0; i < 3; i++) {
      await step(model, opt, images, [2, 1, 8, 12], [[1, 2], [3]]);
      expect(rt.pool.counters.bytesLive, `after step ${i + 3}`).toBe(live);
    }
    opt.dispose();
    model.dispose();
  });
});

describe('weights', () => {
  it('save and load round-trip bit-exactly and predict the same', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'crnn-weights-'));
    const model = buildModel(rt, 'crnn-tiny', { numClasses: 5 }, 11);
    await saveModel(rt, model, dir, { hyper: { numClasses: 5 }, charset: 'abcd', blank: 0, preprocessing: { grey: 'luminance' } });
    const { model: back, config } = loadModel(rt, dir);
    expect(config.charset).toBe('abcd');
    const a = await rt.readMany(model.stateDict().map(([, t]) => t));
    const b = await rt.readMany(back.stateDict().map(([, t]) => t));
    a.forEach((v, i) => expect(new Uint32Array(v.buffer)).toEqual(new Uint32Array(b[i]!.buffer)));
    const x = new Rng(2).fillUniform(8 * 12);
    const run = async (m: Recognizer) => {
      const t = new Tape(rt, false, false);
      const y = await rt.read(m.forward(t, t.constant(rt.upload(x, [1, 1, 8, 12]))).value);
      t.dispose();
      return y;
    };
    expect(Array.from(await run(back))).toEqual(Array.from(await run(model)));
    model.dispose();
    back.dispose();
  });

  it('loads the state_dict written by the reference writer and reproduces the golden logits', async () => {
    const c = JSON.parse(readFileSync(join(goldenDir, 'crnn_tiny_dev.json'), 'utf8'));
    const model = buildModel(rt, 'crnn-tiny', { numClasses: 6 }, 0);
    loadSafetensorsInto(rt, model, resolve(import.meta.dirname, '../test-vectors/crnn-tiny.safetensors'));
    expect(model.namedHostState()).toEqual([['conv.6.num_batches_tracked', 1]]);
    const tape = new Tape(rt, false, true); // training-mode BN, as the golden case
    const logits = await rt.read(model.forward(tape, tape.constant(rt.upload(c.inputs.x.data, c.inputs.x.shape))).value);
    tape.dispose();
    const want = c.outputs.logits.data as number[];
    let max = 0;
    want.forEach((w, i) => (max = Math.max(max, Math.abs(w - logits[i]!))));
    expect(max).toBeLessThan(2e-4);
    model.dispose();
  });

  it('reports every mismatch at once and leaves the model unchanged', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'crnn-weights-'));
    const small = buildModel(rt, 'crnn-tiny', { numClasses: 5 }, 1);
    await saveModel(rt, small, dir, { hyper: { numClasses: 5 }, charset: 'abcd', blank: 0, preprocessing: {} });
    const other = buildModel(rt, 'crnn-tiny', { numClasses: 7 }, 2);
    const before = await rt.read(other.stateDict()[0]![1]);
    let err: unknown;
    try {
      loadSafetensorsInto(rt, other, join(dir, 'model.safetensors'));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(WeightsMismatchError);
    expect((err as WeightsMismatchError).problems).toHaveLength(2); // fc.weight and fc.bias
    expect(String(err)).toMatch(/'fc\.weight': shape \[5, 10\] in the file, \[7, 10\] in the model/);
    expect(Array.from(await rt.read(other.stateDict()[0]![1]))).toEqual(Array.from(before));
    // A truncated file names itself.
    const path = join(dir, 'model.safetensors');
    writeFileSync(path, readFileSync(path).subarray(0, 200));
    expect(() => loadSafetensorsInto(rt, other, path)).toThrow(/model\.safetensors: not a valid safetensors file/);
    small.dispose();
    other.dispose();
  });
});
