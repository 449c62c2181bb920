import { tensorData, uploadGolden, type GoldenHandler } from '../golden/golden.js';
import { crossEntropy, crossEntropyBackward, type CrossEntropyOptions, type Reduction } from './cross-entropy.js';

/**
 * cross_entropy: logits (class dim `attrs.class_dim`, default 1), targets; attrs ignore_index
 * and reduction. Output `loss`; grad `logits` of sum(loss * grad_outputs.loss), upstream 1
 * when grad_outputs is absent (a scalar loss).
 */
export const crossEntropyGolden: GoldenHandler = async (rt, c) => {
  const o: CrossEntropyOptions = {
    classDim: typeof c.attrs.class_dim === 'number' ? c.attrs.class_dim : 1,
    ignoreIndex: typeof c.attrs.ignore_index === 'number' ? c.attrs.ignore_index : -100,
    reduction: (c.attrs.reduction as Reduction | undefined) ?? 'mean',
  };
  const logits = uploadGolden(rt, c.inputs.logits, 'logits');
  const targets = uploadGolden(rt, c.inputs.targets, 'targets');
  const loss = crossEntropy(rt, logits, targets, o);
  const up = c.grad_outputs?.loss;
  const dloss = up ? rt.upload(tensorData(up, 'grad_outputs.loss'), loss.shape) : rt.upload(new Float32Array(loss.size).fill(1), loss.shape);
  const dlogits = crossEntropyBackward(rt, dloss, logits, targets, o);
  const [l, g] = await rt.readMany([loss, dlogits]);
  for (const t of [logits, targets, loss, dloss, dlogits]) t.dispose();
  return { outputs: { loss: l! }, grads: { logits: g! } };
};
