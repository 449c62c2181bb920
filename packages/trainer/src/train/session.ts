/**
 * One model under training on one device: a training step on a batch (forward, loss,
 * backward, clip, optimizer step, with non-finite steps skipped) and evaluation. The loop
 * (train.ts) and the distributed workers share it.
 */
import type { Runtime, Tensor } from '@crnn/core';
import { Adadelta, Adam, clipGradNorm, ctcGreedyDecodeSequences, Sgd, type Optimizer } from '@crnn/kernels';
import { F, isAttentionRecognizer, ParamArena, Tape, type Param, type Recognizer, type Var } from '@crnn/models';
import type { Batch, Charset } from '../data/index.js';
import { TextMetrics } from '../report/index.js';
import type { TrainConfig } from './config.js';

export function makeOptimizer(cfg: TrainConfig, lr: number): Optimizer {
  switch (cfg.optimizer) {
    case 'adadelta':
      return new Adadelta({ lr, weightDecay: cfg.weightDecay });
    case 'sgd':
      return new Sgd({ lr, momentum: cfg.momentum, weightDecay: cfg.weightDecay });
    default:
      return new Adam({ lr, weightDecay: cfg.weightDecay });
  }
}

export interface StepResult {
  loss: number;
  gradNorm: number;
  /** False when the loss or gradient was NaN/Inf and the update was skipped. */
  applied: boolean;
}

/** The loss of a batch on the tape: CTC for CTC models, masked cross-entropy otherwise. */
export function batchLoss(tape: Tape, model: Recognizer, logits: Var, batch: Batch): Var {
  const [T, N] = logits.shape as [number, number, number];
  if (model.info.loss === 'ctc') {
    const S = Math.max(1, ...batch.labels.map((l) => l.length));
    return F.ctcLoss(tape, logits, {
      targets: batch.labels.flatMap((l) => [...l, ...new Array<number>(S - l.length).fill(0)]),
      inputLengths: new Array<number>(N).fill(T),
      targetLengths: batch.labels.map((l) => l.length),
      zeroInfinity: true,
    });
  }
  // Fixed-length outputs: logits [T, N, C] -> [N, C, T]; targets [N, T] padded with -1.
  const nct = F.permute(tape, logits, [1, 2, 0]);
  const targets = batch.labels.flatMap((l) => Array.from({ length: T }, (_, t) => l[t] ?? -1));
  return F.crossEntropy(tape, nct, { targets, classDim: 1, ignoreIndex: -1 });
}

/**
 * The loss of a batch for any model: CTC or cross-entropy on the logits of `forward`, or the
 * attention model's teacher-forced masked cross-entropy.
 */
export function modelLoss(tape: Tape, model: Recognizer, images: Var, batch: Pick<Batch, 'labels'>): { loss: Var; logits: Var | null } {
  if (isAttentionRecognizer(model)) return { loss: model.loss(tape, images, batch.labels), logits: null };
  const logits = model.forward(tape, images);
  return { loss: batchLoss(tape, model, logits, batch as Batch), logits };
}

export class TrainingSession {
  constructor(
    readonly rt: Runtime,
    readonly model: Recognizer,
    readonly opt: Optimizer,
    readonly clip: number | null,
  ) {}

  private arena: ParamArena | null = null;

  /** The parameters that the loss reaches (crnn-wide's unused bn1 is not among them). */
  trainable(): Param[] {
    return this.model.parameters();
  }

  /**
   * The model's parameters packed into one buffer with gradient slots beside (ParamArena),
   * so that the clip and the optimizer step record a few dispatches for all of them. Packs
   * on first use and again after a weight load replaced parameter tensors (a resume).
   */
  packed(params: readonly Param[] = this.trainable()): ParamArena {
    if (!this.arena?.holds(params)) {
      this.arena?.dispose();
      this.arena = ParamArena.pack(this.rt, params);
    }
    return this.arena;
  }

  /**
   * Forward and backward of one batch; leaves gradients in the parameters and returns the
   * loss tensor's value and the gradient norm (one readback).
   */
  async gradients(batch: Batch, stepSeed: number): Promise<{ loss: number; gradNorm: number; grads: Array<Tensor | null> }> {
    const { rt, model } = this;
    model.zeroGrad();
    const tape = new Tape(rt, true, true, stepSeed);
    try {
      const { loss } = modelLoss(tape, model, tape.constant(rt.upload(batch.images, batch.shape)), batch);
      tape.backward(loss);
      const params = this.trainable();
      this.packed(params).adoptGrads();
      const grads = params.map((p) => p.grad);
      const present = grads.filter((g): g is Tensor => g !== null);
      const norm = clipGradNorm(rt, present, this.clip ?? Infinity);
      const [l, n] = await rt.readMany([loss.value, norm]);
      norm.dispose();
      return { loss: l![0]!, gradNorm: n![0]!, grads };
    } finally {
      tape.dispose();
    }
  }

  /** Lets go of the packed buffers (the model's parameters keep their views alive). */
  dispose(): void {
    this.arena?.dispose();
    this.arena = null;
  }

  /** Applies the optimizer to the gradients now in the parameters. */
  apply(): void {
    const params = this.trainable().filter((p) => p.grad);
    this.opt.step(this.rt, params.map((p) => p.value), params.map((p) => p.grad!));
  }

  async step(batch: Batch, stepSeed: number): Promise<StepResult> {
    const { loss, gradNorm } = await this.gradients(batch, stepSeed);
    const applied = Number.isFinite(loss) && Number.isFinite(gradNorm);
    if (applied) this.apply();
    this.model.zeroGrad();
    return { loss, gradNorm, applied };
  }

  /** Loss and text metrics over batches, in eval mode; collects the wrong predictions. */
  async evaluate(
    batches: Iterable<Batch>,
    charset: Charset,
    keepWrong = 0,
  ): Promise<{ loss: number; metrics: ReturnType<TextMetrics['summary']>; wrong: Array<{ index: number; pred: string; truth: string; path: string }> }> {
    const { rt, model } = this;
    const metrics = new TextMetrics();
    const wrong: Array<{ index: number; pred: string; truth: string; path: string }> = [];
    let lossSum = 0;
    let lossCount = 0;
    for (const batch of batches) {
      const tape = new Tape(rt, false, false);
      try {
        const images = tape.constant(rt.upload(batch.images, batch.shape));
        const { loss, logits } = modelLoss(tape, model, images, batch);
        const preds = logits
          ? await decodeBatch(rt, model, logits.value, charset)
          : isAttentionRecognizer(model)
            ? (await model.greedyDecode(rt, images.value, model.info.timeSteps(batch.shape[3]))).map((ids) => charset.decode(ids))
            : [];
        const [l] = await rt.readMany([loss.value]);
        if (Number.isFinite(l![0]!)) {
          lossSum += l![0]! * batch.texts.length;
          lossCount += batch.texts.length;
        }
        preds.forEach((p, i) => {
          const truth = batch.texts[i]!;
          metrics.add(p, truth);
          if (p !== truth && wrong.length < keepWrong) wrong.push({ index: batch.indices[i]!, pred: p, truth, path: batch.paths[i]! });
        });
      } finally {
        tape.dispose();
      }
    }
    return { loss: lossCount ? lossSum / lossCount : NaN, metrics: metrics.summary(), wrong };
  }
}

/** Greedy decoding of logits [T, N, C] into strings (CTC: merge repeats, drop blanks). */
export async function decodeBatch(rt: Runtime, model: Recognizer, logits: Tensor, charset: Charset): Promise<string[]> {
  if (model.info.loss === 'ctc') {
    const seqs = await ctcGreedyDecodeSequences(rt, logits);
    return seqs.map((s) => charset.decode(s));
  }
  const [T, N, C] = logits.shape as [number, number, number];
  const host = await rt.read(logits);
  const out: string[] = [];
  for (let n = 0; n < N; n++) {
    const ids: number[] = [];
    for (let t = 0; t < T; t++) {
      let best = 0;
      for (let c = 1; c < C; c++) if (host[(t * N + n) * C + c]! > host[(t * N + n) * C + best]!) best = c;
      if (best !== 0) ids.push(best);
    }
    out.push(charset.decode(ids));
  }
  return out;
}
