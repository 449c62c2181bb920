import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng, Runtime, type Tensor } from '@crnn/core';
import { Adam } from '@crnn/kernels';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttentionRecognizer, isAttentionRecognizer } from './attention.js';
import { Param, Tape, Var } from './autograd.js';
import * as F from './ops.js';
import { loadModel, saveModel } from './weights.js';
import { buildModel } from './zoo.js';

let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt.destroy());

/** A small configuration for the slow tests: 1x8xW, S = W/8. */
const tiny = (seed: number, numClasses = 5) =>
  new AttentionRecognizer(rt, new Rng(seed), { numClasses, height: 8, width: 32, nConv: 4, nState: 16, nEmbed: 4, nClf: 16, name: 'attention-tiny' });

/** One Adam step of the teacher-forced loss; returns the loss. */
async function trainStep(m: AttentionRecognizer, opt: Adam, images: Tensor, labels: number[][]): Promise<number> {
  const tape = new Tape(rt, true, true);
  try {
    const loss = m.loss(tape, new Var(images), labels);
    m.zeroGrad();
    tape.backward(loss);
    const ps = m.parameters().filter((p) => p.grad);
    opt.step(rt, ps.map((p) => p.value), ps.map((p) => p.grad!));
    return (await rt.read(loss.value))[0]!;
  } finally {
    tape.dispose();
  }
}

describe('attention (004_* SRN)', () => {
  it('documents tokens and the parameter count at the notebook config', () => {
    const m = buildModel(rt, 'attention', {}, 1);
    expect(isAttentionRecognizer(m)).toBe(true);
    const a = m as AttentionRecognizer;
    // numClasses = 10 digits + 1; K = 10; PAD 0, digits 1..10, START 11, END 12; 13 outputs.
    expect([a.info.numClasses, a.numChars, a.startToken, a.endToken, a.outClasses]).toEqual([11, 10, 11, 12, 13]);
    expect(m.info.loss).toBe('attention');
    // cnn: (16*9+16 + 32) + (32*16*9+32 + 64) + (64*32*9+64 + 128) = 23,520
    // encoder 192*128+128 = 24,704; embedding 13*10 = 130; GRU 3*128*(10+128) + 2*3*128 = 53,760
    // clf1 256*128+128 = 32,896; clf2 128*13+13 = 1,677
    expect(m.parameterCount()).toBe(23_520 + 24_704 + 130 + 53_760 + 32_896 + 1_677);
    expect(m.parameterCount()).toBe(136_687);
    const names = m.stateDict().map(([n]) => n);
    for (const n of ['cnn.0.weight', 'cnn.1.running_mean', 'cnn.8.bias', 'encoder.weight', 'embedding.weight', 'decoder.weight_ih_l0', 'decoder.bias_hh_l0', 'clf1.weight', 'clf2.bias']) {
      expect(names).toContain(n);
    }
    m.dispose();
    const b = buildModel(rt, 'attention-blstm', {}, 1);
    // encoder BiLSTM 192 -> 2x64: 2 * (4*64*(192+64) + 2*4*64) = 132,096 instead of 24,704.
    expect(b.parameterCount()).toBe(136_687 - 24_704 + 132_096);
    expect(b.stateDict().map(([n]) => n)).toContain('encoder.weight_hh_l0_reverse');
    b.dispose();
  });

  for (const name of ['attention', 'attention-blstm']) {
    it(`${name}: forward shapes at the notebook's input size (1x28x140, S = 17)`, async () => {
      const m = buildModel(rt, name, {}, 2) as AttentionRecognizer;
      const N = 2;
      const images = rt.upload(new Rng(3).fillUniform(N * 28 * 140), [N, 1, 28, 140]);
      const tape = new Tape(rt, false, false);
      try {
        expect(m.info.timeSteps(140)).toBe(17);
        const enc = m.encode(tape, new Var(images));
        expect(enc.shape).toEqual([N, 17, 128]);
        const dec = [
          [11, 1, 2, 3, 4, 5],
          [11, 6, 7, 0, 0, 0],
        ];
        const logits = m.forward(tape, new Var(images), dec);
        expect(logits.shape).toEqual([6, N, 13]);
        const host = await rt.read(logits.value);
        expect(Array.from(host).every(Number.isFinite)).toBe(true);
        expect(() => m.forward(tape, new Var(images))).toThrow(/decoder inputs/);
      } finally {
        tape.dispose();
        images.dispose();
        m.dispose();
      }
    });
  }

  it('builds teacher-forcing inputs [START, c..] and targets [c.., END] padded with PAD / -1', () => {
    const m = tiny(1); // K = 4: START 5, END 6
    const tf = m.teacherForcing([[1, 2, 3], [4], []]);
    expect(tf.length).toBe(4);
    expect(tf.decoderInputs).toEqual([
      [5, 1, 2, 3],
      [5, 4, 0, 0],
      [5, 0, 0, 0],
    ]);
    expect(tf.targets).toEqual([
      [1, 2, 3, 6],
      [4, 6, -1, -1],
      [6, -1, -1, -1],
    ]);
    expect(() => m.teacherForcing([[5]])).toThrow(/label ids in \[1, 4\]/);
    m.dispose();
  });

  it('one decoder step at a time (h0 = previous hN) gives the teacher-forced logits', async () => {
    const m = tiny(4);
    const N = 2;
    const images = rt.upload(new Rng(5).fillUniform(N * 8 * 32), [N, 1, 8, 32]);
    const dec = [
      [5, 1, 2, 3],
      [5, 4, 4, 1],
    ];
    const tape = new Tape(rt, false, false);
    try {
      const full = await rt.read(m.forward(tape, new Var(images), dec).value); // [4, N, 7]
      const enc = m.encode(tape, new Var(images));
      let h: Var | undefined;
      for (let l = 0; l < 4; l++) {
        const r = m.decode(tape, enc, [dec.map((row) => row[l]!)], h);
        expect(r.logits.shape).toEqual([1, N, 7]);
        expect(r.hN.shape).toEqual([1, N, 16]);
        const step = await rt.read(r.logits.value);
        step.forEach((v, i) => expect(Math.abs(v - full[l * N * 7 + i]!)).toBeLessThan(1e-5));
        h = r.hN;
      }
    } finally {
      tape.dispose();
      images.dispose();
      m.dispose();
    }
  });

  it('gruWithState: the gradient of h0 matches finite differences', async () => {
    const rng = new Rng(7);
    const [T, N, I, H] = [3, 2, 3, 4];
    const gruParams: Record<string, Param> = {
      weight_ih_l0: new Param(rt.upload(rng.fillUniform(3 * H * I, -0.5, 0.5), [3 * H, I])),
      weight_hh_l0: new Param(rt.upload(rng.fillUniform(3 * H * H, -0.5, 0.5), [3 * H, H])),
      bias_ih_l0: new Param(rt.upload(rng.fillUniform(3 * H, -0.5, 0.5), [3 * H])),
      bias_hh_l0: new Param(rt.upload(rng.fillUniform(3 * H, -0.5, 0.5), [3 * H])),
    };
    const x = rng.fillUniform(T * N * I, -1, 1);
    const h0v = rng.fillUniform(N * H, -1, 1);
    const targets = [0, 1, 2, 3, 1, 0]; // y [T, N, H] as logits over H, plus hN [1, N, H]
    const lossOf = async (h0data: Float32Array, grad: boolean): Promise<{ loss: number; dh0?: Float32Array }> => {
      const tape = new Tape(rt, grad, true);
      const h0 = new Param(rt.upload(h0data, [1, N, H]));
      try {
        const { y, hN } = F.gruWithState(tape, tape.constant(rt.upload(x, [T, N, I])), gruParams, { hiddenSize: H, numLayers: 1, bidirectional: false, dropout: 0, seed: 0 }, h0);
        const l1 = F.crossEntropy(tape, y, { targets, classDim: 2 });
        const l2 = F.crossEntropy(tape, hN, { targets: [2, 3], classDim: 2 });
        const loss = F.add(tape, l1, l2);
        if (grad) tape.backward(loss);
        const v = (await rt.read(loss.value))[0]!;
        return { loss: v, ...(grad ? { dh0: (await rt.read(h0.grad!)) as Float32Array } : {}) };
      } finally {
        tape.dispose();
        h0.zeroGrad();
        h0.value.dispose();
      }
    };
    const { dh0 } = await lossOf(h0v, true);
    const eps = 1e-2;
    for (let i = 0; i < N * H; i++) {
      const p = Float32Array.from(h0v);
      p[i] = p[i]! + eps;
      const m = Float32Array.from(h0v);
      m[i] = m[i]! - eps;
      const num = ((await lossOf(p, false)).loss - (await lossOf(m, false)).loss) / (2 * eps);
      expect(Math.abs(num - dh0![i]!), `dh0[${i}]: ${num} vs ${dh0![i]}`).toBeLessThan(2e-3);
    }
    for (const p of Object.values(gruParams)) {
      p.zeroGrad();
      p.value.dispose();
    }
  });

  it('greedy decoding stops at the end token (END at step 1) and at maxLen (END never wins)', async () => {
    const m = tiny(8); // K = 4: END = 6
    const N = 3;
    const images = rt.upload(new Rng(9).fillUniform(N * 8 * 32), [N, 1, 8, 32]);
    const setClf2 = (bias: number[]) => {
      m.clf2.weight.value.dispose();
      m.clf2.weight.value = rt.zeros(m.clf2.weight.shape);
      m.clf2.bias!.value.dispose();
      m.clf2.bias!.value = rt.upload(bias, [7]);
    };
    // Constant logits: END wins at once -> empty strings.
    setClf2([0, 0, 0, 0, 0, 0, 5]);
    expect(await m.greedyDecode(rt, images, 6)).toEqual([[], [], []]);
    // Character 3 always wins, PAD and START (which are never picked) score higher still:
    // every sequence runs to maxLen.
    setClf2([9, 0, 0, 2, 0, 9, 1]);
    expect(await m.greedyDecode(rt, images, 5)).toEqual([
      [3, 3, 3, 3, 3],
      [3, 3, 3, 3, 3],
      [3, 3, 3, 3, 3],
    ]);
    // Default maxLen is the encoder length S = 32/8 = 4.
    expect(await m.greedyDecode(rt, images)).toEqual([
      [3, 3, 3, 3],
      [3, 3, 3, 3],
      [3, 3, 3, 3],
    ]);
    images.dispose();
    m.dispose();
  });

  it('a training step lowers the loss on a fixed tiny batch; trained, greedy decoding emits each label then stops at END', async () => {
    const m = tiny(10);
    const N = 3;
    const images = rt.upload(new Rng(11).fillUniform(N * 8 * 32), [N, 1, 8, 32]);
    const labels = [[1, 2, 3], [4], [2, 2]];
    const opt = new Adam({ lr: 1e-2 });
    const losses: number[] = [];
    for (let s = 0; s < 5; s++) losses.push(await trainStep(m, opt, images, labels));
    expect(losses.every(Number.isFinite), `losses ${losses}`).toBe(true);
    expect(losses[4]!, `losses ${losses}`).toBeLessThan(losses[0]!);
    // Overfit the batch: sequences of 3, 1 and 2 characters, each ended by END at its own step.
    let decoded: number[][] = [];
    for (let s = 5; s < 300; s++) {
      const l = await trainStep(m, opt, images, labels);
      losses.push(l);
      if (s % 25 === 0 && l < 0.05) {
        decoded = await m.greedyDecode(rt, images, 8);
        if (JSON.stringify(decoded) === JSON.stringify(labels)) break;
      }
    }
    decoded = await m.greedyDecode(rt, images, 8);
    expect(decoded, `losses ${losses.slice(-3)}`).toEqual(labels);
    expect(decoded.map((d) => d.length)).toEqual([3, 1, 2]);
    opt.dispose();
    images.dispose();
    m.dispose();
  });

  it('frees every intermediate of a training step and of greedy decoding (pool counters)', async () => {
    const m = tiny(12);
    const images = rt.upload(new Rng(13).fillUniform(2 * 8 * 32), [2, 1, 8, 32]);
    const opt = new Adam({ lr: 1e-3 });
    await trainStep(m, opt, images, [[1, 2], [3]]);
    await trainStep(m, opt, images, [[1, 2], [3]]);
    const live = rt.pool.counters.bytesLive;
    for (let i = 0; i < 2; i++) {
      await trainStep(m, opt, images, [[1, 2], [3]]);
      await m.greedyDecode(rt, images, 3);
      expect(rt.pool.counters.bytesLive, `after round ${i}`).toBe(live);
    }
    opt.dispose();
    images.dispose();
    m.dispose();
  });

  it('save and load round-trip bit-exactly and decode the same', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'crnn-attention-'));
    const model = buildModel(rt, 'attention', { numClasses: 5 }, 14) as AttentionRecognizer;
    // One training step so that BN running stats and num_batches_tracked are not the defaults.
    const images = rt.upload(new Rng(15).fillUniform(2 * 28 * 48), [2, 1, 28, 48]);
    const opt = new Adam({ lr: 1e-3 });
    await trainStep(model, opt, images, [[1, 2], [3, 4, 1]]);
    opt.dispose();
    await saveModel(rt, model, dir, { hyper: { numClasses: 5 }, charset: 'abcd', blank: 0, preprocessing: {} });
    const { model: back, config } = loadModel(rt, dir);
    expect(config.model).toBe('attention');
    expect(isAttentionRecognizer(back)).toBe(true);
    const a = await rt.readMany(model.stateDict().map(([, t]) => t));
    const b = await rt.readMany(back.stateDict().map(([, t]) => t));
    expect(b.length).toBe(a.length);
    a.forEach((v, i) => expect(new Uint32Array(v.buffer)).toEqual(new Uint32Array(b[i]!.buffer)));
    expect(back.namedHostState()).toEqual(model.namedHostState());
    const logits = async (m: AttentionRecognizer) => {
      const t = new Tape(rt, false, false);
      const y = await rt.read(m.forward(t, new Var(images), [[5, 1, 2], [5, 3, 0]]).value);
      t.dispose();
      return Array.from(y);
    };
    const backA = back as AttentionRecognizer;
    expect(await logits(backA)).toEqual(await logits(model));
    expect(await backA.greedyDecode(rt, images, 4)).toEqual(await model.greedyDecode(rt, images, 4));
    images.dispose();
    model.dispose();
    back.dispose();
  });
});
