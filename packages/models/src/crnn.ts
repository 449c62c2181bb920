/**
 * The CTC recognizers of the seed notebooks: a convolutional stack over an NCHW image whose
 * feature map [N, C, H, W] becomes a sequence along the width ([W, N, C*H], time-major, as
 * `x.view(N, C*H, W).permute(2, 0, 1)` in the notebooks), then recurrent layers and a
 * per-step classifier. Output: logits [T, N, classes] for CTC (blank = 0).
 *
 * Module names follow each notebook's PyTorch modules, so `stateDict()` names match a
 * `state_dict()` saved there (`conv_layers.14.weight`, `rec_layers.weight_hh_l1_reverse`).
 */
import { OpInputError, type Rng, type Runtime } from '@crnn/core';
import type { Tape, Var } from './autograd.js';
import { BatchNorm, Conv2d, Dropout, Linear, MaxPool2d, Recurrent, ReLU } from './layers.js';
import { Layer, Module, Sequential } from './module.js';
import * as F from './ops.js';

/** [N, C, H, W] -> [W, N, C*H]: the feature map's columns become time steps. */
export function mapToSequence(t: Tape, feat: Var): Var {
  const [n, c, h, w] = feat.shape as [number, number, number, number];
  return F.permute(t, F.reshape(t, feat, [n, c * h, w]), [2, 0, 1]);
}

export interface RecognizerInfo {
  /** Zoo name. */
  name: string;
  inChannels: number;
  height: number;
  /** Default width; CTC models accept any width that leaves T >= 1. */
  width: number;
  numClasses: number;
  /** Output length for an input width (CTC models), or the fixed output length. */
  timeSteps(width: number): number;
  /**
   * 'ctc' models are trained with CTC; 'ce' with cross-entropy on fixed-length labels;
   * 'attention' models (AttentionRecognizer, attention.ts) need decoder inputs: trained with
   * their own `loss(tape, images, labels)` (teacher forcing, masked cross-entropy) and read
   * with `greedyDecode`, not with `forward(tape, images)` alone.
   */
  loss: 'ctc' | 'ce' | 'attention';
}

/** A model mapping images [N, C, H, W] to logits [T, N, classes]. */
export abstract class Recognizer extends Module {
  abstract readonly info: RecognizerInfo;
  abstract forward(t: Tape, images: Var): Var;
  /** (layer name, output shape, parameters) rows for a summary, at batch `n` and `width`. */
  abstract summaryRows(n: number, width: number): Array<[string, number[], number]>;

  protected checkInput(images: Var): void {
    const s = images.shape;
    const i = this.info;
    if (s.length !== 4 || s[1] !== i.inChannels || s[2] !== i.height) {
      throw new OpInputError(i.name, `images [N, ${i.inChannels}, ${i.height}, W]`, `[${s.join(', ')}]`);
    }
    if (this.info.timeSteps(s[3]!) < 1) throw new OpInputError(i.name, 'an image wide enough for one output step', `width ${s[3]}`);
  }
}

function sequentialRows(prefix: string, seq: Sequential, input: number[]): { rows: Array<[string, number[], number]>; out: number[] } {
  const rows: Array<[string, number[], number]> = [];
  let s = input;
  seq.layers.forEach((l, i) => {
    s = l.outputShape(s);
    rows.push([`${prefix}.${i} ${l.constructor.name}`, s, l.parameterCount()]);
  });
  return { rows, out: s };
}

export interface CrnnNames {
  cnn: string;
  rnn: string;
  fc: string;
}

/**
 * CNN -> map to sequence -> (multi-layer bidirectional) LSTM -> Linear. The `crnn`,
 * `crnn-strided`, `crnn-ce` and tiny models differ only in the CNN and sizes.
 */
export class CrnnModel extends Recognizer {
  readonly cnn: Sequential;
  readonly rnn: Recurrent;
  readonly fc: Linear;

  constructor(
    rt: Runtime,
    readonly info: RecognizerInfo,
    cnn: Sequential,
    rnn: Recurrent,
    fc: Linear,
    names: CrnnNames = { cnn: 'conv_layers', rnn: 'rec_layers', fc: 'clf_layer' },
  ) {
    super(rt);
    this.cnn = this.child(names.cnn, cnn);
    this.rnn = this.child(names.rnn, rnn);
    this.fc = this.child(names.fc, fc);
  }

  forward(t: Tape, images: Var): Var {
    this.checkInput(images);
    const seq = mapToSequence(t, this.cnn.forward(t, images));
    return this.fc.forward(t, this.rnn.forward(t, seq));
  }

  summaryRows(n: number, width: number): Array<[string, number[], number]> {
    const { rows, out } = sequentialRows('cnn', this.cnn, [n, this.info.inChannels, this.info.height, width]);
    const [, c, h, w] = out as [number, number, number, number];
    rows.push(['map_to_sequence', [w, n, c * h], 0]);
    rows.push([`rnn ${this.rnn.cfg.kind.toUpperCase()}`, [w, n, this.rnn.outFeatures], this.rnn.parameterCount()]);
    rows.push(['fc Linear', [w, n, this.fc.outFeatures], this.fc.parameterCount()]);
    return rows;
  }
}

/** The CRNN paper's VGG stack, as in the `003_*` notebook's `CRNN` (1x32xW, T = W/4 - 1). */
export function buildCrnn(rt: Runtime, rng: Rng, o: { numClasses?: number; inChannels?: number; width?: number; hidden?: number } = {}): CrnnModel {
  const C = o.numClasses ?? 37;
  const inC = o.inChannels ?? 1;
  const conv = (i: number, out: number, k: number | [number, number] = 3, p: number | [number, number] = 1) =>
    new Conv2d(rt, rng, { inChannels: i, outChannels: out, kernel: k, padding: p });
  const cnn = new Sequential(rt, [
    conv(inC, 64), new MaxPool2d(rt, 2, 2), new ReLU(rt),
    conv(64, 128), new MaxPool2d(rt, 2, 2), new ReLU(rt),
    conv(128, 256), new ReLU(rt),
    conv(256, 256), new MaxPool2d(rt, [2, 1]), new ReLU(rt),
    conv(256, 512), new ReLU(rt), new BatchNorm(rt, 512),
    conv(512, 512), new ReLU(rt), new BatchNorm(rt, 512), new MaxPool2d(rt, [2, 1]),
    conv(512, 512, 2, 0),
  ]);
  const H = o.hidden ?? 256;
  const rnn = new Recurrent(rt, rng, { kind: 'lstm', inputSize: 512, hiddenSize: H, numLayers: 2, bidirectional: true }, rng.nextU32());
  const fc = new Linear(rt, rng, 2 * H, C);
  return new CrnnModel(rt, { name: 'crnn', inChannels: inC, height: 32, width: o.width ?? 100, numClasses: C, timeSteps: (w) => Math.floor(w / 4) - 1, loss: 'ctc' }, cnn, rnn, fc);
}

/** `003_*` ModifiedCRNN: strided convolutions instead of late pools (1x32x176, T = 10). */
export function buildCrnnStrided(rt: Runtime, rng: Rng, o: { numClasses?: number; inChannels?: number; width?: number } = {}): CrnnModel {
  const C = o.numClasses ?? 37;
  const inC = o.inChannels ?? 1;
  const conv = (i: number, out: number, s = 1, k = 3, p = 1) => new Conv2d(rt, rng, { inChannels: i, outChannels: out, kernel: k, stride: s, padding: p });
  const cnn = new Sequential(rt, [
    conv(inC, 64), new MaxPool2d(rt, 2, 2), new ReLU(rt),
    conv(64, 128, 2), new ReLU(rt), new BatchNorm(rt, 128),
    conv(128, 256, 2), new ReLU(rt), new BatchNorm(rt, 256),
    conv(256, 256, 2), new ReLU(rt), new BatchNorm(rt, 256),
    conv(256, 256, 1, 2, 0),
  ]);
  const rnn = new Recurrent(rt, rng, { kind: 'lstm', inputSize: 256, hiddenSize: 256, numLayers: 2, bidirectional: true }, rng.nextU32());
  const fc = new Linear(rt, rng, 512, C);
  // 176 -> pool 88 -> 44 -> 22 -> 11 -> 2x2 conv 10; in general ceil-halvings then -1.
  const steps = (w: number) => {
    let x = Math.floor(w / 2);
    for (let i = 0; i < 3; i++) x = Math.floor((x + 2 - 3) / 2) + 1;
    return x - 1;
  };
  return new CrnnModel(rt, { name: 'crnn-strided', inChannels: inC, height: 32, width: o.width ?? 176, numClasses: C, timeSteps: steps, loss: 'ctc' }, cnn, rnn, fc);
}

/** `003_*` CECRNN: 1x32x128, T = 5 outputs, trained with cross-entropy on fixed-length labels. */
export function buildCrnnCe(rt: Runtime, rng: Rng, o: { numClasses?: number; inChannels?: number; seed?: number } = {}): CrnnModel {
  const C = o.numClasses ?? 37;
  const inC = o.inChannels ?? 1;
  const conv = (i: number, out: number, k: number | [number, number] = 3, p = 1) => new Conv2d(rt, rng, { inChannels: i, outChannels: out, kernel: k, padding: p });
  const cnn = new Sequential(rt, [
    conv(inC, 64), new MaxPool2d(rt, 2, 2), new ReLU(rt),
    conv(64, 128), new MaxPool2d(rt, 2, 2), new ReLU(rt),
    conv(128, 256), new MaxPool2d(rt, 2), new ReLU(rt),
    conv(256, 512, [3, 5]), new ReLU(rt), new BatchNorm(rt, 512),
    conv(512, 512, [3, 5]), new ReLU(rt), new BatchNorm(rt, 512),
    new MaxPool2d(rt, 2),
    conv(512, 512, 2, 0),
  ]);
  const rnn = new Recurrent(rt, rng, { kind: 'lstm', inputSize: 512, hiddenSize: 256, numLayers: 2, bidirectional: true, dropout: 0.2 }, rng.nextU32());
  const fc = new Linear(rt, rng, 512, C);
  // 128 -> 64 -> 32 -> 16 -> 14 -> 12 -> 6 -> 5
  const steps = (w: number) => Math.floor((Math.floor(w / 8) - 4) / 2) - 1;
  return new CrnnModel(rt, { name: 'crnn-ce', inChannels: inC, height: 32, width: 128, numClasses: C, timeSteps: steps, loss: 'ce' }, cnn, rnn, fc);
}

/**
 * The tiny CRNN of the golden case (../shared/golden/README.md): 1x8xW, T = W/2 - 1,
 * modules named conv / rnn / fc. Also the family's small test config.
 */
export function buildCrnnTiny(rt: Runtime, rng: Rng, o: { numClasses?: number; width?: number } = {}): CrnnModel {
  const C = o.numClasses ?? 6;
  const cnn = new Sequential(rt, [
    new Conv2d(rt, rng, { inChannels: 1, outChannels: 4, kernel: 3, padding: 1 }), new MaxPool2d(rt, 2, 2), new ReLU(rt),
    new Conv2d(rt, rng, { inChannels: 4, outChannels: 6, kernel: 3, padding: 1 }), new MaxPool2d(rt, [2, 1]), new ReLU(rt),
    new BatchNorm(rt, 6),
    new Conv2d(rt, rng, { inChannels: 6, outChannels: 8, kernel: 2 }),
  ]);
  const rnn = new Recurrent(rt, rng, { kind: 'lstm', inputSize: 8, hiddenSize: 5, numLayers: 1, bidirectional: true }, rng.nextU32());
  const fc = new Linear(rt, rng, 10, C);
  return new CrnnModel(
    rt,
    { name: 'crnn-tiny', inChannels: 1, height: 8, width: o.width ?? 12, numClasses: C, timeSteps: (w) => Math.floor(w / 2) - 1, loss: 'ctc' },
    cnn,
    rnn,
    fc,
    { cnn: 'conv', rnn: 'rnn', fc: 'fc' },
  );
}

/** `000_*` Bidirectional: an RNN and its output Linear ('embedding'), named as in the notebook. */
class BidirectionalHead extends Module {
  readonly rnn: Recurrent;
  readonly embedding: Linear;
  constructor(rt: Runtime, rng: Rng, kind: 'lstm' | 'gru', inp: number, hidden: number, out: number) {
    super(rt);
    this.rnn = this.child('rnn', new Recurrent(rt, rng, { kind, inputSize: inp, hiddenSize: hidden, bidirectional: true }, rng.nextU32()));
    this.embedding = this.child('embedding', new Linear(rt, rng, 2 * hidden, out));
  }
}

/**
 * `000_*` CRNN: 1x50x200; 9x9 conv 256 (pad 1), ReLU, BN, max pool 3, (4,3) conv 256 (pad 1),
 * ReLU, BN; Linear 3328 -> 256 per column; bidirectional LSTM or GRU 1024; Linear -> C.
 * `bn1` (BatchNorm1d 256) is declared in the notebook but unused in its forward; it is kept
 * so that the state_dict and the parameter count match.
 */
export class CrnnWide extends Recognizer {
  readonly info: RecognizerInfo;
  readonly cnn: Sequential;
  readonly linear: Linear;
  readonly head: BidirectionalHead;

  constructor(rt: Runtime, rng: Rng, o: { numClasses?: number; kind?: 'lstm' | 'gru'; width?: number; hidden?: number } = {}) {
    super(rt);
    const C = o.numClasses ?? 20; // 19 characters + blank in the notebook
    this.cnn = this.child(
      'cnn',
      new Sequential(rt, [
        new Conv2d(rt, rng, { inChannels: 1, outChannels: 256, kernel: 9, padding: 1 }), new ReLU(rt), new BatchNorm(rt, 256),
        new MaxPool2d(rt, 3, 3),
        new Conv2d(rt, rng, { inChannels: 256, outChannels: 256, kernel: [4, 3], padding: 1 }), new ReLU(rt), new BatchNorm(rt, 256),
      ]),
    );
    // Height 50 -> 44 -> 14 -> 13: 256 * 13 = 3328 features per column.
    this.linear = this.child('linear', new Linear(rt, rng, 3328, 256));
    this.child('bn1', new BatchNorm(rt, 256));
    this.head = this.child('rnn', new BidirectionalHead(rt, rng, o.kind ?? 'lstm', 256, o.hidden ?? 1024, C));
    const name = o.kind === 'gru' ? 'crnn-wide-gru' : 'crnn-wide';
    this.info = { name, inChannels: 1, height: 50, width: o.width ?? 200, numClasses: C, timeSteps: (w) => Math.floor((w - 6) / 3), loss: 'ctc' };
  }

  forward(t: Tape, images: Var): Var {
    this.checkInput(images);
    const seq = this.linear.forward(t, mapToSequence(t, this.cnn.forward(t, images)));
    return this.head.embedding.forward(t, this.head.rnn.forward(t, seq));
  }

  summaryRows(n: number, width: number): Array<[string, number[], number]> {
    const { rows, out } = sequentialRows('cnn', this.cnn, [n, 1, 50, width]);
    const w = out[3]!;
    rows.push(['map_to_sequence', [w, n, out[1]! * out[2]!], 0]);
    rows.push(['linear Linear', [w, n, 256], this.linear.parameterCount()]);
    rows.push(['bn1 BatchNorm1d (unused)', [], 512]);
    rows.push([`rnn.rnn ${this.head.rnn.cfg.kind.toUpperCase()}`, [w, n, this.head.rnn.outFeatures], this.head.rnn.parameterCount()]);
    rows.push(['rnn.embedding Linear', [w, n, this.info.numClasses], this.head.embedding.parameterCount()]);
    return rows;
  }
}

/**
 * `001_*` Keras OCR model, in NCHW: two conv blocks (32 and 64 filters, 3x3 same, ReLU,
 * max pool 2), columns to a sequence, Dense 64 + ReLU, dropout 0.2, BiLSTM 128, BiLSTM 64
 * (dropout 0.25 between them), Dense C+1. Keras LSTMs have one bias per gate; ours, like
 * PyTorch's, two (b_ih and b_hh), so the count is 4H per direction and layer higher than
 * Keras's 432,725 at the notebook's 21 classes (see models README).
 */
export class CaptchaKeras extends Recognizer {
  readonly info: RecognizerInfo;
  readonly cnn: Sequential;
  readonly dense1: Linear;
  readonly drop: Dropout;
  readonly lstm1: Recurrent;
  readonly lstm2: Recurrent;
  readonly dense2: Linear;

  constructor(rt: Runtime, rng: Rng, o: { numClasses?: number; height?: number; width?: number } = {}) {
    super(rt);
    const C = o.numClasses ?? 21;
    const H = o.height ?? 50;
    const conv = (i: number, out: number) => new Conv2d(rt, rng, { inChannels: i, outChannels: out, kernel: 3, padding: 1 });
    this.cnn = this.child('cnn', new Sequential(rt, [conv(1, 32), new ReLU(rt), new MaxPool2d(rt, 2), conv(32, 64), new ReLU(rt), new MaxPool2d(rt, 2)]));
    const feat = 64 * Math.floor(Math.floor(H / 2) / 2);
    this.dense1 = this.child('dense1', new Linear(rt, rng, feat, 64));
    this.drop = new Dropout(rt, 0.2, rng.nextU32());
    this.lstm1 = this.child('lstm1', new Recurrent(rt, rng, { kind: 'lstm', inputSize: 64, hiddenSize: 128, bidirectional: true }, rng.nextU32()));
    this.lstm2 = this.child('lstm2', new Recurrent(rt, rng, { kind: 'lstm', inputSize: 256, hiddenSize: 64, bidirectional: true }, rng.nextU32()));
    this.dense2 = this.child('dense2', new Linear(rt, rng, 128, C));
    this.info = { name: 'captcha-keras', inChannels: 1, height: H, width: o.width ?? 200, numClasses: C, timeSteps: (w) => Math.floor(Math.floor(w / 2) / 2), loss: 'ctc' };
  }

  private lstmDrop = new Dropout(this.rt, 0.25, 0x5eed);

  forward(t: Tape, images: Var): Var {
    this.checkInput(images);
    const seq = mapToSequence(t, this.cnn.forward(t, images));
    const h = this.drop.forward(t, F.relu(t, this.dense1.forward(t, seq)));
    const h1 = this.lstmDrop.forward(t, this.lstm1.forward(t, h));
    return this.dense2.forward(t, this.lstm2.forward(t, h1));
  }

  summaryRows(n: number, width: number): Array<[string, number[], number]> {
    const { rows, out } = sequentialRows('cnn', this.cnn, [n, 1, this.info.height, width]);
    const w = out[3]!;
    rows.push(['map_to_sequence', [w, n, out[1]! * out[2]!], 0]);
    rows.push(['dense1 Linear+ReLU', [w, n, 64], this.dense1.parameterCount()]);
    rows.push(['dropout 0.2', [w, n, 64], 0]);
    rows.push(['lstm1 BiLSTM 128', [w, n, 256], this.lstm1.parameterCount()]);
    rows.push(['lstm2 BiLSTM 64 (dropout 0.25 in)', [w, n, 128], this.lstm2.parameterCount()]);
    rows.push(['dense2 Linear', [w, n, this.info.numClasses], this.dense2.parameterCount()]);
    return rows;
  }
}

export { Layer };

/**
 * `crnn-lite`: the CRNN family's small member for CPU adapters and short jobs (the default
 * recipe's model): four 3x3 conv blocks (32, 64, 128, 128 filters), each with BatchNorm and
 * ReLU — BatchNorm after every conv makes CTC training leave its initial all-blank plateau
 * in a few hundred steps — pools 2, 2, (2,1), (2,1), then one BiLSTM and a Linear.
 * Input 1xHxW with H a multiple of 16; T = W/4.
 *
 * `stem: 2` (zoo name `crnn-lite-s2`): the first conv has stride 2, so the network reads a
 * 1xHxW image at the cost `crnn-lite` pays for H/2 x W/2 — the stride-2 conv learns its own
 * downsampling from the full-resolution pixels instead of a bilinear resize throwing them
 * away first. H a multiple of 32; T = W/8.
 */
export function buildCrnnLite(
  rt: Runtime,
  rng: Rng,
  o: { numClasses?: number; inChannels?: number; height?: number; width?: number; hidden?: number; stem?: 1 | 2; hr?: boolean; frame4?: boolean } = {},
): CrnnModel {
  const C = o.numClasses ?? 37;
  const inC = o.inChannels ?? 1;
  const H = o.height ?? 32;
  const stem = o.stem ?? 1;
  const hr = o.hr ?? false;
  const frame4 = hr && (o.frame4 ?? false);
  const name = stem === 2 ? (hr ? (frame4 ? 'crnn-lite-s2-hr4' : 'crnn-lite-s2-hr') : 'crnn-lite-s2') : 'crnn-lite';
  const down = hr ? 16 : 16 * stem; // total height reduction
  if (H % down !== 0) throw new OpInputError(name, `a height that is a multiple of ${down}`, String(H));
  const block = (i: number, out: number, stride = 1): Layer[] => [
    new Conv2d(rt, rng, { inChannels: i, outChannels: out, kernel: 3, padding: 1, stride, bias: false }),
    new BatchNorm(rt, out),
    new ReLU(rt),
  ];
  const cnn = new Sequential(rt, hr ? [
    ...block(inC, 32, stem),
    ...block(32, 64), new MaxPool2d(rt, 2, 2),
    ...block(64, 128), frame4 ? new MaxPool2d(rt, [2, 1]) : new MaxPool2d(rt, 2, 2),
    ...block(128, 128), new MaxPool2d(rt, [2, 1]),
  ] : [
    ...block(inC, 32, stem), new MaxPool2d(rt, 2, 2),
    ...block(32, 64), new MaxPool2d(rt, 2, 2),
    ...block(64, 128), new MaxPool2d(rt, [2, 1]),
    ...block(128, 128), new MaxPool2d(rt, [2, 1]),
  ]);
  const hidden = o.hidden ?? 128;
  const feat = 128 * (H / down);
  const rnn = new Recurrent(rt, rng, { kind: 'lstm', inputSize: feat, hiddenSize: hidden, numLayers: 1, bidirectional: true }, rng.nextU32());
  const fc = new Linear(rt, rng, 2 * hidden, C);
  const tw = frame4 ? 4 : 4 * stem;
  return new CrnnModel(rt, { name, inChannels: inC, height: H, width: o.width ?? 128, numClasses: C, timeSteps: (w) => Math.floor(w / tw), loss: 'ctc' }, cnn, rnn, fc);
}
