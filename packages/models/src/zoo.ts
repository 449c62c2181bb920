/**
 * The model zoo: every recognizer of the seed notebooks by name, with its default
 * configuration (the notebook's) and a builder. `build` draws all initial weights from the
 * given seed, so the same seed gives the same weights.
 */
import { OpInputError, Rng, type Runtime } from '@crnn/core';
import { AttentionRecognizer } from './attention.js';
import { buildCrnn, buildCrnnCe, buildCrnnLite, buildCrnnStrided, buildCrnnTiny, CaptchaKeras, CrnnWide, type Recognizer } from './crnn.js';

export interface ModelHyper {
  numClasses: number;
  inChannels?: number;
  height?: number;
  width?: number;
}

export interface ZooEntry {
  name: string;
  /** Which notebook and module it reproduces. */
  from: string;
  description: string;
  defaults: ModelHyper;
  /**
   * Input columns per output frame where T = floor(W / frameWidth) (the crnn-lite family);
   * recipes round the input width to it. Unset where T is not proportional to W.
   */
  frameWidth?: number;
  build(rt: Runtime, rng: Rng, h: ModelHyper): Recognizer;
}

export const ZOO: readonly ZooEntry[] = [
  {
    name: 'crnn',
    from: '003_* CRNN',
    description: 'CRNN paper VGG stack: 7 convs, BN after conv 5 and 6, 2-layer BiLSTM 256, 1x32xW, T = W/4 - 1',
    defaults: { numClasses: 37, inChannels: 1, height: 32, width: 100 },
    build: (rt, rng, h) => buildCrnn(rt, rng, h),
  },
  {
    name: 'crnn-strided',
    from: '003_* ModifiedCRNN',
    description: 'strided convolutions instead of late pools, 1x32x176, T = 10',
    defaults: { numClasses: 37, inChannels: 1, height: 32, width: 176 },
    build: (rt, rng, h) => buildCrnnStrided(rt, rng, h),
  },
  {
    name: 'crnn-ce',
    from: '003_* CECRNN',
    description: '1x32x128, 5 outputs, cross-entropy on fixed-length labels',
    defaults: { numClasses: 37, inChannels: 1, height: 32, width: 128 },
    build: (rt, rng, h) => buildCrnnCe(rt, rng, h),
  },
  {
    name: 'crnn-wide',
    from: '000_* CRNN (LSTM)',
    description: '1x50x200; 9x9 conv 256, BN, pool 3, (4,3) conv 256, BN; Linear 3328->256; BiLSTM 1024',
    defaults: { numClasses: 20, inChannels: 1, height: 50, width: 200 },
    build: (rt, rng, h) => new CrnnWide(rt, rng, { ...h, kind: 'lstm' }),
  },
  {
    name: 'crnn-wide-gru',
    from: '000_* CRNN (GRU)',
    description: 'as crnn-wide with a BiGRU 1024',
    defaults: { numClasses: 20, inChannels: 1, height: 50, width: 200 },
    build: (rt, rng, h) => new CrnnWide(rt, rng, { ...h, kind: 'gru' }),
  },
  {
    name: 'captcha-keras',
    from: '001_* Keras OCR model',
    description: '2 conv blocks (32, 64), Dense 64, BiLSTM 128, BiLSTM 64, Dense C+1; 1x50x200',
    defaults: { numClasses: 21, inChannels: 1, height: 50, width: 200 },
    build: (rt, rng, h) => new CaptchaKeras(rt, rng, h),
  },
  {
    name: 'attention',
    from: '004_* SRN',
    description:
      'attention encoder-decoder: 3 conv-BN-ReLU-pool blocks (16, 32, 64), Dense 128 + tanh, GRU 128 over embedded tokens (10) with Luong dot attention, Dense 128 + ReLU, Dense K+3; 1x28xW, S = W/8; numClasses = characters + 1, tokens PAD 0, START K+1, END K+2',
    defaults: { numClasses: 11, inChannels: 1, height: 28, width: 140 },
    build: (rt, rng, h) => new AttentionRecognizer(rt, rng, { ...h, encoder: 'dense', name: 'attention' }),
  },
  {
    name: 'attention-blstm',
    from: '004_* SRN (BLSTMEncoder)',
    description: 'as attention with a BiLSTM encoder (64 per direction) instead of Dense + tanh',
    defaults: { numClasses: 11, inChannels: 1, height: 28, width: 140 },
    build: (rt, rng, h) => new AttentionRecognizer(rt, rng, { ...h, encoder: 'blstm', name: 'attention-blstm' }),
  },
  {
    name: 'crnn-lite',
    from: 'CRNN family (this project)',
    description: 'small CRNN for CPU adapters: 4 conv+BN blocks (32-128), BiLSTM 128; 1x32xW, T = W/4',
    defaults: { numClasses: 37, inChannels: 1, height: 32, width: 128 },
    frameWidth: 4,
    build: (rt, rng, h) => buildCrnnLite(rt, rng, h),
  },
  {
    name: 'crnn-lite-s2',
    from: 'CRNN family (this project)',
    description: 'crnn-lite with a stride-2 first conv: full-resolution input at the cost of half; 1x32xW, T = W/8',
    defaults: { numClasses: 37, inChannels: 1, height: 32, width: 128 },
    frameWidth: 8,
    build: (rt, rng, h) => buildCrnnLite(rt, rng, { ...h, stem: 2 }),
  },
  {
    name: 'crnn-lite-s2-hr',
    from: 'CRNN family (this project)',
    description: 'crnn-lite-s2 without the first pool: the second and third convs see 2x the resolution per axis; 1x32xW, T = W/8',
    defaults: { numClasses: 37, inChannels: 1, height: 32, width: 128 },
    frameWidth: 8,
    build: (rt, rng, h) => buildCrnnLite(rt, rng, { ...h, stem: 2, hr: true }),
  },
  {
    name: 'crnn-lite-s2-hr4',
    from: 'CRNN family (this project)',
    description: 'crnn-lite-s2-hr with a (2,1) third pool: twice the frames; 1x32xW, T = W/4',
    defaults: { numClasses: 37, inChannels: 1, height: 32, width: 128 },
    frameWidth: 4,
    build: (rt, rng, h) => buildCrnnLite(rt, rng, { ...h, stem: 2, hr: true, frame4: true }),
  },
  {
    name: 'crnn-tiny',
    from: 'shared/golden crnn_tiny',
    description: 'the golden-case CRNN: 1x8xW, 3 convs (4, 6, 8), BiLSTM 5; for tests',
    defaults: { numClasses: 6, inChannels: 1, height: 8, width: 12 },
    build: (rt, rng, h) => buildCrnnTiny(rt, rng, h),
  },
];

export function zooEntry(name: string): ZooEntry {
  const e = ZOO.find((z) => z.name === name);
  if (!e) throw new OpInputError('models', `one of ${ZOO.map((z) => z.name).join(', ')}`, `'${name}'`);
  return e;
}

/** Builds a zoo model with its defaults overridden by `h`, weights drawn from `seed`. */
export function buildModel(rt: Runtime, name: string, h: Partial<ModelHyper> = {}, seed = 0): Recognizer {
  const e = zooEntry(name);
  return e.build(rt, new Rng(seed), { ...e.defaults, ...h });
}
