/**
 * The layers of the recognizers, named like their torch.nn counterparts so that
 * `stateDict()` names match PyTorch's (`weight`, `bias`, `running_mean`, `weight_ih_l0`).
 */
import { OpInputError, type Rng, type Runtime, type Tensor } from '@crnn/core';
import * as K from '@crnn/kernels';
import type { Param, Tape, Var } from './autograd.js';
import { fanInBound, uniformInit } from './init.js';
import { Layer } from './module.js';
import * as F from './ops.js';

type Pair = number | [number, number];
const pair = (v: Pair): [number, number] => (typeof v === 'number' ? [v, v] : v);

export interface Conv2dConfig {
  inChannels: number;
  outChannels: number;
  kernel: Pair;
  stride?: Pair;
  padding?: Pair;
  bias?: boolean;
}

export class Conv2d extends Layer {
  readonly weight: Param;
  readonly bias?: Param;
  readonly kernel: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];

  constructor(rt: Runtime, rng: Rng, readonly cfg: Conv2dConfig) {
    super(rt);
    this.kernel = pair(cfg.kernel);
    this.stride = pair(cfg.stride ?? 1);
    this.padding = pair(cfg.padding ?? 0);
    const [kh, kw] = this.kernel;
    const fanIn = cfg.inChannels * kh * kw;
    const b = fanInBound(fanIn);
    this.weight = this.param('weight', rt.upload(uniformInit(rng, cfg.outChannels * fanIn, b), [cfg.outChannels, cfg.inChannels, kh, kw]));
    if (cfg.bias ?? true) this.bias = this.param('bias', rt.upload(uniformInit(rng, cfg.outChannels, b), [cfg.outChannels]));
  }

  forward(t: Tape, x: Var): Var {
    return F.conv2d(t, x, this.weight, this.bias, { stride: this.stride, padding: this.padding });
  }

  outputShape([n, , h, w]: readonly number[]): number[] {
    const oh = Math.floor((h! + 2 * this.padding[0] - this.kernel[0]) / this.stride[0]) + 1;
    const ow = Math.floor((w! + 2 * this.padding[1] - this.kernel[1]) / this.stride[1]) + 1;
    return [n!, this.cfg.outChannels, oh, ow];
  }
}

export class ReLU extends Layer {
  forward(t: Tape, x: Var): Var {
    return F.relu(t, x);
  }
  outputShape(s: readonly number[]): number[] {
    return [...s];
  }
}

export class MaxPool2d extends Layer {
  readonly kernel: [number, number];
  readonly stride: [number, number];

  constructor(rt: Runtime, kernel: Pair, stride?: Pair) {
    super(rt);
    this.kernel = pair(kernel);
    this.stride = pair(stride ?? kernel);
  }

  forward(t: Tape, x: Var): Var {
    return F.maxPool2d(t, x, { kernel: this.kernel, stride: this.stride });
  }

  outputShape([n, c, h, w]: readonly number[]): number[] {
    return [n!, c!, Math.floor((h! - this.kernel[0]) / this.stride[0]) + 1, Math.floor((w! - this.kernel[1]) / this.stride[1]) + 1];
  }
}

/** BatchNorm2d over [N, C, H, W] or BatchNorm1d over [N, C] / [N, C, L]. */
export class BatchNorm extends Layer {
  readonly weight: Param;
  readonly bias: Param;

  constructor(
    rt: Runtime,
    readonly channels: number,
    readonly momentum = 0.1,
    readonly eps = 1e-5,
  ) {
    super(rt);
    this.weight = this.param('weight', rt.upload(new Float32Array(channels).fill(1), [channels]));
    this.bias = this.param('bias', rt.zeros([channels]));
    this.buffer('running_mean', rt.zeros([channels]));
    this.buffer('running_var', rt.upload(new Float32Array(channels).fill(1), [channels]));
  }

  /** PyTorch's num_batches_tracked: training forwards so far (saved as I64). */
  batchesTracked = 0;

  override hostState(): Array<[string, number]> {
    return [['num_batches_tracked', this.batchesTracked]];
  }

  override setHostState(name: string, value: number): boolean {
    if (name !== 'num_batches_tracked') return false;
    this.batchesTracked = value;
    return true;
  }

  forward(t: Tape, x: Var): Var {
    return this.forwardFused(t, x, false);
  }

  /** A following ReLU runs in the batch norm's own pass (K.batchNorm's `relu`). */
  override forwardThrough(t: Tape, x: Var, next: Layer): Var | null {
    return next instanceof ReLU ? this.forwardFused(t, x, true) : null;
  }

  /** The forward pass, with `relu` applying a following ReLU in the same pass. */
  private forwardFused(t: Tape, x: Var, relu: boolean): Var {
    if (t.training) this.batchesTracked++;
    if (x.shape[1] !== this.channels) {
      throw new OpInputError('batch_norm', `x with ${this.channels} channels (dim 1)`, `[${x.shape.join(', ')}]`);
    }
    return F.batchNorm(t, x, {
      weight: this.weight,
      bias: this.bias,
      runningMean: this.getBuffer('running_mean'),
      runningVar: this.getBuffer('running_var'),
      momentum: this.momentum,
      eps: this.eps,
      relu,
    });
  }

  outputShape(s: readonly number[]): number[] {
    return [...s];
  }
}

export class Linear extends Layer {
  readonly weight: Param;
  readonly bias?: Param;

  constructor(rt: Runtime, rng: Rng, readonly inFeatures: number, readonly outFeatures: number, bias = true) {
    super(rt);
    const b = fanInBound(inFeatures);
    this.weight = this.param('weight', rt.upload(uniformInit(rng, outFeatures * inFeatures, b), [outFeatures, inFeatures]));
    if (bias) this.bias = this.param('bias', rt.upload(uniformInit(rng, outFeatures, b), [outFeatures]));
  }

  forward(t: Tape, x: Var): Var {
    return F.linear(t, x, this.weight, this.bias);
  }

  outputShape(s: readonly number[]): number[] {
    return [...s.slice(0, -1), this.outFeatures];
  }
}

export class Dropout extends Layer {
  constructor(rt: Runtime, readonly p: number, readonly seed: number) {
    super(rt);
  }
  /** The mask depends on this layer's seed and the tape's step seed. */
  forward(t: Tape, x: Var): Var {
    return F.dropout(t, x, this.p, t.seedFor(this.seed));
  }
  outputShape(s: readonly number[]): number[] {
    return [...s];
  }
}

export interface RecurrentConfig {
  kind: 'lstm' | 'gru';
  inputSize: number;
  hiddenSize: number;
  numLayers?: number;
  bidirectional?: boolean;
  dropout?: number;
}

/** torch.nn.LSTM / torch.nn.GRU on [T, N, I] -> [T, N, dirs*H] (final states dropped). */
export class Recurrent extends Layer {
  readonly weights: Record<string, Param> = {};

  constructor(rt: Runtime, rng: Rng, readonly cfg: RecurrentConfig, private readonly seed = 0) {
    super(rt);
    const G = cfg.kind === 'lstm' ? 4 : 3;
    const H = cfg.hiddenSize;
    const dirs = cfg.bidirectional ? 2 : 1;
    const b = fanInBound(H);
    for (let k = 0; k < (cfg.numLayers ?? 1); k++) {
      const inK = k === 0 ? cfg.inputSize : dirs * H;
      for (let d = 0; d < dirs; d++) {
        const sfx = `_l${k}${d === 1 ? '_reverse' : ''}`;
        const shapes: Array<[string, number[]]> = [
          [`weight_ih${sfx}`, [G * H, inK]],
          [`weight_hh${sfx}`, [G * H, H]],
          [`bias_ih${sfx}`, [G * H]],
          [`bias_hh${sfx}`, [G * H]],
        ];
        for (const [name, shape] of shapes) {
          this.weights[name] = this.param(name, rt.upload(uniformInit(rng, shape.reduce((a, c) => a * c, 1), b), shape));
        }
      }
    }
  }

  get outFeatures(): number {
    return (this.cfg.bidirectional ? 2 : 1) * this.cfg.hiddenSize;
  }

  forward(t: Tape, x: Var): Var {
    return F.recurrent(t, this.cfg.kind, x, this.weights, {
      hiddenSize: this.cfg.hiddenSize,
      numLayers: this.cfg.numLayers ?? 1,
      bidirectional: this.cfg.bidirectional ?? false,
      dropout: this.cfg.dropout ?? 0,
      seed: t.seedFor(this.seed),
    });
  }

  outputShape(s: readonly number[]): number[] {
    return [...s.slice(0, -1), this.outFeatures];
  }
}

export type { Tensor };
export { K };
