import { Runtime } from '@crnn/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatSummary } from './summary.js';
import { buildModel, ZOO } from './zoo.js';

let rt: Runtime;
beforeAll(async () => {
  rt = await Runtime.create();
});
afterAll(() => rt.destroy());

// PyTorch's parameter counts for the same configurations (issue 4's table; computed from the
// notebooks' module definitions). captcha-keras: Keras counts 432,725 at 21 classes with one
// LSTM bias; ours has PyTorch's two (b_ih, b_hh): + 4H per direction and layer = + 1,536.
const PYTORCH_COUNTS: Record<string, number> = {
  crnn: 8_723_749,
  'crnn-strided': 3_872_037,
  'crnn-ce': 10_492_965,
  'crnn-wide': 12_204_564,
  'crnn-wide-gru': 9_579_028,
  'captcha-keras': 432_725 + 1_536,
  // 004_* SRN (attention.ts) at the notebook's config (K = 10 digits, 13 output classes):
  // cnn (16*9+16 + 2*16) + (32*16*9+32 + 2*32) + (64*32*9+64 + 2*64) = 23,520;
  // encoder Dense 192*128+128 = 24,704; embedding 13*10 = 130;
  // GRU 3*128*(10+128) + 2*3*128 = 53,760; clf1 256*128+128 = 32,896; clf2 128*13+13 = 1,677.
  attention: 23_520 + 24_704 + 130 + 53_760 + 32_896 + 1_677, // 136,687
  // The BiLSTM encoder 192 -> 2x64 instead: 2*(4*64*(192+64) + 2*4*64) = 132,096.
  'attention-blstm': 23_520 + 132_096 + 130 + 53_760 + 32_896 + 1_677, // 244,079
};

describe('model zoo', () => {
  for (const e of ZOO) {
    it(`${e.name}: parameter count${PYTORCH_COUNTS[e.name] ? ' matches PyTorch' : ''} and summary`, () => {
      const m = buildModel(rt, e.name, {}, 1);
      const n = m.parameterCount();
      if (PYTORCH_COUNTS[e.name] !== undefined) expect(n).toBe(PYTORCH_COUNTS[e.name]);
      const s = formatSummary(m, 8);
      expect(s).toContain(`Total params: ${n.toLocaleString('en-US')}`);
      // The summary's rows add up to the total (bn1 of crnn-wide is listed though unused).
      m.dispose();
    });
  }

  it('state_dict names follow the notebooks', () => {
    const m = buildModel(rt, 'crnn', {}, 1);
    const names = m.stateDict().map(([n]) => n);
    expect(names).toContain('conv_layers.0.weight');
    expect(names).toContain('conv_layers.13.running_var');
    expect(names).toContain('conv_layers.18.bias');
    expect(names).toContain('rec_layers.weight_hh_l1_reverse');
    expect(names).toContain('clf_layer.weight');
    expect(m.namedHostState().map(([n]) => n)).toEqual(['conv_layers.13.num_batches_tracked', 'conv_layers.16.num_batches_tracked']);
    m.dispose();
    const w = buildModel(rt, 'crnn-wide', {}, 1);
    const wn = w.stateDict().map(([n]) => n);
    expect(wn).toContain('cnn.0.weight');
    expect(wn).toContain('linear.weight');
    expect(wn).toContain('bn1.running_mean');
    expect(wn).toContain('rnn.rnn.weight_ih_l0_reverse');
    expect(wn).toContain('rnn.embedding.bias');
    w.dispose();
  });

  it('draws the same weights from the same seed, and others from another', async () => {
    const a = buildModel(rt, 'crnn-tiny', {}, 5);
    const b = buildModel(rt, 'crnn-tiny', {}, 5);
    const c = buildModel(rt, 'crnn-tiny', {}, 6);
    const [wa, wb, wc] = await rt.readMany([a, b, c].map((m) => m.stateDict()[0]![1]));
    expect(Array.from(wa!)).toEqual(Array.from(wb!));
    expect(Array.from(wa!)).not.toEqual(Array.from(wc!));
    for (const m of [a, b, c]) m.dispose();
  });

  it('names the zoo when a model is unknown', () => {
    expect(() => buildModel(rt, 'resnet')).toThrow(/models: expected one of crnn, crnn-strided/);
  });
});
