/**
 * The model-level golden case `crnn_tiny` (../shared/golden/README.md): the whole tiny CRNN
 * in training mode, forward logits, CTC loss (mean, blank 0, every input length = T) and
 * every parameter's gradient.
 */
import { Rng } from '@crnn/core';
import { tensorData, uploadGolden, type GoldenHandler } from '@crnn/kernels/golden';
import { Tape } from './autograd.js';
import { buildCrnnTiny } from './crnn.js';
import * as F from './ops.js';

export const crnnTinyGolden: GoldenHandler = async (rt, c) => {
  const x = c.inputs.x as { shape: number[] };
  const classes = (c.inputs['fc.weight'] as { shape: number[] }).shape[0]!;
  const model = buildCrnnTiny(rt, new Rng(0), { numClasses: classes, width: x.shape[3]! });
  try {
    for (const [name] of model.stateDict()) {
      if (c.inputs[name]) model.assign(name, uploadGolden(rt, c.inputs[name], name));
    }
    const tape = new Tape(rt, true, true);
    try {
      const images = tape.constant(uploadGolden(rt, c.inputs.x, 'x'));
      const logits = model.forward(tape, images);
      const [T, N] = logits.shape as [number, number, number];
      const targets = tensorData(c.inputs.targets, 'targets');
      const targetLengths = tensorData(c.inputs.target_lengths, 'target_lengths');
      const loss = F.ctcLoss(tape, logits, {
        targets,
        inputLengths: new Array<number>(N).fill(T),
        targetLengths,
        reduction: 'mean',
      });
      tape.backward(loss);
      const named = model.namedParameters();
      const host = await rt.readMany([logits.value, loss.value, ...named.map(([, p]) => p.grad!)]);
      const grads: Record<string, Float32Array> = {};
      named.forEach(([n], i) => (grads[n] = host[i + 2] as Float32Array));
      return { outputs: { logits: host[0]!, loss: host[1]! }, grads };
    } finally {
      tape.dispose();
    }
  } finally {
    model.dispose();
  }
};

export const modelGoldenHandlers: Readonly<Record<string, GoldenHandler>> = { crnn_tiny: crnnTinyGolden };
