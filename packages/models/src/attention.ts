/**
 * The `004_*` SRN (sequence recognition network): an attention encoder-decoder.
 *
 *   images [N, 1, 28, W]
 *   -> cnn: ConvFeatureExtractor, 3 x (conv 3x3 pad 1 -> BatchNorm -> ReLU -> max pool 2)
 *      with nConv, 2*nConv, 4*nConv filters: [N, 4*nConv, H/8, W/8]
 *   -> map to sequence: [N, S = W/8, 4*nConv * H/8]
 *   -> encoder: Dense nState + tanh (the notebook's final choice; 'attention'), or a
 *      bidirectional LSTM with nState/2 units per direction ('attention-blstm'): [N, S, nState]
 *   decoder inputs [N, L] (START, c1, ..., c_{L-1}) -> embedding [L, N, nEmbed]
 *   -> decoder: GRU nState (h0 = zeros, as the notebook's generator feeds): [N, L, nState]
 *   -> Luong dot attention over the encoder states: context [N, L, nState]
 *   -> concat(context, state) [N, L, 2*nState] -> clf1 Dense nClf + ReLU -> clf2 Dense K+3
 *   -> logits [L, N, K+3] (time-major, like the CTC models; softmax is in the loss).
 *
 * The notebook imports its ConvFeatureExtractor from the repository's models/layers.py
 * (a CRNN-style VGG stack with Keras 'same' pooling, which our floor-mode pools cannot
 * reproduce at height 28); the notebook itself does not define it, so this is a small one of
 * our own design, documented here: conv-BN-ReLU-pool blocks, 28 -> 14 -> 7 -> 3 rows and
 * W -> W/8 columns, so the encoder sees S = floor(W/8) steps of 64 * 3 = 192 features.
 *
 * Tokens (output classes): 0 = PAD (never predicted, never a target), 1..K = the characters
 * (charset[i - 1], as in the CTC models), K+1 = START (the first decoder input; never
 * predicted), K+2 = END (the last target; greedy decoding stops there). `numClasses` given
 * to the builder counts the characters + 1, like the CTC models' blank-included count, so
 * K = numClasses - 1 and the logits have K + 3 = numClasses + 2 classes.
 *
 * Training: teacher forcing. `loss(tape, images, labels)` builds decoder inputs
 * [START, c1..cm] and targets [c1..cm, END], pads both to the longest label (inputs with
 * PAD, targets with -1, ignored) and returns the mean cross-entropy over the real targets
 * (the notebook's masking_sparse_categorical_crossentropy(-1)). Inference: `greedyDecode`
 * runs the GRU one step at a time (h0 = previous hN), batched over N, feeding back the
 * argmax token, and stops each sequence at END (all at maxLen).
 *
 * Parameters at the default configuration (the notebook's: K = 10 digits, numClasses = 11,
 * 13 output classes; nConv 16, nState 128, nEmbed 10, nClf 128; 1x28xW):
 *   cnn.0  Conv2d 1->16 3x3      16*1*9 + 16   =     160
 *   cnn.1  BatchNorm 16          2*16          =      32
 *   cnn.4  Conv2d 16->32 3x3     32*16*9 + 32  =   4,640
 *   cnn.5  BatchNorm 32          2*32          =      64
 *   cnn.8  Conv2d 32->64 3x3     64*32*9 + 64  =  18,496
 *   cnn.9  BatchNorm 64          2*64          =     128
 *   encoder Linear 192->128      192*128 + 128 =  24,704
 *   embedding 13x10              13*10         =     130
 *   decoder GRU 10->128          3*128*(10+128) + 2*3*128 = 53,760
 *   clf1 Linear 256->128         256*128 + 128 =  32,896
 *   clf2 Linear 128->13          128*13 + 13   =   1,677
 *   total                                       = 136,687
 * ('attention-blstm': the encoder is a BiLSTM 192->2x64, 2*(4*64*(192+64) + 2*4*64) =
 * 132,096 instead of 24,704: 244,079 in all.) Names follow PyTorch's state_dict:
 * cnn.0.weight, cnn.1.running_mean, encoder.weight (or encoder.weight_ih_l0_reverse),
 * embedding.weight, decoder.weight_ih_l0, clf1.weight, clf2.bias.
 */
import { OpInputError, type Rng, type Runtime, type Tensor } from '@crnn/core';
import { Tape, Var, type Param } from './autograd.js';
import { Recognizer, type RecognizerInfo } from './crnn.js';
import { BatchNorm, Conv2d, Linear, MaxPool2d, Recurrent, ReLU } from './layers.js';
import { Module, Sequential } from './module.js';
import * as F from './ops.js';

export interface AttentionConfig {
  /** Characters + 1 (K = numClasses - 1 characters, ids 1..K). Default 11 (10 digits). */
  numClasses?: number;
  inChannels?: number;
  /** Image height; at least 8 (three 2x2 pools). Default 28 (MNIST). */
  height?: number;
  /** Default width: 140 (5 MNIST digits side by side), S = 17 encoder steps. */
  width?: number;
  /** Filters of the first conv block (then 2x, 4x). Default 16. */
  nConv?: number;
  /** Encoder output and decoder GRU size. Default 128. */
  nState?: number;
  /** Token embedding size. Default 10. */
  nEmbed?: number;
  /** Units of the first classifier layer. Default 128. */
  nClf?: number;
  /** 'dense' (Dense + tanh, the notebook's) or 'blstm' (BiLSTM nState/2 per direction). */
  encoder?: 'dense' | 'blstm';
  /** Zoo name. */
  name?: string;
}

/** torch.nn.Embedding: a [V, D] table (weight), initialised N(0, 1). */
export class Embedding extends Module {
  readonly weight: Param;
  constructor(rt: Runtime, rng: Rng, readonly num: number, readonly dim: number) {
    super(rt);
    this.weight = this.param('weight', rt.upload(rng.fillNormal(num * dim), [num, dim]));
  }
  /** Rows for integer ids (a host array, validated, of shape `shape`) -> [...shape, D]. */
  forward(t: Tape, ids: ArrayLike<number>, shape: readonly number[]): Var {
    return F.embedding(t, this.weight, ids, shape);
  }
}

/** Teacher-forcing inputs and targets for labels of character ids 1..K. */
export interface TeacherForcing {
  /** Decoder steps: the longest label + 1. */
  length: number;
  /** [N][L]: START, c1..cm, then PAD. */
  decoderInputs: number[][];
  /** [N][L]: c1..cm, END, then -1 (ignored). */
  targets: number[][];
}

export class AttentionRecognizer extends Recognizer {
  readonly info: RecognizerInfo;
  /** K: characters, ids 1..K. */
  readonly numChars: number;
  readonly pad = 0;
  readonly startToken: number;
  readonly endToken: number;
  /** Output classes: K + 3 (PAD, characters, START, END). */
  readonly outClasses: number;
  readonly nState: number;
  readonly encoderKind: 'dense' | 'blstm';
  readonly cnn: Sequential;
  readonly encoder: Linear | Recurrent;
  readonly embedding: Embedding;
  readonly decoder: Recurrent;
  readonly clf1: Linear;
  readonly clf2: Linear;

  constructor(rt: Runtime, rng: Rng, o: AttentionConfig = {}) {
    super(rt);
    const C = o.numClasses ?? 11;
    if (!Number.isInteger(C) || C < 2) throw new OpInputError('attention', 'numClasses an integer >= 2 (characters + 1)', String(C));
    const inC = o.inChannels ?? 1;
    const height = o.height ?? 28;
    if (height < 8) throw new OpInputError('attention', 'an image height of at least 8', String(height));
    const nConv = o.nConv ?? 16;
    const H = o.nState ?? 128;
    const E = o.nEmbed ?? 10;
    const nClf = o.nClf ?? 128;
    this.encoderKind = o.encoder ?? 'dense';
    if (this.encoderKind === 'blstm' && H % 2 !== 0) throw new OpInputError('attention', 'an even nState for the BiLSTM encoder', String(H));
    this.numChars = C - 1;
    this.startToken = C;
    this.endToken = C + 1;
    this.outClasses = C + 2;
    this.nState = H;

    const block = (i: number, out: number) => [
      new Conv2d(rt, rng, { inChannels: i, outChannels: out, kernel: 3, padding: 1 }),
      new BatchNorm(rt, out),
      new ReLU(rt),
      new MaxPool2d(rt, 2, 2),
    ];
    this.cnn = this.child('cnn', new Sequential(rt, [...block(inC, nConv), ...block(nConv, 2 * nConv), ...block(2 * nConv, 4 * nConv)]));
    const feat = 4 * nConv * Math.floor(Math.floor(Math.floor(height / 2) / 2) / 2);
    this.encoder = this.child(
      'encoder',
      this.encoderKind === 'dense'
        ? new Linear(rt, rng, feat, H)
        : new Recurrent(rt, rng, { kind: 'lstm', inputSize: feat, hiddenSize: H / 2, bidirectional: true }, rng.nextU32()),
    );
    this.embedding = this.child('embedding', new Embedding(rt, rng, this.outClasses, E));
    this.decoder = this.child('decoder', new Recurrent(rt, rng, { kind: 'gru', inputSize: E, hiddenSize: H }, rng.nextU32()));
    this.clf1 = this.child('clf1', new Linear(rt, rng, 2 * H, nClf));
    this.clf2 = this.child('clf2', new Linear(rt, rng, nClf, this.outClasses));
    this.info = {
      name: o.name ?? (this.encoderKind === 'dense' ? 'attention' : 'attention-blstm'),
      inChannels: inC,
      height,
      width: o.width ?? 140,
      numClasses: C,
      // Encoder steps S; also the default greedy decoding length.
      timeSteps: (w) => Math.floor(Math.floor(Math.floor(w / 2) / 2) / 2),
      loss: 'attention',
    };
  }

  /** Encoder states [N, S, nState]. */
  encode(t: Tape, images: Var): Var {
    this.checkInput(images);
    const fm = this.cnn.forward(t, images);
    const [n, c, h, w] = fm.shape as [number, number, number, number];
    if (this.encoder instanceof Linear) {
      const seq = F.permute(t, F.reshape(t, fm, [n, c * h, w]), [0, 2, 1]); // [N, S, F]
      return F.tanh(t, this.encoder.forward(t, seq));
    }
    const seq = F.permute(t, F.reshape(t, fm, [n, c * h, w]), [2, 0, 1]); // [S, N, F]
    return F.permute(t, this.encoder.forward(t, seq), [1, 0, 2]);
  }

  /**
   * Decoder steps for `tokens` [L][N] (time-major ids) over encoder states [N, S, H], from
   * state `h0` [1, N, H] (zeros when absent): logits [L, N, K+3] and the final state hN.
   */
  decode(t: Tape, enc: Var, tokens: number[][], h0?: Var): { logits: Var; hN: Var } {
    const L = tokens.length;
    const N = enc.shape[0]!;
    const ids: number[] = [];
    for (const row of tokens) {
      if (row.length !== N) throw new OpInputError('attention', `${N} decoder tokens per step`, String(row.length));
      for (const v of row) {
        if (!Number.isInteger(v) || v < 0 || v >= this.outClasses) throw new OpInputError('attention', `decoder tokens in [0, ${this.outClasses})`, String(v));
        ids.push(v);
      }
    }
    const emb = this.embedding.forward(t, ids, [L, N]); // [L, N, E]
    const { y, hN } = F.gruWithState(
      t,
      emb,
      this.decoder.weights,
      { hiddenSize: this.nState, numLayers: 1, bidirectional: false, dropout: 0, seed: 0 },
      h0,
    );
    const dec = L === 1 ? F.reshape(t, y, [N, 1, this.nState]) : F.permute(t, y, [1, 0, 2]); // [N, L, H]
    const [context] = F.dotAttention(t, enc, dec);
    const h = F.relu(t, this.clf1.forward(t, F.concat(t, [context!, dec], -1)));
    const out = this.clf2.forward(t, h); // [N, L, K+3]
    const logits = L === 1 ? F.reshape(t, out, [1, N, this.outClasses]) : F.permute(t, out, [1, 0, 2]);
    return { logits, hN };
  }

  /**
   * Teacher-forced logits [L, N, K+3] for decoder inputs [N][L] (every row the same length,
   * ids in [0, K+3)). Without decoder inputs it throws: use `loss` or `greedyDecode`.
   */
  forward(t: Tape, images: Var, decoderInputs?: number[][]): Var {
    if (!decoderInputs) {
      throw new OpInputError(this.info.name, 'decoder inputs [N, L] (teacher forcing); use loss() to train and greedyDecode() to read', 'images only');
    }
    const N = images.shape[0]!;
    const L = decoderInputs[0]?.length ?? 0;
    if (decoderInputs.length !== N || L < 1 || decoderInputs.some((r) => r.length !== L)) {
      throw new OpInputError(this.info.name, `decoder inputs [${N}, L >= 1], every row of the same length`, `${decoderInputs.length} rows of lengths ${decoderInputs.map((r) => r.length).join(', ')}`);
    }
    const enc = this.encode(t, images);
    const tokens = Array.from({ length: L }, (_, l) => decoderInputs.map((r) => r[l]!));
    return this.decode(t, enc, tokens).logits;
  }

  /** Decoder inputs and targets for labels (character ids 1..K), padded to the longest + 1. */
  teacherForcing(labels: readonly (readonly number[])[]): TeacherForcing {
    const length = Math.max(0, ...labels.map((l) => l.length)) + 1;
    const decoderInputs: number[][] = [];
    const targets: number[][] = [];
    labels.forEach((lab, n) => {
      for (const c of lab) {
        if (!Number.isInteger(c) || c < 1 || c > this.numChars) throw new OpInputError(this.info.name, `label ids in [1, ${this.numChars}]`, `label ${n}: ${c}`);
      }
      decoderInputs.push(Array.from({ length }, (_, l) => (l === 0 ? this.startToken : (lab[l - 1] ?? this.pad))));
      targets.push(Array.from({ length }, (_, l) => (l < lab.length ? lab[l]! : l === lab.length ? this.endToken : -1)));
    });
    return { length, decoderInputs, targets };
  }

  /**
   * Masked mean cross-entropy of the teacher-forced logits against [c1..cm, END] (a scalar);
   * also returns the logits [L, N, K+3].
   */
  lossAndLogits(t: Tape, images: Var, labels: readonly (readonly number[])[]): { loss: Var; logits: Var } {
    if (labels.length !== images.shape[0]) throw new OpInputError(this.info.name, `${images.shape[0]} labels (one per image)`, String(labels.length));
    const tf = this.teacherForcing(labels);
    const logits = this.forward(t, images, tf.decoderInputs);
    const L = tf.length;
    const targets: number[] = [];
    for (let l = 0; l < L; l++) for (const row of tf.targets) targets.push(row[l]!);
    return { loss: F.crossEntropy(t, logits, { targets, classDim: 2, ignoreIndex: -1 }), logits };
  }

  loss(t: Tape, images: Var, labels: readonly (readonly number[])[]): Var {
    return this.lossAndLogits(t, images, labels).loss;
  }

  /**
   * Greedy decoding of images [N, C, H, W] (the caller's tensor, left alive): the decoder
   * runs one step at a time from START (h0 = zeros, then each step's hN), feeding back its
   * argmax over the characters and END (PAD and START are never picked); a sequence stops
   * at END, all stop after `maxLen` steps (default: the encoder length S). Returns the
   * character ids (1..K) of each image, without START/END. Eval mode (running BN stats).
   */
  async greedyDecode(rt: Runtime, images: Tensor, maxLen = this.info.timeSteps(images.shape[3] ?? this.info.width)): Promise<number[][]> {
    const N = images.shape[0]!;
    const out: number[][] = Array.from({ length: N }, () => []);
    const done = new Array<boolean>(N).fill(false);
    const encTape = new Tape(rt, false, false);
    let h: Tensor | null = null;
    try {
      const enc = this.encode(encTape, new Var(images));
      let tokens = new Array<number>(N).fill(this.startToken);
      for (let step = 0; step < maxLen && !done.every(Boolean); step++) {
        const tape = new Tape(rt, false, false);
        try {
          const r = this.decode(tape, enc, [tokens], h ? new Var(h) : undefined);
          const next = rt.empty(r.hN.shape);
          rt.copy(r.hN.value, next);
          h?.dispose();
          h = next;
          const logits = await rt.read(r.logits.value); // [1, N, K+3]
          const C = this.outClasses;
          tokens = tokens.map((_, n) => {
            if (done[n]) return this.endToken;
            let best = 1;
            for (let c = 2; c <= this.numChars; c++) if (logits[n * C + c]! > logits[n * C + best]!) best = c;
            if (logits[n * C + this.endToken]! > logits[n * C + best]!) best = this.endToken;
            if (best === this.endToken) done[n] = true;
            else out[n]!.push(best);
            return best;
          });
        } finally {
          tape.dispose();
        }
      }
    } finally {
      h?.dispose();
      encTape.dispose();
    }
    return out;
  }

  summaryRows(n: number, width: number): Array<[string, number[], number]> {
    const rows: Array<[string, number[], number]> = [];
    let s = [n, this.info.inChannels, this.info.height, width];
    this.cnn.layers.forEach((l, i) => {
      s = l.outputShape(s);
      rows.push([`cnn.${i} ${l.constructor.name}`, s, l.parameterCount()]);
    });
    const [, c, h, S] = s as [number, number, number, number];
    const H = this.nState;
    // L, the decoder length, shown as S (the default greedy length).
    const L = S;
    rows.push(['map_to_sequence', [n, S, c * h], 0]);
    rows.push([this.encoder instanceof Linear ? 'encoder Linear+tanh' : 'encoder BiLSTM', [n, S, H], this.encoder.parameterCount()]);
    rows.push(['embedding Embedding', [L, n, this.embedding.dim], this.embedding.parameterCount()]);
    rows.push(['decoder GRU', [n, L, H], this.decoder.parameterCount()]);
    rows.push(['attention DotAttention', [n, L, H], 0]);
    rows.push(['concat(context, state)', [n, L, 2 * H], 0]);
    rows.push(['clf1 Linear+ReLU', [n, L, this.clf1.outFeatures], this.clf1.parameterCount()]);
    rows.push(['clf2 Linear', [L, n, this.outClasses], this.clf2.parameterCount()]);
    return rows;
  }
}

export function isAttentionRecognizer(m: Recognizer): m is AttentionRecognizer {
  return m.info.loss === 'attention' && m instanceof AttentionRecognizer;
}
