import type { Tensor } from '@crnn/core';
import type { GoldenHandler, HostValue } from '../golden/golden.js';
import { uploadGolden } from '../golden/golden.js';
import { batchNorm, batchNormBackward } from './batch-norm.js';

/**
 * batch_norm2d: inputs x, weight, bias, running_mean, running_var; attrs training, eps,
 * momentum. Outputs y, and in training mode the running statistics as updated in place;
 * grads (when grad_outputs.y is given) of x, weight and bias.
 */
export const batchNorm2dGolden: GoldenHandler = async (rt, c) => {
  const a = c.attrs as { training?: boolean; eps?: number; momentum?: number };
  const training = a.training ?? true;
  const x = uploadGolden(rt, c.inputs.x, 'x');
  const weight = c.inputs.weight ? uploadGolden(rt, c.inputs.weight, 'weight') : undefined;
  const bias = c.inputs.bias ? uploadGolden(rt, c.inputs.bias, 'bias') : undefined;
  const runningMean = c.inputs.running_mean ? uploadGolden(rt, c.inputs.running_mean, 'running_mean') : undefined;
  const runningVar = c.inputs.running_var ? uploadGolden(rt, c.inputs.running_var, 'running_var') : undefined;
  const { y, saved } = batchNorm(rt, x, {
    training,
    ...(weight ? { weight } : {}),
    ...(bias ? { bias } : {}),
    ...(runningMean && runningVar ? { runningMean, runningVar } : {}),
    ...(a.eps !== undefined ? { eps: a.eps } : {}),
    ...(a.momentum !== undefined ? { momentum: a.momentum } : {}),
  });
  const owned: Tensor[] = [x, y, saved.mean, saved.invstd];
  for (const t of [weight, bias, runningMean, runningVar]) if (t) owned.push(t);
  const names: Array<[kind: 'outputs' | 'grads', name: string, t: Tensor]> = [['outputs', 'y', y]];
  if (training && runningMean && runningVar) names.push(['outputs', 'running_mean', runningMean], ['outputs', 'running_var', runningVar]);
  if (c.grad_outputs?.y) {
    const dy = uploadGolden(rt, c.grad_outputs.y, 'grad_outputs.y');
    const g = batchNormBackward(rt, dy, x, saved, weight);
    owned.push(dy, g.dx!, g.dweight!, g.dbias!);
    names.push(['grads', 'x', g.dx!], ['grads', 'weight', g.dweight!], ['grads', 'bias', g.dbias!]);
  }
  const host = await rt.readMany(names.map(([, , t]) => t));
  for (const t of owned) t.dispose();
  const res: { outputs: Record<string, HostValue>; grads: Record<string, HostValue> } = { outputs: {}, grads: {} };
  names.forEach(([kind, name], i) => (res[kind][name] = host[i]!));
  return res;
};
